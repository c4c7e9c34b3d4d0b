"""Casualty figures in one sentence: who was killed or wounded, how many, and whether they were civilians.

Rule-based over a light word tokenisation (no spaCy): the constructions are few and formulaic in wire copy
(DESIGN §5) and a rule can say exactly why it read a number, which an analyst checking an alert wants to know.

Handled:
  active   "killing 10 people, including five children", "the shelling killed two men and wounded five others",
           "claimed the lives of three", "resulting in the deaths of some 22 fighters", "left three dead",
           "wounding and killing at least four Russian soldiers"
  passive  "four members of a family, including two children, were killed", "six civilians died",
           "At least 13 members of the government forces were killed and seven Asayesh fighters" (= 20),
           "Five of the victims, including four women, died", "the other four were killed"
  zero     "no casualties", "no reported casualties", "no one was hurt" (killed = injured = 0)
  vague    "dozens", "scores", "several", "a number of people" -> count None (a mention, but no figure)

``killed_civilians`` is the head count when the victims are civilians (civilians, children, women, a family...);
otherwise the sum of the civilian sub-counts introduced by "including" (a lower bound); otherwise None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from dmzwatch.nlp.lexicon import CasualtyWords, get_lexicon

_TOKEN_RE = re.compile(r"\d[\d,]*|\w+(?:[-'’]\w+)*|[^\w\s]")

_UNITS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_VAGUE = {"dozens", "scores", "hundreds", "thousands", "several", "many", "numerous", "some", "tens", "more"}
_QUALIFIERS = {
    "at", "least", "some", "about", "around", "nearly", "almost", "over", "more", "than", "up", "to",
    "approximately", "roughly", "another", "further", "additional", "a", "total", "of", "the", "other",
    "his", "her", "their",
}  # fmt: skip

_PASSIVE_AUX = {"were", "was", "been", "are", "is", "be", "reportedly", "also", "all"}

Kind = Literal["killed", "injured"]


def _words() -> CasualtyWords:
    """The lexicon's verbs of killing and injuring and its victim nouns (config/lexicon/<language>.yaml)."""
    return get_lexicon().casualties


@dataclass(frozen=True, slots=True)
class Casualty:
    kind: Kind
    count: int | None  # None: a vague figure ("dozens") or none given
    civilians: int | None
    start: int  # char offsets in the sentence: the whole mention (number phrase + verb)
    end: int


@dataclass(frozen=True, slots=True)
class _Tok:
    text: str
    low: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _NumPhrase:
    count: int | None
    civilians: int | None
    start: int  # token indexes, end exclusive
    end: int
    vague: bool


def tokenize(sentence: str) -> list[_Tok]:
    return [_Tok(m.group(0), m.group(0).lower(), m.start(), m.end()) for m in _TOKEN_RE.finditer(sentence)]


def _number_at(toks: list[_Tok], i: int) -> tuple[int | None, int, bool] | None:
    """A number starting at token i: (value, next index, vague). None if no number there."""
    if i >= len(toks):
        return None
    w = toks[i].low
    if re.fullmatch(r"\d[\d,]*", w):
        return int(w.replace(",", "")), i + 1, False
    if w in _TENS:
        v = _TENS[w]
        if i + 1 < len(toks) and toks[i + 1].low in _UNITS and toks[i + 1].low not in ("a", "an"):
            return v + _UNITS[toks[i + 1].low], i + 2, False
        m = re.fullmatch(r"(\w+)-(\w+)", w)
        return v, i + 1, False
    m = re.fullmatch(r"(\w+)-(\w+)", w)
    if m and m.group(1) in _TENS and m.group(2) in _UNITS:
        return _TENS[m.group(1)] + _UNITS[m.group(2)], i + 1, False
    if w in ("a", "an") and i + 1 < len(toks) and toks[i + 1].low == "dozen":
        return 12, i + 2, False
    if w == "half" and i + 2 < len(toks) and toks[i + 1].low == "a" and toks[i + 2].low == "dozen":
        return 6, i + 3, False
    if w == "a" and i + 2 < len(toks) and toks[i + 1].low == "number" and toks[i + 2].low == "of":
        return None, i + 3, True
    if w in _POSSESSIVES:
        if i + 1 < len(toks) and toks[i + 1].low in _words().dual_victims:
            return 2, i + 1, False  # "wounded their parents"
        for k in range(i + 1, min(len(toks), i + 3)):
            if toks[k].low in _words().singular_victims:
                return 1, i + 1, False
            if _number_at(toks, k) is not None or not toks[k].low.replace("'", "").replace("’", "").isalpha():
                break
        return None
    if w in ("a", "an"):
        # "a child", "a local council member": one victim; "a third raid", "a family" are not figures
        for k in range(i + 1, min(len(toks), i + 4)):
            if toks[k].low in _words().singular_victims:
                return 1, i + 1, False
            if not toks[k].low.isalpha() or toks[k].low in _STOP:
                break
        return None
    if w in _UNITS:
        return _UNITS[w], i + 1, False
    if w in _VAGUE and w not in ("some", "more"):
        return None, i + 1, True
    return None


# "his son", "her neighbour's son", "their mother": one victim; "her two daughters": the number decides
_POSSESSIVES = {"his", "her", "their"}


def _phrase_at(toks: list[_Tok], i: int, *, need_noun: bool, depth: int = 0) -> _NumPhrase | None:
    """A victim phrase starting at token i: qualifiers, a number, up to four modifiers, a victim noun.

    With need_noun False a bare number is accepted ("the other four were killed").
    """
    j = i
    while j < len(toks) and toks[j].low in _QUALIFIERS and _number_at(toks, j) is None:
        j += 1
    if j < len(toks) and toks[j].low in ("a", "an") and j + 1 < len(toks) and toks[j + 1].low in _UNITS:
        j += 1
    # "some 22": "some" is a qualifier when a number follows
    if j < len(toks) and toks[j].low == "some" and _number_at(toks, j + 1):
        j += 1
    num = _number_at(toks, j)
    if num is None:
        return None
    value, k, vague = num
    head_noun: str | None = None
    n = k
    # modifiers then noun: "members of a family", "Russian soldiers", "of the victims", "more people"
    for step in range(6):
        if n >= len(toks):
            break
        w = toks[n].low
        if w in _words().victim_nouns and not (w == "members" and n + 1 < len(toks) and toks[n + 1].low == "of"):
            head_noun = w
            n += 1
            break
        if w == "members" and n + 1 < len(toks) and toks[n + 1].low == "of":
            # "members of a family", "members of the government forces": the "of" phrase is the noun's tail
            head_noun = "members"
            n += 2
            tail = 0
            while n < len(toks) and tail < 5 and toks[n].low not in _STOP and toks[n].low.isalpha():
                if toks[n].low in ("family", "families"):
                    head_noun = "family"
                n += 1
                tail += 1
            break
        if w in ("of", "the", "a", "his", "her", "their", "more", "same", "other"):
            n += 1
            continue
        if w in _UNITS or w in _TENS or w.isdigit():
            # "2020-02-26 Four civilians": another number starts the real phrase (a dateline's day is no toll)
            return None
        if toks[n].text[:1].isupper() or (_is_word(w) and step < 3 and w not in _STOP):
            n += 1
            continue
        break
    if head_noun is None:
        if need_noun:
            return None
        n = k
    if value is not None and head_noun in ("man", "woman", "child", "person", "boy", "girl") and value != 1:
        pass
    civ = value if head_noun in _words().civilian_nouns else None
    if head_noun == "family":
        civ = value
    phrase = _NumPhrase(value, civ, i, n, vague)
    # "including two children" / "among them three women"
    if depth >= 2:  # "two men and a woman" needs one level; a chain of "and"s is not a casualty phrase
        return phrase
    phrase = _with_including(toks, phrase, depth)
    # "two men and a woman"
    if phrase.end < len(toks) and toks[phrase.end].low == "and":
        nxt = _phrase_at(toks, phrase.end + 1, need_noun=True, depth=depth + 1)
        if nxt is None and phrase.end + 1 < len(toks) and toks[phrase.end + 1].low in _words().singular_victims:
            # "a child and woman": a bare singular noun is one more
            noun = toks[phrase.end + 1].low
            civ = 1 if noun in _words().civilian_nouns else None
            nxt = _NumPhrase(1, civ, phrase.end + 1, phrase.end + 2, False)
        if nxt is not None and nxt.count is not None and phrase.count is not None and not nxt.vague:
            civs = (phrase.civilians or 0) + (nxt.civilians or 0)
            phrase = _NumPhrase(phrase.count + nxt.count, civs or None, phrase.start, nxt.end, False)
    return phrase


_STOP = {
    "were", "was", "have", "has", "had", "died", "killed", "wounded", "injured", "and", "in", "on", "at",
    "by", "including", "while", "when", "after", "since", "said", "are", "is", "be", "been", "from", "with",
}  # fmt: skip


def _with_including(toks: list[_Tok], p: _NumPhrase, depth: int) -> _NumPhrase:
    j = p.end
    if j < len(toks) and toks[j].text == ",":
        j += 1
    if j < len(toks) and toks[j].low in ("mostly", "mainly", "predominantly"):
        # "at least 40 people, mostly women and children, were killed": an aside, no sub-count
        k = j + 1
        while k < len(toks) and toks[k].low in _words().civilian_nouns | {"and", "or"}:
            k += 1
        if k > j + 1 and k < len(toks) and toks[k].text == ",":
            return _NumPhrase(p.count, p.civilians, p.start, k + 1, p.vague)
    if j < len(toks) and toks[j].low in ("including", "among"):
        k = j + 1
        if toks[j].low == "among" and k < len(toks) and toks[k].low == "them":
            k += 1
        sub = _phrase_at(toks, k, need_noun=True, depth=depth + 1)
        if sub is not None:
            civ = p.civilians
            if civ is None and sub.civilians is not None:
                civ = sub.civilians
            end = sub.end
            # "including two boys and a female, died": the rest of the aside up to its comma
            aside = end
            while aside < len(toks) and aside - end < 6 and (_is_word(toks[aside].low) or toks[aside].low.isdigit()):
                if toks[aside].low in _STOP - {"and"}:
                    break
                aside += 1
            if aside < len(toks) and toks[aside].text == "," and aside > end:
                end = aside
            if end < len(toks) and toks[end].text == ",":
                end += 1
            return _NumPhrase(p.count, civ, p.start, end, p.vague)
        # "including women and children" (no figure): civilians present but not counted
        if k < len(toks) and toks[k].low in _words().civilian_nouns:
            end = k + 1
            while end < len(toks) and toks[end].low in _words().civilian_nouns | {"and", "or"}:
                end += 1
            return _NumPhrase(p.count, p.civilians, p.start, end, p.vague)
    return p


def find_casualties(sentence: str) -> list[Casualty]:
    """Every casualty mention in the sentence, in order."""
    toks = tokenize(sentence)
    out: list[Casualty] = []
    for m in _words().no_casualties.finditer(sentence):
        out.append(Casualty("killed", 0, 0, m.start(), m.end()))
        out.append(Casualty("injured", 0, 0, m.start(), m.end()))
    used: set[int] = set()
    for i, t in enumerate(toks):
        kind: Kind | None = None
        w = t.low
        active = False
        # "shot dead a man", "gunned down two", "executed three": active killing verbs of direct violence;
        # "masked men shot a pharmacist to death": "shot" reads as killing when "to death" follows
        if (
            (w == "dead" and i > 0 and toks[i - 1].low == "shot")
            or (w == "down" and i > 0 and toks[i - 1].low == "gunned")
            or w in ("executed", "executing", "assassinated")
            or (w == "shot" and _to_death(toks, i) and not _is_passive_aux(toks, i))
        ):
            kind, active = "killed", True
        elif w in _words().kill_active or w in _words().injure_active:
            kind = "killed" if w in _words().kill_active else "injured"
            active = True
        # "wounding and killing at least four": the figure follows the second verb; read it as killed
        if active and i + 2 < len(toks) and toks[i + 1].low == "and" and toks[i + 2].low in _words().kill_active:
            continue
        if active:
            # "executed several airstrikes": a verb of direct violence needs a victim, not a bare figure
            p = _phrase_at(toks, i + 1, need_noun=w in ("executed", "executing", "assassinated"))
            if p is not None and (p.count is not None or p.vague) and not _is_passive(toks, i):
                # The bare-number fallback must not read "killed 2011" style years or "killed in 2 raids".
                if p.count is not None and p.count > 1900 and p.end == p.start + 1:
                    continue
                assert kind is not None
                out.append(_mk(kind, p, toks, i, sentence))
                used.update(range(p.start, p.end))
                continue
            one = _one_named_victim(toks, i + 1)
            if p is None and one is not None and not _is_passive(toks, i):
                # "a bomb under his car killed Omar Darwish", "a blast killed the head of the village committee"
                assert kind is not None
                out.append(_mk(kind, _NumPhrase(1, None, i + 1, one, False), toks, i, sentence))
                used.update(range(i + 1, one))
                continue
        # "claimed the lives of N", "the deaths of N", "left N dead"
        if (w == "lives" and i >= 2 and toks[i - 2].low in ("claimed", "claiming", "claim")) or (
            w
            in (
                "deaths",
                "death",
                "martyrdom",
            )
            and i + 1 < len(toks)
            and toks[i + 1].low == "of"
        ):
            p = _phrase_at(toks, i + 2 if toks[i + 1].low == "of" else i + 1, need_noun=False)
            if p is not None and (p.count is not None or p.vague):
                out.append(_mk("killed", p, toks, i, sentence))
                used.update(range(p.start, p.end))
                continue
        if w in ("left", "leaving") and i + 1 < len(toks):
            p = _phrase_at(toks, i + 1, need_noun=False)
            if p is not None and p.end < len(toks) and toks[p.end].low in ("dead", "killed", "wounded", "injured"):
                k: Kind = "killed" if toks[p.end].low in ("dead", "killed") else "injured"
                out.append(_mk(k, p, toks, p.end, sentence))
                used.update(range(p.start, p.end + 1))
                continue
        # passive / intransitive: "<phrase> were killed", "<phrase> died", "<phrase> dead"
        if w in _words().kill_passive or w in _words().injure_passive:
            kind = "killed" if w in _words().kill_passive else "injured"
            subj = _subject_before(toks, i, used)
            if subj is not None:
                total = subj
                # "... were killed and seven Asayesh fighters"
                if i + 2 < len(toks) and toks[i + 1].low == "and":
                    more = _phrase_at(toks, i + 2, need_noun=True)
                    followed_by_verb = (
                        more is not None
                        and more.end < len(toks)
                        and toks[more.end].low
                        in (_PASSIVE_AUX | _words().kill_passive | _words().injure_passive | {"have", "has", "had"})
                    )
                    if more is not None and not followed_by_verb and more.count is not None and total.count is not None:
                        civ = (total.civilians or 0) + (more.civilians or 0)
                        total = _NumPhrase(total.count + more.count, civ or None, total.start, more.end, False)
                out.append(_mk(kind, total, toks, i, sentence))
                used.update(range(subj.start, subj.end))
    # "the death toll ... has risen to 11 civilians"
    for m in _words().toll_risen.finditer(sentence):
        p = _phrase_at(tokenize(m.group("rest")), 0, need_noun=False)
        if p is not None and p.count is not None:
            out.append(Casualty("killed", p.count, p.civilians, m.start(), m.end()))
    # "12 civilians were killed, including five in Maarat al-Numan", "11 civilians: six in Ariha ... and five in
    # Maarat Misrin": a share of the toll tied to one place
    for m in _SHARE_RE.finditer(sentence):
        before = [c for c in out if c.end <= m.start() and c.count is not None]
        value = _number_at(tokenize(m.group("num")), 0)
        if before and value is not None and value[0] is not None:
            out.append(Casualty(before[-1].kind, value[0], None, m.start(), m.end()))
    out.sort(key=lambda c: c.start)
    return out


_SHARE_RE = re.compile(
    r"(?:\bincluding|:|\band) (?P<num>\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
    r"(?: (?:of them|people|civilians|children|others))? in\b",
    re.IGNORECASE,
)


def _to_death(toks: list[_Tok], i: int) -> bool:
    """'shot ... to death' within a few words."""
    return any(
        toks[k].low == "to" and k + 1 < len(toks) and toks[k + 1].low == "death"
        for k in range(i + 1, min(len(toks), i + 9))
    )


def _is_passive_aux(toks: list[_Tok], i: int) -> bool:
    return i > 0 and toks[i - 1].low in _PASSIVE_AUX


def _one_named_victim(toks: list[_Tok], j: int) -> int | None:
    """One victim named rather than counted: a personal name ("Omar Darwish", two or more capitalised words) or
    a title ("the head of ...", "a local commander"). Returns the end token, or None."""
    k = j
    while k < len(toks) and toks[k].text[:1].isupper() and toks[k].text.isalpha():
        k += 1
    if k - j >= 2 and toks[j].low not in _STOP and not (k < len(toks) and toks[k].low in _words().victim_nouns):
        return k  # (not "Kafr Nabl residents": a group named by its town)
    if j + 1 < len(toks) and toks[j].low == "the" and toks[j + 1].low in _words().titled_victims:
        return j + 2
    return None


def _is_passive(toks: list[_Tok], i: int) -> bool:
    """'were killed', 'have been wounded': the verb is passive and its figure precedes it."""
    return toks[i].low in ("killed", "wounded", "injured") and i > 0 and toks[i - 1].low in _PASSIVE_AUX


def _subject_before(toks: list[_Tok], i: int, used: set[int]) -> _NumPhrase | None:
    """The victim phrase ending just before verb i (allowing auxiliaries and an 'including' clause)."""
    j = i - 1
    while j >= 0 and toks[j].low in _PASSIVE_AUX | {"have", "has", "had", "reportedly", "also", "later", "both"}:
        j -= 1
    # scan back at most 14 tokens for a phrase that ends exactly at j+1
    for start in range(max(0, j - 14), j + 1):
        if start in used:
            continue
        p = _phrase_at(toks, start, need_noun=False)
        if p is None or p.end != j + 1:
            continue
        if p.count is None and not p.vague:
            continue
        if any(k in used for k in range(p.start, p.end)):
            continue
        # a phrase must begin at a number-ish token or a qualifier, and not mid-phrase ("two" in "twenty two")
        return p
    # "Khaled al-Sabbagh was killed": one person named, with a singular verb
    if 0 <= j < i - 1 and toks[j + 1].low == "was":
        k = j
        while k >= 0 and (toks[k].text[:1].isupper() or re.fullmatch(r"(?:al|el)-\w+", toks[k].text)):
            k -= 1
        known = get_lexicon().known_capitalised  # "The Syrian Army was killed" is no person's name
        if (
            j - k >= 2
            and not any(n in used for n in range(k + 1, j + 1))
            and not any(known.match(toks[n].text) for n in range(k + 1, j + 1))
        ):
            return _NumPhrase(1, None, k + 1, j + 1, False)
    return None


def _mk(kind: Kind, p: _NumPhrase, toks: list[_Tok], verb: int, sentence: str) -> Casualty:
    lo = min(toks[p.start].start, toks[verb].start)
    hi = max(toks[p.end - 1].end if p.end > p.start else toks[verb].end, toks[verb].end)
    return Casualty(kind, p.count, p.civilians if kind == "killed" else None, lo, hi)


def _is_word(w: str) -> bool:
    """A word, possessives included ("neighbour's")."""
    return w.replace("'", "").replace("’", "").isalpha()
