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
from dmzwatch.records import ExtractedEvent

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
