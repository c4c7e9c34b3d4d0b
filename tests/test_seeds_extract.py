"""`dmzwatch extract` on the five seed articles (../shared/seeds). Skipped when ../shared is absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.eval_cli import run_cli, run_eval

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO.parent / "shared" / "seeds"

pytestmark = [
    pytest.mark.seeds,
    pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is not present"),
]


@pytest.fixture(scope="module")
def extracted() -> list[dict[str, object]]:
    files = sorted(str(p) for p in SEEDS.glob("*.txt"))
    stdout = run_cli("extract", *files, "--published", "2019-05-04T12:00:00+03:00", "--json")
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def _find(records: list[dict[str, object]], seed_prefix: str, *names: str) -> dict[str, object]:
    for record in records:
        if Path(str(record["file"])).name.startswith(seed_prefix) and any(
            name.lower() in str(record["place"]).lower() for name in names
        ):
            return record
    raise AssertionError(f"no event for {names} in seed {seed_prefix}: {[r['place'] for r in records]}")


def test_qalaat_al_madiq(extracted: list[dict[str, object]]) -> None:
    event = _find(extracted, "002", "Qalaat al-Madiq")
    assert event["sub_event_type"] == "Shelling/artillery/missile attack"
    assert (event["killed"], event["injured"]) == (2, 5)
    assert event["admin1"] == "Hama" and event["zone_status"] == "inside"


def test_kansafra(extracted: list[dict[str, object]]) -> None:
    event = _find(extracted, "001", "Kansarfa", "Kansafra")
    assert event["sub_event_type"] == "Air/drone strike"
    assert event["killed"] == 4
    assert event["admin1"] == "Idlib" and event["zone_status"] == "inside"


def test_maharda_is_outside(extracted: list[dict[str, object]]) -> None:
    event = _find(extracted, "002", "Maharda")
    assert event["sub_event_type"] == "Shelling/artillery/missile attack"
    assert event["killed"] == 10
    assert event["zone_status"] == "outside"


def test_hass_and_jerjanaz_are_inside(extracted: list[dict[str, object]]) -> None:
    """Hass lies ~21.5 km from the 2018 line (inside the 25 km band); Jerjanaz is a hand-kept addition."""
    hass = _find(extracted, "002", "Hass")
    assert hass["sub_event_type"] == "Air/drone strike" and hass["killed"] == 6
    assert hass["zone_status"] == "inside" and hass["geo_precision"] == 1
    jerjanaz = _find(extracted, "004", "Jerjanaz", "Jarjanaz")
    assert jerjanaz["place_id"] == "hk:jarjanaz" and jerjanaz["zone_status"] == "inside"


def test_al_malaja_falls_back_to_its_region(extracted: list[dict[str, object]]) -> None:
    event = _find(extracted, "003", "Malaja")
    assert event["sub_event_type"] == "Air/drone strike"
    assert event["killed"] == 5
    assert event["geo_precision"] == 3 and event["admin1"] == "Idlib"


def test_not_incidents_produce_nothing(extracted: list[dict[str, object]]) -> None:
    sentences = " ".join(str(r["evidence"]["sentence"]) for r in extracted)  # type: ignore[index]
    for statement in (
        "At least 26 people in rebel-held areas have been killed since the beginning of the month",
        "Syria's conflict has killed 370,000 people",
        "about 250,000 people had been displaced",
    ):
        assert statement not in sentences


def test_eval_on_the_seed_gold() -> None:
    """`dmzwatch eval` on ../shared/seeds/gold.jsonl, scored per file as the gold gives it, at the issue's bars.

    One known departure comes from the gold, not the extractor: Breideej is listed under seed 004 while its text
    is in seed 001 (one false positive and one miss; the eval prints a note).
    """
    s = run_eval(SEEDS / "gold.jsonl", SEEDS, "--published-default", "2019-05-04T12:00:00+03:00")["summary"]
    assert s["incidents"]["f1"] >= 0.90
    assert s["type_accuracy"]["rate"] >= 0.85
    assert s["killed_exact"]["rate"] >= 0.9
    assert s["not_incident_events"] == 0
    assert s["zone_agreement"]["rate"] >= 0.95
    assert any("Breideej" in hint for hint in s["cross_file_hints"])
