"""The shapes other tools read: `extract --json`, `incidents --json` (keep names stable), and the CSV/GeoJSON export."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import datetime
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


def incident_record(
    incident: Incident, reports: list[tuple[IncidentReport, Article]], feed_names: dict[int, str] | None = None
) -> dict[str, Any]:
    """``feed_names``: feed id -> the name the operator gave it, shown as the outlet's name where known."""
    first = reports[0][0] if reports else None
    names = feed_names or {}
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
        "target": incident.target,
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
                "outlet_name": names.get(article.feed_id or -1) or article.outlet,
                "published_at": article.published_at.isoformat() if article.published_at else None,
                "killed": report.killed,
                "injured": report.injured,
            }
            for report, article in reports
        ],
    }


# --- files for analysts: CSV after ACLED's columns, GeoJSON --------------------------------------------------
# ACLED's column names, in ACLED's order, so an analyst's ACLED tooling loads the file unchanged; our own
# columns follow. Conventions as ACLED's codebook: `fatalities` is the most conservative figure any source gave
# (the lowest), 0 where none reported one; inter codes 1 state forces, 2 rebel groups, 3 political militias
# (and unidentified armed groups), 7 civilians, 8 external forces; `interaction` the two codes, lower first.
# Columns we cannot fill from news text (assoc_actor_*, admin2, admin3, source_scale, tags) are left empty.
ACLED_COLUMNS = (
    "event_id_cnty",
    "event_date",
    "year",
    "time_precision",
    "disorder_type",
    "event_type",
    "sub_event_type",
    "actor1",
    "assoc_actor_1",
    "inter1",
    "actor2",
    "assoc_actor_2",
    "inter2",
    "interaction",
    "civilian_targeting",
    "iso",
    "region",
    "country",
    "admin1",
    "admin2",
    "admin3",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "source_scale",
    "notes",
    "fatalities",
    "tags",
    "timestamp",
)
EXTRA_COLUMNS = (
    "zone_status",
    "zones",
    "distance_to_line_km",
    "fatalities_min",
    "fatalities_max",
    "injured",
    "confidence",
    "dmzwatch_incident_id",
    "dmzwatch_version",
)
CSV_COLUMNS = ACLED_COLUMNS + EXTRA_COLUMNS
EVENT_ID_PREFIX = "SYRDMZ"  # ACLED ids are country code + number; ours cannot collide with theirs
CIVILIANS = "Civilians (Syria)"
_DISORDER = {
    "Battles": "Political violence",
    "Explosions/Remote violence": "Political violence",
    "Violence against civilians": "Political violence",
    "Protests": "Demonstrations",
    "Riots": "Demonstrations",
    "Strategic developments": "Strategic developments",
}


def export_row(record: dict[str, Any]) -> dict[str, Any]:
    """One incident (an ``incident_record``) as a row of ACLED's columns, then ours."""
    outlets = list(
        dict.fromkeys(str(s.get("outlet_name") or s["outlet"]) for s in record["sources"] if s.get("outlet"))
    )
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
    side = str(record.get("perpetrator") or "unknown")
    inter1 = _INTER.get(side, 3)
    civilians = bool(record.get("killed_civilians")) or "civilian" in str(record.get("target") or "").lower()
    actor2, inter2 = (CIVILIANS, 7) if civilians else ("", 0)
    occurred = str(record.get("occurred_on") or "")
    conservative = record.get("killed_min") if record.get("killed_min") is not None else record.get("killed")
    return {
        "event_id_cnty": f"{EVENT_ID_PREFIX}{record['id']}",
        "event_date": occurred,
        "year": occurred[:4],
        "time_precision": record.get("time_precision") or "",
        "disorder_type": _DISORDER.get(str(record["event_type"]), "Political violence"),
        "event_type": record["event_type"],
        "sub_event_type": record["sub_event_type"],
        "actor1": _actor_name(side),
        "assoc_actor_1": "",
        "inter1": inter1,
        "actor2": actor2,
        "assoc_actor_2": "",
        "inter2": inter2 or "",
        "interaction": int("".join(sorted(f"{inter1}{inter2}"))) if inter2 else inter1 * 10,
        "civilian_targeting": "Civilian targeting" if civilians else "",
        "iso": 760,
        "region": "Middle East",
        "country": "Syria",
        "admin1": record.get("admin1") or "",
        "admin2": "",
        "admin3": "",
        "location": record["place"],
        "latitude": "" if record.get("lat") is None else round(float(record["lat"]), 5),
        "longitude": "" if record.get("lon") is None else round(float(record["lon"]), 5),
        "geo_precision": record["geo_precision"],
        "source": "; ".join(outlets),
        "source_scale": "",
        "notes": " ".join(notes),
        "fatalities": int(conservative or 0),
        "tags": "",
        "timestamp": _epoch(record.get("updated_at")),
        "zone_status": record["zone_status"],
        "zones": ";".join(record.get("zones") or []),
        "distance_to_line_km": "" if record.get("distance_to_line_km") is None else record["distance_to_line_km"],
        "fatalities_min": "" if record.get("killed_min") is None else record["killed_min"],
        "fatalities_max": "" if record.get("killed_max") is None else record["killed_max"],
        "injured": "" if record.get("injured") is None else record["injured"],
        "confidence": "" if record.get("confidence") is None else round(float(record["confidence"]), 3),
        "dmzwatch_incident_id": record["id"],
        "dmzwatch_version": record["version"],
    }


def _epoch(iso: str | None) -> int | str:
    return "" if not iso else int(datetime.fromisoformat(iso).timestamp())


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


# ACLED's inter codes for our side codes: state forces 1, rebel groups 2, external forces 8; an unidentified
# armed group is coded as a political militia (3), as ACLED does.
_INTER = {
    "government": 1,
    "russia": 8,
    "turkey": 8,
    "coalition": 8,
    "rebels": 2,
    "hts": 2,
    "isis": 2,
    "sdf": 2,
    "unknown": 3,
}

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
