"""Place mentions in a sentence: gazetteer names, "village/town of X" patterns, and region phrases.

Three sources, most trusted first:

1. a spaCy ``PhraseMatcher`` over every gazetteer surface form (attr LOWER). Its patterns are tokenised with a
   separate ``spacy.blank("en")``: building them with the model's own tokenizer fills that tokenizer's cache
   with 20k names and makes every later article 6x slower to tokenise (DESIGN §5, measured);
2. patterns for names the gazetteer does not know: "the village of X", "the towns of X, Y and Z", "X village",
   "X army base"; each is resolved (exact, alias, then fuzzy constrained by the governorate named nearby) and,
   failing that, falls back to the region it is said to be in ("in southern Idlib province") with
   geo_precision 3 (never an invented point);
3. region phrases ("northern Hama", "the Idlib countryside", "southern Idlib province"), resolved by
   ``Gazetteer.region``: used as hints for 1-2, and as region-level places when a sentence names nothing finer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from dmzwatch.nlp.lexicon import Lexicon, get_lexicon
from dmzwatch.records import Place, Resolution

if TYPE_CHECKING:  # spaCy is imported only when a PlaceFinder is built: the pre-filter must not pay for it
    from spacy.tokens import Doc
    from spacy.vocab import Vocab


class GazetteerLike(Protocol):
    """What extraction needs from ``dmzwatch.geo.Gazetteer`` (a Protocol so tests can pass a small one)."""

    def surface_forms(self) -> Iterator[tuple[str, str]]: ...
    def get(self, place_id: str) -> Place: ...
    def resolve(self, name: str, *, admin1_hint: str | None = None) -> Resolution | None: ...
    def region(self, phrase: str) -> Resolution | None: ...
    def admin1_of(self, phrase: str) -> str | None: ...


# Syria's governorates and the region words news uses; the relevance filter and region phrases use them.
GOVERNORATES = (
    "Idlib", "Idleb", "Hama", "Aleppo", "Latakia", "Lattakia", "Homs", "Damascus", "Rif Dimashq", "Daraa", "Deraa",
    "Quneitra", "Suwayda", "Sweida", "As-Suwayda", "Tartus", "Tartous", "Raqqa", "Raqqah", "Deir ez-Zor",
    "Deir ez-Zour", "Deir al-Zor", "Deir Ezzor", "Hasakah", "Hasaka", "Al-Hasakah",
)  # fmt: skip
_GOV_ALT = "|".join(sorted((re.escape(g) for g in GOVERNORATES), key=len, reverse=True))
_DIR = r"(?:north|south|east|west|north-?east|north-?west|south-?east|south-?west)(?:ern)?"
# "southern Idlib province", "the north of neighbouring Hama province", "the Idlib countryside",
# "rural Aleppo", "Idlib's countryside", "northwest Syria", "Idlib province", "the Aleppo governorate"
REGION_RE = re.compile(
    # monitors' wording first: "the southern countryside of Idlib", "Idlib's southern countryside"
    rf"(?:the\s+)?{_DIR}\s+countryside\s+of\s+(?:{_GOV_ALT})(?:\s+(?:province|governorate))?|"
    rf"(?:{_GOV_ALT})(?:'s|’s)\s+{_DIR}\s+countryside|"
    rf"(?:(?:the\s+)?{_DIR}\s+(?:of\s+)?(?:(?:neighbouring|neighboring|nearby|the)\s+)?|(?:the\s+)?rural\s+|"
    rf"the\s+)?(?:{_GOV_ALT})(?:(?:'s|’s)?\s+countryside|\s+(?:province|governorate|region|city))?"
    rf"|(?:the\s+)?{_DIR}\s+Syria|\b(?:the\s+)?(?:Idlib|Hama|Aleppo|Latakia)\s+countryside",
    re.IGNORECASE,
)
_REGION_CASED = re.compile(rf"(?:{_GOV_ALT})|Syria", re.IGNORECASE)

# A capitalised name, allowing lower-case articles inside ("Qalaat al-Madiq", "Jisr al-Shughur", "Kafr Nabl").
_NAME = (
    r"(?:[Aa]l-|[Ee]l-)?[A-Z][\w’'`-]*"
    r"(?:\s(?:al-|el-|as-|ash-|ad-|ar-|an-|at-|az-|ez-|al\s|el\s)?[A-Z][\w’'`-]*){0,3}"
)
_NAME_RE = re.compile(_NAME)
_NAME_LIST = rf"{_NAME}(?:,\s+{_NAME})*(?:,?\s+(?:and|as well as|&)\s+{_NAME})?"
_SETTLEMENT = (
    r"(?:villages?|towns?|cities|city|areas?|hamlets?|neighbou?rhoods?|districts?|suburbs?|outskirts|"
    r"settlements?|camps?|town\s+centre)"
)
_OF_RE = re.compile(rf"\b(?P<kind>{_SETTLEMENT})\s+of\s+(?P<names>{_NAME_LIST})")
_SUFFIX_RE = re.compile(
    rf"(?P<name>{_NAME})\s+(?P<kind>village|town|area|camp|army base|military base|airbase|air base|base|"
    rf"checkpoint|hill|plain)\b"
)
# "towns in northern Hama including Kfr Nabouda": a list introduced by "including" after a settlement word
_INCLUDING_RE = re.compile(rf"\b{_SETTLEMENT}\b[^.;]{{0,60}}?\bincluding\s+(?P<names>{_NAME_LIST})")
# Names starting with a generic toponym word are places even when no pattern introduces them ("Kfr Nabouda").
_PREFIXED_RE = re.compile(
    r"\b(?:Kafr|Kfr|Kfar|Kafar|Kefr|Tal|Tell|Tall|Jisr|Khirbet|Khirbat|Deir|Dayr|Ain|Ayn|Maarat|Maarrat|Maaret|"
    r"Ma['’]arr?at|Ma['’]aret|Marat|Qalaat|Qalat|Qal['’]at|Khan|Jabal|Jebel|Tel)\s+(?:al-|el-|as-|ash-|an-|ad-|ar-|at-|az-)?"
    r"[A-Z][\w’'-]+"
)
_SPLIT_LIST = re.compile(r",\s+|,?\s+(?:and|as well as|&)\s+")
# Trailing words a name pattern may swallow.
_TRAILING_NOISE = re.compile(r"(?:\s+(?:On|In|At|Province|Governorate|Countryside))+$")
_NOT_NAMES = {
    "the", "syria", "syrian", "russia", "russian", "turkey", "turkish", "iraq", "the syrian", "on", "in", "at",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "white helmets", "sohr",
    "un", "us", "regime", "army", "state", "christian", "kurdish", "sunni", "alawite", "druze", "islamic state",
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "a", "an", "this", "that",
    "another", "each", "every", "their", "its", "his", "her", "our", "local", "nearby", "neighbouring",
}  # fmt: skip
# Hyphenated descriptors that a capitalised-name pattern would otherwise take for a name ("Christian-majority").
_DESCRIPTOR = re.compile(
    r"-(?:majority|held|controlled|backed|led|run|based|owned|populated|affiliated|linked|allied|dominated)\b"
)

_REGION_OF = re.compile(r"\b(?:countryside|province|governorate|rural|region|outskirts)\s+(?:of\s+)?$", re.I)

_NEAR_RE = re.compile(
    r"\b(?:near|outskirts of|around|close to|vicinity of|north of|south of|east of|west of)\s+"
    r"(?:the\s+)?(?:\w+\s+of\s+)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class PlaceMention:
    text: str  # as written
    start: int  # offsets in the sentence
    end: int
    resolution: Resolution | None
    source: str  # "gazetteer", "pattern", "region", "ner"
    in_list: bool  # part of a coordinated list of places ("the towns of A, B and C")
    near: bool  # "near X": the event is near, not at, the place


@dataclass(frozen=True, slots=True)
class RegionMention:
    text: str
    start: int
    end: int
    resolution: Resolution | None
    admin1: str | None


class PlaceFinder:
    """Finds place mentions in sentences; built once per process (the matcher takes ~1 s for 20k names)."""

    def __init__(self, gazetteer: GazetteerLike, vocab: Vocab) -> None:
        import spacy
        from spacy.matcher import PhraseMatcher

        self._gaz = gazetteer
        self._matcher = PhraseMatcher(vocab, attr="LOWER")
        blank = spacy.blank("en")  # never the model's tokenizer: see the module docstring
        self._form_ids: dict[str, list[str]] = {}
        for form, place_id in gazetteer.surface_forms():
            key = form.lower()
            ids = self._form_ids.setdefault(key, [])
            if place_id not in ids:
                ids.append(place_id)
        patterns = [blank.make_doc(form) for form in self._form_ids]
        for i in range(0, len(patterns), 5000):
            self._matcher.add("PLACE", patterns[i : i + 5000])

    # --- regions -------------------------------------------------------------------------------------------
    def regions(self, sentence: str) -> list[RegionMention]:
        out: list[RegionMention] = []
        for m in REGION_RE.finditer(sentence):
            phrase = m.group(0)
            # "Syrian" etc. must not match; the region regex is case-insensitive only for the filler words
            if not _REGION_CASED.search(phrase) or not re.search(r"[A-Z]", phrase):
                continue
            res = self._gaz.region(phrase)
            admin1 = res.place.admin1 if res is not None else self._gaz.admin1_of(phrase)
            out.append(RegionMention(phrase, m.start(), m.end(), res, admin1))
        return out

    # --- places ----------------------------------------------------------------------------------------------
    def places(
        self,
        sentence: str,
        doc: Doc,
        regions: list[RegionMention],
        context_region: Resolution | None = None,
        attack_ends: tuple[int, ...] = (),
    ) -> list[PlaceMention]:
        """Specific places (not regions) in the sentence, left to right, one mention per span.

        ``context_region`` is the region the surrounding text is about (named earlier in the paragraph, else in
        the article): an
        unknown village introduced as one ("the village of X") whose own sentence names no region falls back to
        it, marked ``fallback-context`` (a weaker inference than "X in southern Idlib").

        ``attack_ends`` are the end offsets of the sentence's typed triggers: the names right after an attack's
        preposition ("raids on Tarmala and Abdin", "shelled positions in Hazarin, Maarzita") are places even when
        no settlement word introduces them.
        """
        found: list[PlaceMention] = []
        # "Idlib city", "Aleppo city": region-shaped phrases the gazetteer does not hold as regions are the city
        region_spans = [(r.start, r.end) for r in regions if r.resolution is not None]

        def overlaps(s: int, e: int, spans: list[tuple[int, int]]) -> bool:
            return any(a < e and s < b for a, b in spans)

        list_spans: list[tuple[int, int]] = []
        pattern_names: list[tuple[str, int, int, bool]] = []  # name, start, end, in_list
        pattern_kind: dict[tuple[int, int], str] = {}  # "settlement" when the text says the name is a village/town
        for m in [*_OF_RE.finditer(sentence), *_INCLUDING_RE.finditer(sentence)]:
            names_start = m.start("names")
            names = m.group("names")
            pieces = _list_pieces(names, names_start)
            multi = len(pieces) > 1
            if multi:
                list_spans.append((names_start, names_start + len(names)))
            settlement = m.re is _OF_RE and re.match(r"(?:villages?|towns?|hamlets?)$", m.group("kind"), re.I)
            for raw, s, _end in pieces:
                cleaned = _TRAILING_NOISE.sub("", raw)
                pattern_names.append((cleaned, s, s + len(cleaned), multi))
                if settlement:
                    pattern_kind[(s, s + len(cleaned))] = "settlement"
        for end in attack_ends:
            hit = _attack_target(get_lexicon()).match(sentence, end)
            if hit is None:
                continue
            for raw, s, _ in _list_pieces(hit.group("names"), hit.start("names")):
                cleaned = _TRAILING_NOISE.sub("", raw)
                # not "YPG", "SDF" (groups), not "Syria's" (a possessive qualifies what follows)
                if _known_word(cleaned) or cleaned.isupper() or re.search(r"['’]s$", cleaned):
                    continue
                pattern_names.append((cleaned, s, s + len(cleaned), True))
        for m in _PREFIXED_RE.finditer(sentence):
            pattern_names.append((m.group(0), m.start(), m.end(), False))
        for m in _SUFFIX_RE.finditer(sentence):
            name = m.group("name")
            if name.split()[0].lower() in ("the", "a", "an"):
                continue
            pattern_names.append((name, m.start("name"), m.end("name"), False))
            if m.group("kind") in ("village", "town"):
                pattern_kind[(m.start("name"), m.end("name"))] = "settlement"

        # 1. gazetteer phrase matches (longest first, no overlaps)
        spans = sorted(
            ((doc[s:e].start_char, doc[s:e].end_char) for _, s, e in self._matcher(doc)),
            key=lambda se: (-(se[1] - se[0]), se[0]),
        )
        taken: list[tuple[int, int]] = []
        for s, e in spans:
            if overlaps(s, e, taken):
                continue
            text = sentence[s:e]
            if not text[:1].isupper() and not re.match(r"(?:al|el)-[A-Z]", text):
                continue  # lower-case common words that happen to be place names ("hass", "bab")
            if overlaps(s, e, region_spans) and not _after_settlement_word(sentence, s):
                continue  # "Idlib province", "northern Hama": a region, not the city
            if _inside_longer_name(sentence, s, e):
                continue
            taken.append((s, e))
            res = self._resolve(text, regions, e)
            if res is None:
                continue
            in_list = any(a <= s and e <= b for a, b in list_spans)
            found.append(PlaceMention(text, s, e, res, "gazetteer", in_list, _is_near(sentence, s)))

        # 1b. spellings the phrase matcher cannot see: it compares tokens, so "Kansafra" (Kansafrah), "Kfr
        # Nabouda" or "Maaret al-Numan" only match if that exact form is listed. A capitalised name whose
        # normalised key is a gazetteer name's (or an alias's) is the same place; fuzzy keys are not trusted here.
        for m in _NAME_RE.finditer(sentence):
            name = _TRAILING_NOISE.sub("", m.group(0))
            s, e = m.start(), m.start() + len(name)
            if overlaps(s, e, taken) or overlaps(s, e, region_spans) or name.lower() in _NOT_NAMES or len(name) < 4:
                continue
            if _DESCRIPTOR.search(name) or _inside_longer_name(sentence, s, e):
                continue
            res = self._resolve(name, regions, e)
            if res is None or res.method not in ("exact", "alias"):
                continue
            taken.append((s, e))
            in_list = any(a <= s and e <= b for a, b in list_spans)
            found.append(PlaceMention(name, s, e, res, "gazetteer", in_list, _is_near(sentence, s)))

        # 2. pattern names the gazetteer matcher did not cover
        for name, s, e, in_list in pattern_names:
            if overlaps(s, e, taken) or name.lower() in _NOT_NAMES or len(name) < 3 or _DESCRIPTOR.search(name):
                continue
            if overlaps(s, e, region_spans):
                continue
            taken.append((s, e))
            res = self._resolve(name, regions, e)
            source = "pattern"
            if res is None:
                res = self._fallback_region(regions, e)
                source = "fallback"
                if res is None and context_region is not None and pattern_kind.get((s, e)) == "settlement":
                    res, source = context_region, "fallback-context"
            found.append(PlaceMention(name, s, e, res, source, in_list, _is_near(sentence, s)))
        found.sort(key=lambda p: p.start)
        found = self._list_siblings(sentence, found, taken, region_spans, regions, context_region)
        return _mark_coordination(sentence, found)

    def _list_siblings(
        self,
        sentence: str,
        found: list[PlaceMention],
        taken: list[tuple[int, int]],
        region_spans: list[tuple[int, int]],
        regions: list[RegionMention],
        context_region: Resolution | None,
    ) -> list[PlaceMention]:
        """Unknown names coordinated with a known place are places too: "shelled Kafr Nabl, Tarmala, Basqala and
        Hass", where only two are in the gazetteer, is four village incidents, not two plus a region.

        An unknown sibling keeps its own name and is located by its context (the region named after it, else
        the paragraph's region, else the governorate of its known siblings), geo_precision 3, source
        "fallback": a place the text names is never dropped and never merged into a region event.
        """
        if not found:
            return found
        # pattern names nothing could place ("Ma'aret Hurmah" with no region after it) are candidates too
        unplaced = [p for p in found if p.resolution is None]
        found = [p for p in found if p.resolution is not None]
        candidates: list[tuple[str, int, int]] = [(p.text, p.start, p.end) for p in unplaced]
        for m in _NAME_RE.finditer(sentence):
            name = _TRAILING_NOISE.sub("", m.group(0))
            s, e = m.start(), m.start() + len(name)
            if any(a < e and s < b for a, b in [*taken, *region_spans]):
                continue
            if name.lower() in _NOT_NAMES or len(name) < 3 or _DESCRIPTOR.search(name) or _known_word(name):
                continue
            if _REGION_OF.search(sentence[max(0, s - 30) : s]):
                continue  # "the southern countryside of Idlin": a misspelt governorate, not a village
            candidates.append((name, s, e))
        if not candidates:
            return found
        anchors = [
            p for p in found if p.resolution is not None and p.source != "fallback" and p.resolution.place.admin1
        ]
        added: list[PlaceMention] = []
        changed = True
        while changed:
            changed = False
            members = sorted([*found, *added], key=lambda p: p.start)
            for name, s, e in candidates:
                if any(p.start == s for p in added):
                    continue
                linked = any(
                    _COORD.fullmatch(sentence[e : p.start]) or _COORD.fullmatch(sentence[p.end : s]) for p in members
                )
                if not linked:
                    continue
                res = self._fallback_region(regions, e) or context_region
                if res is None and anchors:
                    # the governorate of the nearest known place of the list
                    nearest = min(anchors, key=lambda p: abs(p.start - s))
                    assert nearest.resolution is not None
                    res = self._gaz.region(str(nearest.resolution.place.admin1))
                if res is None:
                    continue
                added.append(PlaceMention(name, s, e, res, "fallback", True, _is_near(sentence, s)))
                changed = True
        return sorted([*found, *added], key=lambda p: p.start)

    def resolve_entity(self, text: str, sentence: str, end: int, regions: list[RegionMention]) -> Resolution | None:
        """Resolve an NER entity the other passes missed (no region fallback: NER alone is weak evidence)."""
        if text.lower() in _NOT_NAMES or _REGION_CASED.fullmatch(text):
            return None
        return self._resolve(text, regions, end)

    def _resolve(self, name: str, regions: list[RegionMention], end: int) -> Resolution | None:
        """Resolve with the governorate the sentence places the name in. A hint taken from a region named
        elsewhere in the sentence (not right after the name) is weak: "a farm near X in rural Hama and the
        town of Saraqib ..." must not refuse Saraqib for lying in Idlib."""
        hint = _hint_after(regions, end)
        res = self._gaz.resolve(name, admin1_hint=hint)
        if res is None and hint is not None and not any(r.start >= end and r.admin1 for r in regions):
            res = self._gaz.resolve(name)
        return res

    def _fallback_region(self, regions: list[RegionMention], end: int) -> Resolution | None:
        """The region an unknown village is said to be in: the first region phrase after it, within reach."""
        for r in regions:
            if r.start >= end and r.start - end <= 40 and r.resolution is not None:
                return r.resolution
        for r in regions:
            if r.start >= end and r.start - end <= 40 and r.admin1:
                res = self._gaz.region(r.admin1)
                if res is not None:
                    return res
        return None


@lru_cache(maxsize=4)
def _attack_target(lex: Lexicon) -> re.Pattern[str]:
    """Names right after an attack word ("raids on Tarmala and Abdin", "shelled positions in Hazarin, Maarzita"):
    the lexicon's attack_target_lead (the prepositions and hit verbs), then a list of names."""
    return re.compile(rf"[^.;:]{{0,40}}?\b(?:{lex.fragment('attack_target_lead')})(?:the\s+)?(?P<names>{_NAME_LIST})")


def _list_pieces(names: str, offset: int) -> list[tuple[str, int, int]]:
    """ "A, B and C" → each name with its sentence offsets (``offset`` is where ``names`` starts)."""
    pieces: list[tuple[str, int, int]] = []
    for part in re.finditer(r"[^,&]+?(?=,\s+|,?\s+(?:and|as well as|&)\s+|$)", names):
        raw = part.group(0).strip(" ,")
        raw = re.sub(r"^(?:and|as well as|&)\s+", "", raw)
        if not raw:
            continue
        s = offset + names.find(raw, part.start())
        pieces.append((raw, s, s + len(raw)))
    return pieces


def _known_word(name: str) -> bool:
    """A name that starts with a capitalised word the lexicon knows is never a place ("Russian and Syrian")."""
    return bool(get_lexicon().known_capitalised.match(name.split()[0]))


def _hint_after(regions: list[RegionMention], end: int) -> str | None:
    """The governorate named right after a place ("X in southern Idlib"), else any in the sentence."""
    after = [r for r in regions if r.start >= end and r.admin1]
    if after:
        return after[0].admin1
    anywhere = [r for r in regions if r.admin1]
    return anywhere[0].admin1 if len(anywhere) == 1 else None


def _after_settlement_word(sentence: str, start: int) -> bool:
    return bool(re.search(r"\b(?:city|town|village)\s+of\s+$", sentence[max(0, start - 20) : start], re.IGNORECASE))


def _inside_longer_name(sentence: str, start: int, end: int) -> bool:
    """The match is part of a longer capitalised name the gazetteer does not know ("Naji Abu Huthaifa")."""
    before = sentence[:start].rstrip()
    after = sentence[end:]
    prev = re.search(r"([\w’'-]+)\s*$", before)
    if prev and start > 0 and sentence[start - 1] == " ":
        word = prev.group(1)
        sentence_initial = before[: prev.start()].strip() == "" or before[: prev.start()].rstrip().endswith(
            (".", "“", '"', ":")
        )
        if word[:1].isupper() and not sentence_initial and word.lower() not in _OK_BEFORE:
            return True
    nxt = re.match(r"\s([A-Z][\w’'-]*)", after)
    return bool(nxt and nxt.group(1).lower() not in _OK_AFTER)


_OK_BEFORE = {"in", "on", "of", "the", "and", "near", "at", "from", "to", "between", "eastern", "western",
              "northern", "southern", "meanwhile", "around", "town", "village", "city", "hit", "struck"}  # fmt: skip
_OK_AFTER = {"province", "governorate", "countryside", "on", "in", "and", "as", "at", "last", "this", "village",
             "town", "city", "area", "camp", "hospital", "of"}  # fmt: skip


_COORD = re.compile(r"\s*(?:,|,?\s*and|,?\s*as well as(?: in)?|&)\s*")


def _mark_coordination(sentence: str, found: list[PlaceMention]) -> list[PlaceMention]:
    """'Halfaya and Al-Lataminah', 'Saraqib, Sarmin and Binnish': places joined only by commas and 'and'
    form a list; a toll given for the list is not split among them (DESIGN §4)."""
    flags = [p.in_list for p in found]
    for i in range(1, len(found)):
        if _COORD.fullmatch(sentence[found[i - 1].end : found[i].start]):
            flags[i - 1] = flags[i] = True
    return [
        p if p.in_list == flag else PlaceMention(p.text, p.start, p.end, p.resolution, p.source, flag, p.near)
        for p, flag in zip(found, flags, strict=True)
    ]


def _is_near(sentence: str, start: int) -> bool:
    return bool(_NEAR_RE.search(sentence[max(0, start - 40) : start]))
