"""Incident stage: extract events, merge them with other sources' claims, decide alerts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dmzwatch.alerts.routing import Routing
from dmzwatch.db.models import Alert, AlertStatus, Article, ArticleStatus, Incident, IncidentReport
from dmzwatch.db.repo import acquire_lock, advance_article, insert_ignore
from dmzwatch.geo import ZoneSet
from dmzwatch.incidents import (
    Candidate,
    Claim,
    Summary,
    alert_is_fresh,
    find_match,
    material_changes,
    place_key,
    summarise,
)
from dmzwatch.records import ExtractedEvent, SubEventType, ZoneResult
from dmzwatch.stages import SessionScope, log_article

log = logging.getLogger(__name__)

MERGE_LOCK = "incident-merge"


class EventExtractor(Protocol):
    """What extraction needs from the NLP layer (dmzwatch.nlp.extract.Extractor implements it)."""

    def extract(self, text: str, published_at: datetime | None) -> list[ExtractedEvent]: ...


def attach_duplicate(session: Session, duplicate_id: int, original_id: int, now: datetime) -> None:
    """A duplicate adds its outlet as a source of every incident its original reported (not independent)."""
    original_reports = session.scalars(select(IncidentReport).where(IncidentReport.article_id == original_id)).all()
    for report in original_reports:
        insert_ignore(
            session,
            IncidentReport,
            {
                "incident_id": report.incident_id,
                "article_id": duplicate_id,
                "event_index": report.event_index,
                "place_text": report.place_text,
                "sub_event_type": report.sub_event_type,
                "killed": report.killed,
                "injured": report.injured,
                "killed_civilians": report.killed_civilians,
                "perpetrator": report.perpetrator,
                "occurred_on": report.occurred_on,
                "sentence": report.sentence,
                "start": report.start,
                "end": report.end,
                "confidence": report.confidence,
                "evidence": {"duplicate_of": original_id},
                "created_at": now,
            },
            conflict=["article_id", "event_index"],
        )
        incident = session.get(Incident, report.incident_id)
        if incident is not None:
            incident.source_count = _summary_for(session, incident.id).source_count
            incident.updated_at = now


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    channels: Sequence[str]  # the configured channels (from the environment), in order
    max_age: timedelta
    alert_on_edge: bool
    # config/alerts.yaml; the default sends every channel incidents inside the primary zone (edge if enabled)
    routing: Routing = field(default_factory=Routing)

    def channels_for(self, zone_status: str, zones: Sequence[str]) -> tuple[str, ...]:
        return self.routing.channels_for(self.channels, zone_status, zones, alert_on_edge=self.alert_on_edge)


def extract_events(
    sessions: SessionScope,
    article_id: int,
    *,
    extractor: EventExtractor,
    zones: ZoneSet,
    policy: AlertPolicy,
    now: datetime,
) -> list[int]:
    """Extract incidents, merge them with what other sources said, decide alerts. Returns alert ids to send."""
    with sessions() as session:
        article = session.get(Article, article_id)
        if article is None or article.status != ArticleStatus.CLEANED:
            return []
        text, published_at = article.text or "", article.published_at
        discovered_at = article.discovered_at

    events = extractor.extract(text, published_at)
    located = [(event, _zone_of(event, zones)) for event in events if event.resolution is not None]

    with sessions() as session:
        acquire_lock(session, MERGE_LOCK)  # concurrent workers must not create twin incidents
        if not advance_article(session, article_id, ArticleStatus.CLEANED, ArticleStatus.EXTRACTED, updated_at=now):
            return []  # another delivery of this message got here first
        alert_ids: list[int] = []
        happened: list[tuple[int, str]] = []
        reference_time = published_at or discovered_at
        for index, (event, zone) in enumerate(located):
            alert_ids += _merge_event(session, article_id, index, event, zone, reference_time, policy, now, happened)
        for duplicate_id in session.scalars(select(Article.id).where(Article.duplicate_of == article_id)).all():
            attach_duplicate(session, duplicate_id, article_id, now)
    # Logged once committed: a line never claims an incident the database does not hold.
    places = ", ".join(sorted({event.resolution.place.name for event, _zone in located if event.resolution}))
    log_article(article_id, "extracted", f"{len(events)} events" + (f" at {places}" if places else ""))
    for incident_id, line in happened:
        log.info(line, extra={"article_id": article_id, "incident_id": incident_id})
    return alert_ids


def _zone_of(event: ExtractedEvent, zones: ZoneSet) -> ZoneResult:
    assert event.resolution is not None
    return zones.classify_resolution(event.resolution)


def _summary_for(session: Session, incident_id: int) -> Summary:
    rows = session.execute(
        select(IncidentReport, Article.outlet, Article.duplicate_of)
        .join(Article, Article.id == IncidentReport.article_id)
        .where(IncidentReport.incident_id == incident_id)
        .order_by(IncidentReport.id)
    ).all()
    claims = [
        Claim(
            outlet=outlet or "unknown",
            independent=duplicate_of is None,
            sub_event_type=SubEventType(report.sub_event_type),
            killed=report.killed,
            injured=report.injured,
            killed_civilians=report.killed_civilians,
            perpetrator=report.perpetrator,
            confidence=report.confidence,
        )
        for report, outlet, duplicate_of in rows
    ]
    return summarise(claims)


def _merge_event(
    session: Session,
    article_id: int,
    index: int,
    event: ExtractedEvent,
    zone: ZoneResult,
    reference_time: datetime,
    policy: AlertPolicy,
    now: datetime,
    happened: list[tuple[int, str]],
) -> list[int]:
    """Merge one event into its incident (or create one); note what happened; return the alerts to send."""
    assert event.resolution is not None
    place = event.resolution.place
    key = place_key(event)
    window = timedelta(days=2)
    query = select(Incident)
    if event.occurred_on is not None:
        query = query.where(
            or_(
                Incident.occurred_on.is_(None),
                Incident.occurred_on.between(event.occurred_on - window, event.occurred_on + window),
            )
        )
    if event.resolution.geo_precision < 3:
        box = 0.05  # ~5 km in latitude: a coarse index filter before the exact 3 km test
        query = query.where(
            or_(
                Incident.place_key == key,
                Incident.lat.between(place.lat - box, place.lat + box)
                & Incident.lon.between(place.lon - box, place.lon + box),
            )
        )
    else:
        query = query.where(Incident.place_key == key)
    existing = session.scalars(query.order_by(Incident.id)).all()
    match = find_match(
        key,
        place.lat,
        place.lon,
        event.resolution.geo_precision,
        event.sub_event_type,
        event.occurred_on,
        [
            Candidate(
                id=i.id,
                place_key=i.place_key,
                lat=i.lat,
                lon=i.lon,
                geo_precision=i.geo_precision,
                sub_event_type=SubEventType(i.sub_event_type),
                occurred_on=i.occurred_on,
                first_published_at=i.first_published_at,
            )
            for i in existing
        ],
        published_at=reference_time,
    )
    report_values = {
        "article_id": article_id,
        "event_index": index,
        "place_text": event.place_text[:200],
        "sub_event_type": event.sub_event_type.value,
        "killed": event.killed,
        "injured": event.injured,
        "killed_civilians": event.killed_civilians,
        "perpetrator": event.perpetrator,
        "occurred_on": event.occurred_on,
        "sentence": event.evidence.sentence,
        "start": event.evidence.start,
        "end": event.evidence.end,
        "confidence": event.confidence,
        "evidence": {name: ev.as_dict() for name, ev in event.field_evidence.items()},
        "created_at": now,
    }

    if match is None:
        incident = Incident(
            event_type=event.event_type,
            sub_event_type=event.sub_event_type.value,
            place_name=place.name if event.resolution.method != "region" else event.place_text,
            place_id=place.id,
            place_key=key,
            lat=place.lat,
            lon=place.lon,
            geo_precision=event.resolution.geo_precision,
            admin1=place.admin1,
            occurred_on=event.occurred_on,
            time_precision=event.time_precision,
            killed=event.killed,
            killed_min=event.killed,
            killed_max=event.killed,
            injured=event.injured,
            injured_min=event.injured,
            injured_max=event.injured,
            killed_civilians=event.killed_civilians,
            perpetrator=event.perpetrator,
            target=event.target,
            zones=list(zone.zones),
            zone_status=zone.zone_status,
            distance_to_line_km=zone.distance_to_line_km,
            confidence=event.confidence,
            source_count=1,
            first_seen_at=now,
            first_published_at=reference_time,
            updated_at=now,
            version=1,
        )
        session.add(incident)
        session.flush()
        insert_ignore(
            session, IncidentReport, {"incident_id": incident.id, **report_values}, ["article_id", "event_index"]
        )
        happened.append((incident.id, f"incident {incident.id} created: {_describe(incident)}"))
        if alert_is_fresh(reference_time, now, policy.max_age):
            return _create_alerts(session, incident, (), reference_time, now, policy)
        return []

    incident = session.get_one(Incident, match.id)
    before = _summary_for(session, incident.id)
    inserted = insert_ignore(
        session, IncidentReport, {"incident_id": incident.id, **report_values}, ["article_id", "event_index"]
    )
    if inserted is None:
        return []
    after = _summary_for(session, incident.id)
    _apply_summary(incident, after, now)
    if incident.geo_precision > event.resolution.geo_precision:
        # A more precise report of the same incident moves the pin (e.g. region → village).
        incident.place_name, incident.place_id = place.name, place.id
        incident.lat, incident.lon, incident.admin1 = place.lat, place.lon, place.admin1
        incident.geo_precision = event.resolution.geo_precision
        incident.zones, incident.zone_status = list(zone.zones), zone.zone_status
        incident.distance_to_line_km = zone.distance_to_line_km
    changes = material_changes(before, after)
    if not changes:
        happened.append((incident.id, f"incident {incident.id}: one more source, nothing new (v{incident.version})"))
        return []
    incident.version += 1
    happened.append((incident.id, f"incident {incident.id} updated: {'; '.join(changes)}: {_describe(incident)}"))
    if not alert_is_fresh(reference_time, now, policy.max_age):
        return []
    return _create_alerts(session, incident, tuple(changes), reference_time, now, policy)


def _describe(incident: Incident) -> str:
    toll = f", killed {incident.killed}" if incident.killed is not None else ""
    toll += f", injured {incident.injured}" if incident.injured is not None else ""
    return (
        f"v{incident.version} {incident.sub_event_type} at {incident.place_name} ({incident.zone_status}), "
        f"{incident.occurred_on or 'date unknown'}{toll}, {incident.source_count} source(s)"
    )


def _apply_summary(incident: Incident, summary: Summary, now: datetime) -> None:
    incident.sub_event_type = summary.sub_event_type.value
    incident.event_type = summary.sub_event_type.event_type
    incident.killed, incident.killed_min, incident.killed_max = summary.killed, summary.killed_min, summary.killed_max
    incident.injured = summary.injured
    incident.injured_min, incident.injured_max = summary.injured_min, summary.injured_max
    incident.killed_civilians = summary.killed_civilians
    incident.perpetrator = summary.perpetrator
    incident.confidence = max(incident.confidence, summary.confidence)
    incident.source_count = summary.source_count
    incident.updated_at = now


def _create_alerts(
    session: Session,
    incident: Incident,
    changes: tuple[str, ...],
    source_time: datetime,
    now: datetime,
    policy: AlertPolicy,
) -> list[int]:
    """One alert per routed channel for the incident's current version: ``update`` where that channel already
    has the incident's first alert (it refers to it), else ``new`` (e.g. the first report was a backfill)."""
    ids: list[int] = []
    channels = policy.channels_for(incident.zone_status, list(incident.zones or ()))
    announced = set(
        session.scalars(
            select(Alert.channel).where(
                Alert.incident_id == incident.id, Alert.kind == "new", Alert.channel.in_(channels)
            )
        ).all()
    )
    for channel in channels:
        kind = "update" if channel in announced else "new"
        alert_id = insert_ignore(
            session,
            Alert,
            {
                "incident_id": incident.id,
                "incident_version": incident.version,
                "channel": channel,
                "kind": kind,
                "changes": list(changes) if kind == "update" else None,
                "status": AlertStatus.PENDING.value,
                "attempts": 0,
                "created_at": now,
                "source_published_at": source_time,
            },
            ["incident_id", "incident_version", "channel"],
        )
        if alert_id is not None:
            ids.append(alert_id)
    return ids
