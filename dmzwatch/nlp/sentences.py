"""Sentence splitting and sentence-level filters (what is *not* an incident, DESIGN §4).

The splitter is a regular expression, not spaCy's: it is 100x cheaper, it keeps exact character offsets into the
full text (evidence needs them), and it handles what cleaned news text actually contains: paragraphs one per
line, headlines and captions without final punctuation, and glued sentences ("a helicopter.Local activists").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
# to rise") then applies to its clause, not to the reports beside it. Only strong joints split: a semicolon,
# "while"/"whereas", ", also", ", meanwhile", and "as" opening a new clause ("... as the attack left 26 injured").
_CLAUSE_JOINT = re.compile(
    r";\s+|,?\s+(?=(?:while|whereas)\s+(?:the|a|an|regime|russian|government|turkish|its|their|[A-Z]\w+)\b)|"
    r",\s+(?=(?:and\s+)?(?:also|meanwhile|after that)\b)|"
    # "... killed six in Sarja, meaning at least 13 were killed in total": the sum is its own clause
    r",\s+(?=meaning\b)|"
    # ", and the Syrian Observatory published ...": the monitor's next report
    r",\s+and\s+(?=(?:the\s+)?(?:Syrian\s+Observatory|SOHR|monitor|activists)\b)|"
    # ", and the Russian warplanes carried out ...": a second actor's report
    r",\s+and\s+(?=(?:the\s+)?(?:Russian|Syrian|regime(?:'s|’s)?|Turkish|government|Israeli|coalition)\s+"
    r"(?:warplanes|jets|aircraft|helicopters|drones|forces|army|artillery|troops)\b)|(?<!such)(?<!well)(?<!same)(?<!known)\s+(?=as\s+(?:the|a|an)\s+\w+\s+"
    r"(?:left|killed|wounded|injured|hit|struck|targeted)\b)",
)
_MIN_CLAUSE_CHARS = 25  # shorter pieces ("while fleeing") stay with their sentence


def _clauses(raw: str, a: int, b: int) -> list[tuple[int, int]]:
    """Split raw[a:b] at strong clause joints; pieces too short to state an event stay joined."""
    cuts = [m for m in _CLAUSE_JOINT.finditer(raw, a, b)]
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
# Each says why a sentence cannot state a single incident. Checked on the sentence text only.
_AGGREGATE = re.compile(
    r"\bsince (?:the (?:beginning|start|outbreak|end) of|the \w+ (?:deal|agreement|ceasefire|truce)|"
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December)\b|"
    r"(?:early|late|mid)\b(?! (?:this|today)\b)|\d{4}|last (?:week|month|year)|then|Monday|Tuesday|Wednesday|"
    r"Thursday|Friday|Saturday|Sunday)|"
    r"\b(?:in|over|during|within) the (?:past|last|previous) (?:\w+ )?(?:hours?|days?|weeks?|months?|years?)|"
    # a month-long report or period is not an incident
    r"\b(?:during|over) the (?:month|week|year)\b|\bmonthly\b|"
    # counts spread over a whole area ("14 air strikes ... across Idlib and Hama", "6 civilians across the region")
    r"\bacross (?:the )?(?:[\w-]+ ){0,2}(?:region|provinces?|governorates?|north-?west|country|areas?)\b|"
    r"\bacross (?-i:[A-Z]\w+ and [A-Z]\w+)\b|"
    r"\bin recent (?:days|weeks|months)|\bso far (?:this|in)\b|\bthis (?:year|month)\b|"
    r"\b(?:conflict|war|uprising|civil war|violence)(?:'s|’s)? (?:has|have|had) (?:killed|left|claimed|displaced)|"
    r"\b(?:conflict|war) (?:that )?(?:has )?(?:killed|left)\b|\bdeath toll (?:since|of the (?:war|conflict))|"
    r"\bsince (?:a|an|the)\s|\b(?:frequently|repeatedly|regularly|intermittent(?:ly)?|daily)\b|"
    r"\bmonth-long|\bweeks-long|\bin total\b|\ba total of\b|\bcumulative|"
    # habitual or ongoing, not one event: "continue to shell", "has been fighting", "nonstop attacks",
    # "repeated shelling", "has escalated its airstrikes", "dozens of massacres", "since they launched"
    r"\bcontinu(?:e|es|ing) to (?:shell|bomb|target|attack|pound|strike|hit)\b|"
    r"\b(?:has|have|had) been (?:fighting|shelling|bombing|targeting|pounding|attacking|striking)\b|"
    r"\b(?:non-?stop|relentless|constant|continuous|incessant|repeated|round-the-clock)\s+(?:\w+\s+){0,3}?"
    r"(?:attacks?|shelling|bombardment|bombing|strikes?|raids?|air ?strikes?)\b|"
    r"\b(?:has|have|had) (?:escalated|intensified|stepped up|increased)\b|"
    r"\b(?:dozens|hundreds|scores|a series|tens) of (?:massacres|attacks|strikes|raids|air ?strikes|shells|missiles|"
    r"rockets|barrel bombs)\b|\bsince (?:they|it|he|she|we)\s+\w+|"
    # two days or a span in one statement: "on Friday and Saturday", "from 24 November to 18 December"
    r"\bon (?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) and "
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b|"
    r"\bfrom \d{1,2} (?:January|February|March|April|May|June|July|August|September|October|November|December)"
    r" to \d{1,2} (?:January|February|March|April|May|June|July|August|September|October|November|December)\b|"
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|\d+)-(?:day|week|month|year)\s+(?:[\w-]+\s+){0,3}?"
    r"(?:offensive|campaign|siege|operation|battle)\b",
    re.IGNORECASE,
)
_BACKGROUND = re.compile(
    # "Ariha, which was shelled last week, reopened ...": an old event in passing; a story that opens with
    # "Last week, a strike ..." is that event (week precision, dates.py)
    r"(?<!^)\blast week\b|\blast month\b|\b(?:weeks|months|years) ago\b|"
    # a past year ("In April 2017, a chemical attack ...") is history, not news
    r"\b(?:in|during) (?:(?:early|late|mid-?)\s*)?(?:(?:January|February|March|April|May|June|July|August|"
    r"September|October|November|December) )?(?:19|20)\d\d\b|\bhome to\b|\bdisplac(?:ed|ement)\b|\brefugees\b|"
    r"\bhave fled\b|\bforced .{0,40}to flee\b|"
    r"\bpopulation of\b|\bcensus\b|"
    # "Last year, a chemical attack ...", "the anniversary of the 2017 massacre": history recalled, not news
    # (only as the sentence's own time: "... a zone agreed in September last year" dates the deal, not the attack)
    r"^\W*(?:last year|earlier this year)\b|\banniversary\b|"
    r"\b(?:the|a)\s+(?:19|20)\d\d\s+(?:[\w-]+\s+)?(?:massacre|attack|strike|bombing|siege|offensive)s?\b|"
    # "in response to the government forces' recent attack on the outposts": an earlier event recalled
    r"\brecent (?:attacks?|strikes?|shelling|offensive|raids?)\b",
    re.IGNORECASE,
)
# Future and conditional: "its first stage will target", "if this happens", "could spark".
_FUTURE = re.compile(
    r"\b(?:will|would|could|might|should|shall|if|unless|threaten(?:s|ed|ing)?|plans? to|planning to|"
    r"preparing to|intends? to|expected to|is set to|are set to|vowed to|poised to|intent on|aims? to|"
    r"seeks? to|in a bid to|(?:battle|bid|campaign|drive) to (?:retake|recapture|capture|regain))\b|\bmay\b(?! \d)",
)
_FUTURE_CI = re.compile(r"\b(?:If|Will|Would|Should)\b")
# A photo caption: an agency credit in brackets, "[...]/AFP", or the wire caption's closing dateline
# ("... in the village of Ehsim, Syria, July 18, 2021."): the photo's day, often not the event's.
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan\.|Feb\.|"
    r"Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
)
_CAPTION = re.compile(
    r"\[[^\]]*(?:AFP|Getty|Reuters|Images|Photo|AP\b|Anadolu|EPA|/)[^\]]*\]|\bPhoto(?:graph)?:|"
    rf",\s+Syria,\s+(?:on\s+)?{_MONTH}\s+\d{{1,2}},\s+(?:19|20)\d\d\.?\s*$"
)
# Quoted speech at the start: statements, rarely single incidents with a place.
# A quoted first-person statement ("“We have responded by striking their posts,” he said") is a claim or a
# threat, not a report; a quoted report of what happened ("“The army has freed the town of X after fierce
# fighting,” the source said") is read like any other sentence.
_QUOTE_START = re.compile(r"^[“\"‘][^”\"’]*\b(?:[Ww]e|[Oo]ur|[Uu]s|I|[Mm]y)\b")
# Deaths that are not political violence: an accident near Saraqib is not an incident in the zone (ACLED does
# not code them either). "heart attack" would otherwise count as an "attack".
_NOT_VIOLENCE = re.compile(
    r"\b(?:traffic|car|road|bus|truck|work|industrial|mining|construction)\s+(?:accident|crash|collision)s?\b|"
    r"\b(?:accidental(?:ly)?|drown(?:ed|ing)|electrocut\w*|heart attack|natural causes|earthquakes?|"
    r"floods?|flash floods?|lightning|food poisoning)\b",
    re.IGNORECASE,
)


def veto(sentence: str) -> str | None:
    """Why this sentence cannot state an incident, or None."""
    if _CAPTION.search(sentence):
        return "caption"
    if _AGGREGATE.search(sentence):
        return "aggregate"
    if _BACKGROUND.search(sentence):
        return "background"
    if _FUTURE.search(sentence) or _FUTURE_CI.search(sentence):
        return "future"
    if _QUOTE_START.search(sentence):
        return "quote"
    if _NOT_VIOLENCE.search(sentence):
        return "not violence"
    return None
