"""Event triggers: the words that say an attack happened, mapped to ACLED sub-event types (DESIGN §5).

Plain regular expressions compiled from the lexicon (``config/lexicon/<language>.yaml``, see ``lexicon.py``):
they run on every sentence of every candidate article before spaCy, so they must be cheap, and the vocabulary of
conflict reporting is small and stable enough that a hand list beats a model here.

Two kinds of trigger:

* *typed* triggers name the weapon or the form of violence ("barrel bomb", "shelling", "clashes", "IED") and fix
  the sub-event type;
* *generic* triggers ("attack", "bombardment", "targeted", "struck") say that something happened without saying
  what; the type then comes from a typed trigger in the same sentence or from context (see ``extract.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from dmzwatch.nlp.lexicon import get_lexicon
from dmzwatch.records import SubEventType


# Casualty verbs are not triggers of a type, but they make a sentence worth reading when a place is in it.
def casualty_word(text: str) -> bool:
    return bool(get_lexicon().casualty_word.search(text))


@dataclass(frozen=True, slots=True)
class Trigger:
    start: int  # offsets into the string searched
    end: int
    text: str
    sub_event_type: SubEventType | None  # None: generic trigger, type from elsewhere


def find_triggers(text: str) -> list[Trigger]:
    """Every typed and generic trigger in ``text``, sorted by position, overlaps resolved in favour of typed."""
    lex = get_lexicon()
    found: list[Trigger] = []
    for rule in lex.event_types:
        for m in rule.triggers.finditer(text):
            # "a deal that averted a major offensive", "to halt the air attacks": the violence did not happen
            if lex.negated_before.search(text[max(0, m.start() - 60) : m.start()]):
                continue
            found.append(Trigger(m.start(), m.end(), m.group(0), SubEventType(rule.label)))
    typed_spans = [(t.start, t.end) for t in found]
    for m in lex.generic_trigger.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in typed_spans):
            continue
        found.append(Trigger(m.start(), m.end(), m.group(0), None))
    found.sort(key=lambda t: (t.start, -t.end))
    return found


def has_trigger(text: str) -> bool:
    lex = get_lexicon()
    return any(rule.triggers.search(text) for rule in lex.event_types) or bool(lex.generic_trigger.search(text))


def pick_type(triggers: list[Trigger]) -> SubEventType | None:
    """The sub-event type a sentence's triggers support, or None when only generic triggers are present.

    Air vs shelling ties: "helicopters, artillery and rocket fire" in an offensive is a clash; a raid that also
    mentions a rocket is decided by the first typed trigger (reporters lead with the main weapon). Between other
    types the lexicon's priority decides (a mine or IED is the event whatever else the sentence mentions).
    """
    typed = [t for t in triggers if t.sub_event_type is not None]
    if not typed:
        return None
    lex = get_lexicon()
    kinds = {t.sub_event_type for t in typed}
    # A ground offensive supported by aircraft and artillery is a battle (ACLED codes it as an armed clash).
    if (
        SubEventType.ARMED_CLASH in kinds
        and any(lex.ground_battle.match(t.text) for t in typed if t.sub_event_type is SubEventType.ARMED_CLASH)
        and _first(typed).sub_event_type is SubEventType.ARMED_CLASH
    ):
        return SubEventType.ARMED_CLASH
    best = max(priority(t.sub_event_type) for t in typed if t.sub_event_type is not None)
    for t in typed:
        if t.sub_event_type is not None and priority(t.sub_event_type) == best:
            return t.sub_event_type
    return None  # pragma: no cover - unreachable


def priority(sub: SubEventType) -> int:
    """The lexicon's priority for a type (0 for a label the lexicon does not define, e.g. Other)."""
    rule = get_lexicon().event_type(sub.value)
    return rule.priority if rule is not None else 0


def _first(triggers: list[Trigger]) -> Trigger:
    return min(triggers, key=lambda t: t.start)
