"""Article pages → clean text and metadata (trafilatura), plus the HTML fetch and charset detection around it.

``fetch_page`` gets a page through the one HTTP client and refuses anything that is not HTML; ``decode_html`` picks
the charset (BOM, HTTP header, ``<meta>``, then UTF-8 or windows-1252); ``extract_article`` keeps the article body
and drops navigation, related links, promos, comments and footers (trafilatura with ``favor_precision``).

Metadata comes from the page's own structured data before trafilatura's guesses: ``article:published_time``,
JSON-LD ``datePublished`` and ``<time datetime>`` give a full timestamp (DESIGN §4 resolves "last night" against
it), whereas trafilatura's date is a day at best and, with its default extensive search, often a made-up first of
the month. Language: the page's declared ``lang``, else a cheap stopword vote.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.etree
import lxml.html
import trafilatura

from dmzwatch.errors import BadContentTypeError, ExtractionError, HTTPStatusError
from dmzwatch.http import SafeHttpClient, charset_from_content_type
from dmzwatch.records import CleanArticle, FetchedPage

ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

# Below this the "article" is a stub, an error page or a paywall teaser: nothing worth extracting events from.
# A one-paragraph news flash is ~200-300 characters, so these stay under it.
MIN_TEXT_CHARS = 150
MIN_TEXT_WORDS = 25
# Share of letters among non-space characters: article prose is ~0.95, minified JS or base64 junk far lower.
MIN_LETTER_RATIO = 0.6

# The WHATWG Encoding Standard maps these labels to windows-1252, and so do browsers: pages declaring
# ISO-8859-1 routinely contain curly quotes in 0x80-0x9F.
_WHATWG_ALIASES = {"iso-8859-1": "windows-1252", "latin1": "windows-1252", "latin-1": "windows-1252",
                   "us-ascii": "windows-1252", "ascii": "windows-1252", "iso8859-1": "windows-1252"}  # fmt: skip
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:\-]+)""", re.IGNORECASE)
_HTML_SNIFF = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.IGNORECASE | re.DOTALL)


# --- charset -----------------------------------------------------------------------------------------------
def _codec(label: str | bytes | None) -> str | None:
    """The Python codec name for a charset label, or None when Python does not know it."""
    if not label:
        return None
    name = (label.decode("ascii", "ignore") if isinstance(label, bytes) else label).strip().strip("'\"").lower()
    name = _WHATWG_ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def detect_charset(body: bytes, content_type: str) -> str:
    """Charset of an HTML body: BOM, then the HTTP header, then ``<meta charset>``/http-equiv in the first 4 KiB,
    then UTF-8 if the bytes are valid UTF-8, else windows-1252 (the web's legacy default, which decodes every
    byte, so undeclared legacy pages keep their accents and quotes instead of turning into U+FFFD)."""
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for candidate in (charset_from_content_type(content_type), *_META_CHARSET.findall(body[:4096])):
        name = _codec(candidate)
        if name is None:
            continue
        if name.startswith("utf-16") or name.startswith("utf-32"):
            return "utf-8"  # a <meta> claiming UTF-16 in an ASCII-readable document is wrong by definition
        return name
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def decode_html(body: bytes, content_type: str) -> str:
    """Decode an HTML body with :func:`detect_charset`; undecodable bytes become U+FFFD, never an exception."""
    return body.decode(detect_charset(body, content_type), errors="replace")


# --- fetching ----------------------------------------------------------------------------------------------
def fetch_page(client: SafeHttpClient, url: str) -> FetchedPage:
    """GET an article page; raises BadContentTypeError unless it is HTML/XHTML (or unlabelled but looks like HTML)."""
    response = client.get(url, accept=ACCEPT_HTML)
    if response.status in (304, 410):  # the client returns these for the feed poller; for a page they are errors
        reason = "gone (410)" if response.status == 410 else "304 Not Modified to an unconditional GET"
        raise HTTPStatusError(f"{response.url} answered {reason}", url=response.url, status=response.status)
    content_type = response.content_type
    if content_type not in HTML_TYPES and not (content_type in ("", "text/plain") and _HTML_SNIFF.match(response.body)):
        raise BadContentTypeError(
            f"expected an HTML page from {response.url}, got {content_type or 'no Content-Type'}"
            f" ({len(response.body)} bytes)",
            url=response.url,
            status=response.status,
        )
    encoding = detect_charset(response.body, response.header("content-type") or "")
    return FetchedPage(
        url=response.url,
        status=response.status,
        content_type=content_type or "text/html",
        body=response.body,
        text=response.body.decode(encoding, errors="replace"),
        encoding=encoding,
    )


# --- extraction --------------------------------------------------------------------------------------------
def extract_article(html: str, url: str) -> CleanArticle:
    """Main text and metadata of an article page. Raises ExtractionError when there is no article to speak of."""
    if not html or not html.strip():
        raise ExtractionError(f"empty page from {url}", url=url)
    tree = _parse(html)
    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            favor_precision=True,  # drops in-body promos ("Read more: ...") and link lists
            include_tables=False,  # news sites use tables for link grids, not for data
            include_links=False,
            include_images=False,
            include_formatting=False,
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except (ValueError, TypeError, AttributeError, lxml.etree.LxmlError) as exc:
        raise ExtractionError(f"trafilatura failed on {url}: {type(exc).__name__}: {exc}", url=url) from exc
    raw_text = (getattr(doc, "text", None) or "") if doc is not None else ""
    title = _clean_line(getattr(doc, "title", None)) or _meta_title(tree)
    text = _paragraphs(raw_text, title)
    _check_text(text, url)
    return CleanArticle(
        text=text,
        title=title,
        published_at=_published_at(tree) or _day_to_datetime(getattr(doc, "date", None)),
        language=_declared_language(tree) or _lang(getattr(doc, "language", None)) or detect_language(text),
        site_name=_meta(tree, "og:site_name") or _clean_line(getattr(doc, "sitename", None)),
        canonical_url=_canonical(tree, url),
    )


def _parse(html: str) -> lxml.html.HtmlElement | None:
    try:
        # lxml refuses str input that carries an XML encoding declaration; the declaration is moot once decoded.
        return lxml.html.document_fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", html, count=1))
    except (lxml.etree.ParserError, ValueError):
        return None


def _paragraphs(raw: str, title: str | None) -> str:
    lines = [re.sub(r"\s+", " ", line).strip() for line in raw.splitlines()]
    lines = [line for line in lines if line]
    if lines and title and lines[0].casefold() == title.casefold():
        lines = lines[1:]  # some layouts put the headline inside the article body: it is not body text
    return "\n\n".join(lines)


def _check_text(text: str, url: str) -> None:
    words = text.split()
    if len(text) < MIN_TEXT_CHARS or len(words) < MIN_TEXT_WORDS:
        raise ExtractionError(
            f"no article text on {url}: {len(text)} characters / {len(words)} words after removing boilerplate"
            f" (need {MIN_TEXT_CHARS} / {MIN_TEXT_WORDS})",
            url=url,
        )
    visible = [c for c in text if not c.isspace()]
    letters = sum(c.isalpha() for c in visible)
    if letters / len(visible) < MIN_LETTER_RATIO:
        raise ExtractionError(
            f"extracted text from {url} looks like garbage: only {letters / len(visible):.0%} letters", url=url
        )


def _clean_line(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = re.sub(r"\s+", " ", value).strip()
    return value or None


# --- metadata from the page itself -------------------------------------------------------------------------
def _meta(tree: lxml.html.HtmlElement | None, *keys: str) -> str | None:
    """First non-empty ``<meta property|name|itemprop=key content>`` for any of ``keys`` (case-insensitive)."""
    if tree is None:
        return None
    wanted = [key.lower() for key in keys]
    found: dict[str, str] = {}
    for element in tree.iter("meta"):
        content = _clean_line(element.get("content"))
        if not content:
            continue
        for attr in ("property", "name", "itemprop"):
            key = (element.get(attr) or "").strip().lower()
            if key in wanted and key not in found:
                found[key] = content
    return next((found[key] for key in wanted if key in found), None)


def _meta_title(tree: lxml.html.HtmlElement | None) -> str | None:
    if tree is None:
        return None
    title = _meta(tree, "og:title", "twitter:title")
    if title:
        return title
    element = tree.find(".//title")
    return _clean_line(element.text_content()) if element is not None else None


_PUBLISHED_META = ("article:published_time", "og:article:published_time", "datepublished", "pubdate",
                   "publishdate", "publish-date", "parsely-pub-date", "sailthru.date", "dc.date.issued",
                   "dcterms.issued", "dc.date", "dcterms.created", "date")  # fmt: skip


def _published_at(tree: lxml.html.HtmlElement | None) -> datetime | None:
    """Publication time from meta tags, JSON-LD or ``<time datetime>``, as aware UTC. Naive values are taken
    as UTC (a few hours' error at most; the alternative is guessing the outlet's time zone)."""
    if tree is None:
        return None
    candidates: list[str] = []
    meta = _meta(tree, *_PUBLISHED_META)
    if meta:
        candidates.append(meta)
    candidates.extend(_jsonld_dates(tree))
    for element in tree.iter("time"):
        value = element.get("datetime")
        if value:
            candidates.append(value)
    for value in candidates:
        parsed = _parse_datetime(value)
        if parsed is not None:
            return parsed
    return None


def _jsonld_dates(tree: lxml.html.HtmlElement) -> Iterator[str]:
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except ValueError:
            continue
        yield from _walk_jsonld(data, depth=0)


def _walk_jsonld(node: Any, depth: int) -> Iterator[str]:
    if depth > 5:
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk_jsonld(item, depth + 1)
    elif isinstance(node, dict):
        value = node.get("datePublished")
        if isinstance(value, str):
            yield value
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if key in node:
                yield from _walk_jsonld(node[key], depth + 1)


def _parse_datetime(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1) if len(value) > 10 else value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not 1990 <= parsed.year <= 2100:
        return None
    return parsed.astimezone(UTC)


def _day_to_datetime(value: object) -> datetime | None:
    """trafilatura's day-only date, as midnight UTC (03:00 in Damascus: still the same local day)."""
    if not isinstance(value, str):
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _canonical(tree: lxml.html.HtmlElement | None, url: str) -> str | None:
    """``<link rel=canonical>``, else ``og:url``, made absolute against the page URL, without fragment."""
    if tree is None:
        return None
    hrefs: list[str] = []
    for link in tree.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        if "canonical" in rels and link.get("href"):
            hrefs.append(link.get("href", ""))
    og = _meta(tree, "og:url")
    if og:
        hrefs.append(og)
    for href in hrefs:
        absolute = urljoin(url, href.strip())
        parts = urlsplit(absolute)
        if parts.scheme in ("http", "https") and parts.netloc:
            return urlunsplit(parts._replace(fragment=""))
    return None


# --- language ----------------------------------------------------------------------------------------------
def _lang(value: object) -> str | None:
    """ISO 639-1 from a language tag ("en-GB", "en_US", "EN") or None."""
    if not isinstance(value, str):
        return None
    primary = re.split(r"[-_]", value.strip(), maxsplit=1)[0].lower()
    return primary if re.fullmatch(r"[a-z]{2}", primary) else None


def _declared_language(tree: lxml.html.HtmlElement | None) -> str | None:
    if tree is None:
        return None
    return (
        _lang(tree.get("lang"))
        or _lang(tree.get("{http://www.w3.org/XML/1998/namespace}lang"))
        or _lang(_meta(tree, "og:locale", "content-language", "dc.language", "language"))
    )


# The commonest function words: in running prose they make up 35-50% of tokens of their language and almost
# none of another's. Enough to tell English from the other languages Syria coverage comes in.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words("the of and to in a is that for on was with as by at from it his are were be has have "
                 "had an this which or but not their they he she its been after said who will would"),
    "fr": _words("le la les de des du et en un une est que qui dans pour par sur au aux pas il elle ont "
                 "sont été avec ce cette son ses"),
    "de": _words("der die das und in den von zu mit sich des auf für ist im dem nicht ein eine als auch "
                 "es an wurde wurden bei sind nach"),
    "es": _words("el la los las de del y en un una que por con para se al es su sus fue han como más "
                 "pero sobre"),
    "tr": _words("ve bir bu da de için ile olarak olan gibi daha çok en ama ise sonra kadar göre"),
    "it": _words("il lo la gli le di del della e in un una che per con non sono è stato da nel alla"),
}  # fmt: skip
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF]")


def detect_language(text: str) -> str | None:
    """Cheap language guess: Arabic script share, else the best stopword ratio (needs >= 15% of tokens)."""
    sample = text[:5000]
    letters = sum(c.isalpha() for c in sample)
    if letters and len(_ARABIC.findall(sample)) / letters > 0.5:
        return "ar"
    words = [w.lower() for w in _WORD.findall(sample)]
    if len(words) < 10:
        return None
    scores = {lang: sum(w in stop for w in words) / len(words) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] >= 0.15 else None
