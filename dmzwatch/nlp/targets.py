"""What an attack hit, where the sentence says so: "a hospital", "a Turkish observation post", "a market".

Rule-based like the other passes: a hit verb ("hit", "struck", "targeted", "destroyed", "shelled") or a
preposition of attack ("an air strike on", "barrel bombs on", "a car bomb near") followed by a noun phrase whose
head is a kind of site or object. People are casualties (casualties.py), places are toponyms (toponyms.py): a
target is the kind of thing hit, so "struck the town of Salqin" gives no target, "struck a bakery in Sarmin"
gives "bakery". The phrase is returned as written, trimmed to its head noun.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dmzwatch.nlp.lexicon import get_lexicon

_DETERMINER = re.compile(r"^(?:a|an|the|its|their|one|two|three|several)\s+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Target:
    text: str  # the noun phrase without its determiner: "Turkish observation post", "vegetable market"
    start: int
    end: int


def find_target(sentence: str, near: int | None = None) -> Target | None:
    """The target stated in the sentence, the one nearest ``near`` (a trigger offset) when there are several."""
    found = [
        Target(_DETERMINER.sub("", m.group("np")), m.start("np"), m.end("np"))
        for rx in get_lexicon().target_patterns
        for m in rx.finditer(sentence)
    ]
    if not found:
        return None
    if near is None:
        return found[0]
    return min(found, key=lambda t: abs(t.start - near))


__all__ = ["Target", "find_target"]
