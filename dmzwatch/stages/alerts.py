"""Alert stage: render the incident for a channel and deliver it exactly once per version and channel.

Exactly once: the alerts table is unique per (incident, version, channel), and a delivery first takes a lease
on its row (``lease_until``) in a short transaction, sends with no transaction open, then marks the row sent.
A redelivered or re-queued message finds the row sent and sends nothing, or finds it held by a send in
progress and comes back when the lease ends. The one gap left is a worker killed between the channel's 2xx
and the commit: the lease expires and the alert is sent again. Webhook receivers close it by de-duplicating on
``X-Dmzwatch-Delivery``; Slack shows the second copy.

Never dropped: a transient failure (5xx, 429, timeout, refused connection) keeps the alert pending and tries
again with growing backoff for as long as the alert is fresh (``RetryPolicy.fresh_for``, counted from its
creation or from an operator's retry); only then, or on a permanent failure (4xx, a bad URL), is it
``failed``, with the reason, and ``dmzwatch alerts retry`` sends it again.

One slow channel cannot block the others: at most ``channel_concurrency`` sends are in flight per channel;
further alerts for a busy channel come back a moment later instead of waiting inside an alerts process.

Burst control (digest): once ``threshold`` messages went to a channel within ``window``, further alerts for
that channel wait (status ``digest``) and go out together as one digest message at the end of the window.
An update whose incident's first alert is still waiting in a digest joins it. Digests count as one message.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from dmzwatch.alerts.channels import DIGEST_REF_PREFIX, Channel
from dmzwatch.alerts.message import AlertMessage, DigestMessage, SourceLink
from dmzwatch.db.models import Alert, AlertStatus, Article, Incident, IncidentReport
from dmzwatch.db.repo import acquire_lock
from dmzwatch.errors import PermanentError, TransientError, backoff_s
from dmzwatch.stages import SessionScope, outlet_of

log = logging.getLogger(__name__)

# A send holds its alert this long: above one send's whole budget (DMZWATCH_ALERT_SEND_TIMEOUT_S, at most
# 20 s), and short, so a worker killed mid-send is retried within a minute or two: by its own redelivered
# message, which waits for the lease, or by the maintenance tick, which re-queues alerts whose lease ran out.
DELIVERY_LEASE = timedelta(seconds=30)
# How soon an alert for a busy channel looks again: sends take a fraction of a second when the channel is well.
BUSY_CHANNEL_RECHECK_S = (1.0, 3.0)
# Slack's 50-block cap, and a webhook body a receiver can swallow: a bigger burst goes out as several digests.
MAX_DIGEST_ITEMS = 40
# Waiting alerts older than this many windows: their digest message was lost; the next fold schedules one.
DIGEST_OVERDUE_WINDOWS = 3


@dataclass(frozen=True, slots=True)
class DigestPolicy:
    threshold: int  # messages per window per channel before folding; 0 disables digests
    window: timedelta


NO_DIGEST = DigestPolicy(threshold=0, window=timedelta(minutes=10))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    fresh_for: timedelta  # transient failures are tried again while the alert is younger than this
    base_s: float  # the first retry after about this long; doubling from there
    cap_s: float  # never more than this between two tries
    channel_concurrency: int = 1  # sends in flight at once per channel


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a delivery did. ``digest_in_s`` set: the caller schedules the channel's digest after that delay.
    ``retry_in_s`` set ("retry": the channel failed for now; "deferred": the channel or the alert was busy):
    the caller sends the message again after that delay."""

    outcome: str  # "sent", "skipped", "failed", "folded", "retry", "deferred"
    channel: str | None = None
    digest_in_s: float | None = None
    retry_in_s: float | None = None
    reason: str | None = None


def should_fold(messages_in_window: int, threshold: int) -> bool:
    """Fold into a digest when the channel already carried ``threshold`` messages in the window (0: never)."""
    return threshold > 0 and messages_in_window >= threshold


def messages_in_window(session: Session, channel: str, since: datetime, now: datetime) -> int:
    """Messages the channel carried since ``since``: alerts sent alone, digests (once each), sends in flight."""
    sent_alone = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(
            Alert.channel == channel,
            Alert.status == AlertStatus.SENT.value,
            Alert.sent_at >= since,
            or_(Alert.external_ref.is_(None), Alert.external_ref.not_like(f"{DIGEST_REF_PREFIX}%")),
        )
    )
    digests = session.scalar(
        select(func.count(func.distinct(Alert.external_ref))).where(
            Alert.channel == channel,
            Alert.status == AlertStatus.SENT.value,
            Alert.sent_at >= since,
            Alert.external_ref.like(f"{DIGEST_REF_PREFIX}%"),
        )
    )
    in_flight = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.channel == channel, Alert.status == AlertStatus.PENDING.value, Alert.lease_until > now)
    )
    return int(sent_alone or 0) + int(digests or 0) + int(in_flight or 0)


def build_alert_message(session: Session, alert: Alert) -> AlertMessage:
    incident = session.get_one(Incident, alert.incident_id)
    sources = [
        SourceLink(
            url=article.url,
            outlet=article.outlet or outlet_of(article.url),
            published_at=article.published_at,
            killed=report.killed,
            injured=report.injured,
            sentence=report.sentence,
        )
        for report, article in session.execute(
            select(IncidentReport, Article)
            .join(Article, Article.id == IncidentReport.article_id)
            .where(IncidentReport.incident_id == incident.id)
            .order_by(IncidentReport.id)
        ).all()
    ]
    first_ref = None
    changes: tuple[str, ...] = ()
    if alert.kind == "update":
        first_ref = session.scalar(
            select(Alert.external_ref).where(
                Alert.incident_id == incident.id, Alert.channel == alert.channel, Alert.kind == "new"
            )
        )
        changes = tuple(alert.changes or ()) or (f"now version {alert.incident_version}",)
    return AlertMessage(
        alert_id=alert.id,
        kind=alert.kind,
        incident_id=incident.id,
        version=alert.incident_version,
        event_type=incident.event_type,
        sub_event_type=incident.sub_event_type,
        place_name=incident.place_name,
        admin1=incident.admin1,
        lat=incident.lat,
        lon=incident.lon,
        geo_precision=incident.geo_precision,
        zone_status=incident.zone_status,
        zones=tuple(incident.zones or ()),
        distance_to_line_km=incident.distance_to_line_km,
        occurred_on=incident.occurred_on,
        killed=incident.killed,
        killed_min=incident.killed_min,
        killed_max=incident.killed_max,
        injured=incident.injured,
        injured_min=incident.injured_min,
        injured_max=incident.injured_max,
        killed_civilians=incident.killed_civilians,
        perpetrator=incident.perpetrator,
        confidence=incident.confidence,
        sources=tuple(sources),
        changes=changes,
        first_alert_ref=first_ref,
    )


def _channel_lock(channel: str) -> str:
    return f"alerts:{channel}"[:64]


def _claim(session: Session, alert_ids: Sequence[int], status: AlertStatus, now: datetime) -> int:
    """Take the delivery lease on rows still in ``status`` and not held by another send; returns rows taken."""
    result = session.execute(
        update(Alert)
        .where(
            Alert.id.in_(alert_ids),
            Alert.status == status.value,
            or_(Alert.lease_until.is_(None), Alert.lease_until < now),
        )
        .values(lease_until=now + DELIVERY_LEASE, attempts=Alert.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _fail(sessions: SessionScope, alert_ids: Sequence[int], reason: str) -> None:
    with sessions() as session:
        session.execute(
            update(Alert)
            .where(Alert.id.in_(alert_ids))
            .values(status=AlertStatus.FAILED.value, lease_until=None, last_error=reason[:2000])
            .execution_options(synchronize_session=False)
        )


def _record_failure(
    sessions: SessionScope, alert_ids: Sequence[int], exc: TransientError, now: datetime, retry: RetryPolicy
) -> Delivery:
    """A channel failed for now: alerts still fresh stay where they are (pending, or waiting in the digest)
    with their next try scheduled; stale ones fail with the reason. "retry" while any is left to try."""
    with sessions() as session:
        rows = session.scalars(select(Alert).where(Alert.id.in_(alert_ids)).order_by(Alert.id)).all()
        delay = backoff_s(
            max((a.failures for a in rows), default=0), exc.retry_after_s, base_s=retry.base_s, cap_s=retry.cap_s
        )
        left = 0
        for alert in rows:
            alert.lease_until = None
            alert.failures += 1
            alert.first_failure_at = alert.first_failure_at or now
            fresh_until = (alert.retried_at or alert.created_at) + retry.fresh_for
            if fresh_until > now + timedelta(seconds=delay):
                alert.next_attempt_at = now + timedelta(seconds=delay)
                alert.last_error = exc.reason[:2000]
                left += 1
            else:
                alert.status = AlertStatus.FAILED.value
                alert.next_attempt_at = None
                alert.last_error = (
                    f"gave up after {alert.failures} failed tries over {_age(now - alert.first_failure_at)}, "
                    f"past the alert's freshness ({_age(retry.fresh_for)}): {exc.reason}"
                )[:2000]
        channel = rows[0].channel if rows else None
    if left:
        return Delivery("retry", channel, retry_in_s=delay, reason=exc.reason)
    return Delivery("failed", channel, reason=exc.reason)


def _age(span: timedelta) -> str:
    seconds = span.total_seconds()
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.0f} min"


def _busy_channel(session: Session, channel: str, alert_id: int, now: datetime, concurrency: int) -> bool:
    """True when ``concurrency`` other sends (single or digest) hold this channel right now."""
    in_flight = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(
            Alert.channel == channel,
            Alert.id != alert_id,
            Alert.status.in_([AlertStatus.PENDING.value, AlertStatus.DIGEST.value]),
            Alert.lease_until > now,
        )
    )
    return int(in_flight or 0) >= concurrency


def deliver_alert(
    sessions: SessionScope,
    alert_id: int,
    *,
    channels: dict[str, Channel],
    now: datetime,
    retry: RetryPolicy,
    digest: DigestPolicy = NO_DIGEST,
) -> Delivery:
    """Send one alert once, or fold it into its channel's digest. A transient failure gives "retry" with the
    delay (or "failed" once the alert is stale); a busy channel or a send in progress gives "deferred"."""
    with sessions() as session:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.status != AlertStatus.PENDING:
            return Delivery("skipped")
        channel_name = alert.channel
        channel = channels.get(channel_name)
        if channel is None:
            alert.status = AlertStatus.FAILED.value
            alert.last_error = f"channel {channel_name!r} is not configured"
            return Delivery("failed", channel_name)
        if alert.lease_until is not None and alert.lease_until > now:
            # Another delivery of this alert is sending it, or died doing so: look again when its lease ends.
            wait = (alert.lease_until - now).total_seconds() + random.uniform(0.0, 1.0)
            return Delivery("deferred", channel_name, retry_in_s=wait, reason="a send of this alert is in progress")
        # Serialise per channel: the folding decision (or two workers both see "one below the threshold") and
        # the in-flight cap (or two workers both see a free slot).
        acquire_lock(session, _channel_lock(channel_name))
        overdue = False
        if digest.threshold:
            oldest_waiting = session.scalar(
                select(func.min(Alert.created_at)).where(
                    Alert.channel == channel_name, Alert.status == AlertStatus.DIGEST.value
                )
            )
            first_waiting_for_incident = session.scalar(
                select(func.count())
                .select_from(Alert)
                .where(
                    Alert.channel == channel_name,
                    Alert.incident_id == alert.incident_id,
                    Alert.status == AlertStatus.DIGEST.value,
                )
            )
            # Alerts waiting far longer than a window: their digest's message was lost (a broker restart).
            # This delivery, folded or not, schedules the digest anew.
            overdue = oldest_waiting is not None and oldest_waiting < now - DIGEST_OVERDUE_WINDOWS * digest.window
            if first_waiting_for_incident or should_fold(
                messages_in_window(session, channel_name, now - digest.window, now), digest.threshold
            ):
                alert.status = AlertStatus.DIGEST.value
                # Only the first waiting alert schedules the digest; the rest ride along with it.
                if oldest_waiting is None:
                    return Delivery("folded", channel_name, digest.window.total_seconds())
                return Delivery("folded", channel_name, 0.0 if overdue else None)
        if _busy_channel(session, channel_name, alert_id, now, retry.channel_concurrency):
            wait = random.uniform(*BUSY_CHANNEL_RECHECK_S)
            return Delivery("deferred", channel_name, retry_in_s=wait, reason=f"channel {channel_name} is busy")
        if not _claim(session, [alert_id], AlertStatus.PENDING, now):
            return Delivery("skipped", channel_name)  # moved on between our read and the claim
        message = build_alert_message(session, alert)

    what = f"alert {alert_id} ({message.kind}, incident {message.incident_id} v{message.version}) to {channel_name}"
    extra = {"alert_id": alert_id, "incident_id": message.incident_id, "channel": channel_name}
    try:
        external_ref = channel.send(message)
    except TransientError as exc:
        delivery = _record_failure(sessions, [alert_id], exc, now, retry)
        _log_failure(what, delivery, extra)
        return delivery
    except PermanentError as exc:
        _fail(sessions, [alert_id], exc.reason)
        log.error("%s failed: %s", what, exc.reason, extra=extra)
        return Delivery("failed", channel_name, reason=exc.reason)

    with sessions() as session:
        session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.status == AlertStatus.PENDING.value)
            .values(
                status=AlertStatus.SENT.value,
                sent_at=now,
                external_ref=external_ref,
                last_error=None,
                lease_until=None,
                next_attempt_at=None,
            )
        )
    log.info(
        "%s sent: %s at %s (%s)", what, message.sub_event_type, message.place_name, message.zone_status, extra=extra
    )
    return Delivery("sent", channel_name, 0.0 if overdue else None)


def _log_failure(what: str, delivery: Delivery, extra: dict[str, object]) -> None:
    if delivery.outcome == "retry":
        log.warning("%s failed for now (%s); again in %.1f s", what, delivery.reason, delivery.retry_in_s, extra=extra)
    else:
        log.error("%s failed for good: %s", what, delivery.reason, extra=extra)


def deliver_digest(
    sessions: SessionScope,
    channel_name: str,
    *,
    channels: dict[str, Channel],
    now: datetime,
    window: timedelta,
    retry: RetryPolicy,
) -> Delivery:
    """Send the alerts waiting in a channel's digest as one message. Returns ``digest_in_s=0`` when more wait
    than one digest holds (the caller sends the next at once)."""
    with sessions() as session:
        acquire_lock(session, _channel_lock(channel_name))
        waiting = session.scalars(
            select(Alert)
            .where(
                Alert.channel == channel_name,
                Alert.status == AlertStatus.DIGEST.value,
                or_(Alert.lease_until.is_(None), Alert.lease_until < now),
            )
            .order_by(Alert.id)
            .limit(MAX_DIGEST_ITEMS + 1)
        ).all()
        if not waiting:
            return Delivery("skipped", channel_name)
        batch, more = list(waiting[:MAX_DIGEST_ITEMS]), len(waiting) > MAX_DIGEST_ITEMS
        ids = [alert.id for alert in batch]
        channel = channels.get(channel_name)
        if channel is None:
            for alert in batch:
                alert.status = AlertStatus.FAILED.value
                alert.last_error = f"channel {channel_name!r} is not configured"
            return Delivery("failed", channel_name)
        messages = tuple(build_alert_message(session, alert) for alert in batch)
        _claim(session, ids, AlertStatus.DIGEST, now)

    digest = DigestMessage(channel=channel_name, alerts=messages, window_s=int(window.total_seconds()))
    what = f"digest of {len(ids)} alerts ({', '.join(str(i) for i in ids)}) to {channel_name}"
    extra: dict[str, object] = {"channel": channel_name}
    try:
        ref = channel.send_digest(digest)
    except TransientError as exc:
        delivery = _record_failure(sessions, ids, exc, now, retry)
        _log_failure(what, delivery, extra)
        return delivery
    except PermanentError as exc:
        _fail(sessions, ids, exc.reason)
        log.error("%s failed: %s", what, exc.reason, extra=extra)
        return Delivery("failed", channel_name, reason=exc.reason)

    with sessions() as session:
        session.execute(
            update(Alert)
            .where(Alert.id.in_(ids), Alert.status == AlertStatus.DIGEST.value)
            .values(
                status=AlertStatus.SENT.value,
                sent_at=now,
                external_ref=DIGEST_REF_PREFIX + (ref or digest.delivery_id),
                last_error=None,
                lease_until=None,
                next_attempt_at=None,
            )
            .execution_options(synchronize_session=False)
        )
    log.info("%s sent", what, extra=extra)
    return Delivery("sent", channel_name, 0.0 if more else None)
