"""Sentence splitting and sentence-level filters (what is *not* an incident, DESIGN §4).

The splitter is a regular expression, not spaCy's: it is 100x cheaper, it keeps exact character offsets into the
full text (evidence needs them), and it handles what cleaned news text actually contains: paragraphs one per
line, headlines and captions without final punctuation, and glued sentences ("a helicopter.Local activists").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dmzwatch.nlp.lexicon import get_lexicon

_ABBREV = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Col|Gen|Lt|Capt|Maj|Sgt|St|No|Jr|Sr|Prof|Brig|Adm|Rep|Sen|Gov|approx|vs|"
    r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|\b[A-Z]|U\.S|U\.N|U\.K)\.$"
)
# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and an upper-case/quote/digit start,
# or at a period glued between two words when the second is capitalised ("helicopter.Local").
_BOUNDARY = re.compile(r"(?<=[.!?])[”\"’)\]]*\s+(?=[“\"‘(\[]?[A-Z0-9])|(?<=[a-z]{3}\.)(?=[A-Z][a-z])")


_MAX_TITLE_WORDS = 40


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    start: int  # offsets into the full text
    end: int
    paragraph: int  # index of the line/paragraph it belongs to
    title_like: bool  # a line without final punctuation: a headline, caption, crosshead or another story's title


def split_sentences(text: str) -> list[Sentence]:
    out: list[Sentence] = []
    para = 0
    for line in re.finditer(r"[^\n]+", text):
        raw = line.group(0)
        if not raw.strip():
            continue
        base = line.start()
        stripped = raw.rstrip()
        words = len(stripped.split())
        # A headline or caption has no final punctuation; a long line without it is a paragraph cut short
        # (excerpts, feeds that truncate), still prose.
        title_like = (not re.search(r"[.!?:”\"’)]\s*$", stripped) and words <= _MAX_TITLE_WORDS) or (
            words <= 14 and not re.search(r"[.!?][”\"’)]*\s*$", stripped)
        )
        pos = 0
        pieces: list[tuple[int, int]] = []
        for m in _BOUNDARY.finditer(raw):
            candidate = raw[pos : m.start()]
            if _ABBREV.search(candidate.rstrip('”"’)] ')):
                continue
            pieces.append((pos, m.start()))
            pos = m.end()
        pieces.append((pos, len(raw)))
        pieces = [clause for a, b in pieces for clause in _clauses(raw, a, b)]
        for a, b in pieces:
            seg = raw[a:b]
            lead = len(seg) - len(seg.lstrip())
            seg = seg.strip()
            if not seg:
                continue
            s = base + a + lead
            out.append(Sentence(seg, s, s + len(seg), para, title_like))
        para += 1
    return out


# Monitors' bulletins run many reports into one sentence ("... shelled A and B, while warplanes struck C, also
# the regime forces fired 300 shells on places in ..."). Each such clause has its own subject, weapon, place and
# hedges, so it is read as a sentence of its own: a veto ("more than 300 shells on places", "the toll is expected
# to rise") then applies to its clause, not to the reports beside it. Only strong joints split (the lexicon's
# clause_joint: a semicolon, "while"/"whereas", ", also", ", meanwhile", "as" opening a new clause ...).
_MIN_CLAUSE_CHARS = 25  # shorter pieces ("while fleeing") stay with their sentence


def _clauses(raw: str, a: int, b: int) -> list[tuple[int, int]]:
    """Split raw[a:b] at strong clause joints; pieces too short to state an event stay joined."""
    cuts = list(get_lexicon().clause_joint.finditer(raw, a, b))
    if not cuts:
        return [(a, b)]
    out: list[tuple[int, int]] = []
    start = a
    for m in cuts:
        if m.start() - start < _MIN_CLAUSE_CHARS or b - m.end() < _MIN_CLAUSE_CHARS:
            continue
        out.append((start, m.start()))
        start = m.end()
    out.append((start, b))
    return out


# --- sentence-level vetoes ---------------------------------------------------------------------------------
# Each says why a clause cannot state a single incident (the lexicon's vetoes, checked in order): a photo
# caption, an aggregate or habitual statement, background or history, the future or a condition, a quoted
# first-person claim, a death that is not political violence.


def veto(sentence: str) -> str | None:
    """Why this sentence (or clause) cannot state an incident, or None."""
    for rule in get_lexicon().vetoes:
        if rule.search(sentence):
            return rule.reason
    return None
