"""Alert stage: render the incident for a channel and deliver it exactly once per version and channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dmzwatch.alerts.channels import Channel
from dmzwatch.alerts.message import AlertMessage, SourceLink
from dmzwatch.db.models import Alert, AlertStatus, Article, Incident, IncidentReport
from dmzwatch.errors import PermanentError, TransientError
from dmzwatch.stages import SessionScope, outlet_of


def build_alert_message(session: Session, alert: Alert) -> AlertMessage:
    incident = session.get_one(Incident, alert.incident_id)
    sources = [
        SourceLink(
            url=article.url,
            outlet=article.outlet or outlet_of(article.url),
            published_at=article.published_at,
            killed=report.killed,
            injured=report.injured,
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
        changes = (f"now version {incident.version}",)
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


def deliver_alert(
    sessions: SessionScope, alert_id: int, *, channels: dict[str, Channel], now: datetime, final_attempt: bool
) -> None:
    """Send one alert once. Transient failures propagate (the caller retries); the last one marks it failed."""
    with sessions() as session:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.status != AlertStatus.PENDING:
            return
        channel = channels.get(alert.channel)
        if channel is None:
            alert.status = AlertStatus.FAILED.value
            alert.last_error = f"channel {alert.channel!r} is not configured"
            return
        message = build_alert_message(session, alert)
        alert.attempts += 1

    try:
        external_ref = channel.send(message)
    except TransientError as exc:
        with sessions() as session:
            alert = session.get_one(Alert, alert_id)
            alert.last_error = exc.reason
            if final_attempt:
                alert.status = AlertStatus.FAILED.value
        if not final_attempt:
            raise
        return
    except PermanentError as exc:
        with sessions() as session:
            alert = session.get_one(Alert, alert_id)
            alert.status, alert.last_error = AlertStatus.FAILED.value, exc.reason
        return

    with sessions() as session:
        session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.status == AlertStatus.PENDING.value)
            .values(status=AlertStatus.SENT.value, sent_at=now, external_ref=external_ref, last_error=None)
        )
