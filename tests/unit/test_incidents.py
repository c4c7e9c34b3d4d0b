from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dmzwatch.incidents import (
    Candidate,
    Claim,
    alert_is_fresh,
    find_match,
    haversine_km,
    material_changes,
    summarise,
    types_compatible,
)
from dmzwatch.records import SubEventType

AIR, SHELL, CLASH = SubEventType.AIR_STRIKE, SubEventType.SHELLING, SubEventType.ARMED_CLASH
DAY = date(2019, 5, 4)


def _candidate(id_: int, key: str, lat: float, lon: float, kind: SubEventType = AIR, on: date = DAY) -> Candidate:
    return Candidate(id=id_, place_key=key, lat=lat, lon=lon, geo_precision=1, sub_event_type=kind, occurred_on=on)


def _claim(
    outlet: str, killed: int | None, *, independent: bool = True, perpetrator: str = "unknown", kind: SubEventType = AIR
) -> Claim:
    return Claim(
        outlet=outlet,
        independent=independent,
        sub_event_type=kind,
        killed=killed,
        injured=None,
        killed_civilians=None,
        perpetrator=perpetrator,
        confidence=0.6,
    )


def test_haversine_is_in_km() -> None:
    # Kafr Nabl to Maarat al-Numan: about 11 km.
    assert 10 < haversine_km(35.613, 36.562, 35.648, 36.675) < 12


def test_same_place_same_day_merges() -> None:
    match = find_match("gn:1", 35.6, 36.5, 1, AIR, DAY, [_candidate(7, "gn:1", 35.6, 36.5)])
    assert match is not None and match.id == 7


def test_next_day_strike_in_same_village_is_a_new_incident() -> None:
    assert find_match("gn:1", 35.6, 36.5, 1, AIR, DAY + timedelta(days=2), [_candidate(7, "gn:1", 35.6, 36.5)]) is None


def test_one_day_apart_still_merges_night_strikes() -> None:
    assert find_match("gn:1", 35.6, 36.5, 1, AIR, DAY + timedelta(days=1), [_candidate(7, "gn:1", 35.6, 36.5)])


def test_next_day_merges_only_reports_published_close_together() -> None:
    first_report = datetime(2019, 5, 4, 23, 30, tzinfo=UTC)
    candidate = Candidate(
        id=7,
        place_key="gn:1",
        lat=35.6,
        lon=36.5,
        geo_precision=1,
        sub_event_type=AIR,
        occurred_on=DAY,
        first_published_at=first_report,
    )
    next_day = DAY + timedelta(days=1)
    # The same night's strike, dated to the next day by another outlet a few hours later: one incident.
    assert find_match("gn:1", 35.6, 36.5, 1, AIR, next_day, [candidate], published_at=first_report + timedelta(hours=6))
    # A strike on the same village reported a day later: a second incident.
    assert (
        find_match("gn:1", 35.6, 36.5, 1, AIR, next_day, [candidate], published_at=first_report + timedelta(hours=20))
        is None
    )
    # Same day: merges whatever the publication gap (a follow-up with a higher toll).
    assert find_match("gn:1", 35.6, 36.5, 1, AIR, DAY, [candidate], published_at=first_report + timedelta(hours=30))


def test_nearby_spelling_variant_within_3_km_merges_but_next_village_does_not() -> None:
    near = _candidate(3, "nw:other-name", 35.615, 36.57)  # ~0.8 km
    far = _candidate(4, "nw:next-village", 35.66, 36.6)  # ~6 km
    assert find_match("gn:1", 35.613, 36.562, 1, AIR, DAY, [far, near]) == near
    assert find_match("gn:1", 35.613, 36.562, 1, AIR, DAY, [far]) is None


def test_incompatible_types_do_not_merge() -> None:
    assert types_compatible(AIR, SHELL)
    assert not types_compatible(AIR, CLASH)
    assert find_match("gn:1", 35.6, 36.5, 1, CLASH, DAY, [_candidate(7, "gn:1", 35.6, 36.5)]) is None


def test_match_is_deterministic_and_order_independent() -> None:
    a, b = _candidate(5, "gn:1", 35.6, 36.5), _candidate(9, "gn:1", 35.6, 36.5)
    assert (
        find_match("gn:1", 35.6, 36.5, 1, AIR, DAY, [a, b]) == find_match("gn:1", 35.6, 36.5, 1, AIR, DAY, [b, a]) == a
    )


def test_region_level_claims_merge_only_by_identity() -> None:
    candidate = Candidate(
        id=1, place_key="name:malaja", lat=35.6, lon=36.6, geo_precision=3, sub_event_type=AIR, occurred_on=DAY
    )
    assert find_match("name:other", 35.6, 36.6, 3, AIR, DAY, [candidate]) is None
    assert find_match("name:malaja", 35.6, 36.6, 3, AIR, DAY, [candidate]) == candidate


def test_summary_keeps_ranges_and_counts_independent_sources() -> None:
    summary = summarise([_claim("a.com", 5), _claim("b.com", 5, independent=False), _claim("c.com", 7)])
    assert (summary.killed, summary.killed_min, summary.killed_max) == (7, 5, 7)
    assert summary.source_count == 3 and summary.independent_sources == 2


def test_material_changes() -> None:
    first = summarise([_claim("a.com", 5)])
    wire_copy = summarise([_claim("a.com", 5), _claim("b.com", 5, independent=False)])
    assert material_changes(first, wire_copy) == []  # a verbatim copy is not news
    higher = summarise([_claim("a.com", 5), _claim("c.com", 8, perpetrator="russia")])
    reasons = material_changes(first, higher)
    assert any("death toll rose to 8" in r for r in reasons)
    assert any("perpetrator now known: russia" in r for r in reasons)


def test_alert_freshness() -> None:
    now = datetime(2019, 5, 4, 12, tzinfo=UTC)
    assert alert_is_fresh(now - timedelta(hours=2), now, timedelta(hours=48))
    assert not alert_is_fresh(now - timedelta(days=5), now, timedelta(hours=48))
    assert alert_is_fresh(None, now, timedelta(hours=48))
