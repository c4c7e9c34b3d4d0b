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
        # habitual or ongoing, tallies over days, a campaign's span
        ("Regime forces in Abu Dali continue to shell the villages with heavy artillery.", "habitual"),
        ("Troops have been fighting to drive insurgents from the hills near Jisr al-Shughur.", "habitual"),
        ("Residents stayed despite relentless attacks on the town.", "habitual"),
        ("Moscow has intensified its air campaign over Hama.", "aggregate"),
        ("Jets have carried out dozens of raids on the region since they began the operation.", "aggregate"),
        ("Hundreds of missiles rained down on Kafr Nabl and Hass on Friday and Saturday.", "aggregate"),
        ("Rockets hit the town from 3 March to 20 April and killed eleven.", "aggregate"),
        ("The army retook the hills after a three-week ground offensive.", "aggregate"),
        ("Rebels said the raid avenged a recent attack on their villages.", "background"),
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


def test_a_quoted_report_is_read_a_quoted_claim_is_not() -> None:
    reported = "“The army has freed the town of Khan al-Asal after fierce fighting with Nusra,” the source said."
    assert veto(reported) is None
    assert veto("“Our forces struck their positions in Kafr Nabl,” the spokesman said.") == "quote"


def test_a_long_line_without_final_punctuation_is_prose_cut_short() -> None:
    words = " ".join(["word"] * 45)
    (s,) = split_sentences(f"Shells hit Kafr Nabl and {words}")
    assert not s.title_like
    (t,) = split_sentences("Regime shelling kills two in Idlib's Kafr Nabl")
    assert t.title_like


def test_a_wire_photo_caption_is_not_the_event() -> None:
    caption = "Rescuers remove a body from a house hit by artillery fire in the village of Ihsim, Syria, July 18, 2021."
    assert veto(caption) == "caption"
    # a sum after the report is its own clause: "meaning at least 11 died in total" vetoes itself only
    (report, total) = split_sentences(
        "Mortars killed four people in the village of Kafr Zita, meaning at least 11 died in total that day."
    )
    assert veto(report.text) is None and veto(total.text) == "aggregate"


def test_past_weeks_without_the_article_is_an_aggregate() -> None:
    assert veto("In past weeks the jets have bombed the hills north of Latakia.") == "aggregate"


def test_and_other_places_is_its_own_clause_and_days_of_massacres_an_aggregate() -> None:
    text = (
        "Rockets fell on places in Hass, Kafr Nabl and Saraqib and other places in the southern countryside of Idlib."
    )
    clauses = [s.text for s in split_sentences(text)]
    assert clauses[-1].startswith("and other places") and len(clauses) == 2
    assert veto("There were no airstrikes after bloody days of massacres against civilians in Idlib.") == "aggregate"
