from __future__ import annotations

import pytest

from dmzwatch.nlp.casualties import find_casualties


def _first(sentence: str, kind: str) -> tuple[int | None, int | None] | None:
    for c in find_casualties(sentence):
        if c.kind == kind:
            return c.count, c.civilians
    return None


@pytest.mark.parametrize(
    "sentence,kind,expected",
    [
        ("Russian jets killed at least six civilians in the town.", "killed", (6, 6)),
        ("Four members of a family, including two children, were killed in an air attack.", "killed", (4, 4)),
        ("Rebel shelling killed 10 people, including five children in the town.", "killed", (10, 5)),
        ("At least 13 soldiers were killed and seven fighters, the monitor said.", "killed", (20, None)),
        ("The bombing claimed the lives of three people.", "killed", (3, None)),
        ("A drone strike left three dead in the village.", "killed", (3, None)),
        ("Rebels shelled the base, wounding and killing at least four soldiers.", "killed", (4, None)),
        ("The strike killed twenty-two people.", "killed", (22, None)),
        ("A child was killed by a landmine.", "killed", (1, 1)),
        ("The shelling killed two men and a woman.", "killed", (3, 1)),  # civilians: a lower bound
        ("Six civilians died in the bombardment, including one child.", "killed", (6, 6)),
        ("There were no reported casualties.", "killed", (0, 0)),
        ("The attack resulted in the deaths of some 22 fighters.", "killed", (22, None)),
        ("The raid wounded five others, including two children.", "injured", (5, None)),
        ("Dozens were killed in the raids.", "killed", (None, None)),
    ],
)
def test_casualty_figures(sentence: str, kind: str, expected: tuple[int | None, int | None]) -> None:
    assert _first(sentence, kind) == expected


def test_dozens_injured_has_no_figure() -> None:
    found = find_casualties("killing at least 15 civilians and injuring dozens, rescuers said.")
    assert [(c.kind, c.count) for c in found] == [("killed", 15), ("injured", None)]


def test_passive_subject_is_not_joined_to_a_following_clause() -> None:
    found = find_casualties("A child was killed and two men and a woman were wounded.")
    assert [(c.kind, c.count) for c in found] == [("killed", 1), ("injured", 3)]


def test_offsets_cover_the_mention() -> None:
    s = "The shelling killed two men and wounded five others."
    spans = [s[c.start : c.end] for c in find_casualties(s)]
    assert spans == ["killed two men", "wounded five others"]


def test_no_figure_without_a_casualty_verb() -> None:
    assert find_casualties("The town was hit by more than 150 shells.") == []
