"""The cheap pre-filter run before spaCy (DESIGN §5): some Syrian place or region AND some violence trigger.

No spaCy here: a regex for triggers and a set lookup of capitalised word n-grams against the gazetteer's surface
forms. About a millisecond for a long article; the point is to keep the model away from sports and markets.
"""

from __future__ import annotations

import re
from collections import deque
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
        # A sliding window of the last few words: every n-gram ending at the current word that starts with a
        # capitalised word is looked up. Lazy, so a long text with an early match costs almost nothing.
        window: deque[tuple[bool, str]] = deque(maxlen=_MAX_NGRAM)
        names = self._names
        for m in _WORD.finditer(text):
            word = m.group(0)
            window.append((word[:1].isupper(), word.lower()))
            gram = ""
            for capital, low in reversed(window):
                gram = low if not gram else f"{low} {gram}"
                if capital and gram in names:
                    return True
        return False
