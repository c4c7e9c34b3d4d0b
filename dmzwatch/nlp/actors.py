"""Perpetrators: actor mentions mapped to a ``Side`` (DESIGN §5), and which of them did the attack.

A sentence often names several actors ("regime shelling ... killed 22 fighters belonging to Jaysh al-Izza",
"clashes between Syrian troops and Kurdish security forces"). The perpetrator is the actor in agent position:
"<actor> shelling", "<actor> jets", "by <actor>", or the subject before the trigger; actors in victim position
("fighters belonging to X", "members of X", "positions of X", "against X") are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dmzwatch.records import Side

# Most specific first: "Russian-backed Syrian forces" is government, "Turkish-backed rebels" are rebels.
_ACTORS: list[tuple[Side, str]] = [
    (
        "hts",
        r"Hay(?:'|’)?(?:a|e)?(?:a)?t Tahrir al-?\s?Sh(?:a|aa)m|\bHTS\b|Nusra Front|Jabhat al-Nusra|"
        r"Jabhat Fateh al-Sham",
    ),
    ("isis", r"\bIslamic State\b|\bISIS\b|\bISIL\b|\bIS\b(?! not)|\bDaesh\b|\bDaish\b"),
    (
        "sdf",
        r"\bSDF\b|Syrian Democratic Forces|Kurdish(?:-led)? (?:forces|fighters|militia|security forces)|"
        r"\bYPG\b|\bAsayesh\b|\bAsayish\b",
    ),
    (
        "coalition",
        r"\bthe coalition\b|US-led coalition|U\.S\.-led coalition|"
        r"(?:US|U\.S\.|American) (?:coalition|forces|jets|strikes|warplanes|aircraft)|international coalition|"
        r"coalition (?:jets|warplanes|aircraft|air ?strikes)",
    ),
    (
        "turkey",
        r"Turkish (?:army|military|forces|troops|jets|warplanes|drones?|artillery|soldiers)|"
        r"Turkey(?:'s|’s)? (?:army|military)",
    ),
    (
        "rebels",
        r"Turkish-backed rebels|"
        r"\brebels?\b(?!-held|-controlled|-run| control| territor| stronghold| areas| side)|"
        r"\bopposition (?:fighters|factions|groups?|forces)(?! in\b)|"
        r"National (?:Front|Liberation Front) for Liberation|National Liberation Front|National Front|"
        r"\bNLF\b|\bNFL\b|Jaysh al-?\s?Izza|Jaish al-?\s?Izza|Free Syrian Army|\bFSA\b|Ahrar al-Sham|"
        r"insurgents?|militants?|jihadists?|armed (?:groups|factions)|Syrian National Army|"
        # Syrian state media's word for every armed opposition group
        r"(?:armed )?terrorist (?:groups|organi[sz]ations|militants|factions)|\bterrorists\b",
    ),
    (
        "russia",
        r"\bRussian (?:forces|jets|warplanes|aircraft|air ?force|strikes|air ?strikes|planes|raids|"
        r"helicopters|military|army|troops|drones?|bombers|artillery)|\bRussia\b(?= (?:struck|bombed|hit|"
        r"targeted|launched|carried out))|\bRussian\b(?= [\w-]+ (?:strikes|raids|jets))|"
        r"\bRussian(?= strikes| raids| jets| warplanes| air)|"
        # "Russian and Syrian forces": a joint attribution; Russia is named first and flies the air war
        r"\bRussian(?:,| and) Syrian (?:forces|jets|warplanes|aircraft|attacks|strikes|raids)",
    ),
    (
        "government",
        r"Syrian (?:army|regime|government|troops|forces|military|soldiers|warplanes|jets|aircraft|"
        r"helicopters|artillery|state media|air ?force)|government (?:forces|troops|shelling|artillery|"
        r"warplanes|jets|helicopters|aircraft)|pro-government (?:forces|militias?)|\bregime\b|"
        r"Assad(?:'s|’s)? (?:forces|regime|army|troops)|Assad regime|\bthe army\b|\b[Aa]rmy units\b|"
        r"army (?:helicopters|artillery|shelling)|Tiger Forces|state news agency SANA|\bSANA\b|loyalist|"
        # "the shells came from government positions": where the fire came from names the side
        r"(?<=from )government (?:positions|posts|areas)",
    ),
]

_ACTOR_RE: list[tuple[Side, re.Pattern[str]]] = [(s, re.compile(p, re.IGNORECASE)) for s, p in _ACTORS]

# Case-sensitive guards: "IS" and "US" must be upper-case to be actors.
_CASE_SENSITIVE = {"isis"}

# Words just before an actor that put it in victim/target position.
_VICTIM_BEFORE = re.compile(
    r"\b(?:belonging to|members of|member of|positions? of|against|on|targeting|targeted|fighters of|"
    r"held by|controlled by|areas of|posts? of|bases? of|at|blamed|blaming|accused|accusing|between .{0,40} and)"
    # "members of the Kurdish-led SDF", "positions of the Turkish-backed NLF": one hyphenated qualifier may sit
    # between the victim word and the actor
    r"\s+(?:the\s+)?(?:[\w]+-(?:led|backed|held|run|allied)\s+)?$|"
    # the victims of the attack: "killing a former rebel commander", "wounding two Turkish soldiers"
    r"\b(?:killing|wounding|injuring)\s+(?:(?:at least|a|an|the|his|her|their|\d+|one|two|three|four|five|six|"
    r"seven|eight|nine|ten|former|senior|local|prominent|top|several|other)\s+){0,3}$",
    re.IGNORECASE,
)
# "by <actor>", "<actor> shelling" are agent positions.
# ("held by <actor>", "controlled by <actor>" say whose ground it is: victim position, see _VICTIM_BEFORE)
_AGENT_BEFORE = re.compile(
    r"(?:(?<!held )(?<!controlled )(?<!besieged )(?<!run )by|from)\s+(?:the\s+)?$", re.IGNORECASE
)

# "<actor> said ..." reports; "<actor> said it targeted ..." still claims the attack (state media's convention).
_SPEAKER_AFTER = re.compile(
    r"\s+(?:has |had )?(?:said|says|reported|announced|stated|claimed)\b(?!\s+(?:it|its|they)\b)"
)

# Speech: "Syrian state media said it targeted" makes state media's side the perpetrator (the brief's rule),
# but "X said" alone only reports. Kept simple: a state-media mention counts as a government actor.


@dataclass(frozen=True, slots=True)
class Actor:
    side: Side
    text: str
    start: int
    end: int


def find_actors(text: str) -> list[Actor]:
    found: list[Actor] = []
    taken: list[tuple[int, int]] = []
    for side, rx in _ACTOR_RE:
        for m in rx.finditer(text):
            if side in _CASE_SENSITIVE and m.group(0).lower() in ("is",) and m.group(0) != "IS":
                continue
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append(Actor(side, m.group(0), m.start(), m.end()))
    found.sort(key=lambda a: a.start)
    return found


def pick_perpetrator(text: str, trigger_start: int | None) -> Actor | None:
    """The actor most likely to have carried out the attack whose trigger starts at ``trigger_start``.

    Preference: "by <actor>" anywhere; an actor right before the trigger ("regime shelling", "Russian jets");
    the nearest actor before the trigger not in victim position; else the first non-victim actor after it.
    """
    actors = find_actors(text)
    if not actors:
        return None
    candidates: list[tuple[float, Actor]] = []
    for a in actors:
        before = text[max(0, a.start - 40) : a.start]
        if _SPEAKER_AFTER.match(text, a.end) and not _AGENT_BEFORE.search(before):
            # "after the SDF said it had pushed ...": a source of the story, not the attacker
            candidates.append((100.0, a))
            continue
        if _AGENT_BEFORE.search(before):
            candidates.append((0.0, a))
            continue
        if _VICTIM_BEFORE.search(before):
            # "areas of the regime" etc.: not the attacker, unless nothing else is there
            candidates.append((100.0, a))
            continue
        if trigger_start is None:
            candidates.append((10.0 + a.start / 1000, a))
        elif a.start <= trigger_start:
            candidates.append((1.0 + (trigger_start - a.end) / 100, a))
        else:
            candidates.append((5.0 + (a.start - trigger_start) / 100, a))
    candidates.sort(key=lambda c: c[0])
    score, best = candidates[0]
    if score >= 100.0:
        return None
    return best
