"""Feed polling: one conditional GET through the safe client, feedparser on the bytes, entries → FeedEntry.

What the caller (the poll task) gets back, and what it should do:

* ``not_modified`` (304): nothing new; keep the validators (a 304 may carry a fresh ETag, which we return).
* ``gone`` (410): the publisher removed the feed for good; disable it.
* ``permanent_url``: the feed moved with 301/308; store the new URL. Only the leading run of permanent
  redirects counts: ``301 → A, 302 → B`` means "the feed now lives at A (which is temporarily at B)", and
  ``302 → A, 301 → B`` means nothing permanent happened to *our* URL.
* ``retry_after_s`` with ``status`` 429/503: the server asked us to slow down; poll again no sooner than that.
  This is returned rather than raised because it is a scheduling answer, not a failure of the feed.
* ``bozo_reason``: the XML was malformed but feedparser recovered entries; we keep them and say why.

Everything else raises: transient errors (timeouts, 5xx) from the HTTP client, :class:`FeedParseError` for an
empty body, an HTML page where a feed was expected, or a malformed feed with no readable entries.

feedparser is only ever given the bytes, wrapped in a stream: given ``bytes`` it tries ``open()`` on them first
as a file name, and given a ``str`` URL it fetches by itself, bypassing every guard in :mod:`dmzwatch.http`.
"""

from __future__ import annotations

import calendar
import io
import logging
import re
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from dmzwatch.errors import FeedParseError, RateLimitedError
from dmzwatch.http import HttpResponse, SafeHttpClient
from dmzwatch.records import FeedEntry, FeedPollResult

log = logging.getLogger(__name__)

ACCEPT_FEED = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
# content:encoded counts as the article's full text only above this many characters of text (and when longer
# than the summary): many feeds repeat a two-line teaser in content:encoded, which is no reason to skip the fetch.
FULL_TEXT_MIN_CHARS = 500
_PERMANENT_REDIRECTS = frozenset({301, 308})
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html)\b", re.IGNORECASE | re.DOTALL)


def poll_feed(client: SafeHttpClient, url: str, *, etag: str | None, last_modified: str | None) -> FeedPollResult:
    """Conditional GET of ``url`` and the parsed entries (see the module docstring for the outcomes)."""
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        response = client.get(url, accept=ACCEPT_FEED, headers=headers)
    except RateLimitedError as exc:
        return FeedPollResult(
            status=exc.status or 429,
            not_modified=False,
            entries=(),
            etag=etag,
            last_modified=last_modified,
            retry_after_s=exc.retry_after_s,
        )
    permanent_url = _permanent_location(response)
    if response.status == 304:
        return FeedPollResult(
            status=304,
            not_modified=True,
            entries=(),
            etag=response.header("etag") or etag,
            last_modified=response.header("last-modified") or last_modified,
            permanent_url=permanent_url,
        )
    if response.status == 410:
        return FeedPollResult(
            status=410, not_modified=False, entries=(), etag=None, last_modified=None, gone=True, permanent_url=None
        )
    entries, bozo_reason = parse_feed(response.body, response.url, content_type=response.header("content-type"))
    return FeedPollResult(
        status=response.status,
        not_modified=False,
        entries=entries,
        etag=response.header("etag"),
        last_modified=response.header("last-modified"),
        permanent_url=permanent_url,
        bozo_reason=bozo_reason,
    )


def _permanent_location(response: HttpResponse) -> str | None:
    location = None
    for status, target in response.redirects:
        if status not in _PERMANENT_REDIRECTS:
            break
        location = target
    return location


def parse_feed(body: bytes, url: str, *, content_type: str | None = None) -> tuple[tuple[FeedEntry, ...], str | None]:
    """Entries of a feed document and the bozo reason, if any. ``url`` is the (final) feed URL: relative links
    are resolved against it. Raises FeedParseError when there is no usable feed."""
    if not body.strip():
        raise FeedParseError(f"empty response body from {url}, expected an RSS/Atom feed", url=url)
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    bozo_reason = _bozo_reason(parsed)
    entries = _entries(parsed.get("entries") or [], url)
    if entries:
        return entries, bozo_reason
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in ("text/html", "application/xhtml+xml") or _HTML_START.match(body):
        raise FeedParseError(
            f"{url} returned an HTML page{_html_title(body)}, not an RSS/Atom feed"
            f" (Content-Type {media_type or 'missing'})",
            url=url,
        )
    if not body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        # JSON, plain text, a binary file: say what came, not the XML parser's complaint about byte one.
        start = body.strip()[:40].decode("utf-8", errors="replace")
        raise FeedParseError(
            f"{url} is not an RSS or Atom feed (Content-Type {media_type or 'missing'}, body starts {start!r})",
            url=url,
        )
    if bozo_reason:
        raise FeedParseError(f"malformed feed from {url}, no entries could be read: {bozo_reason}", url=url)
    if not parsed.get("version"):
        raise FeedParseError(f"{url} is not an RSS or Atom feed (no feed element found)", url=url)
    return (), None  # a well-formed feed that is empty right now


def _bozo_reason(parsed: Any) -> str | None:
    if not parsed.get("bozo"):
        return None
    exc = parsed.get("bozo_exception")
    if exc is None:
        return "malformed feed"
    return f"{type(exc).__name__}: {exc}"


def _entries(raw_entries: list[Any], feed_url: str) -> tuple[FeedEntry, ...]:
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    for raw in raw_entries:
        entry = _entry(raw, feed_url)
        if entry is None or entry.guid in seen:
            continue  # no fetchable link, or the same item twice in one document: keep the first
        seen.add(entry.guid)
        entries.append(entry)
    return tuple(entries)


def _entry(raw: Any, feed_url: str) -> FeedEntry | None:
    link = _link(raw)
    if not link:
        return None
    url = urljoin(feed_url, link.strip())
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        # javascript:, file:, ftp:, mailto:, data: ... nothing the fetcher may follow. Said, so a feed whose
        # items all vanish this way is not a mystery.
        log.warning("feed %s: entry %r skipped: its link is a %s: URL, not http(s)", feed_url, url[:120], scheme)
        return None
    guid = str(raw.get("id") or "").strip() or url
    summary = html_to_text(raw.get("summary") or raw.get("description") or "")
    return FeedEntry(
        guid=guid,
        url=url,
        title=html_to_text(raw.get("title") or ""),
        summary=summary,
        published_at=_when(raw.get("published_parsed")) or _when(raw.get("updated_parsed")),
        content_html=_full_text(raw, summary),
    )


def _link(raw: Any) -> str | None:
    link = raw.get("link")
    if isinstance(link, str) and link.strip():
        return link
    for candidate in raw.get("links") or []:  # Atom entries whose only link is not rel=alternate
        href = candidate.get("href")
        if href and candidate.get("rel", "alternate") == "alternate":
            return str(href)
    return None


def _when(value: Any) -> datetime | None:
    """feedparser's parsed dates are UTC ``time.struct_time``s."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _full_text(raw: Any, summary: str) -> str | None:
    best: str | None = None
    best_len = 0
    for content in raw.get("content") or []:
        value = content.get("value") or ""
        kind = (content.get("type") or "text/html").lower()
        if kind not in ("text/html", "application/xhtml+xml", "html", "xhtml", "text/plain"):
            continue
        length = len(html_to_text(value))
        if length > best_len:
            best, best_len = value, length
    if best is not None and best_len > FULL_TEXT_MIN_CHARS and best_len > len(summary):
        return best
    return None


# --- HTML fragments → plain text ---------------------------------------------------------------------------
class _TextCollector(HTMLParser):
    _BLOCK = frozenset({"p", "br", "div", "li", "ul", "ol", "tr", "td", "th", "blockquote", "section", "article",
                        "h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "hr", "dd", "dt"})  # fmt: skip
    _SKIP = frozenset({"script", "style", "noscript", "template", "iframe", "object"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities decoded, whitespace collapsed."""
    if "<" not in fragment and "&" not in fragment:
        return " ".join(fragment.split())
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    return " ".join("".join(collector.parts).split())


def _html_title(body: bytes) -> str:
    match = re.search(rb"<title[^>]*>(.*?)</title>", body[:20_000], re.IGNORECASE | re.DOTALL)
    if not match:
        return ""
    title = html_to_text(match.group(1).decode("utf-8", errors="replace"))[:80]
    return f" ({title!r})" if title else ""
