from __future__ import annotations

import pytest

from dmzwatch.nlp.sentences import split_sentences, veto


def test_offsets_point_into_the_text() -> None:
    text = "Headline without stop\n\nFirst sentence here. Second one, by Dr. Smith, follows.\nThird."
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "Headline without stop",
        "First sentence here.",
        "Second one, by Dr. Smith, follows.",
        "Third.",
    ]
    for s in sentences:
        assert text[s.start : s.end] == s.text
    assert sentences[0].title_like and not sentences[1].title_like


def test_glued_sentences_are_split() -> None:
    text = "The hospital was hit by a barrel bomb dropped from a helicopter.Local activists said six died."
    assert len(split_sentences(text)) == 2


@pytest.mark.parametrize(
    "sentence,reason",
    [
        ("At least 26 people have been killed since the beginning of the month.", "aggregate"),
        ("48 civilians have been killed in Russian airstrikes since the start of November.", "aggregate"),
        ("Dozens have been killed in the past two weeks from coalition airstrikes.", "aggregate"),
        ("Syria's conflict has killed 370,000 people.", "aggregate"),
        ("About 250,000 people had been displaced.", "background"),
        ("Idlib is home to about 3 million people.", "background"),
        ("Its first stage will target northern Latakia province.", "future"),
        ("Syrians check the damage after air strikes in Idlib [Omar Haj Kadour/AFP/Getty Images]", "caption"),
        ("“We have responded by striking their posts,” he said.", "quote"),
        ("Last year, a chemical attack on Khan Shaykhun killed more than 80 people.", "background"),
        ("Residents marked the anniversary of the massacre that killed 20 civilians.", "background"),
        ("Survivors of the 2017 chemical attack on the town spoke to reporters.", "background"),
        ("Two people were killed in a traffic accident on the highway near Saraqib.", "not violence"),
        ("A man died of a heart attack in Kafr Nabl on Friday.", "not violence"),
        ("Three children drowned in the Orontes near Jisr al-Shughur.", "not violence"),
    ],
)
def test_vetoes(sentence: str, reason: str) -> None:
    assert veto(sentence) == reason


def test_single_incident_is_not_vetoed() -> None:
    assert veto("On Friday, rebel shelling killed 10 people in the town of Maharda.") is None
    assert veto("A strike on May 4 killed two.") is None
    # "last year" that dates something else in the sentence (the deal) is not the attack's time
    assert (
        veto("Mortar attacks hit villages in a zone agreed between Russia and Turkey in September last year.") is None
    )


def test_a_monitor_bulletin_is_read_clause_by_clause() -> None:
    text = (
        "Regime forces shelled Kafr Nabl and Hass with rockets after midnight, while regime warplanes struck "
        "Khan Shaykhun at dawn, and the Russian warplanes carried out 15 raids on Kabani, also the regime forces "
        "fired more than 300 shells on places in southern Idlib since the morning."
    )
    clauses = [s.text for s in split_sentences(text)]
    assert clauses == [
        "Regime forces shelled Kafr Nabl and Hass with rockets after midnight",
        "while regime warplanes struck Khan Shaykhun at dawn",
        "the Russian warplanes carried out 15 raids on Kabani",
        "also the regime forces fired more than 300 shells on places in southern Idlib since the morning.",
    ]
    # offsets still point into the article
    for s in split_sentences(text):
        assert text[s.start : s.end] == s.text
    # the aggregate clause is vetoed alone, not the reports beside it
    assert [veto(c) for c in clauses][:3] == [None, None, None]


def test_short_or_idiomatic_joints_do_not_split() -> None:
    for text in (
        "A child was killed while fleeing the shelling of Ariha.",
        "Shells hit Sarmin as well as the nearby village of Taftanaz, wounding two.",
    ):
        assert len(split_sentences(text)) == 1
