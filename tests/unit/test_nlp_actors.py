from __future__ import annotations

import pytest

from dmzwatch.nlp.actors import find_actors, pick_perpetrator


def _side(sentence: str, trigger: str | None = None) -> str | None:
    pos = sentence.find(trigger) if trigger else None
    actor = pick_perpetrator(sentence, pos)
    return actor.side if actor else None


@pytest.mark.parametrize(
    "sentence,trigger,side",
    [
        ("Syrian army helicopters dropped barrel bombs on the town.", "barrel", "government"),
        ("Regime shelling hit the village.", "shelling", "government"),
        ("Syrian state media said it targeted terrorist groups in the town.", "targeted", "government"),
        ("Russian jets struck the market.", "struck", "russia"),
        ("Rebels fired rockets at the city.", "rockets", "rebels"),
        ("The National Front for Liberation shelled army posts.", "shelled", "rebels"),
        ("HTS fighters attacked a checkpoint.", "attacked", "hts"),
        ("The Turkish army shelled positions of the SDF near the town.", "shelled", "turkey"),
        ("US-led coalition airstrikes killed 40 people.", "airstrikes", "coalition"),
        ("An IED planted by Islamic State militants killed two.", "IED", "isis"),
        ("Clashes erupted between Syrian troops and Kurdish security forces.", "Clashes", "government"),
        ("Regime shelling killed 22 fighters belonging to the Jaysh al-Izza faction.", "shelling", "government"),
    ],
)
def test_perpetrator(sentence: str, trigger: str, side: str) -> None:
    assert _side(sentence, trigger) == side


def test_victim_position_is_not_the_perpetrator() -> None:
    assert _side("The shelling hit positions of the Syrian army.", "shelling") is None


def test_rebel_held_is_not_an_actor() -> None:
    assert [a.side for a in find_actors("a rebel-held town in Idlib")] == []


def test_lower_case_is_is_not_islamic_state() -> None:
    assert [a.side for a in find_actors("The town is under siege")] == []


@pytest.mark.parametrize(
    "sentence,trigger,side",
    [
        # victims and sources are not attackers
        ("A car bomb exploded, killing four members of the Kurdish-led Syrian Democratic Forces.", "car bomb", None),
        ("A bomb went off in Nawa, killing a former rebel commander.", "bomb", None),
        ("The strikes hit houses in the last pocket held by Islamic State.", "strikes", None),
        ("HTS fighters attacked positions of the Turkish-backed National Front for Liberation.", "attacked", "hts"),
        ("The raid came after the SDF said the area was cleared.", "raid", None),
        # where the fire came from
        ("The shells came from government positions to the south.", "shells", "government"),
        ("A soldier was wounded when Syrian government forces shelled the post.", "shelled", "government"),
    ],
)
def test_victims_and_sources(sentence: str, trigger: str, side: str | None) -> None:
    assert _side(sentence, trigger) == side


def test_a_word_ending_in_at_is_not_a_victim_position() -> None:
    # "reported that Russian fighter jets ...": "that" must not read as "at <actor>"
    text = "Local sources reported that Russian fighter jets bombed the outskirts of Hass"
    actor = pick_perpetrator(text, text.find("bombed"))
    assert actor is not None and actor.side == "russia"
