from __future__ import annotations

import pytest

from dmzwatch.nlp.targets import find_target


@pytest.mark.parametrize(
    "sentence,target",
    [
        ("Russian jets have struck the vegetable market in the town, rescuers say.", "vegetable market"),
        ("Government forces shelled a Turkish observation post near Morek.", "Turkish observation post"),
        ("Last week, a strike on a bakery in Sarmin killed four people.", "bakery"),
        ("One hospital in the village was destroyed by a barrel bomb.", "hospital"),
        ("Gunmen attacked a military checkpoint at the entrance of the town.", "military checkpoint"),
        # a town is a place, not a target
        ("Russian jets struck the town of Salqin on Tuesday.", None),
        ("Six civilians died in the bombardment.", None),
    ],
)
def test_target(sentence: str, target: str | None) -> None:
    found = find_target(sentence)
    assert (found.text if found else None) == target


def test_the_target_nearest_the_trigger_wins() -> None:
    sentence = "Turkish artillery shelled positions of the YPG in response to a mortar attack on a Turkish base."
    found = find_target(sentence, sentence.find("shelled"))
    assert found is not None and found.text == "positions"
