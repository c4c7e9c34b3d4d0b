"""dmzwatch.evaluate: matching rules and scores on hand-built predictions (no extractor involved)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dmzwatch.evaluate import GoldArticle, GoldError, Predicted, evaluate, load_gold, parse_gold_line
from dmzwatch.geo import Gazetteer
from dmzwatch.records import Evidence, ExtractedEvent, Resolution, SubEventType, ZoneResult, ZoneStatus

GAZETTEER_DIR = Path(__file__).resolve().parents[2] / "config" / "gazetteer"


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.load(GAZETTEER_DIR)


def _gold(incidents: list[dict[str, object]], nots: list[str] | None = None, seed: str = "a.txt") -> GoldArticle:
    line = json.dumps({"seed": seed, "incidents": incidents, "not_incidents": nots or []})
    return parse_gold_line(line, 1)


def _inc(place: str, norm: str | None, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "place": place,
        "place_normalized": norm,
        "admin1": kw.pop("admin1", None),
        "precision": kw.pop("precision", "town"),
        "in_dmz": kw.pop("in_dmz", "yes"),
        "event_type": kw.pop("event_type", "air_strike"),
        "killed": kw.pop("killed", None),
        "injured": None,
        "perpetrator": kw.pop("perpetrator", None),
    }
    base.update(kw)
    return base


def _pred(
    gaz: Gazetteer,
    written: str,
    name: str,
    *,
    region: bool = False,
    sub: SubEventType = SubEventType.AIR_STRIKE,
    killed: int | None = None,
    zone: ZoneStatus = "inside",
    sentence: str = "",
) -> Predicted:
    res = gaz.region(name) if region else gaz.resolve(name)
    assert res is not None, name
    if region:
        res = Resolution(res.place, 3, "region", 1.0)
    event = ExtractedEvent(
        place_text=written,
        resolution=res,
        sub_event_type=sub,
        killed=killed,
        injured=None,
        killed_civilians=None,
        perpetrator="unknown",
        perpetrator_text=None,
        target=None,
        occurred_on=None,
        time_precision=None,
        confidence=0.8,
        evidence=Evidence(sentence or written, 0, len(sentence or written)),
    )
    return Predicted(event, ZoneResult((), zone, None))


def test_transliteration_matches_by_gazetteer_id(gaz: Gazetteer) -> None:
    gold = _gold([_inc("Saraqeb", "Saraqib", killed=4)])
    report = evaluate(gaz, [gold], lambda g: [_pred(gaz, "Saraqib", "Saraqib", killed=4)])
    assert (report.tp, report.fp, report.fn) == (1, 0, 0)
    assert report.killed_exact.value == 1.0


def test_written_name_inside_the_gold_place_matches(gaz: Gazetteer) -> None:
    # "Hajin" predicted, gold "Buqan area near Hajin"; an unknown village placed at its region by name
    gold = _gold([_inc("Buqan area near Hajin", "Hajin", in_dmz="no"), _inc("Al-Mutnah", None, precision="village")])
    preds = [_pred(gaz, "Hajin", "Hajin", zone="outside"), _pred(gaz, "Al-Mutnah", "Idlib", region=True, zone="edge")]
    report = evaluate(gaz, [gold], lambda g: preds)
    assert (report.tp, report.fp, report.fn) == (2, 0, 0)
    # edge counts as "no": the unknown village with gold yes is a zone disagreement
    assert (report.zone_agreement.hits, report.zone_agreement.total, report.zone_edge) == (1, 2, 1)


def test_a_region_list_is_one_incident_and_absorbs_its_other_regions(gaz: Gazetteer) -> None:
    gold = _gold([_inc("northern Hama, southern Idlib and Latakia", None, precision="region")])
    preds = [
        _pred(gaz, "northern Hama", "northern Hama", region=True, zone="outside"),
        _pred(gaz, "southern Idlib", "southern Idlib", region=True, zone="inside"),
        _pred(gaz, "Latakia", "Latakia", region=True, zone="outside"),
    ]
    report = evaluate(gaz, [gold], lambda g: preds)
    assert (report.tp, report.fp, report.fn) == (1, 0, 0)
    assert report.summary()["incidents"]["absorbed"] == 2
    assert report.zone_agreement.value == 1.0  # any region of the list inside -> yes


def test_a_specific_place_does_not_match_a_region_incident(gaz: Gazetteer) -> None:
    gold = _gold([_inc("southern Idlib", None, precision="region")])
    report = evaluate(gaz, [gold], lambda g: [_pred(gaz, "Kafr Nabl", "Kafr Nabl")])
    assert (report.tp, report.fp, report.fn) == (0, 1, 1)
    assert report.f1 == 0.0


def test_wrong_place_is_a_false_positive_and_a_miss(gaz: Gazetteer) -> None:
    gold = _gold([_inc("Kafr Nabl", "Kafr Nabl")])
    report = evaluate(gaz, [gold], lambda g: [_pred(gaz, "Ariha", "Ariha")])
    assert (report.tp, report.fp, report.fn) == (0, 1, 1)
    assert report.relevance == {"tp": 1, "fp": 0, "fn": 0, "tn": 0}


def test_type_killed_and_not_incidents(gaz: Gazetteer) -> None:
    statement = "dozens of people have been killed in the past two weeks"
    gold = _gold([_inc("Morek", "Morek", event_type="shelling", killed=3)], [statement])
    preds = [
        _pred(gaz, "Morek", "Morek", sub=SubEventType.AIR_STRIKE, killed=2),
        _pred(gaz, "Hama", "Hama", sentence=f"Activists said {statement} in Hama."),
    ]
    report = evaluate(gaz, [gold], lambda g: preds)
    assert report.type_accuracy.value == 0.0
    assert report.killed_exact.value == 0.0
    assert report.not_incident_events == 1
    assert report.fp == 1


def test_relevance_of_articles_without_incidents(gaz: Gazetteer) -> None:
    quiet, noisy = _gold([], seed="quiet.txt"), _gold([], seed="noisy.txt")
    report = evaluate(gaz, [quiet, noisy], lambda g: [_pred(gaz, "Hama", "Hama")] if g.seed == "noisy.txt" else [])
    assert report.relevance == {"tp": 0, "fp": 1, "fn": 0, "tn": 1}


def test_an_incident_filed_under_another_article_is_scored_as_given_and_reported(gaz: Gazetteer) -> None:
    first = _gold([], seed="one.txt")
    second = _gold([_inc("Breideej army base in northern Hama", "Breidij", in_dmz="no")], seed="two.txt")
    report = evaluate(
        gaz, [first, second], lambda g: [_pred(gaz, "Breideej", "Breidij")] if g.seed == "one.txt" else []
    )
    assert (report.tp, report.fp, report.fn) == (0, 1, 1)
    assert len(report.cross_file_hints) == 1 and "two.txt" in report.cross_file_hints[0]


@pytest.mark.parametrize(
    "line,message",
    [
        ("not json", "not JSON"),
        ('{"incidents": []}', "seed"),
        ('{"seed": "a", "incidents": [{"place": "X", "event_type": "bombing"}]}', "event_type"),
        ('{"seed": "a", "incidents": [{"place": "X", "event_type": "shelling", "killed": -1}]}', "killed"),
        ('{"seed": "a", "incidents": [{"place": "X", "event_type": "shelling", "in_dmz": "maybe"}]}', "in_dmz"),
        ('{"seed": "a", "published": "yesterday"}', "published"),
    ],
)
def test_bad_gold_lines_say_what_is_wrong(line: str, message: str) -> None:
    with pytest.raises(GoldError, match=message):
        load_gold([line])


def test_a_village_placed_at_a_region_is_not_absorbed_by_that_regions_gold_incident(gaz: Gazetteer) -> None:
    """Regression: "Warplanes pounded villages in southern Idlib. ... the village of Ma'aret Hurma" (unknown,
    placed at southern Idlib): the region's gold incident absorbed the village's event, so the village's own
    gold incident counted as missed."""
    gold = _gold(
        [
            _inc("southern countryside of Idlib", None, precision="region"),
            _inc("Ma'aret Hurma", None, precision="village", event_type="shelling", killed=2),
        ]
    )
    preds = [
        _pred(gaz, "the southern countryside of Idlib", "southern Idlib", region=True),
        _pred(gaz, "Ma'aret Hurma", "southern Idlib", region=True, sub=SubEventType.SHELLING, killed=2),
    ]
    report = evaluate(gaz, [gold], lambda g: preds)
    assert (report.tp, report.fp, report.fn) == (2, 0, 0)
    assert report.killed_exact.value == 1.0


def test_errors_are_classed_by_cause(gaz: Gazetteer) -> None:
    sentence = "Regime artillery shelled Kafr Nabl, Hass and Ariha."
    gold = _gold(
        [
            _inc("Kafr Nabl", "Kafr Nabl", evidence=sentence, killed=2),
            _inc("Hass", "Hass", evidence=sentence),  # its sentence gave Kafr Nabl: a list cut short
            _inc("Qarzabil", "Qarzabil (unidentified)", precision="village"),  # nowhere in the gazetteer
            _inc("southern Idlib", None, precision="region"),
            _inc("Saraqib", "Saraqib", evidence="Jets struck Saraqib on Friday."),  # its sentence gave nothing
        ],
        ["the war has killed 370,000 people"],
    )
    preds = [
        _pred(gaz, "Kafr Nabl", "Kafr Nabl", killed=3),
        _pred(gaz, "Kafr Nabl", "Kafr Nabl", sub=SubEventType.SHELLING),  # a second event for the same place
        _pred(gaz, "northern Hama", "northern Hama", region=True),
        _pred(gaz, "Idlib", "Idlib", region=True, sentence="Locals said the war has killed 370,000 people."),
        _pred(gaz, "Ariha", "Ariha"),
    ]
    classes = evaluate(gaz, [gold], lambda g: preds).error_classes()
    assert classes["misses"] == {"unknown place": 1, "list member": 1, "region": 1, "not read": 1}
    assert classes["false_positives"] == {"region": 1, "statement": 1, "duplicate": 1, "other": 1}
    assert classes["field_errors"]["toll"] == 1
