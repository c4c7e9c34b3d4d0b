"""The cheapest possible look at a fetched page, before trafilatura (4-9 ms a page) runs.

If the whole raw page (navigation, links and comments included) names no Syrian place next to no violence
word, its main text cannot either: the page is irrelevant and cleaning it would be wasted. Tags, scripts and
styles are stripped with one regular expression; entities are unescaped so "Ma&#39;arat" still matches.
"""

from __future__ import annotations

import html
import re

_NOT_TEXT = re.compile(r"<(script|style|noscript|svg)\b.*?</\1\s*>|<!--.*?-->|<[^>]+>", re.S | re.I)
_SPACE = re.compile(r"\s+")


def page_text(page_html: str) -> str:
    """All visible-ish text of a page, in one line: a superset of what extraction could keep."""
    return _SPACE.sub(" ", html.unescape(_NOT_TEXT.sub(" ", page_html)))
