"""The cheap pre-filter run before spaCy (DESIGN §5): some Syrian place or region AND some violence trigger.

No spaCy here: a regex for triggers and a set lookup of capitalised word n-grams against the gazetteer's surface
forms. About a millisecond for a long article; the point is to keep the model away from sports and markets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dmzwatch.nlp.toponyms import GOVERNORATES

_VIOLENCE = re.compile(
    r"\b(?:air ?strikes?|air[- ]raids?|raids?|barrel[- ]bombs?|bomb(?:s|ing|ed|ardment)?|helicopters?|"
    r"warplanes?|jets?|drones?|shell(?:s|ing|ed)?|rockets?|mortars?|artillery|missiles?|clash(?:es|ed)?|"
    r"fighting|offensive|IEDs?|land ?mines?|car bombs?|explosions?|blasts?|killed|killing|wounded|injured|"
    r"dead|died|casualties|attacks?|attacked|struck|targeted|massacre|executed|gunmen|ambush(?:ed)?)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z][\w’'-]*")
_MAX_NGRAM = 4  # the longest surface forms that matter ("Jisr al Shughur", "Khan Shaykhun") fit


class RelevanceFilter:
    def __init__(self, surface_forms: Iterable[str]) -> None:
        names = {f.lower() for f in surface_forms if len(f) >= 3}
        names.update(g.lower() for g in GOVERNORATES)
        names.update(("syria", "idlib", "hama", "aleppo", "latakia"))
        self._names = frozenset(names)

    def is_relevant(self, text: str) -> bool:
        if not _VIOLENCE.search(text):
            return False
        words = [(m.group(0), m.group(0).lower()) for m in _WORD.finditer(text)]
        n = len(words)
        for i, (raw, _low) in enumerate(words):
            if not raw[:1].isupper():
                continue
            gram = ""
            for k in range(i, min(n, i + _MAX_NGRAM)):
                gram = words[k][1] if k == i else f"{gram} {words[k][1]}"
                if gram in self._names:
                    return True
        return False
