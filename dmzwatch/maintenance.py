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

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from dmzwatch.alerts.webhook import sign
from dmzwatch.db.models import Alert, AlertStatus, Article, ArticleStatus, Incident, SilenceAlarm
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

# A scheduled alert retry this late lost its message (workers run countdown messages on time, give or take).
RETRY_LOST_AFTER = timedelta(minutes=5)

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
    """True (and the alert failed) when a pending alert's deliveries crashed ``max_attempts`` times.

    The alert stage counts attempts before it sends, so a delivery that crashes its worker still counts; a send
    the channel answered with a transient failure is counted in ``failures`` too and is not a crash: an outage
    is retried for as long as the alert is fresh, whatever the number of tries.
    """
    with sessions() as session:
        result = session.execute(
            update(Alert)
            .where(
                Alert.id == alert_id,
                Alert.status == AlertStatus.PENDING.value,
                Alert.attempts - Alert.failures >= max_attempts,
            )
            .values(
                status=AlertStatus.FAILED.value,
                lease_until=None,
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
    digests: list[str] = field(default_factory=list)  # channels whose waiting digest lost its message
    failed_articles: list[int] = field(default_factory=list)
    failed_alerts: list[int] = field(default_factory=list)

    @property
    def requeued(self) -> int:
        return sum(len(ids) for ids in self.articles.values()) + len(self.alerts) + len(self.digests)


def plan_requeue(
    sessions: SessionScope,
    *,
    now: datetime,
    stuck_after: timedelta,
    alert_pending_after: timedelta,
    max_stage_attempts: int,
    max_alert_attempts: int,
    busy_stages: Collection[str] = (),
    digest_window: timedelta = timedelta(minutes=10),
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

        alerts, failed_alerts = _requeue_alerts(
            session,
            now=now,
            alert_pending_after=alert_pending_after,
            max_alert_attempts=max_alert_attempts,
            queue_busy="alert" in busy_stages,
        )
        digests = _requeue_digests(session, now=now, window=digest_window)
    plan = RequeuePlan(
        articles=articles, alerts=alerts, digests=digests, failed_articles=failed_articles, failed_alerts=failed_alerts
    )
    if plan.requeued or failed_articles or failed_alerts:
        log.warning(
            "maintenance: re-queued %s articles, %d alerts and digests for %s; failed %d articles and %d alerts",
            {stage: len(ids) for stage, ids in articles.items()},
            len(alerts),
            digests or "no channel",
            len(failed_articles),
            len(failed_alerts),
        )
    return plan


def _requeue_alerts(
    session: Session, *, now: datetime, alert_pending_after: timedelta, max_alert_attempts: int, queue_busy: bool
) -> tuple[list[int], list[int]]:
    """Pending alerts whose message is gone: (to re-send, failed for crashing too often).

    Three ways a pending alert loses its message, each seen in the row:
    * a send crashed (its worker was killed): the lease ran out and nobody re-sent it since. Re-sent at once,
      so a killed alerts worker delays an alert by the lease and one tick, not by the broker's visibility
      timeout (hours);
    * its scheduled retry is long overdue (the countdown message died with a broker that kept nothing);
    * it was never tried and has waited ``alert_pending_after`` while the alerts queue was empty.
    """
    crashed = and_(
        Alert.lease_until.is_not(None),
        Alert.lease_until < now,
        or_(Alert.requeued_at.is_(None), Alert.requeued_at < Alert.lease_until),
    )
    retry_lost = and_(
        Alert.lease_until.is_(None),
        Alert.next_attempt_at < now - RETRY_LOST_AFTER,
        or_(Alert.requeued_at.is_(None), Alert.requeued_at < Alert.next_attempt_at),
    )
    lost = or_(crashed, retry_lost)
    if not queue_busy:
        never_tried = and_(
            Alert.lease_until.is_(None),
            Alert.next_attempt_at.is_(None),
            func.coalesce(Alert.requeued_at, Alert.created_at) < now - alert_pending_after,
        )
        lost = or_(lost, never_tried)
    rows = session.execute(
        select(Alert.id, Alert.attempts - Alert.failures)
        .where(Alert.status == AlertStatus.PENDING.value, lost)
        .order_by(Alert.id)
        .limit(REQUEUE_BATCH)
    ).all()
    requeued: list[int] = []
    failed: list[int] = []
    for alert_id, crashes in rows:
        if crashes >= max_alert_attempts:
            result = session.execute(
                update(Alert)
                .where(Alert.id == alert_id, Alert.status == AlertStatus.PENDING.value)
                .values(
                    status=AlertStatus.FAILED.value,
                    lease_until=None,
                    last_error=f"gave up after {crashes} deliveries that did not finish; the last message was lost",
                )
            )
            if getattr(result, "rowcount", 0) == 1:
                failed.append(alert_id)
            continue
        touched = session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.status == AlertStatus.PENDING.value, lost)
            .values(requeued_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(touched, "rowcount", 0) == 1:  # a concurrent pass may have taken it
            requeued.append(alert_id)
    return requeued, failed


def _requeue_digests(session: Session, *, now: datetime, window: timedelta) -> list[str]:
    """Channels whose waiting alerts' digest message is gone: the digest was due (the end of its window, or
    its scheduled retry) long ago, and nobody re-sent it since. Their rows are marked re-sent."""
    lost = and_(
        Alert.status == AlertStatus.DIGEST.value,
        or_(Alert.lease_until.is_(None), Alert.lease_until < now),
        or_(Alert.requeued_at.is_(None), Alert.requeued_at < now - RETRY_LOST_AFTER),
    )
    rows = session.execute(select(Alert.channel, Alert.created_at, Alert.next_attempt_at).where(lost)).all()
    channels = sorted(
        {
            channel
            for channel, created_at, next_attempt_at in rows
            if (next_attempt_at or created_at + window) < now - RETRY_LOST_AFTER
        }
    )
    if channels:
        session.execute(
            update(Alert)
            .where(lost, Alert.channel.in_(channels))
            .values(requeued_at=now)
            .execution_options(synchronize_session=False)
        )
    return channels


# --- operator: failed articles -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class FailedArticle:
    id: int
    url: str
    outlet: str | None
    stage: str  # the stage it failed in: fetch, clean or extract
    error: str | None
    failed_at: datetime
    discovered_at: datetime


def _failed_stage(attempt_stage: str | None, error: str | None) -> str:
    """The stage an article failed in: the status it was claimed at, else its reason's prefix, else fetch."""
    if attempt_stage in STATUS_STAGE:  # a StrEnum key: the status string finds it
        return STATUS_STAGE[ArticleStatus(attempt_stage)]
    prefix = (error or "").split(":", 1)[0]
    return prefix if prefix in STAGE_STATUS else "fetch"


def list_failed_articles(
    sessions: SessionScope, *, since: datetime | None = None, limit: int = 100
) -> list[FailedArticle]:
    """Failed articles, newest failure first, with the stage and the reason."""
    query = select(Article).where(Article.status == ArticleStatus.FAILED.value)
    if since is not None:
        query = query.where(Article.updated_at >= since)
    with sessions() as session:
        return [
            FailedArticle(
                id=a.id,
                url=a.url,
                outlet=a.outlet,
                stage=_failed_stage(a.attempt_stage, a.error),
                error=a.error,
                failed_at=a.updated_at,
                discovered_at=a.discovered_at,
            )
            for a in session.scalars(query.order_by(Article.updated_at.desc(), Article.id.desc()).limit(limit))
        ]


def retry_articles(
    sessions: SessionScope,
    *,
    now: datetime,
    ids: Sequence[int] = (),
    all_failed: bool = False,
    since: datetime | None = None,
) -> dict[str, list[int]]:
    """Put failed articles back where they failed (fetch, clean or extract: a clean needs the fetched page, else
    it fetches again), with their delivery count reset. Returns stage -> ids to send. Only failed rows move."""
    if not ids and not all_failed:
        return {}
    condition = Article.status == ArticleStatus.FAILED.value
    if ids:
        condition = and_(condition, Article.id.in_(list(ids)))
    if since is not None:
        condition = and_(condition, Article.updated_at >= since)
    plan: dict[str, list[int]] = {}
    with sessions() as session:
        rows = session.execute(
            select(Article.id, Article.attempt_stage, Article.error, Article.raw_html.is_not(None), Article.text)
            .where(condition)
            .order_by(Article.id)
        ).all()
        for article_id, attempt_stage, error, fetched, text in rows:
            stage = _failed_stage(attempt_stage, error)
            if (stage == "clean" and not fetched) or (stage == "extract" and not text):
                stage = "fetch" if not fetched else "clean"
            moved = session.execute(
                update(Article)
                .where(Article.id == article_id, Article.status == ArticleStatus.FAILED.value)
                .values(
                    status=STAGE_STATUS[stage].value, error=None, stage_attempts=0, attempt_stage=None, updated_at=now
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(moved, "rowcount", 0) == 1:
                plan.setdefault(stage, []).append(int(article_id))
    if plan:
        log.warning("articles sent again by the operator: %s", plan)
    return plan


# --- operator: undelivered alerts ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class UndeliveredAlert:
    id: int
    incident_id: int
    version: int
    channel: str
    kind: str
    status: str
    created_at: datetime
    attempts: int
    failures: int
    next_attempt_at: datetime | None
    last_error: str | None
    place_name: str | None


def list_alerts(
    sessions: SessionScope, *, statuses: Sequence[str], channel: str | None = None, limit: int = 100
) -> list[UndeliveredAlert]:
    """Alerts in ``statuses`` (e.g. failed, pending), oldest first: what `dmzwatch alerts list` prints."""
    query = (
        select(Alert, Incident.place_name)
        .join(Incident, Incident.id == Alert.incident_id)
        .where(Alert.status.in_(list(statuses)))
        .order_by(Alert.created_at, Alert.id)
        .limit(limit)
    )
    if channel:
        query = query.where(Alert.channel == channel)
    with sessions() as session:
        return [
            UndeliveredAlert(
                id=a.id,
                incident_id=a.incident_id,
                version=a.incident_version,
                channel=a.channel,
                kind=a.kind,
                status=a.status,
                created_at=a.created_at,
                attempts=a.attempts,
                failures=a.failures,
                next_attempt_at=a.next_attempt_at,
                last_error=a.last_error,
                place_name=place,
            )
            for a, place in session.execute(query).all()
        ]


def retry_alerts(
    sessions: SessionScope,
    *,
    now: datetime,
    ids: Sequence[int] = (),
    all_failed: bool = False,
    channel: str | None = None,
) -> list[int]:
    """Make failed alerts pending again, fresh from now (their tries and crash count start over); returns the
    ids to send. Only failed alerts move: a sent alert is never re-sent by mistake, a pending one is on its way.
    """
    if not ids and not all_failed:
        return []
    condition = Alert.status == AlertStatus.FAILED.value
    if ids:
        condition = and_(condition, Alert.id.in_(list(ids)))
    if channel:
        condition = and_(condition, Alert.channel == channel)
    with sessions() as session:
        chosen = list(session.scalars(select(Alert.id).where(condition).order_by(Alert.id)))
        if chosen:
            session.execute(
                update(Alert)
                .where(Alert.id.in_(chosen), Alert.status == AlertStatus.FAILED.value)
                .values(
                    status=AlertStatus.PENDING.value,
                    retried_at=now,
                    attempts=0,
                    failures=0,
                    first_failure_at=None,
                    # Due now: if the message the caller sends is lost, maintenance re-sends it in minutes.
                    next_attempt_at=now,
                    lease_until=None,
                    requeued_at=None,
                )
                .execution_options(synchronize_session=False)
            )
    if chosen:
        log.warning("alerts %s sent again by the operator", chosen)
    return chosen


def oldest_undelivered_alert(session: Session) -> datetime | None:
    """Creation time of the oldest alert still on its way (pending, or waiting in a digest)."""
    return session.scalar(
        select(func.min(Alert.created_at)).where(
            Alert.status.in_([AlertStatus.PENDING.value, AlertStatus.DIGEST.value])
        )
    )


@dataclass(frozen=True, slots=True)
class FailingChannel:
    channel: str
    failing_since: datetime
    alerts: int  # pending alerts it has failed
    last_error: str | None


def failing_channels(sessions: SessionScope, *, now: datetime, longer_than: timedelta) -> list[FailingChannel]:
    """Channels that have been failing their pending alerts for longer than ``longer_than``."""
    with sessions() as session:
        rows = session.execute(
            select(Alert.channel, func.min(Alert.first_failure_at), func.count(), func.max(Alert.id))
            .where(Alert.status == AlertStatus.PENDING.value, Alert.failures > 0, Alert.first_failure_at.is_not(None))
            .group_by(Alert.channel)
        ).all()
        found = []
        for channel, since, count, newest in rows:
            if since is not None and since < now - longer_than:
                last_error = session.scalar(select(Alert.last_error).where(Alert.id == newest))
                found.append(FailingChannel(channel, since, int(count), last_error))
    return found


# A channel still failing this long after its alarm gets a reminder.
CHANNEL_ALARM_REMINDER = timedelta(hours=6)


def channel_alarms_due(sessions: SessionScope, *, now: datetime, longer_than: timedelta) -> list[str]:
    """Texts of new operator alarms: one per channel failing its alerts for longer than ``longer_than``, and a
    reminder every CHANNEL_ALARM_REMINDER while it goes on. Rows live beside the silence alarms (same table,
    subject ``channel:<name>``), so `status` and the metrics count them too."""
    texts: list[str] = []
    for failing in failing_channels(sessions, now=now, longer_than=longer_than):
        subject = f"channel:{failing.channel}"
        with sessions() as session:
            recent = session.scalar(
                select(func.count())
                .select_from(SilenceAlarm)
                .where(SilenceAlarm.zone == subject, SilenceAlarm.raised_at > now - CHANNEL_ALARM_REMINDER)
            )
            if recent:
                continue
            inserted = insert_ignore(
                session,
                SilenceAlarm,
                {
                    "zone": subject,
                    "silent_since": failing.failing_since,
                    "raised_at": now,
                    "status": AlertStatus.SENT.value,  # the log line below is the alarm of record
                    "sent_at": now,
                    "attempts": 1,
                },
                ["zone", "silent_since"],
            )
            if not inserted:
                continue
        minutes = (now - failing.failing_since).total_seconds() / 60
        text = (
            f"dmzwatch: alert channel {failing.channel} has been failing for {minutes:.0f} min; "
            f"{failing.alerts} alerts waiting (retried while fresh). Last error: {failing.last_error or '?'}. "
            "Check the channel, then `dmzwatch alerts list`."
        )
        log.error(text)
        texts.append(text)
    return texts


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
    "FailedArticle",
    "FailingChannel",
    "RequeuePlan",
    "Silence",
    "UndeliveredAlert",
    "alert_attempts_exhausted",
    "channel_alarms_due",
    "claim_stage_attempt",
    "detect_silence",
    "failing_channels",
    "last_relevant_ingest",
    "list_alerts",
    "list_failed_articles",
    "notify_operator",
    "oldest_undelivered_alert",
    "plan_requeue",
    "retry_alerts",
    "retry_articles",
    "send_silence_alarm",
    "silence_text",
    "stages_of_queues",
]
