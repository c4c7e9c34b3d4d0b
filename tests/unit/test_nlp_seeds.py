"""Score extraction against ../shared/seeds/gold.jsonl (DESIGN §8); skipped when /work/shared is absent.

Run ``python -m tests.unit.test_nlp_seeds`` to print the figures: incident precision/recall by place (specific
places and regions separately), type accuracy and killed exact-match over matched incidents, and the
not-incident statements that produced an event (must be none).

Publication dates are only hinted in gold.jsonl; the ones used here fit the hints (a Saturday in 2019, ...).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dmzwatch.nlp.extract import Extractor
from dmzwatch.records import ExtractedEvent, SubEventType

REPO = Path(__file__).resolve().parents[2]
SEEDS = Path(os.environ.get("DMZWATCH_TEST_SEEDS", str(REPO.parent / "shared" / "seeds")))
GAZETTEER_DIR = REPO / "config" / "gazetteer"

# seed prefix -> publication date consistent with gold.jsonl's published_hint
PUBLISHED = {
    "000": "2019-02-16T12:00:00+00:00",  # a Saturday; Sochi deal "September last year"
    "001": "2019-05-09T12:00:00+00:00",  # a Thursday
    "002": "2019-05-04T12:00:00+00:00",  # a Saturday
    "003": "2019-11-20T12:00:00+00:00",  # November 2019
    "004": "2019-01-14T12:00:00+00:00",  # a Monday after "the weekend"
}
GOLD_TYPES = {
    "air_strike": SubEventType.AIR_STRIKE,
    "shelling": SubEventType.SHELLING,
    "armed_clash": SubEventType.ARMED_CLASH,
    "remote_explosive": SubEventType.REMOTE_EXPLOSIVE,
    "attack": SubEventType.ATTACK,
}
# What the brief requires the extractor to find: (seed, gold place_normalized, type, killed, injured)
REQUIRED = [
    ("002", "Qalaat al-Madiq", SubEventType.SHELLING, 2, 5),
    ("001", "Kansafra", SubEventType.AIR_STRIKE, 4, None),
    ("002", "Mhardeh", SubEventType.SHELLING, 10, None),
    ("003", "al-Malaja", SubEventType.AIR_STRIKE, 5, None),
    ("003", "Saraqib", None, 4, None),
    ("002", "Hass", None, 6, None),
    ("003", "Kafr Nabl", None, None, 2),
]

pytestmark = [
    pytest.mark.seeds,
    pytest.mark.skipif(not (SEEDS / "gold.jsonl").exists(), reason="../shared/seeds absent"),
    pytest.mark.skipif(not (GAZETTEER_DIR / "places.tsv").exists(), reason="config/gazetteer not built"),
]


@dataclass
class Score:
    gold_specific: int = 0
    gold_region: int = 0
    pred_specific: int = 0
    pred_region: int = 0
    matched_specific: int = 0  # gold specific incidents found
    matched_region: int = 0
    pred_matched_specific: int = 0  # predictions that match some gold incident
    pred_matched_region: int = 0
    type_ok: int = 0
    type_n: int = 0
    killed_ok: int = 0
    killed_n: int = 0
    not_incident_hits: list[str] = field(default_factory=list)
    unmatched_predictions: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    killed_wrong: list[str] = field(default_factory=list)
    perp_ok: int = 0
    perp_wrong: list[str] = field(default_factory=list)


def _norm(text: str) -> str:
    from dmzwatch.geo import normalize_toponym

    return normalize_toponym(text)


def _gold_matches(extractor_gaz: Any, g: dict[str, Any], e: ExtractedEvent) -> bool:
    assert e.resolution is not None
    if g["precision"] == "region":
        # a region event matches a gold region incident when its governorate is named in the gold phrase
        return e.resolution.method == "region" and (e.resolution.place.admin1 or "").lower() in g["place"].lower()
    names = {_norm(g["place"]), _norm(g["place_normalized"] or g["place"])}
    gold_res = extractor_gaz.resolve(g["place_normalized"] or g["place"], admin1_hint=g.get("admin1"))
    if gold_res is not None and e.resolution.method != "region" and gold_res.place.id == e.resolution.place.id:
        return True
    return _norm(e.place_text) in names or any(n and n in _norm(g["place"]) for n in [_norm(e.place_text)])


def run(extractor: Extractor | None = None) -> tuple[Score, dict[str, list[ExtractedEvent]]]:
    from dmzwatch.geo import Gazetteer

    gaz = Gazetteer.load(GAZETTEER_DIR)
    extractor = extractor or Extractor(gaz)
    score = Score()
    by_seed: dict[str, list[ExtractedEvent]] = {}
    for line in (SEEDS / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        gold = json.loads(line)
        seed = gold["seed"]
        text = (SEEDS / seed).read_text(encoding="utf-8")
        events = extractor.extract(text, datetime.fromisoformat(PUBLISHED[seed[:3]]))
        by_seed[seed[:3]] = events
        golds = gold["incidents"]
        for g in golds:
            region = g["precision"] == "region"
            if region:
                score.gold_region += 1
            else:
                score.gold_specific += 1
            hits = sorted(
                (e for e in events if _gold_matches(gaz, g, e)),
                key=lambda e: _norm(e.place_text) != _norm(g["place"]),  # the exact phrase first
            )
            if hits:
                if region:
                    score.matched_region += 1
                else:
                    score.matched_specific += 1
                e = hits[0]
                score.type_n += 1
                score.type_ok += e.sub_event_type is GOLD_TYPES.get(g["event_type"])
                score.perp_ok += e.perpetrator == g["perpetrator"]
                if e.perpetrator != g["perpetrator"]:
                    score.perp_wrong.append(f"{seed[:3]} {g['place']}: gold {g['perpetrator']}, got {e.perpetrator}")
                if g["killed"] is not None:
                    score.killed_n += 1
                    score.killed_ok += e.killed == g["killed"]
                    if e.killed != g["killed"]:
                        score.killed_wrong.append(f"{seed[:3]} {g['place']}: gold {g['killed']}, got {e.killed}")
            else:
                score.missed.append(f"{seed[:3]} {g['place']}")
        for e in events:
            assert e.resolution is not None
            # a region-level event (not an unknown village placed at its region, which counts as specific)
            is_region_event = e.resolution.method == "region" and not any(
                g["precision"] != "region" and _gold_matches(gaz, g, e) for g in golds
            )
            matched = any(_gold_matches(gaz, g, e) for g in golds)
            if is_region_event:
                score.pred_region += 1
                score.pred_matched_region += matched
            else:
                score.pred_specific += 1
                score.pred_matched_specific += matched
            if not matched:
                score.unmatched_predictions.append(f"{seed[:3]} {e.place_text} ({e.sub_event_type.value})")
            for statement in gold["not_incidents"]:
                if statement.lower()[:40] in e.evidence.sentence.lower():
                    score.not_incident_hits.append(f"{seed[:3]} {statement}")
    return score, by_seed


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} = {a / b:.2f}" if b else "n/a"


def report(score: Score) -> str:
    found = score.matched_specific + score.matched_region
    gold_n = score.gold_specific + score.gold_region
    pred_ok = score.pred_matched_specific + score.pred_matched_region
    pred_n = score.pred_specific + score.pred_region
    lines = [
        f"specific places: recall {_pct(score.matched_specific, score.gold_specific)}, "
        f"precision {_pct(score.pred_matched_specific, score.pred_specific)}",
        f"regions:         recall {_pct(score.matched_region, score.gold_region)}, "
        f"precision {_pct(score.pred_matched_region, score.pred_region)}",
        f"all:             recall {_pct(found, gold_n)}, precision {_pct(pred_ok, pred_n)}",
        f"type accuracy (matched): {_pct(score.type_ok, score.type_n)}",
        f"killed exact match (matched, gold killed given): {_pct(score.killed_ok, score.killed_n)}",
        f"killed mismatches: {score.killed_wrong}",
        f"perpetrator accuracy (matched): {_pct(score.perp_ok, score.type_n)} wrong: {score.perp_wrong}",
        f"events from not_incidents statements: {len(score.not_incident_hits)} {score.not_incident_hits}",
        f"missed gold: {score.missed}",
        f"predictions matching no gold: {score.unmatched_predictions}",
    ]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def scored() -> tuple[Score, dict[str, list[ExtractedEvent]]]:
    return run()


def test_no_event_from_not_incidents(scored: tuple[Score, dict[str, list[ExtractedEvent]]]) -> None:
    score, _ = scored
    print(report(score))
    assert score.not_incident_hits == []


@pytest.mark.parametrize("seed,place,sub,killed,injured", REQUIRED, ids=[r[1] for r in REQUIRED])
def test_required_incident(
    scored: tuple[Score, dict[str, list[ExtractedEvent]]],
    seed: str,
    place: str,
    sub: SubEventType | None,
    killed: int | None,
    injured: int | None,
) -> None:
    _, by_seed = scored
    key = _norm(place)
    hits = [
        e
        for e in by_seed[seed]
        if (e.resolution is not None and (_norm(e.resolution.place.name) == key or _norm(e.place_text) == key))
        or (place == "Kansafra" and e.place_text == "Kansarfa")
        or (place == "al-Malaja" and e.place_text == "Al-Malaja")
        or (place == "Mhardeh" and e.place_text == "Maharda")
    ]
    assert hits, [e.place_text for e in by_seed[seed]]
    e = hits[0]
    if sub is not None:
        assert e.sub_event_type is sub
    if killed is not None:
        assert e.killed == killed
    if injured is not None:
        assert e.injured == injured
    if place == "al-Malaja":
        assert e.resolution is not None and e.resolution.geo_precision == 3
        assert e.resolution.place.name.lower() == "southern idlib"


def test_recall_and_precision_floor(scored: tuple[Score, dict[str, list[ExtractedEvent]]]) -> None:
    score, _ = scored
    assert score.matched_specific / score.gold_specific >= 0.7
    assert score.pred_matched_specific / max(1, score.pred_specific) >= 0.7


if __name__ == "__main__":  # pragma: no cover
    s, _ = run()
    print(report(s))
