"""The shapes other tools read: `extract --json`, `incidents --json` (keep names stable), and the CSV/GeoJSON export."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

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
            "fields": {name: ev.as_dict() for name, ev in event.field_evidence.items()},
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
        # The first report's evidence: its sentence and, per field, the words each value was read from.
        "evidence": (
            {"sentence": first.sentence, "start": first.start, "end": first.end, "fields": dict(first.evidence or {})}
            if first
            else None
        ),
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


# --- files for analysts: CSV after ACLED's columns, GeoJSON --------------------------------------------------
# ACLED's column names where they exist, so analysts' ACLED tooling reads the file. `fatalities` is the
# incident's best figure (the highest any source gave), empty when no source gave one; the range is in notes.
CSV_COLUMNS = (
    "event_date",
    "event_type",
    "sub_event_type",
    "actor1",
    "admin1",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "time_precision",
    "fatalities",
    "source",
    "notes",
)


def export_row(record: dict[str, Any]) -> dict[str, Any]:
    """One incident (an ``incident_record``) as an ACLED-style row."""
    outlets = list(dict.fromkeys(str(s["outlet"]) for s in record["sources"] if s.get("outlet")))
    notes = []
    if record.get("evidence"):
        notes.append(str(record["evidence"]["sentence"]))
    if record.get("killed_min") is not None and record["killed_min"] != record.get("killed_max"):
        notes.append(f"Sources give {record['killed_min']}-{record['killed_max']} killed.")
    if record.get("injured") is not None:
        notes.append(f"Injured: {record['injured']}.")
    notes.append(
        f"dmzwatch incident {record['id']} v{record['version']}; zone status {record['zone_status']}"
        + (f" ({', '.join(record['zones'])})" if record.get("zones") else "")
        + "."
    )
    return {
        "event_date": record.get("occurred_on") or "",
        "event_type": record["event_type"],
        "sub_event_type": record["sub_event_type"],
        "actor1": _actor_name(str(record.get("perpetrator") or "unknown")),
        "admin1": record.get("admin1") or "",
        "location": record["place"],
        "latitude": "" if record.get("lat") is None else round(float(record["lat"]), 5),
        "longitude": "" if record.get("lon") is None else round(float(record["lon"]), 5),
        "geo_precision": record["geo_precision"],
        "time_precision": record.get("time_precision") or "",
        "fatalities": "" if record.get("killed") is None else record["killed"],
        "source": "; ".join(outlets),
        "notes": " ".join(notes),
    }


def write_csv(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for record in records:
        writer.writerow(export_row(record))
        count += 1
    return count


def write_geojson(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """A FeatureCollection (RFC 7946: WGS84, lon before lat). An incident without coordinates keeps a null
    geometry rather than vanishing from the file."""
    features = []
    for record in records:
        geometry = None
        if record.get("lat") is not None and record.get("lon") is not None:
            geometry = {"type": "Point", "coordinates": [record["lon"], record["lat"]]}
        properties = {**export_row(record), "id": record["id"], "version": record["version"]}
        properties.update({key: record[key] for key in ("zone_status", "zones", "killed_min", "killed_max")})
        properties["sources"] = record["sources"]
        features.append({"type": "Feature", "id": record["id"], "geometry": geometry, "properties": properties})
    json.dump({"type": "FeatureCollection", "features": features}, out, ensure_ascii=False)
    out.write("\n")
    return len(features)


# ACLED's actor names for our side codes (records.Side).
_ACTORS = {
    "government": "Military Forces of Syria",
    "russia": "Military Forces of Russia",
    "rebels": "Opposition Rebels (Syria)",
    "hts": "Hayat Tahrir al-Sham",
    "turkey": "Military Forces of Turkey",
    "coalition": "Coalition forces",
    "isis": "Islamic State (Syria)",
    "sdf": "Syrian Democratic Forces",
    "unknown": "Unidentified Armed Group (Syria)",
}


def _actor_name(side: str) -> str:
    """ACLED-like actor names for our side codes; an unknown code is kept as written."""
    return _ACTORS.get(side, side)
