"""Alert stage: render the incident for a channel and deliver it exactly once per version and channel.

Exactly once: the alerts table is unique per (incident, version, channel), and a delivery first takes a lease
on its row (``lease_until``) in a short transaction, sends with no transaction open, then marks the row sent.
A redelivered or re-queued message finds the row sent (or held by a send in progress) and sends nothing. The
one gap left is a worker killed between the channel's 2xx and the commit: the lease expires and the alert is
sent again. Webhook receivers close it by de-duplicating on ``X-Dmzwatch-Delivery``.

Burst control (digest): once ``threshold`` messages went to a channel within ``window``, further alerts for
that channel wait (status ``digest``) and go out together as one digest message at the end of the window.
An update whose incident's first alert is still waiting in a digest joins it. Digests count as one message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from dmzwatch.alerts.channels import DIGEST_REF_PREFIX, Channel
from dmzwatch.alerts.message import AlertMessage, DigestMessage, SourceLink
from dmzwatch.db.models import Alert, AlertStatus, Article, Incident, IncidentReport
from dmzwatch.db.repo import acquire_lock
from dmzwatch.errors import PermanentError, TransientError
from dmzwatch.stages import SessionScope, outlet_of

# A send holds its alert this long: well above one HTTP exchange (30 s deadline), well below the retry
# backoff cap (15 min), so a worker killed mid-send delays the alert by minutes, not forever.
DELIVERY_LEASE = timedelta(minutes=3)
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
class Delivery:
    """What a delivery did. ``digest_in_s`` set: the caller schedules the channel's digest after that delay."""

    outcome: str  # "sent", "skipped", "failed", "folded"
    channel: str | None = None
    digest_in_s: float | None = None


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


def _release(sessions: SessionScope, alert_ids: Sequence[int], error: str, failed: bool) -> None:
    values: dict[str, object] = {"lease_until": None, "last_error": error[:2000]}
    if failed:
        values["status"] = AlertStatus.FAILED.value
    with sessions() as session:
        session.execute(
            update(Alert).where(Alert.id.in_(alert_ids)).values(**values).execution_options(synchronize_session=False)
        )


def deliver_alert(
    sessions: SessionScope,
    alert_id: int,
    *,
    channels: dict[str, Channel],
    now: datetime,
    final_attempt: bool,
    digest: DigestPolicy = NO_DIGEST,
) -> Delivery:
    """Send one alert once, or fold it into its channel's digest. Transient failures propagate (the caller
    retries, honouring ``retry_after_s``); the last one marks the alert failed."""
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
        overdue = False
        if digest.threshold and (alert.lease_until is None or alert.lease_until < now):
            # Serialise the folding decision per channel, or two workers both see "one below the threshold".
            acquire_lock(session, _channel_lock(channel_name))
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
        if not _claim(session, [alert_id], AlertStatus.PENDING, now):
            return Delivery("skipped", channel_name)  # another delivery of this alert is sending it right now
        message = build_alert_message(session, alert)

    try:
        external_ref = channel.send(message)
    except TransientError as exc:
        _release(sessions, [alert_id], exc.reason, failed=final_attempt)
        if not final_attempt:
            raise
        return Delivery("failed", channel_name)
    except PermanentError as exc:
        _release(sessions, [alert_id], exc.reason, failed=True)
        return Delivery("failed", channel_name)

    with sessions() as session:
        session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.status == AlertStatus.PENDING.value)
            .values(
                status=AlertStatus.SENT.value, sent_at=now, external_ref=external_ref, last_error=None, lease_until=None
            )
        )
    return Delivery("sent", channel_name, 0.0 if overdue else None)


def deliver_digest(
    sessions: SessionScope,
    channel_name: str,
    *,
    channels: dict[str, Channel],
    now: datetime,
    window: timedelta,
    final_attempt: bool,
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
    try:
        ref = channel.send_digest(digest)
    except TransientError as exc:
        _release(sessions, ids, exc.reason, failed=final_attempt)
        if not final_attempt:
            raise
        return Delivery("failed", channel_name)
    except PermanentError as exc:
        _release(sessions, ids, exc.reason, failed=True)
        return Delivery("failed", channel_name)

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
            )
            .execution_options(synchronize_session=False)
        )
    return Delivery("sent", channel_name, 0.0 if more else None)
