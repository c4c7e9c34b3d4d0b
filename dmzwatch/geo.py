"""Gazetteer resolution, zones and distance to the contact line.

Two read-only data sets, each loaded lazily once per process:

* the gazetteer (``config/gazetteer/``): ``places.tsv`` (GeoNames towns for all of Syria merged with a curated
  north-west Syria layer), ``aliases.tsv`` (hand-kept spellings that normalisation cannot reach) and
  ``regions.tsv`` (governorates and the sub-regions news reports use, such as "southern Idlib");
* the zones (``config/zones/*.geojson``): the primary (alerting) zone, any extra zones an operator adds,
  and, in the zone files, the government-held territory and the contact line.

Nothing here touches the network, a database or Celery. See ``config/gazetteer/SOURCES.md`` and
``config/zones/README.md`` for where the data come from and how they were built (``scripts/build_geodata.py``).
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from dmzwatch.records import Place, PlaceKind, Resolution, ZoneResult, ZoneStatus

__all__ = [
    "NW_GOVERNORATES",
    "Gazetteer",
    "ZoneSet",
    "load_gazetteer",
    "load_zones",
    "normalize_toponym",
]

# The four governorates the Idlib DMZ touches. Without a governorate hint, fuzzy matching is only tried here:
# a misspelt village in a DMZ report is almost surely in one of them, and the rest of Syria offers many more
# chances of a wrong look-alike (Kansarfa was matched to Khanasir, 90 km away, by an unconstrained matcher).
NW_GOVERNORATES: frozenset[str] = frozenset({"Idlib", "Hama", "Aleppo", "Latakia"})

# ---------------------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------------------

# Marks for ʿayn and hamza, and the quotes used in their place. Sources use them inconsistently
# (Qal'at / Qalat / Qalʿat), so they carry no information for matching and are removed, not spaced.
_AYN_HAMZA = dict.fromkeys(map(ord, "ʿʾʻʼʽ'’‘`´′ʹ\u02c8\u02bc"), None)

# Letters that NFKD does not decompose into ASCII.
_EXTRA_FOLD = str.maketrans({"ı": "i", "ł": "l", "đ": "d", "ø": "o", "æ": "ae", "œ": "oe", "ß": "ss"})

# The Arabic article in all its English spellings, including the sun-letter assimilations (ad-, ar-, as-, ash-,
# at-, az-, an-) and Levantine el-/ed-/es-. Sources disagree on whether they write it at all ("Lataminah",
# "Al Lataminah", "al-Lataminah"), so it is dropped wherever it stands as a word of its own, except as the
# last word (in "Tell As" the "as" is the name itself).
_ARTICLES = frozenset(
    {"al", "el", "ad", "ar", "as", "ash", "at", "az", "an", "ed", "er", "es", "esh", "et", "ez", "the"}
)

# Generic first words with many spellings: unified so that "Kfr Nabouda" and "Kafr Nabudah" meet. Keys are
# spellings after the letter rules below have run (doubles collapsed, trailing h dropped); values are the
# canonical forms that appear in normalised output.
_GENERIC_SPELLINGS: dict[str, str] = {
    # Kafr "village": Kafr, Kfar, Kfr, Kefr, Kafar, Kafer, Kfer
    **dict.fromkeys(("kafr", "kfar", "kfr", "kefr", "kafar", "kafer", "kfer", "kufr"), "kafr"),
    # Qalʿat "castle": Qalaat, Qalat, Qal'at, Kalaat, Qalet, Qalʿah
    **dict.fromkeys(("qalat", "kalat", "qalet", "qala", "kala", "qalt"), "qalat"),
    # Tall "hill": Tall, Tell, Tal, Tel, Til
    **dict.fromkeys(("tal", "tel", "til"), "tall"),
    # Jisr "bridge"
    **dict.fromkeys(("jisr", "jisir", "jesr", "jser", "jasr"), "jisr"),
    # Khirbat "ruin" (a common village prefix): Khirbat, Khirbet, Khirbit, Kherbet, Khirbeh, Khurbat
    **dict.fromkeys(
        ("khirbat", "khirbet", "khirbit", "kherbet", "kherbat", "khirbe", "khirba", "khurbat", "kirbet"),
        "khirbat",
    ),
    # Dayr "monastery" and ʿAyn "spring": two more very common first words (Deir/Dayr/Dair, Ain/Ayn/Ein)
    **dict.fromkeys(("deir", "dayr", "dair", "der"), "deir"),
    **dict.fromkeys(("ain", "ayn", "ein", "ayin"), "ain"),
    # Bayt "house": Beit, Bayt, Bait, Beyt (Beit Yashout / Bayt Yashut)
    **dict.fromkeys(("bayt", "beit", "bait", "beyt", "bet"), "bayt"),
    # Shaykh: Sheikh, Shaykh, Shaikh, Sheik, Shekh
    **dict.fromkeys(("sheikh", "shaykh", "shaikh", "sheik", "shekh", "shaik", "shiekh"), "shaykh"),
}

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_DOUBLED = re.compile(r"([a-z])\1+")
_TRAILING_H = re.compile(r"(?<=[aeiou])h$")


def _fold(text: str) -> str:
    """ASCII-fold: drop ʿayn/hamza marks, decompose accents (ā → a, ḩ → h, ş → s) and drop the marks."""
    text = text.translate(_AYN_HAMZA).translate(_EXTRA_FOLD)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _normalize_word(word: str) -> str:
    # ou/oo → u and ee → i: French- and English-style spellings of the long vowels (Nabouda, Qoqfeen).
    # ee must go before doubled letters collapse, or it would become e rather than i.
    word = word.replace("ou", "u").replace("oo", "u").replace("ee", "i")
    # Doubled letters (shadda and long vowels) are written or not at will: Maarrat/Marat, Hass/Has, Tall/Tal.
    word = _DOUBLED.sub(r"\1", word)
    # Tāʾ marbūṭa: a final -ah/-eh after a vowel is written with or without the h (Kansafrah/Kansafra).
    if len(word) > 3:
        word = _TRAILING_H.sub("", word)
    return _GENERIC_SPELLINGS.get(word, word)


@lru_cache(maxsize=65536)
def normalize_toponym(text: str) -> str:
    """Reduce a place name to a key that its common English transliterations share.

    Rules, in order, each because English-language sources disagree on exactly that:

    1. ASCII-fold and lowercase: GeoNames writes Maʿarrat an Nuʿmān, news writes Maarat al-Numan.
    2. Remove ʿayn/hamza marks and apostrophes (ʿ ʾ ' ’ `): Qal'at / Qalat.
    3. Hyphens, dots and other punctuation become spaces; spaces are collapsed: al-Bara / Al Bara.
    4. The article (al-, el-, ad-, ar-, as-, ash-, at-, az-, an-, "al ") is dropped where it is a word of
       its own, unless it is the last word: "Al-Lataminah" and "Lataminah" are one key.
    5. ou → u, oo → u, ee → i: French/English vowel spellings (Nabouda/Nabuda, Breideej/Breidij).
    6. Doubled letters are collapsed: Maarrat/Marat, Tell/Tel.
    7. A trailing h after a vowel is dropped (tāʾ marbūṭa): Kansafrah → kansafra.
    8. Generic first words are unified: Kafr/Kfar/Kfr/Kefr → kafr, Qalaat/Qalat/Kalaat → qalat,
       Tall/Tell/Tal → tall, Jisr/Jisir → jisr, Khirbat/Khirbet → khirbat, Deir/Dayr → deir, Ain/Ayn → ain,
       Beit/Bayt → bayt, Sheikh/Shaykh → shaykh.
    """
    folded = _fold(text).lower()
    words = _NON_ALNUM.sub(" ", folded).split()
    if not words:
        return ""
    kept = [w for i, w in enumerate(words) if not (w in _ARTICLES and i < len(words) - 1)]
    return " ".join(_normalize_word(w) for w in kept)


def _is_latin(text: str) -> bool:
    """True when every letter is Latin script (what an English text can contain)."""
    for ch in text:
        if ch.isalpha():
            folded = _fold(ch)
            if not folded or not folded.isascii():
                return False
    return True


def _strip_article(name: str) -> str | None:
    """Return the name without a leading article word ("Al Lataminah" → "Lataminah"), or None."""
    match = re.match(r"^(?:al|el|ad|ar|as|ash|at|az|an|ed|es|et|ez)[-\s]+(?=\S)", name, flags=re.IGNORECASE)
    if match is None:
        return None
    return name[match.end() :]


# ---------------------------------------------------------------------------------------------------------
# Gazetteer
# ---------------------------------------------------------------------------------------------------------

_KIND_RANK: dict[str, int] = {"city": 4, "governorate": 4, "town": 3, "region": 3, "village": 2, "site": 1}

# Words that are not part of the specific name: a fuzzy match must also be close once they are removed, so
# that "Kafr Oweid" is not taken for "Kafr Mid" (the shared "kafr" alone makes the whole strings look alike).
_GENERIC_WORDS = frozenset(
    {
        "kafr", "tall", "qalat", "jisr", "khirbat", "deir", "ain", "abu", "umm", "marat", "khan", "bab",
        "jabal", "jabl", "wadi", "bayt", "bir", "shaykh", "mazrat", "qasr", "hamam", "sahl", "bani",
        "tala", "kabir", "saghir", "sharqi", "gharbi", "shamali", "janubi", "fawqani", "tahtani",
    }
)  # fmt: skip

# Fuzzy thresholds on difflib ratio of normalised strings. With a governorate hint the candidate set is small
# (hundreds of places), so 0.85 admits one slip (Kansarfa/Kansafra scores 0.875); without a hint the whole
# north-west is searched and one more point is demanded.
FUZZY_MIN_RATIO_HINTED = 0.85
FUZZY_MIN_RATIO_UNHINTED = 0.90
# Two candidates closer than this in score and more than _SAME_PLACE_KM apart make the answer a guess: refuse it.
FUZZY_AMBIGUITY_MARGIN = 0.03
_SAME_PLACE_KM = 3.0


# With a governorate hint, an exact-name match in another governorate is kept only within this distance of a
# place of the hinted governorate (about the width of the border uncertainty in news reports).
NEAR_HINT_KM = 15.0
_CELL_DEG = 0.2  # grid cell, more than NEAR_HINT_KM on a side at Syrian latitudes (0.2° of lon ≈ 18 km at 35.5°N)


def _cell(lat: float, lon: float) -> tuple[int, int]:
    return (math.floor(lat / _CELL_DEG), math.floor(lon / _CELL_DEG))


def _bigrams(key: str) -> frozenset[str]:
    return frozenset(key[i : i + 2] for i in range(len(key) - 1))


# Candidates for fuzzy matching must share this Dice fraction of their character bigrams with the query. It is a
# cheap, generous pre-filter: a difflib ratio of 0.85 on names of 6-20 letters implies a Dice of 0.55 or more.
_MIN_BIGRAM_DICE = 0.4


class _FuzzyPool:
    """The normalised names of one governorate with a bigram index, so that fuzzy matching compares a query
    with the few dozen names that share enough bigrams instead of all of them."""

    __slots__ = ("_index", "_sizes", "ids", "keys", "specifics")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.specifics: list[str] = []
        self.ids: list[str] = []
        self._sizes: list[int] = []
        self._index: dict[str, list[int]] = {}

    def add(self, key: str, place_id: str) -> None:
        i = len(self.keys)
        grams = _bigrams(key)
        self.keys.append(key)
        self.specifics.append(_specific(key))
        self.ids.append(place_id)
        self._sizes.append(len(grams))
        for gram in grams:
            self._index.setdefault(gram, []).append(i)

    def candidates(self, key: str) -> list[int]:
        grams = _bigrams(key)
        shared: dict[int, int] = {}
        for gram in grams:
            for i in self._index.get(gram, ()):
                shared[i] = shared.get(i, 0) + 1
        n = len(grams)
        return [i for i, c in shared.items() if 2 * c >= _MIN_BIGRAM_DICE * (n + self._sizes[i])]


@dataclass(frozen=True, slots=True)
class _Entry:
    """One place with what resolution needs beyond the public Place record."""

    place: Place
    names: tuple[str, ...]  # preferred name first, then alternates
    source: str
    population: int

    @property
    def nw_layer(self) -> bool:
        return "wiki" in self.source


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def read_tsv(path: Path) -> list[dict[str, str]]:
    """Rows of a gazetteer TSV (header line, ``#`` comment lines skipped, values stripped); the build script
    reads the hand-kept files with it too, so both see them alike."""
    with path.open(encoding="utf-8", newline="") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        rows = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in rows]


def split_alts(value: str) -> tuple[str, ...]:
    """``a|b|c`` alternate names as a tuple, blanks dropped."""
    return tuple(a.strip() for a in value.split("|") if a.strip())


# Region phrases: direction words and filler that news wraps around a governorate name.
_DIRECTIONS: dict[str, str] = {
    "north": "northern", "northern": "northern", "south": "southern", "southern": "southern",
    "east": "eastern", "eastern": "eastern", "west": "western", "western": "western",
    "northeast": "northeastern", "northeastern": "northeastern", "northwest": "northwestern",
    "northwestern": "northwestern", "southeast": "southeastern", "southeastern": "southeastern",
    "southwest": "southwestern", "southwestern": "southwestern",
}  # fmt: skip
_REGION_FILLER = frozenset(
    {
        "in", "of", "the", "province", "provinces", "governorate", "governate", "muhafazat", "region", "area",
        "areas", "neighbouring", "neighboring", "nearby", "adjacent", "part", "parts", "outskirts",
        "near", "into", "across", "on", "at", "from", "and", "administrative", "district", "suburbs",
    }
)  # fmt: skip
_COUNTRYSIDE = frozenset({"countryside", "rif", "reef", "countrysides"})


class Gazetteer:
    """Places, aliases and regions, indexed for resolution of toponyms as written in English news."""

    def __init__(
        self,
        entries: Iterable[_Entry],
        aliases: Iterable[tuple[str, str]],
        regions: Iterable[tuple[Place, tuple[str, ...]]],
    ) -> None:
        self._entries: dict[str, _Entry] = {}
        self._exact: dict[str, list[tuple[str, bool]]] = {}  # key → [(place id, is preferred name)]
        self._fuzzy_pool: dict[str, _FuzzyPool] = {}  # admin1 → the names of its places
        for entry in entries:
            self._entries[entry.place.id] = entry
            seen: set[str] = set()
            for i, name in enumerate(entry.names):
                key = normalize_toponym(name)
                if not key or key in seen:
                    continue
                seen.add(key)
                self._exact.setdefault(key, []).append((entry.place.id, i == 0))
                if entry.place.admin1:
                    self._fuzzy_pool.setdefault(entry.place.admin1, _FuzzyPool()).add(key, entry.place.id)
        self._aliases: dict[str, str] = {}
        self._alias_texts: list[tuple[str, str]] = []
        for alias, place_id in aliases:
            if place_id not in self._entries:
                raise ValueError(f"alias {alias!r} points at unknown place id {place_id!r}")
            self._aliases[normalize_toponym(alias)] = place_id
            self._alias_texts.append((alias, place_id))
        self._regions: dict[str, Place] = {}
        self._region_keys: dict[str, str] = {}  # normalised phrase → region id
        self._region_names: dict[str, tuple[str, ...]] = {}
        for place, names in regions:
            self._regions[place.id] = place
            self._region_names[place.id] = (place.name, *names)
            for name in (place.name, *names):
                self._region_keys[_region_key(name)] = place.id
        # Places by governorate on a grid of _CELL_DEG cells, to tell "near the hinted governorate" quickly.
        self._cells: dict[str, dict[tuple[int, int], list[tuple[float, float]]]] = {}
        for entry in self._entries.values():
            if entry.place.admin1:
                grid = self._cells.setdefault(entry.place.admin1, {})
                grid.setdefault(_cell(entry.place.lat, entry.place.lon), []).append((entry.place.lat, entry.place.lon))
        self._admin1_names: frozenset[str] = frozenset(
            e.place.admin1 for e in self._entries.values() if e.place.admin1
        ) | frozenset(p.admin1 for p in self._regions.values() if p.admin1)

    # --- loading ---------------------------------------------------------------------------------------
    @classmethod
    def load(cls, directory: Path) -> Gazetteer:
        """Read ``places.tsv``, ``aliases.tsv`` and ``regions.tsv`` from ``directory``."""
        entries = []
        for row in read_tsv(directory / "places.tsv"):
            place = Place(
                id=row["id"],
                name=row["name"],
                admin1=row["admin1"] or None,
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                kind=_kind(row["kind"]),
            )
            names = (row["name"], *split_alts(row.get("alt_names", "")))
            population = int(row.get("population") or 0)
            entries.append(_Entry(place, names, row.get("source", ""), population))
        aliases: list[tuple[str, str]] = []
        alias_path = directory / "aliases.tsv"
        if alias_path.exists():
            aliases = [(r["alias"], r["place_id"]) for r in read_tsv(alias_path) if r.get("alias")]
        regions: list[tuple[Place, tuple[str, ...]]] = []
        region_path = directory / "regions.tsv"
        if region_path.exists():
            for row in read_tsv(region_path):
                place = Place(
                    id=row["id"],
                    name=row["name"],
                    admin1=row["admin1"] or None,
                    lat=float(row["lat"]),
                    lon=float(row["lon"]),
                    kind=_kind(row["kind"]),
                )
                regions.append((place, split_alts(row.get("alt_names", ""))))
        return cls(entries, aliases, regions)

    # --- lookups -----------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    def get(self, place_id: str) -> Place:
        """The place (or region) with this id; KeyError when unknown."""
        entry = self._entries.get(place_id)
        if entry is not None:
            return entry.place
        return self._regions[place_id]

    def surface_forms(self) -> Iterator[tuple[str, str]]:
        """Every Latin-script name, alternate and alias with its place id, as it may appear in English text.

        Forms with a leading article also come without it ("Al Lataminah" and "Lataminah"), since a
        phrase matcher compares tokens, not normalised keys, unless what is left is a generic word ("Al Bab"
        gives no "Bab", "At Tall" no "Tall"). Forms shorter than 3 characters are left out.
        """
        seen: set[tuple[str, str]] = set()

        def emit(form: str, place_id: str) -> Iterator[tuple[str, str]]:
            stripped = _strip_article(form)
            # "Al Bab" → "Bab" would match in "Bab al-Hawa": no article-less variant that is a generic word.
            if stripped and (len(stripped) < 4 or normalize_toponym(stripped) in _GENERIC_WORDS):
                stripped = None
            for variant in (form, stripped):
                if variant and len(variant) >= 3 and _is_latin(variant) and (variant, place_id) not in seen:
                    seen.add((variant, place_id))
                    yield variant, place_id

        for entry in self._entries.values():
            for name in entry.names:
                yield from emit(name, entry.place.id)
        for alias, place_id in self._alias_texts:
            yield from emit(alias, place_id)

    def resolve(self, name: str, *, admin1_hint: str | None = None) -> Resolution | None:
        """Resolve a toponym: exact normalised match, then alias, then a careful fuzzy match.

        ``admin1_hint`` is the governorate named nearby ("in southern Idlib" → "Idlib"); it breaks ties
        between places sharing a name and is the only area searched by fuzzy matching. Without it, fuzzy
        matching searches north-west Syria only and demands a closer match. None when nothing fits.
        A hint that is not a governorate name as used here ("Idleb", "Hama province") is mapped to one.
        """
        if admin1_hint is not None and admin1_hint not in self._admin1_names:
            admin1_hint = self.admin1_of(admin1_hint)
        return self._resolve_cached(name, admin1_hint)

    @lru_cache(maxsize=16384)  # noqa: B019 - the gazetteer lives as long as the process; bounded cache
    def _resolve_cached(self, name: str, admin1_hint: str | None) -> Resolution | None:
        key = normalize_toponym(name)
        if not key:
            return None
        candidates = self._exact.get(key)
        if candidates and admin1_hint:
            # With a governorate named nearby, a same-named place far from that governorate is a namesake, not
            # the place meant (Syrian village names repeat: al-Mustariha in western Hama is not Mustarihah by
            # Abu al-Duhur, Idlib). Places just across the border stay in: reports are loose about borders.
            candidates = [
                c
                for c in candidates
                if self._entries[c[0]].place.admin1 == admin1_hint or self._near_admin1(c[0], admin1_hint)
            ]
        if candidates:
            best = min(candidates, key=lambda c: self._rank(c[0], c[1], admin1_hint))
            return Resolution(self._entries[best[0]].place, 1, "exact", 1.0)
        alias_id = self._aliases.get(key)
        if alias_id is not None:
            return Resolution(self._entries[alias_id].place, 1, "alias", 1.0)
        return self._fuzzy(key, admin1_hint)

    def _near_admin1(self, place_id: str, admin1: str) -> bool:
        """True when a place of ``admin1`` lies within NEAR_HINT_KM of this place."""
        place = self._entries[place_id].place
        cells = self._cells.get(admin1)
        if not cells:
            return False
        row, col = _cell(place.lat, place.lon)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                for lat, lon in cells.get((row + dr, col + dc), ()):
                    if haversine_km(place.lat, place.lon, lat, lon) <= NEAR_HINT_KM:
                        return True
        return False

    def _rank(self, place_id: str, preferred: bool, admin1_hint: str | None) -> tuple[int, int, int, int, int]:
        entry = self._entries[place_id]
        return (
            0 if admin1_hint and entry.place.admin1 == admin1_hint else 1,
            0 if entry.nw_layer else 1,
            0 if preferred else 1,
            -_KIND_RANK.get(entry.place.kind, 0),
            -entry.population,
        )

    def _fuzzy(self, key: str, admin1_hint: str | None) -> Resolution | None:
        # Very short keys (Hass, Bara, Iblin) are too easy to confuse: only exact or alias for them.
        if len(key) < 5:
            return None
        if admin1_hint:
            pools = [self._fuzzy_pool[admin1_hint]] if admin1_hint in self._fuzzy_pool else []
            threshold = FUZZY_MIN_RATIO_HINTED
        else:
            pools = [self._fuzzy_pool[a] for a in sorted(NW_GOVERNORATES) if a in self._fuzzy_pool]
            threshold = FUZZY_MIN_RATIO_UNHINTED
        specific = _specific(key)
        if not specific:
            return None
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(key)
        spec_matcher = difflib.SequenceMatcher(autojunk=False)
        spec_matcher.set_seq2(specific)
        scores: dict[str, float] = {}
        # A slip changes a letter, or two in a long name, not the length of the name (Latmin is not Lataminah).
        max_len_diff = max(1, len(key) // 5)
        for pool in pools:
            for i in pool.candidates(key):
                cand_key, cand_specific, place_id = pool.keys[i], pool.specifics[i], pool.ids[i]
                if abs(len(cand_key) - len(key)) > max_len_diff or not cand_specific:
                    continue
                matcher.set_seq1(cand_key)
                if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
                    continue
                score = matcher.ratio()
                if score < threshold:
                    continue
                # The specific part (without Kafr, Tall, Abu ...) must be close on its own too.
                if specific != cand_specific:
                    spec_matcher.set_seq1(cand_specific)
                    if spec_matcher.ratio() < threshold - 0.05:
                        continue
                if score > scores.get(place_id, 0.0):
                    scores[place_id] = score
        if not scores:
            return None
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], self._rank(kv[0], True, admin1_hint)))
        best_id, best_score = ranked[0]
        best = self._entries[best_id].place
        for other_id, other_score in ranked[1:]:
            if best_score - other_score > FUZZY_AMBIGUITY_MARGIN:
                break
            other = self._entries[other_id].place
            if haversine_km(best.lat, best.lon, other.lat, other.lon) > _SAME_PLACE_KM:
                return None  # two different places fit about equally well: do not guess
        return Resolution(best, 1, "fuzzy", round(best_score, 3))

    # --- regions -------------------------------------------------------------------------------------------
    def region(self, phrase: str) -> Resolution | None:
        """Resolve a region phrase ("southern Idlib", "the Idlib countryside", "Hama province") to a region or
        governorate with geo_precision 3; None when the phrase names no known region."""
        region_id = self._region_id(phrase)
        if region_id is None:
            return None
        return Resolution(self._regions[region_id], 3, "region", 1.0)

    def admin1_of(self, phrase: str) -> str | None:
        """The governorate a phrase places things in ("in southern Idlib" → "Idlib"), or None."""
        region_id = self._region_id(phrase)
        if region_id is not None:
            return self._regions[region_id].admin1
        # Fall back to any governorate or region name inside a longer phrase ("north of Hama city").
        words = _region_key(phrase).split()
        for size in (3, 2, 1):
            for i in range(len(words) - size + 1):
                found = self._region_keys.get(" ".join(words[i : i + size]))
                if found is not None:
                    return self._regions[found].admin1
        return None

    def regions(self) -> list[Place]:
        """The governorates and sub-regions."""
        return list(self._regions.values())

    def region_forms(self) -> Iterator[tuple[str, str]]:
        """(phrase, region id) for every region name and alternate ("southern Idlib", "Jabal al-Akrad"):
        for a phrase matcher; resolve the matched phrase, with its context words, through ``region()``."""
        for place_id, names in self._region_names.items():
            for name in names:
                yield name, place_id

    def _region_id(self, phrase: str) -> str | None:
        key = _region_key(phrase)
        if not key:
            return None
        found = self._region_keys.get(key)
        if found is not None:
            return found
        words = key.split()
        # "northern Idlib" when only the governorate is known for that direction: drop the direction.
        if words[0] in _DIRECTIONS.values():
            found = self._region_keys.get(" ".join(words[1:]))
            if found is not None:
                return found
        if words[-1] == "countryside":
            found = self._region_keys.get(" ".join(words[:-1]))
            if found is not None:
                return found
            if words[0] in _DIRECTIONS.values():
                found = self._region_keys.get(" ".join(words[1:-1]))
                if found is not None:
                    return found
        return None


def _region_key(phrase: str) -> str:
    """Normalise a region phrase: directions unified, filler words dropped, "countryside" moved last.

    "north of neighbouring Hama province" → "northern hama"; "the Idlib countryside" → "idlib countryside";
    "rural Aleppo" / "Aleppo's countryside" → "aleppo countryside".
    """
    text = re.sub(r"['’]s\b", "", phrase)  # Aleppo's → Aleppo
    text = re.sub(r"\b(north|south)[- ](east|west)", r"\1\2", _fold(text).lower())  # north-eastern → northeastern
    text = _NON_ALNUM.sub(" ", text)
    words = text.split()
    direction = None
    countryside = False
    rest: list[str] = []
    for w in words:
        if w in _DIRECTIONS and direction is None:  # "southern Idlib" and "Idlib's southern countryside"
            direction = _DIRECTIONS[w]
        elif w in _COUNTRYSIDE or w == "rural":
            countryside = True
        elif w in _REGION_FILLER or w in _ARTICLES:
            continue
        else:
            rest.append(normalize_toponym(w))
    if not rest:
        return ""
    out = ([direction] if direction else []) + rest + (["countryside"] if countryside else [])
    return " ".join(out)


def _specific(key: str) -> str:
    return " ".join(w for w in key.split() if w not in _GENERIC_WORDS)


def _kind(value: str) -> PlaceKind:
    kinds: dict[str, PlaceKind] = {
        "city": "city",
        "town": "town",
        "village": "village",
        "site": "site",
        "region": "region",
        "governorate": "governorate",
        "country": "country",
    }
    return kinds.get(value, "village")


# ---------------------------------------------------------------------------------------------------------
# Zones
# ---------------------------------------------------------------------------------------------------------

_KM_PER_DEG_LAT = 110.574
_KM_PER_DEG_LON_EQUATOR = 111.320


@dataclass(frozen=True, slots=True)
class _Zone:
    name: str
    primary: bool
    geometry: BaseGeometry  # lon/lat, prepared


class ZoneSet:
    """The configured zones with the government territory and contact line of the primary zone's file.

    Distances use a local equirectangular projection centred on the primary zone (error well under 1 % within
    a few hundred km of it), which is enough for "within 5 km of the zone" and "12 km from the line".
    """

    def __init__(
        self,
        zones: list[_Zone],
        government: BaseGeometry | None,
        contact_line: BaseGeometry | None,
        *,
        edge_km: float = 5.0,
    ) -> None:
        self._zones = zones
        self._primary = next((z for z in zones if z.primary), None)
        self._edge_km = edge_km
        anchor = self._primary.geometry if self._primary is not None else None
        if anchor is None and zones:
            anchor = zones[0].geometry
        if anchor is not None:
            center = anchor.centroid
            self._lat0, self._lon0 = center.y, center.x
        else:
            self._lat0, self._lon0 = 35.5, 36.6
        self._kx = _KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(self._lat0))
        self._government = government
        if government is not None:
            shapely.prepare(government)
        self._primary_km = self._project(self._primary.geometry) if self._primary is not None else None
        if self._primary_km is not None:
            shapely.prepare(self._primary_km)
        self._line_km = self._project(contact_line) if contact_line is not None else None

    @property
    def primary_name(self) -> str | None:
        return self._primary.name if self._primary is not None else None

    @property
    def zone_names(self) -> tuple[str, ...]:
        return tuple(z.name for z in self._zones)

    def _project(self, geom: BaseGeometry) -> BaseGeometry:
        lon0, lat0, kx = self._lon0, self._lat0, self._kx

        def to_km(coords: Any) -> Any:
            out = coords.copy()
            out[:, 0] = (coords[:, 0] - lon0) * kx
            out[:, 1] = (coords[:, 1] - lat0) * _KM_PER_DEG_LAT
            return out

        return shapely.transform(geom, to_km)

    @classmethod
    def load(cls, directory: Path, *, edge_km: float = 5.0) -> ZoneSet:
        """Read every ``*.geojson`` in ``directory``.

        Polygon features without a ``role`` are zones (named by their ``name`` property, else the file name);
        the one with ``primary: true`` is the alerting zone (the first in file-name order if several claim it).
        Features with ``role: government_territory`` / ``role: contact_line`` refine the primary zone's status
        and give the distance to the line.
        """
        zones: list[_Zone] = []
        government: list[BaseGeometry] = []
        lines: list[BaseGeometry] = []
        for path in sorted(directory.glob("*.geojson")):
            data = json.loads(path.read_text(encoding="utf-8"))
            features = data.get("features") if data.get("type") == "FeatureCollection" else [data]
            for i, feature in enumerate(features or []):
                if feature.get("type") != "Feature" or not feature.get("geometry"):
                    continue
                props = feature.get("properties") or {}
                geom = shape(feature["geometry"])
                if not geom.is_valid:
                    geom = shapely.make_valid(geom)
                role = props.get("role")
                if role == "government_territory":
                    government.append(geom)
                elif role == "contact_line":
                    lines.append(geom)
                elif role in (None, "zone") and geom.geom_type in ("Polygon", "MultiPolygon"):
                    name = str(props.get("name") or (path.stem if i == 0 else f"{path.stem}-{i}"))
                    shapely.prepare(geom)
                    zones.append(_Zone(name, bool(props.get("primary")), geom))
        primary_seen = False
        for idx, zone in enumerate(zones):
            if zone.primary and primary_seen:
                zones[idx] = _Zone(zone.name, False, zone.geometry)
            primary_seen = primary_seen or zone.primary
        gov = unary_union(government) if government else None
        line = unary_union(lines) if lines else None
        return cls(zones, gov, line, edge_km=edge_km)

    def classify(self, lat: float, lon: float) -> ZoneResult:
        """Which zones contain the point, its status against the primary zone, and its distance to the line.

        "inside": in the primary polygon. "outside": in government-held territory (the DMZ lay wholly on the
        opposition side, so a government town next to the line is outside however close), or farther than
        ``edge_km`` from the polygon. "edge": neither inside nor government-held, within ``edge_km``: the deep
        boundary of the band is the uncertain one.
        """
        point = Point(lon, lat)
        names = tuple(z.name for z in self._zones if z.geometry.covers(point))
        status: ZoneStatus = "outside"
        point_km = Point((lon - self._lon0) * self._kx, (lat - self._lat0) * _KM_PER_DEG_LAT)
        if self._primary is not None and self._primary_km is not None:
            if self._primary.name in names:
                status = "inside"
            elif self._government is not None and self._government.covers(point):
                status = "outside"
            elif self._primary_km.distance(point_km) <= self._edge_km:
                status = "edge"
        distance = None
        if self._line_km is not None:
            distance = round(float(self._line_km.distance(point_km)), 2)
        return ZoneResult(zones=names, zone_status=status, distance_to_line_km=distance)

    def classify_resolution(self, resolution: Resolution) -> ZoneResult:
        """Zone status of a resolved toponym, honest about precision.

        A governorate-level fallback ("a village in Idlib") says nothing about which side of the zone boundary
        the event was: its representative point may fall anywhere. Such results are "edge" (not alerted
        unless the operator opts in), never a confident "inside". Named sub-regions ("southern Idlib") are
        small enough for their representative point to stand for them.
        """
        place = resolution.place
        result = self.classify(place.lat, place.lon)
        if place.kind == "governorate" and result.zone_status == "inside":
            return ZoneResult(zones=result.zones, zone_status="edge", distance_to_line_km=result.distance_to_line_km)
        return result


# ---------------------------------------------------------------------------------------------------------
# Process-wide instances
# ---------------------------------------------------------------------------------------------------------

_lock = threading.Lock()
_gazetteer: Gazetteer | None = None
_zones: ZoneSet | None = None


def load_gazetteer() -> Gazetteer:
    """The gazetteer from ``settings.gazetteer_dir``, loaded on first use and kept for the process."""
    global _gazetteer
    if _gazetteer is None:
        with _lock:
            if _gazetteer is None:
                from dmzwatch.settings import get_settings

                _gazetteer = Gazetteer.load(get_settings().gazetteer_dir)
    return _gazetteer


def load_zones() -> ZoneSet:
    """The zones from ``settings.zones_dir``, loaded on first use and kept for the process."""
    global _zones
    if _zones is None:
        with _lock:
            if _zones is None:
                from dmzwatch.settings import get_settings

                _zones = ZoneSet.load(get_settings().zones_dir)
    return _zones
