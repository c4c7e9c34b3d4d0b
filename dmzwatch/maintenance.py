"""Self-healing and watching, with no Celery: count stage deliveries, re-queue lost work, raise silence alarms.

Why this exists: acks_late + reject_on_worker_lost make a crashed delivery come back, but three things still
lose or loop messages. (1) A whole worker killed (OOM, host reboot) leaves its message "unacked" in Redis
until the visibility timeout (hours). (2) A hard time limit acks the message it kills. (3) A task that moved
its row forward but could not enqueue the next stage (broker restarting) leaves the row with no message at
all. The database is the source of truth, so a periodic pass finds open rows nobody has touched for a
deadline and sends their message again; every stage is idempotent, so a message that was not lost after all
does nothing twice. And a poison input that kills its worker is redelivered forever unless something counts
its deliveries: `claim_stage_attempt` does, and fails the row with a reason once the limit is reached.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, update

from dmzwatch.alerts.webhook import sign
from dmzwatch.db.models import Alert, AlertStatus, Article, ArticleStatus, SilenceAlarm
from dmzwatch.db.repo import fail_article, insert_ignore
from dmzwatch.errors import DmzwatchError, TransientError
from dmzwatch.http import SafeHttpClient
from dmzwatch.settings import Settings
from dmzwatch.stages import SessionScope

log = logging.getLogger(__name__)

# The status an article has while each stage's message is outstanding. Stage names match tasks.pipeline's.
STAGE_STATUS: dict[str, ArticleStatus] = {
    "fetch": ArticleStatus.NEW,
    "clean": ArticleStatus.FETCHED,
    "extract": ArticleStatus.CLEANED,
}
STATUS_STAGE = {status: stage for stage, status in STAGE_STATUS.items()}

# Articles that passed the conflict pre-filter: "news about the zone" for the silence alarm.
RELEVANT_STATUSES = (ArticleStatus.CLEANED, ArticleStatus.EXTRACTED)

# One pass re-queues at most this many rows: after a long outage the rest follow on the next ticks instead
# of flooding the queues in one burst.
REQUEUE_BATCH = 500

SILENCE_ZONE = "primary"  # the alarm watches the pipeline's input as a whole; one row key for now


def claim_stage_attempt(
    sessions: SessionScope, article_id: int, stage: str, *, max_attempts: int, now: datetime
) -> bool:
    """Count one delivery of `stage` for this article; False (and the row failed) when the limit is passed.

    The count is committed before the stage does any work, so a delivery that kills its process still counts.
    A row no longer at the stage's status is not counted: the stage itself will find it moved and return.
    """
    status = STAGE_STATUS[stage]
    with sessions() as session:
        result = session.execute(
            update(Article)
            .where(Article.id == article_id, Article.status == status.value)
            .values(
                stage_attempts=case((Article.attempt_stage == status.value, Article.stage_attempts + 1), else_=1),
                attempt_stage=status.value,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return True
        attempts = session.scalar(select(Article.stage_attempts).where(Article.id == article_id)) or 0
        if attempts <= max_attempts:
            return True
        reason = (
            f"{stage}: gave up after {max_attempts} deliveries that did not finish "
            "(the input crashes or hangs its worker, or its messages keep getting lost)"
        )
        fail_article(session, article_id, reason, now)
    log.error("article %s failed: %s", article_id, reason, extra={"article_id": article_id, "stage": stage})
    return False


def release_stage_attempt(sessions: SessionScope, article_id: int, stage: str, *, now: datetime) -> None:
    """Undo one counted delivery: the stage chose to wait (a busy host), it neither crashed nor failed."""
    status = STAGE_STATUS[stage]
    with sessions() as session:
        session.execute(
            update(Article)
            .where(
                Article.id == article_id,
                Article.status == status.value,
                Article.attempt_stage == status.value,
                Article.stage_attempts > 0,
            )
            .values(stage_attempts=Article.stage_attempts - 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )


def alert_attempts_exhausted(sessions: SessionScope, alert_id: int, *, max_attempts: int, now: datetime) -> bool:
    """True (and the alert failed) when a pending alert already used its delivery attempts.

    The alert stage counts attempts before it sends, so a delivery that crashes its worker still counts.
    """
    with sessions() as session:
        result = session.execute(
            update(Alert)
            .where(
                Alert.id == alert_id,
                Alert.status == AlertStatus.PENDING.value,
                Alert.attempts >= max_attempts,
            )
            .values(
                status=AlertStatus.FAILED.value,
                last_error=f"gave up after {max_attempts} delivery attempts that did not finish",
            )
            .execution_options(synchronize_session=False)
        )
        exhausted = getattr(result, "rowcount", 0) == 1
    if exhausted:
        log.error("alert %s failed after %d attempts", alert_id, max_attempts, extra={"alert_id": alert_id})
    return exhausted


@dataclass(frozen=True, slots=True)
class RequeuePlan:
    """What one maintenance pass decided: messages to send again, rows given up on."""

    articles: dict[str, list[int]] = field(default_factory=dict)  # stage name → article ids
    alerts: list[int] = field(default_factory=list)
    failed_articles: list[int] = field(default_factory=list)
    failed_alerts: list[int] = field(default_factory=list)

    @property
    def requeued(self) -> int:
        return sum(len(ids) for ids in self.articles.values()) + len(self.alerts)


def plan_requeue(
    sessions: SessionScope,
    *,
    now: datetime,
    stuck_after: timedelta,
    alert_pending_after: timedelta,
    max_stage_attempts: int,
    max_alert_attempts: int,
    busy_stages: Collection[str] = (),
) -> RequeuePlan:
    """Find open rows whose message was lost; mark them touched (so the next pass waits a deadline again).

    `busy_stages` names stages ("fetch", "clean", "extract", "alert") whose queue holds messages: their rows
    may simply be waiting their turn, so they are left alone until the queue drains. A queue that is empty
    while a row has waited past the deadline means the row's message is gone.
    """
    cutoff = now - stuck_after
    articles: dict[str, list[int]] = {}
    failed_articles: list[int] = []
    with sessions() as session:
        for stage, status in STAGE_STATUS.items():
            if stage in busy_stages:
                continue
            rows = session.execute(
                select(Article.id, Article.stage_attempts, Article.attempt_stage)
                .where(Article.status == status.value, Article.updated_at < cutoff)
                .order_by(Article.updated_at)
                .limit(REQUEUE_BATCH)
            ).all()
            for article_id, stage_attempts, attempt_stage in rows:
                used = stage_attempts if attempt_stage == status.value else 0
                if used >= max_stage_attempts:
                    reason = f"{stage}: gave up after {used} deliveries; the last message was lost"
                    if fail_article(session, article_id, reason, now):
                        failed_articles.append(article_id)
                    continue
                touched = session.execute(
                    update(Article)
                    .where(Article.id == article_id, Article.status == status.value, Article.updated_at < cutoff)
                    .values(updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if getattr(touched, "rowcount", 0) == 1:  # a concurrent pass may have taken it
                    articles.setdefault(stage, []).append(article_id)

        alerts: list[int] = []
        failed_alerts: list[int] = []
        if "alert" not in busy_stages:
            alert_cutoff = now - alert_pending_after
            last_touched = func.coalesce(Alert.requeued_at, Alert.created_at)
            alert_rows = session.execute(
                select(Alert.id, Alert.attempts)
                .where(Alert.status == AlertStatus.PENDING.value, last_touched < alert_cutoff)
                .order_by(Alert.id)
                .limit(REQUEUE_BATCH)
            ).all()
            for alert_id, attempts in alert_rows:
                if attempts >= max_alert_attempts:
                    result = session.execute(
                        update(Alert)
                        .where(Alert.id == alert_id, Alert.status == AlertStatus.PENDING.value)
                        .values(
                            status=AlertStatus.FAILED.value,
                            last_error=f"gave up after {attempts} attempts; the last message was lost",
                        )
                    )
                    if getattr(result, "rowcount", 0) == 1:
                        failed_alerts.append(alert_id)
                    continue
                touched = session.execute(
                    update(Alert)
                    .where(Alert.id == alert_id, Alert.status == AlertStatus.PENDING.value, last_touched < alert_cutoff)
                    .values(requeued_at=now)
                    .execution_options(synchronize_session=False)
                )
                if getattr(touched, "rowcount", 0) == 1:
                    alerts.append(alert_id)
    plan = RequeuePlan(articles=articles, alerts=alerts, failed_articles=failed_articles, failed_alerts=failed_alerts)
    if plan.requeued or failed_articles or failed_alerts:
        log.warning(
            "maintenance: re-queued %s articles and %d alerts; failed %d articles and %d alerts",
            {stage: len(ids) for stage, ids in articles.items()},
            len(alerts),
            len(failed_articles),
            len(failed_alerts),
        )
    return plan


# --- zone silence --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Silence:
    silent_since: datetime  # ingestion time of the last relevant article
    alarm_id: int


def last_relevant_ingest(sessions: SessionScope) -> datetime | None:
    """When the newest article that passed the conflict pre-filter was discovered."""
    with sessions() as session:
        return session.scalar(
            select(func.max(Article.discovered_at)).where(Article.status.in_([s.value for s in RELEVANT_STATUSES]))
        )


def detect_silence(sessions: SessionScope, *, now: datetime, silence: timedelta) -> Silence | None:
    """A pending alarm to send, or None. One alarm per silence: the row is unique on its start time.

    "About the zone" means an article that passed the conflict pre-filter (a Syrian place and a violence
    trigger), not only articles with an incident inside the zone: quiet weeks inside the zone are real, but
    a day with no conflict news from north-west Syria at all means the feeds, fetching or cleaning broke.
    Before the first relevant article ever, there is no silence to measure (`dmzwatch status` shows feeds).
    """
    since = last_relevant_ingest(sessions)
    if since is None or now - since < silence:
        return None
    with sessions() as session:
        insert_ignore(
            session,
            SilenceAlarm,
            {
                "zone": SILENCE_ZONE,
                "silent_since": since,
                "raised_at": now,
                "status": AlertStatus.PENDING.value,
                "attempts": 0,
            },
            ["zone", "silent_since"],
        )
        alarm = session.scalars(
            select(SilenceAlarm).where(SilenceAlarm.zone == SILENCE_ZONE, SilenceAlarm.silent_since == since)
        ).one()
        if alarm.status != AlertStatus.PENDING.value:
            return None
        return Silence(silent_since=since, alarm_id=alarm.id)


def silence_text(silent_since: datetime, now: datetime) -> str:
    hours = (now - silent_since).total_seconds() / 3600
    return (
        f"dmzwatch: no relevant article ingested for {hours:.1f} h (last at {silent_since:%Y-%m-%d %H:%M} UTC). "
        "A feed outage looks like peace: check `dmzwatch status` and `dmzwatch feeds list`."
    )


def notify_operator(settings: Settings, client: SafeHttpClient, text: str, *, now: datetime) -> list[str]:
    """Send an operator notice to every configured alert channel; returns the channels that failed.

    Incident channels take AlertMessages; a notice is not an incident, so it goes as Slack's plain `text`
    and as a signed `operator.notice` webhook event (same headers and signature as incident events).
    """
    failed: list[str] = []
    targets: list[tuple[str, str, bytes, dict[str, str]]] = []
    if settings.slack_webhook_url:
        body = json.dumps({"text": text}).encode()
        targets.append(("slack", settings.slack_webhook_url, body, {"Content-Type": "application/json"}))
    for index, url in enumerate(settings.webhook_urls, start=1):
        body = json.dumps({"type": "operator.notice", "notice": {"text": text, "at": now.isoformat()}}).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Dmzwatch-Event": "operator.notice",
            "X-Dmzwatch-Timestamp": str(timestamp),
        }
        if settings.webhook_secret:
            headers["X-Dmzwatch-Signature"] = sign(settings.webhook_secret, timestamp, body)
        targets.append((f"webhook-{index}", url, body, headers))
    for name, url, body, headers in targets:
        try:
            client.post(url, content=body, headers=headers)
        except DmzwatchError as exc:  # one channel down must not stop the others
            log.warning("operator notice to %s failed: %s", name, exc)
            failed.append(name)
    return failed


def send_silence_alarm(
    sessions: SessionScope,
    silence: Silence,
    *,
    settings: Settings,
    client: SafeHttpClient,
    now: datetime,
    final_attempt: bool,
) -> bool:
    """Deliver the alarm; True when it was sent (or is no longer pending). A transient failure raises."""
    with sessions() as session:
        alarm = session.get(SilenceAlarm, silence.alarm_id)
        if alarm is None or alarm.status != AlertStatus.PENDING.value:
            return True
        alarm.attempts += 1
    failed = notify_operator(settings, client, silence_text(silence.silent_since, now), now=now)
    with sessions() as session:
        alarm = session.get_one(SilenceAlarm, silence.alarm_id)
        if not failed:
            alarm.status, alarm.sent_at, alarm.last_error = AlertStatus.SENT.value, now, None
            log.warning("zone silence alarm sent: %s", silence_text(silence.silent_since, now))
            return True
        alarm.last_error = "failed channels: " + ", ".join(failed)
        if final_attempt:
            alarm.status = AlertStatus.FAILED.value
            return False
    raise TransientError(f"silence alarm: failed channels {', '.join(failed)}")


def stages_of_queues(queue_lengths: dict[str, int], stage_queues: dict[str, str]) -> set[str]:
    """Stages whose queue holds messages (see plan_requeue's `busy_stages`)."""
    return {stage for stage, queue in stage_queues.items() if queue_lengths.get(queue, 0) > 0}


__all__: Sequence[str] = [
    "STAGE_STATUS",
    "RequeuePlan",
    "Silence",
    "alert_attempts_exhausted",
    "claim_stage_attempt",
    "detect_silence",
    "last_relevant_ingest",
    "notify_operator",
    "plan_requeue",
    "send_silence_alarm",
    "silence_text",
    "stages_of_queues",
]
