"""The cheap pre-filter run before spaCy (DESIGN §5): some Syrian place or region AND some violence trigger.

No spaCy here: a regex for triggers and a set lookup of capitalised word n-grams against the gazetteer's surface
forms. About a millisecond for a long article; the point is to keep the model away from sports and markets.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from functools import lru_cache

from dmzwatch.nlp.lexicon import get_lexicon
from dmzwatch.nlp.toponyms import GOVERNORATES

_WORD = re.compile(r"[A-Za-z][\w’'-]*")
_MAX_NGRAM = 4  # the longest surface forms that matter ("Jisr al Shughur", "Khan Shaykhun") fit


class RelevanceFilter:
    """Is there a Syrian place (or region) and a violence word in the text?

    ``normalize`` (``dmzwatch.geo.normalize_toponym``) makes spellings that differ from every listed form still
    count when their normalised key is a listed one's: news writes "Kansafra" for Kansafrah and "Kafr Nabouda"
    for Kafr Nabudah, and an article naming only such a village must not be dropped before extraction.
    Normalisation runs per distinct word (cached), so the filter stays at about a millisecond an article.
    """

    def __init__(self, surface_forms: Iterable[str], normalize: Callable[[str], str] | None = None) -> None:
        names = {f.lower() for f in surface_forms if len(f) >= 3}
        names.update(g.lower() for g in GOVERNORATES)
        names.update(("syria", "idlib", "hama", "aleppo", "latakia"))
        self._names = frozenset(names)
        self._word_key: Callable[[str], str] | None = None
        self._keys: frozenset[str] = frozenset()
        if normalize is not None:
            self._word_key = lru_cache(maxsize=65536)(normalize)
            self._keys = frozenset(k for k in (normalize(n) for n in names) if len(k) >= 3)

    def is_relevant(self, text: str) -> bool:
        # the lexicon's triggers and casualty words, the very ones extraction uses ("A booby-trapped motorcycle
        # exploded in Sarmin" is an event, so its article is relevant)
        if not get_lexicon().violence.search(text):
            return False
        # A sliding window of the last few words: every n-gram ending at the current word that starts with a
        # capitalised word is looked up. Lazy, so a long text with an early match costs almost nothing.
        window: deque[tuple[bool, str, str]] = deque(maxlen=_MAX_NGRAM)
        names, keys, word_key = self._names, self._keys, self._word_key
        for m in _WORD.finditer(text):
            word = m.group(0)
            low = word.lower()
            window.append((word[:1].isupper(), low, word_key(low) if word_key is not None else ""))
            gram = ""
            gram_key = ""
            for capital, low_word, key in reversed(window):
                gram = low_word if not gram else f"{low_word} {gram}"
                if key:  # articles ("al-") normalise to nothing of their own
                    gram_key = key if not gram_key else f"{key} {gram_key}"
                if capital and (gram in names or gram_key in keys):
                    return True
        return False
