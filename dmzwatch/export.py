"""The JSON shapes other tools read (`dmzwatch extract --json`, `dmzwatch incidents --json`). Keep names stable."""

from __future__ import annotations

from typing import Any

from dmzwatch.db.models import Article, Incident, IncidentReport
from dmzwatch.records import ExtractedEvent, ZoneResult


def event_record(event: ExtractedEvent, zone: ZoneResult | None) -> dict[str, Any]:
    resolution = event.resolution
    place = resolution.place if resolution else None
    return {
        "place": event.place_text,
        "place_id": place.id if place else None,
        "lat": place.lat if place else None,
        "lon": place.lon if place else None,
        "admin1": place.admin1 if place else None,
        "geo_precision": resolution.geo_precision if resolution else None,
        "event_type": event.event_type,
        "sub_event_type": event.sub_event_type.value,
        "killed": event.killed,
        "injured": event.injured,
        "killed_civilians": event.killed_civilians,
        "perpetrator": event.perpetrator,
        "occurred_on": event.occurred_on.isoformat() if event.occurred_on else None,
        "time_precision": event.time_precision,
        "zones": list(zone.zones) if zone else [],
        "zone_status": zone.zone_status if zone else None,
        "confidence": round(event.confidence, 3),
        "evidence": {
            "sentence": event.evidence.sentence,
            "start": event.evidence.start,
            "end": event.evidence.end,
            "fields": {
                name: {"sentence": ev.sentence, "start": ev.start, "end": ev.end}
                for name, ev in event.field_evidence.items()
            },
        },
    }


def incident_record(incident: Incident, reports: list[tuple[IncidentReport, Article]]) -> dict[str, Any]:
    first = reports[0][0] if reports else None
    return {
        "id": incident.id,
        "version": incident.version,
        "place": incident.place_name,
        "place_id": incident.place_id,
        "lat": incident.lat,
        "lon": incident.lon,
        "admin1": incident.admin1,
        "geo_precision": incident.geo_precision,
        "event_type": incident.event_type,
        "sub_event_type": incident.sub_event_type,
        "killed": incident.killed,
        "killed_min": incident.killed_min,
        "killed_max": incident.killed_max,
        "injured": incident.injured,
        "injured_min": incident.injured_min,
        "injured_max": incident.injured_max,
        "killed_civilians": incident.killed_civilians,
        "perpetrator": incident.perpetrator,
        "occurred_on": incident.occurred_on.isoformat() if incident.occurred_on else None,
        "time_precision": incident.time_precision,
        "zones": list(incident.zones or []),
        "zone_status": incident.zone_status,
        "distance_to_line_km": incident.distance_to_line_km,
        "confidence": incident.confidence,
        "evidence": {"sentence": first.sentence, "start": first.start, "end": first.end} if first else None,
        "first_seen_at": incident.first_seen_at.isoformat(),
        "updated_at": incident.updated_at.isoformat(),
        "sources": [
            {
                "url": article.url,
                "outlet": article.outlet,
                "published_at": article.published_at.isoformat() if article.published_at else None,
                "killed": report.killed,
                "injured": report.injured,
            }
            for report, article in reports
        ],
    }
