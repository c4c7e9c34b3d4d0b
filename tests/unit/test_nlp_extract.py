"""Extractor behaviour on a tiny gazetteer built here (independent of config/gazetteer's contents)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from dmzwatch.geo import Gazetteer
from dmzwatch.nlp.extract import Extractor
from dmzwatch.nlp.toponyms import PlaceMention
from dmzwatch.records import ExtractedEvent, SubEventType

PLACES = [
    ("nw:kafr-nabl", "Kafr Nabl", "Idlib", 35.613, 36.562, "town", "Kafranbel|Kafr Nubl"),
    ("nw:saraqib", "Saraqib", "Idlib", 35.864, 36.809, "town", "Saraqeb"),
    ("nw:hass", "Hass", "Idlib", 35.616, 36.591, "village", ""),
    ("nw:kafr-zita", "Kafr Zita", "Hama", 35.375, 36.6, "town", ""),
    ("nw:morek", "Morek", "Hama", 35.373, 36.689, "town", "Murak"),
]
REGIONS = [
    ("gov:idlib", "Idlib", "Idlib", 35.7, 36.7, "governorate", "Idlib province|Idlib governorate"),
    ("gov:hama", "Hama", "Hama", 35.2, 36.9, "governorate", "Hama province"),
    ("region:southern-idlib", "southern Idlib", "Idlib", 35.55, 36.6, "region", ""),
    ("region:northern-hama", "northern Hama", "Hama", 35.3, 36.6, "region", ""),
]
PUB = datetime(2019, 5, 4, 12, 0, tzinfo=UTC)  # a Saturday


@pytest.fixture(scope="module")
def extractor(tmp_path_factory: pytest.TempPathFactory) -> Extractor:
    d: Path = tmp_path_factory.mktemp("gaz")
    rows = ["id\tname\tadmin1\tlat\tlon\tkind\talt_names\tsource\tpopulation"]
    rows += ["\t".join([*map(str, p), "wiki", "0"]) for p in PLACES]
    (d / "places.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    regions = ["id\tname\tadmin1\tlat\tlon\tkind\talt_names\tmethod"]
    regions += ["\t".join([*map(str, r), "test"]) for r in REGIONS]
    (d / "regions.tsv").write_text("\n".join(regions) + "\n", encoding="utf-8")
    (d / "aliases.tsv").write_text("alias\tplace_id\tnote\n", encoding="utf-8")
    return Extractor(Gazetteer.load(d))


def _by_place(events: list[ExtractedEvent]) -> dict[str, ExtractedEvent]:
    return {e.place_text: e for e in events}


def _place_mentions(extractor: Extractor, text: str) -> list[PlaceMention]:
    """The place finder's mentions for one sentence, as extraction sees them before NER."""
    nlp, finder = extractor._load()
    return finder.places(text, nlp.make_doc(text), finder.regions(text))


def test_relevance_needs_a_place_and_a_trigger(extractor: Extractor) -> None:
    assert extractor.is_relevant("Shelling hit Kafr Zita on Friday.")
    assert not extractor.is_relevant("Kafr Zita held its olive festival on Friday.")
    assert not extractor.is_relevant("Shelling hit the outskirts of Donetsk on Friday.")


def test_single_place_with_casualties_and_date(extractor: Extractor) -> None:
    text = "Russian jets struck the town of Kafr Nabl on Friday, killing at least six civilians."
    [e] = extractor.extract(text, PUB)
    assert e.resolution is not None and e.resolution.place.id == "nw:kafr-nabl"
    assert (e.sub_event_type, e.killed, e.killed_civilians, e.perpetrator) == (
        SubEventType.AIR_STRIKE,
        6,
        6,
        "russia",
    )
    assert e.occurred_on == date(2019, 5, 3) and e.time_precision == 1
    assert text[e.evidence.start : e.evidence.end] == e.evidence.sentence


def test_joint_toll_is_not_split(extractor: Extractor) -> None:
    text = "Regime artillery shelled the towns of Kafr Zita and Morek on Saturday, killing five people."
    events = _by_place(extractor.extract(text, PUB))
    assert sorted(events) == ["Kafr Zita", "Morek"]
    assert all(e.killed is None for e in events.values())
    assert all(e.perpetrator == "government" for e in events.values())


def test_unknown_village_falls_back_to_its_region(extractor: Extractor) -> None:
    text = "A drone strike on the village of Al-Malaja in southern Idlib killed five people."
    [e] = extractor.extract(text, PUB)
    assert e.place_text == "Al-Malaja"
    assert e.resolution is not None and e.resolution.geo_precision == 3
    assert e.resolution.place.id == "region:southern-idlib"
    assert e.killed == 5
    assert e.confidence < 0.7  # region-level: less certain than a village


def test_unknown_village_with_no_region_is_dropped(extractor: Extractor) -> None:
    assert extractor.extract("A drone strike on the village of Zzyzx killed five people.", PUB) == []


def test_follow_up_sentence_completes_the_event(extractor: Extractor) -> None:
    text = (
        "One hospital in the village of Hass in southern Idlib was destroyed by a barrel bomb dropped from a "
        "helicopter.Local activists said that six civilians died in the bombardment, including one child."
    )
    [e] = extractor.extract(text, PUB)
    assert (e.place_text, e.killed, e.killed_civilians) == ("Hass", 6, 6)
    assert "killed" in e.field_evidence
    assert e.field_evidence["killed"].sentence.startswith("Local activists")
    assert e.perpetrator == "government"  # barrel bombs: the government's weapon


def test_casualties_go_to_the_place_of_their_clause(extractor: Extractor) -> None:
    text = "Three people died in Kafr Nabl while two others were killed in raids on Saraqeb."
    events = _by_place(extractor.extract(text, PUB))
    assert events["Kafr Nabl"].killed == 3
    assert events["Saraqeb"].killed == 2
    assert events["Saraqeb"].resolution is not None
    assert events["Saraqeb"].resolution.place.id == "nw:saraqib"


def test_region_only_sentence(extractor: Extractor) -> None:
    text = "Villages in northern Hama and southern Idlib were shelled overnight, residents said."
    events = extractor.extract(text, PUB)
    assert {e.resolution.place.id for e in events if e.resolution} == {
        "region:northern-hama",
        "region:southern-idlib",
    }
    assert all(e.resolution and e.resolution.geo_precision == 3 for e in events)
    assert all(e.occurred_on == date(2019, 5, 3) for e in events)


def test_no_region_event_when_a_village_carries_it(extractor: Extractor) -> None:
    text = "Shelling hit the town of Morek in northern Hama on Saturday."
    assert [e.place_text for e in extractor.extract(text, PUB)] == ["Morek"]


@pytest.mark.parametrize(
    "text",
    [
        "At least 26 people have been killed in Kafr Nabl since the beginning of the month.",
        "The war has killed 370,000 people, and Saraqib was shelled repeatedly.",
        "If the offensive begins, its first stage will target Kafr Zita.",
        "About 250,000 people had been displaced from Kafr Nabl by the shelling.",
        "Syrians check the damage after air strikes on Saraqib on 11 June 2018 [AFP/Getty Images]",
    ],
)
def test_not_incidents(extractor: Extractor, text: str) -> None:
    assert extractor.extract(text, PUB) == []


def test_no_publication_time_means_no_date(extractor: Extractor) -> None:
    [e] = extractor.extract("Shelling hit the town of Morek.", None)
    assert e.occurred_on is None and e.time_precision is None


def test_missing_date_phrase_uses_publication_day_with_lower_confidence(extractor: Extractor) -> None:
    [dated] = extractor.extract("Shelling hit the town of Morek on Saturday.", PUB)
    [undated] = extractor.extract("Shelling hit the town of Morek.", PUB)
    assert undated.occurred_on == date(2019, 5, 4)
    assert undated.confidence < dated.confidence


@pytest.mark.parametrize(("spelling", "place_id"), [("Morrek", "nw:morek"), ("Saraqeeb", "nw:saraqib")])
def test_a_spelling_that_normalises_to_a_gazetteer_name_is_a_place_and_relevant(
    extractor: Extractor, spelling: str, place_id: str
) -> None:
    """Regression: the phrase matcher only sees listed forms, so "Kansafra" (gazetteer: Kansafrah) was no place
    unless NER happened to tag it, and an article naming only such a spelling failed the pre-filter."""
    text = f"Government shelling killed two civilians in {spelling} on Monday."
    assert extractor.is_relevant(text)
    [mention] = _place_mentions(extractor, text)
    assert mention.source == "gazetteer" and mention.text == spelling
    assert mention.resolution is not None and mention.resolution.place.id == place_id


def test_a_bare_name_that_only_fuzzy_matches_is_not_a_gazetteer_place(extractor: Extractor) -> None:
    text = "Government shelling killed two civilians in Saraqyb in southern Idlib on Monday."
    fuzzy = extractor._gaz.resolve("Saraqyb", admin1_hint="Idlib")
    assert fuzzy is not None and fuzzy.method == "fuzzy"  # the gazetteer alone would take it ...
    # ... the text pass does not (NER may still propose it later, as weaker evidence)
    assert [m for m in _place_mentions(extractor, text) if m.text == "Saraqyb"] == []


def test_a_car_bomb_further_down_does_not_borrow_the_leads_attacker(extractor: Extractor) -> None:
    text = (
        "Russian jets struck the town of Kafr Nabl on Friday, killing six civilians.\n\n"
        "Separately, a car bomb exploded in Saraqib on Friday, killing two people."
    )
    events = _by_place(extractor.extract(text, PUB))
    assert events["Kafr Nabl"].perpetrator == "russia"
    assert events["Saraqib"].sub_event_type is SubEventType.REMOTE_EXPLOSIVE
    assert events["Saraqib"].perpetrator == "unknown"


def test_a_next_sentence_with_its_own_attack_and_place_is_not_a_follow_up(extractor: Extractor) -> None:
    """Regression: "the fighting" in the landmine sentence looked like an anaphor, so the toll sentence before
    it took the landmine's type."""
    text = (
        "Warplanes bombed Morek on Thursday, killing three people.\n\n"
        "The death toll from Friday's strikes on Kafr Zita rose to 11, rescuers said. "
        "A landmine left over from the fighting exploded in Hass on Friday, killing a shepherd."
    )
    events = _by_place(extractor.extract(text, PUB))
    assert events["Kafr Zita"].sub_event_type is not SubEventType.REMOTE_EXPLOSIVE
    assert events["Kafr Zita"].killed == 11
    assert events["Hass"].sub_event_type is SubEventType.REMOTE_EXPLOSIVE and events["Hass"].killed == 1
    assert events["Hass"].perpetrator == "unknown"


def test_an_air_strike_never_borrows_a_side_without_aircraft(extractor: Extractor) -> None:
    """The lead is about rebel rockets; warplanes further down are not the rebels' (they have none)."""
    text = (
        "Rebel groups targeted the town of Kafr Zita with rockets on Friday, wounding three people.\n\n"
        "Separately, bombardment by warplanes on Hass killed four civilians on Friday, a monitor said."
    )
    events = _by_place(extractor.extract(text, PUB))
    assert events["Kafr Zita"].perpetrator == "rebels"
    assert events["Hass"].sub_event_type is SubEventType.AIR_STRIKE and events["Hass"].perpetrator == "unknown"


def test_an_unknown_village_falls_back_to_the_region_named_earlier_in_its_paragraph(extractor: Extractor) -> None:
    text = (
        "Jets struck villages in southern Idlib on Friday, rescuers said. "
        "Two children were killed when a shell hit a school in the village of Qurqur."
    )
    events = _by_place(extractor.extract(text, PUB))
    qurqur = events["Qurqur"]
    assert qurqur.resolution is not None and qurqur.resolution.place.id == "region:southern-idlib"
    assert qurqur.resolution.geo_precision == 3 and qurqur.killed == 2
    assert qurqur.confidence < 0.6  # a weaker inference, and says so
    # the region's own event would duplicate the village's report (a named village placed by its region counts)
    assert "southern Idlib" not in events


def test_another_paragraphs_region_places_a_village_weakly_a_bare_name_not_at_all(extractor: Extractor) -> None:
    other_paragraph = (
        "Jets struck villages in southern Idlib on Friday, rescuers said.\n\n"
        "Two children were killed when a shell hit a school in the village of Qurqur."
    )
    # a village the text names is never dropped: the article's region places it, at region precision
    qurqur = _by_place(extractor.extract(other_paragraph, PUB))["Qurqur"]
    assert qurqur.resolution is not None and qurqur.resolution.place.id == "region:southern-idlib"
    assert qurqur.resolution.geo_precision == 3 and qurqur.confidence < 0.6
    bare_name = (
        "Jets struck villages in southern Idlib on Friday, rescuers said. "
        "Two children were killed when a shell hit Kafr Qurqur."
    )
    assert "Kafr Qurqur" not in _by_place(extractor.extract(bare_name, PUB))


@pytest.mark.parametrize(
    ("phrase", "region_id"),
    [
        ("the southern countryside of Idlib", "region:southern-idlib"),
        ("Idlib's southern countryside", "region:southern-idlib"),
        ("the northern countryside of Hama province", "region:northern-hama"),
    ],
)
def test_monitors_region_wording_is_the_sub_region(extractor: Extractor, phrase: str, region_id: str) -> None:
    """Regression: "the southern countryside of Idlib" (SOHR's wording) was read as the whole governorate,
    which is never `inside`, so an unknown village there could not alert."""
    text = f"Two children were killed when a shell hit the village of Qurqur in {phrase} on Friday."
    [event] = extractor.extract(text, PUB)
    assert event.place_text == "Qurqur"
    assert event.resolution is not None and event.resolution.place.id == region_id


def test_an_unknown_maarrat_name_is_a_place(extractor: Extractor) -> None:
    text = "Warplanes bombed Ma'arrat Hurmah in southern Idlib on Friday, killing three civilians."
    [event] = extractor.extract(text, PUB)
    assert event.place_text == "Ma'arrat Hurmah" and event.killed == 3
    assert event.resolution is not None and event.resolution.place.id == "region:southern-idlib"


def test_a_possessive_day_naming_the_attack_is_its_date(extractor: Extractor) -> None:
    text = "A funeral was held in Kafr Nabl on Saturday for the six civilians killed in Thursday's air strike."
    [event] = extractor.extract(text, PUB)  # published on Saturday 4 May 2019
    assert event.occurred_on == date(2019, 5, 2) and event.killed == 6


def test_unknown_names_listed_with_a_known_place_are_village_events(extractor: Extractor) -> None:
    # Tarmala and Basqala are not in this gazetteer: listed with Kafr Nabl and Hass they are villages too,
    # placed by the region named after the list, never dropped and never turned into one region event
    text = "Regime artillery shelled Kafr Nabl, Tarmala, Basqala and Hass in southern Idlib on Friday."
    events = _by_place(extractor.extract(text, PUB))
    assert set(events) == {"Kafr Nabl", "Tarmala", "Basqala", "Hass"}
    for name in ("Tarmala", "Basqala"):
        assert events[name].resolution is not None
        assert events[name].resolution.place.id == "region:southern-idlib"
        assert events[name].sub_event_type is SubEventType.SHELLING
    assert events["Kafr Nabl"].resolution is not None and events["Kafr Nabl"].resolution.geo_precision == 1


def test_a_misspelt_governorate_in_a_list_is_not_a_village(extractor: Extractor) -> None:
    text = "Artillery pounded Hass in the western countryside of Idleeb and Saraqib, wounding two."
    assert set(_by_place(extractor.extract(text, PUB))) == {"Hass", "Saraqib"}


def test_a_region_covered_by_a_village_event_of_the_article_is_dropped(extractor: Extractor) -> None:
    # the lead's region summarises the village reports below it; Hama has no village event, so it stays
    text = (
        "Russian warplanes pounded southern Idlib and northern Hama on Friday.\n\n"
        "The monitor said the jets killed three civilians in Kafr Nabl and wounded two in Hass."
    )
    events = _by_place(extractor.extract(text, PUB))
    assert "southern Idlib" not in events
    assert {"Kafr Nabl", "Hass", "northern Hama"} <= set(events)


def test_an_unplaced_list_member_is_placed_by_its_known_siblings(extractor: Extractor) -> None:
    # "Maaret Hurmah" is a Ma'arat-prefixed name this gazetteer lacks, with no region after it
    text = "Regime warplanes struck Hass, Saraqib and Maaret Hurmah on Friday."
    events = _by_place(extractor.extract(text, PUB))
    assert set(events) == {"Hass", "Saraqib", "Maaret Hurmah"}
    unknown = events["Maaret Hurmah"].resolution
    assert unknown is not None and unknown.place.id == "gov:idlib" and unknown.geo_precision == 3


def test_a_place_that_only_locates_another_carries_no_event(extractor: Extractor) -> None:
    text = "Russian jets executed three airstrikes on the Turkish post in Hass in Kafr Nabl, but no casualties."
    events = _by_place(extractor.extract(text, PUB))
    assert set(events) == {"Hass"}
    # "executed three airstrikes" is neither an execution nor three dead
    assert events["Hass"].sub_event_type is SubEventType.AIR_STRIKE
    assert (events["Hass"].killed, events["Hass"].injured) == (0, 0)


def test_no_casualties_after_a_list_is_zero_for_each(extractor: Extractor) -> None:
    text = "Regime artillery shelled Hass and Saraqib on Friday.\nHowever, no casualties were reported."
    events = _by_place(extractor.extract(text, PUB))
    assert {(e.killed, e.injured) for e in events.values()} == {(0, 0)} and len(events) == 2


def test_a_region_toll_goes_to_the_village_reported_next_to_it(extractor: Extractor) -> None:
    text = (
        "Regime warplanes killed at least 12 civilians at a fuel depot in Idlib province on Friday. "
        "Another 18 were wounded when the jets hit the town of Saraqib."
    )
    events = _by_place(extractor.extract(text, PUB))
    assert set(events) == {"Saraqib"}
    assert (events["Saraqib"].killed, events["Saraqib"].injured) == (12, 18)
    assert "12 civilians" in events["Saraqib"].field_evidence["killed"].sentence


def test_a_weak_governorate_hint_does_not_refuse_a_known_place(extractor: Extractor) -> None:
    # "in northern Hama" is named for another place, before Saraqib: Saraqib (Idlib) is still Saraqib
    text = "Shelling hit the village of Mirza in northern Hama as well as the towns of Saraqib and Hass, wounding two."
    events = _by_place(extractor.extract(text, PUB))
    assert events["Saraqib"].resolution is not None and events["Saraqib"].resolution.place.id == "nw:saraqib"


def test_no_region_event_from_a_tally_or_a_sweep_across_provinces(extractor: Extractor) -> None:
    for text in (
        "Regime forces fired more than 300 shells on places in northern Hama on Friday.",
        "Eleven people died in air raids on opposition areas of Hama and Idlib province.",
    ):
        assert extractor.extract(text, PUB) == []


def test_a_dateline_mention_and_the_dated_report_are_one_event(extractor: Extractor) -> None:
    text = (
        "HASS, SYRIA - Regime artillery fire killed seven civilians in Idlib, a monitor said Sunday.\n"
        "The shelling hit the village of Hass late Saturday, the monitor said."
    )
    events = [
        e
        for e in extractor.extract(text, datetime(2021, 7, 18, 12, tzinfo=UTC))
        if e.place_text == "Hass" or e.place_text == "HASS"
    ]
    assert len(events) == 1
    assert events[0].occurred_on == date(2021, 7, 17) and events[0].killed == 7


def test_air_and_ground_fire_named_together_is_a_mixed_bombardment(extractor: Extractor) -> None:
    text = "Regime air raids and artillery fire hit the villages of Hass and Saraqib overnight."
    events = _by_place(extractor.extract(text, PUB))
    assert {e.sub_event_type for e in events.values()} == {SubEventType.OTHER}
    assert {e.perpetrator for e in events.values()} == {"government"}
    # an offensive supported by aircraft and artillery is still a battle
    text = "Regime forces launched an offensive on Hass on Friday, deploying helicopters, artillery and rockets."
    assert _by_place(extractor.extract(text, PUB))["Hass"].sub_event_type is SubEventType.ARMED_CLASH


def test_where_the_fire_came_from_is_not_what_it_hit(extractor: Extractor) -> None:
    text = "Regime troops stationed in Morek fired rockets at Kafr Zita on Friday, causing material damage only."
    events = _by_place(extractor.extract(text, PUB))
    assert set(events) == {"Kafr Zita"}
    assert (events["Kafr Zita"].killed, events["Kafr Zita"].injured) == (0, 0)
    # "the Saraqib district" is the area around the town, not the town
    assert extractor.extract("Warplanes struck several villages in the Saraqib district on Friday.", PUB) == []


def test_names_right_after_an_attack_are_places(extractor: Extractor) -> None:
    # neither name is in this gazetteer and no "village of" introduces them; the region after them places them
    text = "Regime forces bombarded positions in Sarjeh and Quqfin in southern Idlib with rockets on Friday."
    events = _by_place(extractor.extract(text, PUB))
    assert set(events) == {"Sarjeh", "Quqfin"}
    assert {e.resolution.place.id for e in events.values() if e.resolution} == {"region:southern-idlib"}
    # a group's acronym after an attack is not a place
    events = _by_place(extractor.extract("Turkish drones struck YPG positions near Hass on Friday.", PUB))
    assert set(events) == {"Hass"}


def test_a_neighbourhood_of_a_city_is_the_place_not_the_city(extractor: Extractor) -> None:
    text = "Rockets fell on the al-Hamdaniya neighbourhood of Hama city on Friday, wounding two."
    assert set(_by_place(extractor.extract(text, PUB))) == {"al-Hamdaniya"}
    # a neighbourhood nothing can place leaves the city as the place: the event is still in Saraqib
    text = "Rockets fell on the Jourat al-Shayah neighbourhood of Saraqib on Friday, wounding two."
    assert set(_by_place(extractor.extract(text, PUB))) == {"Saraqib"}


def test_a_toll_after_a_hedge_and_an_aside_completes_the_report(extractor: Extractor) -> None:
    text = (
        "Eight people died when regime rockets hit Saraqib, while farmers were in the fields. "
        "Medics said the toll is expected to climb as the strike wounded at least 26 others."
    )
    saraqib = _by_place(extractor.extract(text, PUB))["Saraqib"]
    assert (saraqib.killed, saraqib.injured) == (8, 26)


def test_dates_from_the_page_itself(extractor: Extractor) -> None:
    # the page's stamp is not the event's day; the caption's "Thursday, May 2, 2019" is
    text = "date 2019-05-04 Volunteers dig through a home after an air raid on Hass, Syria, Thursday, May 2, 2019."
    (event,) = extractor.extract(text, PUB)
    assert event.occurred_on == date(2019, 5, 2)
    # an undated page: its own full date gives "Jan. 4" its year (2023, not 2022); weekdays stay unresolved
    text = (
        "Gunmen shot dead two men in Hass on Dec. 29, 2022, a source said.\n"
        "On Jan. 4, unknown gunmen shot a teacher to death in the town of Saraqib."
    )
    events = _by_place(extractor.extract(text, None))
    assert events["Saraqib"].occurred_on == date(2023, 1, 4)
    assert events["Hass"].occurred_on == date(2022, 12, 29)


@pytest.mark.parametrize(
    "text,day",
    [
        # a sentence referring back ("The shelling ...") takes the day of the report before it
        (
            "On Monday, regime forces shelled outposts near Hass, a commander said. "
            "The shelling was focused on the town of Saraqib.",
            date(2019, 4, 29),
        ),
        # "on the same day" is the day of the latest dated report before it
        (
            "On Thursday, two soldiers were killed when their car was targeted near Hass.\n"
            "The same day, a shopkeeper was shot dead by masked men in the town of Saraqib.",
            date(2019, 5, 2),
        ),
    ],
)
def test_a_day_from_the_report_before(extractor: Extractor, text: str, day: date) -> None:
    assert _by_place(extractor.extract(text, PUB))["Saraqib"].occurred_on == day


def test_unknown_gunmen_and_defenders_are_not_the_attackers(extractor: Extractor) -> None:
    text = "Unknown gunmen opened fire on a regime checkpoint near Saraqib on Friday, wounding two soldiers."
    assert _by_place(extractor.extract(text, PUB))["Saraqib"].perpetrator == "unknown"
    text = "Regime forces shelled the town of Hass, which is defended by rebels, on Friday."
    assert _by_place(extractor.extract(text, PUB))["Hass"].perpetrator == "government"


def test_where_forces_are_based_is_not_a_region_event(extractor: Extractor) -> None:
    text = "Regime forces based in the Morek area of Hama province shelled Kafr Zita on Friday."
    assert set(_by_place(extractor.extract(text, PUB))) == {"Kafr Zita"}
    text = "Turkish forces positioned in the zone targeted the town of Hass with rockets on Friday."
    assert set(_by_place(extractor.extract(text, PUB))) == {"Hass"}


def test_repeated_attempts_on_one_day_are_one_clash_by_the_attacker(extractor: Extractor) -> None:
    text = (
        "On Sunday the Syrian Arab Army repeatedly tried to storm rebel trenches at Hass "
        "and was repelled by Hayat Tahrir al-Sham each time."
    )
    (event,) = extractor.extract(text, PUB)
    assert event.sub_event_type is SubEventType.ARMED_CLASH
    assert event.perpetrator == "government" and event.occurred_on == date(2019, 4, 28)
    # without a day, repeated attacks are not one incident
    assert extractor.extract("Regime forces repeatedly shelled Hass, residents said.", PUB) == []


def test_another_attackers_unspecified_attack_is_not_typed_by_the_report_before(extractor: Extractor) -> None:
    text = (
        "Regime artillery shelled Hass on Friday, a commander said. "
        "HTS targeted army outposts in the village of Morek, killing eight soldiers."
    )
    morek = _by_place(extractor.extract(text, PUB))["Morek"]
    assert morek.sub_event_type is SubEventType.OTHER and morek.perpetrator == "hts"


def test_an_institution_named_after_a_town_is_not_the_town(extractor: Extractor) -> None:
    text = "The head of Saraqib City Council said a rocket hit a building in the town of Hass on Friday."
    assert set(_by_place(extractor.extract(text, PUB))) == {"Hass"}
