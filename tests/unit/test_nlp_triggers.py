from __future__ import annotations

import pytest

from dmzwatch.nlp.triggers import find_triggers, has_trigger, pick_type
from dmzwatch.records import SubEventType


@pytest.mark.parametrize(
    "sentence,expected",
    [
        ("A barrel bomb dropped from a helicopter destroyed the hospital.", SubEventType.AIR_STRIKE),
        ("Russian warplanes carried out air strikes on the town.", SubEventType.AIR_STRIKE),
        ("A drone strike hit a car.", SubEventType.AIR_STRIKE),
        ("Hundreds of mortar and rocket attacks hit the villages.", SubEventType.SHELLING),
        ("The town was targeted with more than 150 shells.", SubEventType.SHELLING),
        ("Artillery fire hit the outskirts.", SubEventType.SHELLING),
        ("Clashes erupted between the two sides.", SubEventType.ARMED_CLASH),
        ("Ten soldiers were killed in an attack by HTS fighters on their positions.", SubEventType.ARMED_CLASH),
        ("Rebels attacked army positions near the town at dawn.", SubEventType.ARMED_CLASH),
        ("A rocket attack on army positions killed two soldiers.", SubEventType.SHELLING),  # the weapon wins
        ("Regime forces launched an offensive, deploying helicopters and artillery.", SubEventType.ARMED_CLASH),
        ("A car bomb exploded near the mosque.", SubEventType.REMOTE_EXPLOSIVE),
        ("A landmine killed a shepherd.", SubEventType.REMOTE_EXPLOSIVE),
        ("Gunmen executed three men in the square.", SubEventType.ATTACK),
    ],
)
def test_sub_event_type(sentence: str, expected: SubEventType) -> None:
    assert pick_type(find_triggers(sentence)) is expected


def test_generic_trigger_has_no_type() -> None:
    triggers = find_triggers("The attacks targeted residential areas.")
    assert triggers and pick_type(triggers) is None


def test_averted_violence_is_not_a_trigger() -> None:
    assert pick_type(find_triggers("a deal that averted a major offensive on the area")) is None


def test_has_trigger() -> None:
    assert has_trigger("shelling")
    assert not has_trigger("The football final ended 2-1.")


def test_an_offensive_that_is_only_an_idea_is_not_a_trigger() -> None:
    from dmzwatch.nlp.triggers import find_triggers

    assert [t.text for t in find_triggers("Moscow floated the idea of an offensive against the rebels.")] == []
    assert [t.text for t in find_triggers("Jets executed three airstrikes on Hass.")] == ["Jets", "airstrikes"]
