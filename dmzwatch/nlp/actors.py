"""Perpetrators: actor mentions mapped to a ``Side`` (DESIGN §5), and which of them did the attack.

A sentence often names several actors ("regime shelling ... killed 22 fighters belonging to Jaysh al-Izza",
"clashes between Syrian troops and Kurdish security forces"). The perpetrator is the actor in agent position:
"<actor> shelling", "<actor> jets", "by <actor>", or the subject before the trigger; actors in victim position
("fighters belonging to X", "members of X", "positions of X", "against X") are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import cast

from dmzwatch.nlp.lexicon import Lexicon, get_lexicon
from dmzwatch.records import Side

# The actor patterns are the lexicon's (config/lexicon/<language>.yaml, "actors"), most specific first:
# "Russian-backed Syrian forces" is government, "Turkish-backed rebels" are rebels.

# Case-sensitive guards: "IS" and "US" must be upper-case to be actors.
_CASE_SENSITIVE = {"isis"}

# Positions (the lexicon's actor_victim_before, actor_agent_before, actor_speaker_after): words just before an
# actor that put it in victim or target position ("members of X", "killing two X soldiers"); "by <actor>" and
# "<actor> shelling" as agent; "<actor> said ..." as a source of the story ("held by <actor>", "controlled by
# <actor>" say whose ground it is: victim position).

# Speech: "Syrian state media said it targeted" makes state media's side the perpetrator (the brief's rule),
# but "X said" alone only reports. Kept simple: a state-media mention counts as a government actor.


@dataclass(frozen=True, slots=True)
class Actor:
    side: Side
    text: str
    start: int
    end: int


def find_actors(text: str) -> list[Actor]:
    """Every actor mention in ``text``, left to right, most specific pattern first where two overlap."""
    return list(_find_actors(get_lexicon(), text))


@lru_cache(maxsize=512)
def _find_actors(lex: Lexicon, text: str) -> tuple[Actor, ...]:
    # cached: one sentence is asked about once per place it names and once per follow-up (8 patterns each)
    found: list[Actor] = []
    taken: list[tuple[int, int]] = []
    for rule in lex.actors:
        side = cast(Side, rule.side)
        for m in rule.pattern.finditer(text):
            if side in _CASE_SENSITIVE and m.group(0).lower() in ("is",) and m.group(0) != "IS":
                continue
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append(Actor(side, m.group(0), m.start(), m.end()))
    found.sort(key=lambda a: a.start)
    return tuple(found)


def pick_perpetrator(text: str, trigger_start: int | None) -> Actor | None:
    """The actor most likely to have carried out the attack whose trigger starts at ``trigger_start``.

    Preference: "by <actor>" anywhere; an actor right before the trigger ("regime shelling", "Russian jets");
    the nearest actor before the trigger not in victim position; else the first non-victim actor after it.
    """
    actors = find_actors(text)
    if not actors:
        return None
    lex = get_lexicon()
    candidates: list[tuple[float, Actor]] = []
    for a in actors:
        before = text[max(0, a.start - 40) : a.start]
        if lex.actor_speaker_after.match(text, a.end) and not lex.actor_agent_before.search(before):
            # "after the SDF said it had pushed ...": a source of the story, not the attacker
            candidates.append((100.0, a))
            continue
        if lex.actor_agent_before.search(before):
            candidates.append((0.0, a))
            continue
        if lex.actor_victim_before.search(before):
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
