"""Cross-source incident merge and alert decisions: pure functions over plain records (DESIGN §4).

The database layer loads candidate incidents and the claims behind them, asks these functions what to do, and
writes the answer. Keeping the rules here keeps them testable and deterministic.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dmzwatch.geo import normalize_toponym
from dmzwatch.records import ExtractedEvent, SubEventType

# Reports of one strike name the same village with different spellings or nearby hamlets; 3 km covers a
# village and its farms without swallowing the next village (NW Syrian villages sit 2-5 km apart).
MERGE_RADIUS_KM = 3.0
# Outlets date a night-time strike to either calendar day; a day either side absorbs that...
MERGE_WINDOW_DAYS = 1
# ...but only between reports published close together. Reports of one night's strike come out within hours
# of each other; a report published a day after the incident's first one and dated a day later is the next
# strike on the same village (villages in the DMZ were hit on consecutive days for weeks in 2019).
ADJACENT_DAY_PUBLISHED_WITHIN = timedelta(hours=12)

# Air strikes and shelling are routinely confused in first reports ("bombardment", "strikes"): one attack.
_EXPLOSIVE_TYPES = {SubEventType.AIR_STRIKE, SubEventType.SHELLING}


@dataclass(frozen=True, slots=True)
class Candidate:
    """An existing incident, as much as the merge needs to see."""

    id: int
    place_key: str
    lat: float | None
    lon: float | None
    geo_precision: int
    sub_event_type: SubEventType
    occurred_on: date | None
    first_published_at: datetime | None = None  # publication time of the incident's first report


@dataclass(frozen=True, slots=True)
class Claim:
    """One source's claim about an incident."""

    outlet: str
    independent: bool  # False for a duplicate (wire copy) of another source's article
    sub_event_type: SubEventType
    killed: int | None
    injured: int | None
    killed_civilians: int | None
    perpetrator: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Summary:
    sub_event_type: SubEventType
    killed: int | None
    killed_min: int | None
    killed_max: int | None
    injured: int | None
    injured_min: int | None
    injured_max: int | None
    killed_civilians: int | None
    perpetrator: str
    confidence: float
    source_count: int  # distinct outlets
    independent_sources: int  # distinct outlets with their own reporting


def place_key(event: ExtractedEvent) -> str:
    """The merge identity of a place.

    A resolved place merges by gazetteer id. An unresolved village that fell back to its region keeps its own
    name as identity: two different unknown villages in "southern Idlib" are two incidents, not one.
    """
    resolution = event.resolution
    if resolution is not None and resolution.method != "region":
        return resolution.place.id
    name_key = normalize_toponym(event.place_text)
    if resolution is not None and normalize_toponym(resolution.place.name) == name_key:
        return resolution.place.id  # the event is about the region itself
    return f"name:{name_key}"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    radius_km = 6371.0
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * radius_km * math.asin(math.sqrt(a))


def types_compatible(a: SubEventType, b: SubEventType) -> bool:
    if a == b or SubEventType.OTHER in (a, b):
        return True
    return a in _EXPLOSIVE_TYPES and b in _EXPLOSIVE_TYPES


def _dates_close(
    a: date | None, b: date | None, published_a: datetime | None = None, published_b: datetime | None = None
) -> bool:
    """Same day; or adjacent days when the reports were published close together (or either time is unknown)."""
    if a is None or b is None:
        return True  # an undated claim cannot contradict a dated one
    gap = abs((a - b).days)
    if gap == 0:
        return True
    if gap > MERGE_WINDOW_DAYS:
        return False
    if published_a is None or published_b is None:
        return True
    return abs(published_a - published_b) <= ADJACENT_DAY_PUBLISHED_WITHIN


def find_match(
    key: str,
    lat: float | None,
    lon: float | None,
    geo_precision: int,
    sub_event_type: SubEventType,
    occurred_on: date | None,
    candidates: Iterable[Candidate],
    published_at: datetime | None = None,
) -> Candidate | None:
    """The incident this claim belongs to, or None for a new incident.

    Deterministic: among matches, the same place identity wins over proximity, then the nearest date, then
    the oldest incident.
    """
    best: tuple[tuple[int, float, int, int], Candidate] | None = None
    for candidate in candidates:
        if not types_compatible(sub_event_type, candidate.sub_event_type):
            continue
        if not _dates_close(occurred_on, candidate.occurred_on, published_at, candidate.first_published_at):
            continue
        same_key = candidate.place_key == key
        distance = math.inf
        if (
            not same_key
            and geo_precision < 3
            and candidate.geo_precision < 3
            and None not in (lat, lon, candidate.lat, candidate.lon)
        ):
            distance = haversine_km(lat, lon, candidate.lat, candidate.lon)  # type: ignore[arg-type]
        if not same_key and distance > MERGE_RADIUS_KM:
            continue
        day_gap = (
            abs((occurred_on - candidate.occurred_on).days)
            if occurred_on is not None and candidate.occurred_on is not None
            else MERGE_WINDOW_DAYS
        )
        rank = (0 if same_key else 1, 0.0 if same_key else distance, day_gap, candidate.id)
        if best is None or rank < best[0]:
            best = (rank, candidate)
    return None if best is None else best[1]


def _range(values: Sequence[int]) -> tuple[int | None, int | None, int | None]:
    """(best, min, max). Best is the highest figure: tolls rise as the dead are counted, rarely fall."""
    if not values:
        return None, None, None
    return max(values), min(values), max(values)


def summarise(claims: Sequence[Claim]) -> Summary:
    if not claims:
        raise ValueError("an incident has at least one claim")
    killed = _range([c.killed for c in claims if c.killed is not None])
    injured = _range([c.injured for c in claims if c.injured is not None])
    civilians = [c.killed_civilians for c in claims if c.killed_civilians is not None]

    # Type: the most reported specific type; ties go to the more confident claim, then to the enum order.
    specific = [c for c in claims if c.sub_event_type != SubEventType.OTHER] or list(claims)
    type_votes = Counter(c.sub_event_type for c in specific)
    sub_event_type = max(
        type_votes,
        key=lambda t: (
            type_votes[t],
            max(c.confidence for c in specific if c.sub_event_type == t),
            -list(SubEventType).index(t),
        ),
    )
    known = [c.perpetrator for c in claims if c.perpetrator != "unknown"]
    perpetrator = "unknown"
    if known:
        votes = Counter(known)
        perpetrator = max(votes, key=lambda side: (votes[side], -known.index(side)))

    outlets = {c.outlet for c in claims}
    independent = {c.outlet for c in claims if c.independent}
    # Corroboration raises confidence: 1 - prod(1 - c) over independent outlets' best claims.
    best_by_outlet: dict[str, float] = {}
    for c in claims:
        if c.independent:
            best_by_outlet[c.outlet] = max(best_by_outlet.get(c.outlet, 0.0), c.confidence)
    doubt = 1.0
    for value in best_by_outlet.values() or [max(c.confidence for c in claims)]:
        doubt *= 1.0 - value
    return Summary(
        sub_event_type=sub_event_type,
        killed=killed[0],
        killed_min=killed[1],
        killed_max=killed[2],
        injured=injured[0],
        injured_min=injured[1],
        injured_max=injured[2],
        killed_civilians=max(civilians) if civilians else None,
        perpetrator=perpetrator,
        confidence=round(1.0 - doubt, 3),
        source_count=len(outlets),
        independent_sources=max(len(independent), 1),
    )


def material_changes(before: Summary, after: Summary) -> list[str]:
    """What changed enough to tell analysts again. Empty: a quiet update (new version not warranted)."""
    reasons: list[str] = []
    if (after.killed or 0) > (before.killed or 0):
        reasons.append(f"death toll rose to {after.killed}")
    if (after.injured or 0) > (before.injured or 0) and (after.killed or 0) == (before.killed or 0):
        reasons.append(f"injured rose to {after.injured}")
    if before.sub_event_type == SubEventType.OTHER and after.sub_event_type != SubEventType.OTHER:
        reasons.append(f"type now known: {after.sub_event_type.value}")
    if before.perpetrator == "unknown" and after.perpetrator != "unknown":
        reasons.append(f"perpetrator now known: {after.perpetrator}")
    if after.independent_sources > before.independent_sources:
        reasons.append(f"{after.independent_sources} independent sources")
    return reasons


def alert_is_fresh(published_at: datetime | None, now: datetime, max_age: timedelta) -> bool:
    """Backfills stay quiet: a report published longer ago than max_age never alerts.

    An undated report counts as fresh: it was only just discovered, and silence is the costlier mistake.
    """
    return published_at is None or now - published_at <= max_age
