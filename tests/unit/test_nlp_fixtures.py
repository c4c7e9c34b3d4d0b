"""Golden-file tests: tests/fixtures/articles/*.txt against expected.jsonl (texts written for this project).

Each expected event names the resolved place (gazetteer name, or region name for precision-3 events); an
article must produce exactly those places, and every field the expectation gives must match. Fields left out
are not checked (they are judgement calls the fixture does not pin down).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dmzwatch.nlp.extract import Extractor
from dmzwatch.records import ExtractedEvent, SubEventType

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = ROOT / "tests" / "fixtures" / "articles"
GAZETTEER_DIR = ROOT / "config" / "gazetteer"

pytestmark = pytest.mark.skipif(not (GAZETTEER_DIR / "places.tsv").exists(), reason="config/gazetteer not built")


def _cases() -> list[dict[str, Any]]:
    lines = (ARTICLES / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    from dmzwatch.geo import Gazetteer

    return Extractor(Gazetteer.load(GAZETTEER_DIR))


def _field(event: ExtractedEvent, key: str) -> Any:
    assert event.resolution is not None
    return {
        "place_text": event.place_text,
        "precision": event.resolution.geo_precision,
        "type": event.sub_event_type.value,
        "killed": event.killed,
        "injured": event.injured,
        "killed_civilians": event.killed_civilians,
        "perpetrator": event.perpetrator,
        "date": event.occurred_on.isoformat() if event.occurred_on else None,
    }[key]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["file"])
def test_fixture_article(extractor: Extractor, case: dict[str, Any]) -> None:
    text = (ARTICLES / case["file"]).read_text(encoding="utf-8")
    assert extractor.is_relevant(text) is case["relevant"]
    if not case["relevant"]:
        return
    events = extractor.extract(text, datetime.fromisoformat(case["published_at"]))
    got = {e.resolution.place.name: e for e in events if e.resolution is not None}
    want = {e["place"]: e for e in case["events"]}
    assert sorted(got) == sorted(want), [(e.place_text, e.evidence.sentence) for e in events]
    for place, expected in want.items():
        event = got[place]
        for key, value in expected.items():
            if key == "place":
                continue
            assert _field(event, key) == value, (place, key, event)
        # every event carries its sentence, with offsets into the full text
        assert text[event.evidence.start : event.evidence.end] == event.evidence.sentence
        assert 0.0 <= event.confidence <= 1.0
        for ev in event.field_evidence.values():
            assert text[ev.start : ev.end] == ev.sentence
            if ev.phrase_start is not None and ev.phrase_end is not None:
                assert ev.start <= ev.phrase_start < ev.phrase_end <= ev.end
        # every field that has a value says where it came from; the place's phrase is the name as written
        fields = event.field_evidence
        place_ev = fields["place"]
        assert place_ev.phrase_start is not None
        assert text[place_ev.phrase_start : place_ev.phrase_end] == event.place_text
        assert event.killed is None or "killed" in fields, (place, fields.keys())
        assert event.injured is None or "injured" in fields, (place, fields.keys())
        assert event.perpetrator == "unknown" or "perpetrator" in fields, (place, fields.keys())
        assert event.sub_event_type is SubEventType.OTHER or "sub_event_type" in fields, (place, fields.keys())


def test_get_extractor_is_built_once() -> None:
    from dmzwatch.nlp.extract import get_extractor

    first = get_extractor()
    assert get_extractor() is first
    assert first.is_relevant("Regime shelling hit Kafr Nabl on Friday.")


@pytest.mark.parametrize(
    "sentence,place,fields",
    [
        (
            "A landmine left over from the fighting killed a shepherd near Abu al-Duhur on Sunday.",
            "Abu al-Duhur",
            {"type": "Remote explosive/landmine/IED", "killed": 1, "killed_civilians": 1, "precision": 2},
        ),
        (
            "Gunmen on a motorcycle shot dead a local council member in the town of Sarmin.",
            "Sarmin",
            {"type": "Attack", "killed": 1},
        ),
        (
            "The monitor said 12 civilians were killed in Idlib province on Monday, including five in Maarat al-Numan.",
            "Maarrat al-Nu'man",
            {"killed": 5},
        ),
        (
            "Two civilians were killed and 11 wounded when shells hit the market in Jisr al-Shughur.",
            "Jisr Shughur",
            {"type": "Shelling/artillery/missile attack", "killed": 2, "injured": 11, "killed_civilians": 2},
        ),
        (
            "Turkish drones struck SDF positions in Tal Tamr, killing three fighters.",
            "Tall Tamr",
            {"type": "Air/drone strike", "killed": 3, "perpetrator": "turkey"},
        ),
    ],
)
def test_single_sentences(extractor: Extractor, sentence: str, place: str, fields: dict[str, Any]) -> None:
    events = extractor.extract(sentence, datetime.fromisoformat("2019-05-06T12:00:00+00:00"))
    assert [e.resolution.place.name for e in events if e.resolution] == [place]
    for key, value in fields.items():
        assert _field(events[0], key) == value, key


def test_types_and_sides_follow_their_clause(extractor: Extractor) -> None:
    text = "Regime warplanes struck Kafr Nabl while rebels shelled Mhardeh, the monitor said."
    events = {e.place_text: e for e in extractor.extract(text, None)}
    assert events["Kafr Nabl"].sub_event_type.value == "Air/drone strike"
    assert events["Kafr Nabl"].perpetrator == "government"
    assert events["Mhardeh"].sub_event_type.value == "Shelling/artillery/missile attack"
    assert events["Mhardeh"].perpetrator == "rebels"


def test_old_incident_mentioned_in_passing_is_not_an_event(extractor: Extractor) -> None:
    text = "Ariha, which was shelled last week, reopened its schools on Sunday."
    assert extractor.extract(text, datetime.fromisoformat("2019-05-06T12:00:00+00:00")) == []
