"""A generated, seeded corpus of news pages: about 5% incidents in north-west Syria, the rest general news.

The negatives are chosen to be hard for a pre-filter: violence elsewhere (Sudan, Ukraine, Yemen), Syria without
violence (aid, diplomacy), and plain news (markets, sport, science). Pages carry realistic chrome (navigation,
related links, comments, footer) and realistic length (600-1,200 words of body).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

from dmzwatch.geo import Gazetteer, ZoneSet

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

_FILLER = [
    "Officials said the figures would be reviewed again at the end of the quarter.",
    "Analysts cautioned that the picture could change quickly as more information became available.",
    "The ministry did not respond to a request for comment before publication.",
    "Residents described long queues outside bakeries and petrol stations in recent weeks.",
    "The report drew on interviews with more than forty people over several months.",
    "A spokesperson said the organisation would publish a fuller statement later in the week.",
    "Prices for basic goods have risen sharply since the start of the year, traders said.",
    "The committee is expected to meet again next month to discuss the proposals.",
    "Local journalists said access to the area remained difficult for independent observers.",
    "Several schools reopened after repairs, according to the education directorate.",
    "Observers noted that similar announcements had been made before without lasting effect.",
    "The decision was welcomed by business groups but criticised by unions.",
]
_GENERAL_TOPICS = [
    (
        "Central bank holds rates as inflation eases",
        "The central bank left its main interest rate unchanged on {day}, "
        "citing a steady fall in consumer prices and a cooling labour market.",
    ),
    (
        "Champions league: late goal settles tense quarter-final",
        "A header in the final minute gave the visitors a narrow win on {day} night in a match dominated by defences.",
    ),
    (
        "Researchers map coral recovery after heatwave",
        "Marine scientists said on {day} that reefs in the northern "
        "sector had recovered faster than expected after last summer's heatwave.",
    ),
    (
        "Parliament passes housing bill after marathon session",
        "Lawmakers approved the housing bill on {day} after a debate that lasted through the night.",
    ),
    (
        "Tech firm unveils cheaper electric van",
        "The company presented a smaller electric van on {day}, aimed at delivery businesses in crowded city centres.",
    ),
]
_VIOLENCE_ELSEWHERE = [
    (
        "Shelling kills civilians in Sudan's capital",
        "Artillery shelling killed at least {n} civilians in a market in "
        "Omdurman on {day}, a doctors' group said, as fighting between the army and paramilitaries continued.",
    ),
    (
        "Drone strike hits power station in eastern Ukraine",
        "A drone strike damaged a power station near Kharkiv on {day}, wounding {n} workers, regional officials said.",
    ),
    (
        "Air raids on Yemen port city",
        "Air raids struck the port of Hodeidah overnight on {day}, killing {n} people, "
        "according to the health ministry.",
    ),
]
_SYRIA_NO_VIOLENCE = [
    (
        "Aid convoy crosses into north-west Syria",
        "A convoy of {n} lorries carrying food and medicine crossed into "
        "north-west Syria through Bab al-Hawa on {day}, the UN said.",
    ),
    (
        "Envoys meet in Geneva on Syria's constitution",
        "Envoys met in Geneva on {day} for another round of talks on "
        "Syria's constitution, with little expectation of progress.",
    ),
]
_PERPETRATORS = [
    ("Syrian government helicopters dropped barrel bombs on", "Air/drone strike"),
    ("Russian warplanes carried out air strikes on", "Air/drone strike"),
    ("Government artillery shelled", "Shelling/artillery/missile attack"),
    ("Rockets fired by government forces hit", "Shelling/artillery/missile attack"),
]


@dataclass(frozen=True, slots=True)
class Page:
    slug: str
    title: str
    html: str
    relevant: bool  # about an incident in north-west Syria
    place: str | None = None


def dmz_places(gazetteer: Gazetteer, zones: ZoneSet, limit: int = 60, spacing_km: float = 6.0) -> list[tuple[str, str]]:
    """Towns and villages the zone test puts inside, in a stable order, at least `spacing_km` apart.

    The spacing matters for latency runs: same-day strikes on villages within 3 km of each other are (rightly)
    merged into one incident, which would update an alert instead of raising a new one.
    """
    from dmzwatch.incidents import haversine_km

    chosen: list[tuple[str, str, float, float]] = []
    for _form, place_id in sorted(gazetteer.surface_forms(), key=lambda f: f[1]):
        place = gazetteer.get(place_id)
        if place.kind not in ("town", "village", "city") or " " in place.name.strip():
            continue
        if any(
            name == place.name or haversine_km(lat, lon, place.lat, place.lon) < spacing_km
            for name, _admin1, lat, lon in chosen
        ):
            continue
        if zones.classify(place.lat, place.lon).zone_status == "inside":
            chosen.append((place.name, place.admin1 or "Idlib", place.lat, place.lon))
        if len(chosen) >= limit:
            break
    return [(name, admin1) for name, admin1, _lat, _lon in chosen]  # (village, its governorate)


_SUBJECTS = [
    "The ministry",
    "A spokesperson",
    "Local officials",
    "Traders",
    "Residents",
    "The committee",
    "Analysts",
    "Aid workers",
    "Teachers",
    "Farmers",
    "Doctors",
    "Engineers",
    "The council",
    "Drivers",
    "Students",
]
_VERBS = ["said", "warned", "estimated", "reported", "argued", "noted", "complained", "suggested", "confirmed"]
_OBJECTS = [
    "prices",
    "wages",
    "rents",
    "repairs",
    "deliveries",
    "exams",
    "harvests",
    "water supplies",
    "fuel stocks",
    "bus routes",
    "clinic hours",
    "school places",
    "power cuts",
    "bread queues",
    "market stalls",
]
_CHANGES = ["rose by", "fell by", "were delayed by", "improved by", "doubled within", "shrank by", "stalled after"]
_UNITS = ["percent", "days", "weeks", "hours", "families", "districts", "kilometres"]


def _sentence(rng: random.Random) -> str:
    """A filler sentence from word banks and numbers: distinct articles share few 5-word shingles, as real ones do."""
    subject, verb, thing = rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)
    sector = rng.choice(_SECTIONS).lower()
    change, amount, unit = rng.choice(_CHANGES), rng.randint(2, 480), rng.choice(_UNITS)
    return (
        f"{subject} {verb} that {thing} in the {sector} sector {change} {amount} {unit} since {rng.choice(WEEKDAYS)}."
    )


def _body(rng: random.Random, lede: str, words: int) -> list[str]:
    paragraphs = [lede]
    while sum(len(p.split()) for p in paragraphs) < words:
        paragraphs.append(" ".join(_sentence(rng) for _ in range(rng.randint(2, 5))))
    return paragraphs


_SECTIONS = [
    "World",
    "Middle East",
    "Africa",
    "Europe",
    "Americas",
    "Asia",
    "Business",
    "Markets",
    "Technology",
    "Science",
    "Health",
    "Climate",
    "Sport",
    "Football",
    "Culture",
    "Opinion",
    "Video",
    "Podcasts",
]


def _chrome(rng: random.Random) -> tuple[str, str, str]:
    """Head assets, a mega-menu and a footer of realistic weight (real pages: 60-150 KiB before the article)."""
    css = "".join(
        f".c{i}{{margin:{i % 7}px;padding:{i % 5}px;color:#{rng.randrange(0x1000000):06x}}}" for i in range(900)
    )
    state = json.dumps(
        {
            "config": {
                "ads": [f"slot-{i}" for i in range(60)],
                "experiments": {f"exp{i}": rng.random() for i in range(80)},
            },
            "latest": [{"id": i, "headline": rng.choice(_FILLER), "url": f"/news/{i}"} for i in range(120)],
        }
    )
    head = (
        f"<style>{css}</style><script>window.__STATE__ = {state};</script>"
        "<script>(function(){var q=[];window.track=function(e){q.push(e)};})();</script>"
    )
    menu = "".join(
        f"<li><a href='/{s.lower()}'>{s}</a><ul>"
        + "".join(f"<li><a href='/{s.lower()}/{j}'>{s} {j}</a></li>" for j in range(6))
        + "</ul></li>"
        for s in _SECTIONS
    )
    footer = "".join(f"<a href='/page/{i}'>Page {i}</a> " for i in range(80))
    return head, f"<nav class='mega'><ul>{menu}</ul></nav>", f"<div class='links'>{footer}</div>"


def render(title: str, paragraphs: list[str], published: datetime, rng: random.Random) -> str:
    head, menu, footer = _chrome(rng)
    related = "".join(f"<li><a href='/news/{i}'>{escape(t)}</a></li>" for i, (t, _) in enumerate(_GENERAL_TOPICS))
    comments = "".join(
        f"<div class='comment'><b>reader{rng.randint(1, 999)}</b><p>{escape(rng.choice(_FILLER))}</p></div>"
        for _ in range(rng.randint(2, 8))
    )
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)} | Bench Times</title>"
        f"<meta property='article:published_time' content='{published.isoformat()}'>"
        f"{head}</head><body><header>{menu}</header>"
        f"<main><article><h1>{escape(title)}</h1><div class='byline'>By Bench Reporter</div>{body}</article>"
        f"<aside><h2>Related</h2><ul>{related}</ul></aside></main>"
        f"<section class='comments'>{comments}</section>"
        f"<footer>{footer}<p>© Bench Times · Privacy · Terms · Contact</p></footer></body></html>"
    )


def incident_page(rng: random.Random, index: int, place: tuple[str, str], published: datetime) -> Page:
    actor, _kind = rng.choice(_PERPETRATORS)
    killed, injured = rng.randint(1, 12), rng.randint(0, 20)
    day = WEEKDAYS[published.weekday()]
    lede = (
        f"{actor} the village of {place[0]} in the {place[1]} countryside on {day}, killing {killed} civilians "
        f"and wounding {injured} others, according to local rescuers."
    )
    title = f"Strikes on {place[0]} kill {killed}"
    paragraphs = _body(rng, lede, rng.randint(600, 1200))
    return Page(f"incident-{index}", title, render(title, paragraphs, published, rng), True, place[0])


def other_page(rng: random.Random, index: int, published: datetime) -> Page:
    roll = rng.random()
    pool = _GENERAL_TOPICS if roll < 0.7 else _VIOLENCE_ELSEWHERE if roll < 0.9 else _SYRIA_NO_VIOLENCE
    title, lede = rng.choice(pool)
    lede = lede.format(day=WEEKDAYS[published.weekday()], n=rng.randint(2, 40))
    paragraphs = _body(rng, lede, rng.randint(600, 1200))
    return Page(f"news-{index}", title, render(title, paragraphs, published, rng), False)


def generate(count: int, *, relevant_share: float = 0.05, seed: int = 7, places: list[tuple[str, str]]) -> list[Page]:
    rng = random.Random(seed)
    published = datetime(2019, 5, 4, 9, 0, tzinfo=UTC)
    pages: list[Page] = []
    for index in range(count):
        when = published + timedelta(minutes=index)
        if rng.random() < relevant_share:
            pages.append(incident_page(rng, index, places[index % len(places)], when))
        else:
            pages.append(other_page(rng, index, when))
    return pages
