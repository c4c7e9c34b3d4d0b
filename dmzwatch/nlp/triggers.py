"""Event triggers: the words that say an attack happened, mapped to ACLED sub-event types (DESIGN §5).

Plain regular expressions: they run on every sentence of every candidate article before spaCy, so they must be
cheap, and the vocabulary of conflict reporting is small and stable enough that a hand list beats a model here.

Two kinds of trigger:

* *typed* triggers name the weapon or the form of violence ("barrel bomb", "shelling", "clashes", "IED") and fix
  the sub-event type;
* *generic* triggers ("attack", "bombardment", "targeted", "struck") say that something happened without saying
  what; the type then comes from a typed trigger in the same sentence or from context (see ``extract.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dmzwatch.records import SubEventType

# Order matters only for documentation; every pattern is searched and the most specific wins (see ``pick_type``).
_TYPED: list[tuple[SubEventType, str]] = [
    (
        SubEventType.REMOTE_EXPLOSIVE,
        r"\b(?:IEDs?|improvised explosive devices?|land ?mines?|mines? (?:blast|explo\w+)|car[- ]bomb\w*|"
        r"booby[- ]trap\w*|roadside bombs?|explosive devices?|bomb(?:-laden| laden) (?:car|vehicle|motorcycle)s?|"
        r"vehicle[- ]borne|VBIEDs?|motor(?:cycle|bike) bombs?|"
        # "a bomb attached to a motorbike went off", "a bomb planted in a car exploded": a placed charge
        r"bombs? (?:attached to|planted (?:in|on|under)|hidden in|placed (?:in|on|under)) an? \w+|"
        r"(?:sticky|magnetic|parcel) bombs?)\b",
    ),
    (
        SubEventType.AIR_STRIKE,
        r"\b(?:air ?strikes?|air[- ]raids?|aerial (?:attacks?|bombardment|bombing)|air attacks?|"
        r"barrel[- ]bomb\w*|helicopters?|warplanes?|war ?planes?|jets?|fighter jets?|drones?|UAVs?|"
        r"(?:air|Russian|Syrian|regime) strikes?|strikes? by (?:Russian|Syrian|regime) (?:jets|planes|aircraft)|"
        r"aircraft|raids?|bombing raids?|cluster (?:bombs?|munitions)|vacuum bombs?|air power)\b",
    ),
    (
        SubEventType.SHELLING,
        r"\b(?:shell(?:ing|ed|s)?|rockets?|rocket[- ]fire|mortars?|artillery|missiles?|"
        r"surface-to-surface|grad|howitzers?|projectiles?|bombard(?:ed|ing)? with (?:shells|rockets|artillery))\b",
    ),
    (
        SubEventType.ARMED_CLASH,
        r"\b(?:clash(?:es|ed)?|fighting|fought|gun ?battles?|firefights?|ground (?:offensive|assault|attack)s?|"
        r"offensive|battles?|infiltration attempts?|storm(?:ed|ing)|ambush(?:ed|es)?|exchanges? of fire|"
        r"repel(?:led|s)?|repuls(?:ed|es?)|counter-?attacks?|"
        # an armed group attacking the other side's positions is a battle, not a remote strike (ACLED)
        r"attack(?:s|ed)?\s+by\s+(?:[\w-]+\s+){0,3}?(?:fighters|militants|rebels|insurgents|jihadists|troops)|"
        r"attack(?:s|ed)?\s+(?:on|against)\s+(?:[\w'-]+\s+){0,4}?(?:positions?|posts?|checkpoints?|barracks)|"
        r"attacked\s+(?:[\w'-]+\s+){0,3}?(?:positions?|posts?|checkpoints?|barracks))\b",
    ),
    (
        SubEventType.ATTACK,
        # "jets executed three airstrikes" is a manner of speaking, not an execution
        r"\b(?:executed(?!\s+(?:[\w-]+\s+){0,2}"
        r"(?:air ?strikes?|raids?|strikes?|attacks?|operations?|sorties|bombings?))|"
        r"execution|shot dead|gunned down|assassinat\w+|abduct\w+|kidnapp\w+|tortured|"
        r"massacre[ds]?|stabbed|gunmen|opened fire on (?:civilians|protesters|residents))\b",
    ),
]

_TYPED_RE: list[tuple[SubEventType, re.Pattern[str]]] = [(t, re.compile(p, re.IGNORECASE)) for t, p in _TYPED]

# "Grad" as a lower-case word is rare; IGNORECASE keeps it simple. "jets" alone is an air trigger in this domain.

_GENERIC_RE = re.compile(
    r"\b(?:attacks?|attacked|bombard(?:ment|ed|ing)|bomb(?:ing|ed|s)?|strikes?|struck|targeted|targeting|"
    r"pounded|pounding|hit|explosions?|blasts?|assault)\b",
    re.IGNORECASE,
)

# Casualty verbs: not triggers of a type, but they make a sentence worth reading when a place is in it.
CASUALTY_RE = re.compile(
    r"\b(?:killed|killing|kill|kills|dead|died|die|deaths?|martyr(?:ed|ing|dom)|wounded|wounding|injur(?:ed|ing|ies|y)|"
    r"casualt(?:y|ies)|lives|victims?|toll)\b",
    re.IGNORECASE,
)

# Specificity: when a sentence has several typed triggers, which wins. A helicopter dropping barrel bombs is an
# air strike even if "bombs" also appear; "mortar and rocket attacks" is shelling even if "attacks" appears.
_PRIORITY = {
    SubEventType.REMOTE_EXPLOSIVE: 4,
    SubEventType.AIR_STRIKE: 3,
    SubEventType.SHELLING: 3,
    SubEventType.ARMED_CLASH: 2,
    SubEventType.ATTACK: 1,
    SubEventType.OTHER: 0,
}


@dataclass(frozen=True, slots=True)
class Trigger:
    start: int  # offsets into the string searched
    end: int
    text: str
    sub_event_type: SubEventType | None  # None: generic trigger, type from elsewhere


# "a deal that averted a major offensive", "to halt the air attacks": the violence did not happen.
_NEGATED = re.compile(
    r"\b(?:avert\w*|prevent\w*|halt|stop|end|avoid\w*|without|no|ceasefire on|ban on|to face|"
    r"(?:idea|prospect|threat|possibility|risk|fears?) of)\s+"
    r"(?:(?:a|an|the|any|all|further|more|major|full-scale|fully-fledged|potentially|devastating)\s+){0,3}$",
    re.IGNORECASE,
)


def find_triggers(text: str) -> list[Trigger]:
    """Every typed and generic trigger in ``text``, sorted by position, overlaps resolved in favour of typed."""
    found: list[Trigger] = []
    for sub, rx in _TYPED_RE:
        for m in rx.finditer(text):
            if _NEGATED.search(text[max(0, m.start() - 60) : m.start()]):
                continue
            found.append(Trigger(m.start(), m.end(), m.group(0), sub))
    typed_spans = [(t.start, t.end) for t in found]
    for m in _GENERIC_RE.finditer(text):
        if any(s < m.end() and m.start() < e for s, e in typed_spans):
            continue
        found.append(Trigger(m.start(), m.end(), m.group(0), None))
    found.sort(key=lambda t: (t.start, -t.end))
    return found


def has_trigger(text: str) -> bool:
    return any(rx.search(text) for _, rx in _TYPED_RE) or bool(_GENERIC_RE.search(text))


def pick_type(triggers: list[Trigger]) -> SubEventType | None:
    """The sub-event type a sentence's triggers support, or None when only generic triggers are present.

    Air vs shelling ties: "helicopters, artillery and rocket fire" in an offensive is a clash; a raid that also
    mentions a rocket is decided by the first typed trigger (reporters lead with the main weapon).
    """
    typed = [t for t in triggers if t.sub_event_type is not None]
    if not typed:
        return None
    kinds = {t.sub_event_type for t in typed}
    # A ground offensive supported by aircraft and artillery is a battle (ACLED codes it as an armed clash).
    if (
        SubEventType.ARMED_CLASH in kinds
        and any(
            re.match(r"offensive|clash|fighting|battle|storm|gun", t.text, re.IGNORECASE)
            for t in typed
            if t.sub_event_type is SubEventType.ARMED_CLASH
        )
        and _first(typed).sub_event_type is SubEventType.ARMED_CLASH
    ):
        return SubEventType.ARMED_CLASH
    best = max(_PRIORITY[t.sub_event_type] for t in typed if t.sub_event_type is not None)
    for t in typed:
        if t.sub_event_type is not None and _PRIORITY[t.sub_event_type] == best:
            return t.sub_event_type
    return None  # pragma: no cover - unreachable


def _first(triggers: list[Trigger]) -> Trigger:
    return min(triggers, key=lambda t: t.start)
