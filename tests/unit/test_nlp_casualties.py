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
        # Syrian state media's wording
        ("Terrorists targeted the town with rocket shells, martyring a child.", "killed", (1, 1)),
        ("Two civilians were martyred when a shell hit the town.", "killed", (2, 2)),
        ("The attack led to the martyrdom of three soldiers.", "killed", (3, None)),
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


@pytest.mark.parametrize(
    "sentence,kind,expected",
    [
        ("Shelling claimed the lives of a woman and her two daughters.", "killed", (3, 3)),
        ("Shells fell on the town, killing her neighbour's son, a boy of 12.", "killed", (1, 1)),
        ("A landmine exploded, killing a shepherd and wounding his son.", "injured", (1, None)),
        ("Two brothers were killed when a shell hit their house.", "killed", (2, 2)),
        ("Their mother was wounded.", "injured", (1, None)),
        ("The clashes killed three soldiers and two of the attackers.", "killed", (5, None)),
        ("At least 40 people, mostly women and children, were killed in the strikes.", "killed", (40, None)),
        ("The death toll of today's bombardment on the countryside has risen to 11 civilians.", "killed", (11, 11)),
    ],
)
def test_more_casualty_forms(sentence: str, kind: str, expected: tuple[int | None, int | None]) -> None:
    assert _first(sentence, kind) == expected


def test_a_joint_toll_broken_down_by_place_gives_each_share() -> None:
    sentence = "The toll has risen to 11 civilians: six in the town of Ariha, and five in Maarat Misrin."
    counts = [c.count for c in find_casualties(sentence) if c.kind == "killed"]
    assert counts == [11, 6, 5]


def test_an_including_aside_runs_to_its_comma() -> None:
    text = "eight people, including two boys and a female, were killed by rockets fired at Sarmin"
    assert _first(text, "killed") == (8, 3)


def test_injuries_as_a_noun() -> None:
    assert _first("the first count after the raid stood at three dead and more than 25 injuries", "injured") == (
        25,
        None,
    )


@pytest.mark.parametrize(
    "sentence,expected",
    [
        ("date 2021-03-17 Four civilians were killed when jets struck a farm", (4, 4)),  # a dateline's day is no toll
        ("a bomb under his car killed Omar Darwish outside his home", (1, None)),  # one victim named
        ("A blast killed the head of the village committee", (1, None)),
        ("masked men shot a woman pharmacist to death near the market", (1, 1)),
    ],
)
def test_one_named_victim_and_datelines(sentence: str, expected: tuple[int | None, int | None]) -> None:
    assert _first(sentence, "killed") == expected


def test_a_group_named_by_its_town_is_not_one_victim() -> None:
    assert _first("the strike killed Kafr Nabl residents", "killed") is None


def test_a_bare_second_noun_and_a_named_passive_victim() -> None:
    assert _first("A boy and woman died in the shelling of the village", "killed") == (2, 2)
    assert _first("residents said Khaled al-Sabbagh was killed by masked men", "killed") == (1, None)
    assert _first("The Syrian Army was killed", "killed") is None  # a side, not a person


def test_their_parents_are_two() -> None:
    assert _first("The shelling of Balyun wounded their parents.", "injured") == (2, None)
