"""poll_feed against a loopback server serving the feed fixtures; parse_feed on the fixtures directly."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dmzwatch.errors import FeedParseError, ServerError
from dmzwatch.feeds import html_to_text, parse_feed, poll_feed
from dmzwatch.http import SafeHttpClient

FEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "web" / "feeds"
ETAG = 'W/"rss-2026-11-17"'
LAST_MODIFIED = "Tue, 17 Nov 2026 07:10:00 GMT"

# path -> (status, content type, fixture file or raw body)
_ROUTES: dict[str, tuple[int, str, str | bytes]] = {
    "/atom": (200, "application/atom+xml; charset=utf-8", "atom.xml"),
    "/malformed": (200, "application/rss+xml", "malformed.xml"),
    "/broken": (200, "application/xml", "broken.xml"),
    "/html": (200, "text/html; charset=utf-8", "html_page.html"),
    "/html-unlabelled": (200, "application/octet-stream", "html_page.html"),
    "/empty": (200, "application/rss+xml", b""),
    "/cp1252": (200, "application/rss+xml", "windows1252.xml"),
    "/cp1252-header-only": (200, "text/xml; charset=windows-1252", "windows1252_undeclared.xml"),
    "/empty-feed": (200, "application/rss+xml", b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                    b"<link>https://x.example/</link><description>d</description></channel></rss>"),
}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers.items())))
        path = self.path
        if path == "/rss":
            if self.headers.get("If-None-Match") == ETAG and self.headers.get("If-Modified-Since") == LAST_MODIFIED:
                self._send(304, headers={"ETag": ETAG})
                return
            body = (FEEDS / "rss2.xml").read_bytes()
            self._send(200, body, {"Content-Type": "application/rss+xml", "ETag": ETAG, "Last-Modified": LAST_MODIFIED})
        elif path == "/moved":
            self._send(301, headers={"Location": "/rss"})
        elif path == "/moved-308":
            self._send(308, headers={"Location": "/moved-temp"})
        elif path == "/moved-temp":
            self._send(302, headers={"Location": "/rss"})
        elif path == "/temp-then-perm":
            self._send(302, headers={"Location": "/moved"})
        elif path == "/gone":
            self._send(410, b"removed")
        elif path == "/busy":
            self._send(429, b"slow down", {"Retry-After": "120"})
        elif path == "/down":
            self._send(502, b"bad gateway")
        elif path in _ROUTES:
            status, content_type, source = _ROUTES[path]
            body = source if isinstance(source, bytes) else (FEEDS / source).read_bytes()
            self._send(status, body, {"Content-Type": content_type})
        else:
            self._send(404)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, str]]] = []


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def client() -> Iterator[SafeHttpClient]:
    with SafeHttpClient(user_agent="dmzwatch-test", deadline_s=5, allow_hosts=("127.0.0.1",)) as c:
        yield c


@pytest.fixture()
def base(server: _Server) -> str:
    server.requests.clear()
    return f"http://127.0.0.1:{server.server_address[1]}"


def _poll(client: SafeHttpClient, url: str, etag: str | None = None, last_modified: str | None = None) -> Any:
    return poll_feed(client, url, etag=etag, last_modified=last_modified)


# --- poll_feed over HTTP -----------------------------------------------------------------------------------
def test_first_poll_parses_rss_and_returns_validators(client: SafeHttpClient, base: str, server: _Server) -> None:
    result = _poll(client, f"{base}/rss")
    assert (result.status, result.not_modified, result.gone) == (200, False, False)
    assert result.etag == ETAG and result.last_modified == LAST_MODIFIED
    assert result.permanent_url is None and result.bozo_reason is None
    assert [e.title for e in result.entries] == [
        "Air strikes kill six civilians in Kafr Nabudah",
        "Drone strike on car near Jisr al-Shughur wounds two",
        "Displaced families brace for winter & rising fuel prices",
    ]  # the item without a link is dropped
    sent = server.requests[0][1]
    assert "If-None-Match" not in sent and "application/rss+xml" in sent["Accept"]


def test_conditional_poll_sends_validators_and_gets_304(client: SafeHttpClient, base: str, server: _Server) -> None:
    result = _poll(client, f"{base}/rss", etag=ETAG, last_modified=LAST_MODIFIED)
    assert result.status == 304 and result.not_modified and result.entries == ()
    assert result.etag == ETAG and result.last_modified == LAST_MODIFIED
    sent = server.requests[0][1]
    assert sent["If-None-Match"] == ETAG and sent["If-Modified-Since"] == LAST_MODIFIED


def test_stale_validators_get_the_full_feed(client: SafeHttpClient, base: str) -> None:
    result = _poll(client, f"{base}/rss", etag='"old"', last_modified=LAST_MODIFIED)
    assert result.status == 200 and len(result.entries) == 3


def test_rss_entry_fields(client: SafeHttpClient, base: str) -> None:
    first, second, third = _poll(client, f"{base}/rss").entries
    assert first.guid == "nsm-48213"
    assert first.url.startswith("https://www.nsm.example/news/2026/11/17/kafr-nabudah-air-strikes/?utm_source=rss")
    assert first.summary == "Rescue workers say three children were among the dead after two strikes on the village."
    assert first.published_at == datetime(2026, 11, 17, 6, 40, tzinfo=UTC)  # 09:40 +0300
    assert first.content_html is not None and "Kafr Zita" in first.content_html
    # a relative link is resolved against the feed URL; with no <guid> the link is the guid
    assert second.url == f"{base}/news/2026/11/16/jisr-drone/" and second.guid == second.url
    assert second.content_html is None
    assert third.published_at is None


def test_permanent_redirect_reports_the_new_url(client: SafeHttpClient, base: str) -> None:
    result = _poll(client, f"{base}/moved")
    assert result.permanent_url == f"{base}/rss" and len(result.entries) == 3
    # 308 then 302: the feed permanently lives at the 308's target, which is temporarily elsewhere
    assert _poll(client, f"{base}/moved-308").permanent_url == f"{base}/moved-temp"
    # 302 then 301: our URL only moved temporarily, so nothing to store
    assert _poll(client, f"{base}/temp-then-perm").permanent_url is None
    assert _poll(client, f"{base}/moved-temp").permanent_url is None


def test_410_means_gone(client: SafeHttpClient, base: str) -> None:
    result = _poll(client, f"{base}/gone", etag=ETAG)
    assert result.gone and result.status == 410 and result.entries == ()


def test_429_is_returned_with_retry_after(client: SafeHttpClient, base: str) -> None:
    result = _poll(client, f"{base}/busy", etag=ETAG, last_modified=LAST_MODIFIED)
    assert result.status == 429 and result.retry_after_s == 120.0
    assert result.entries == () and result.etag == ETAG and result.last_modified == LAST_MODIFIED


def test_5xx_raises_transient(client: SafeHttpClient, base: str) -> None:
    with pytest.raises(ServerError) as info:
        _poll(client, f"{base}/down")
    assert info.value.transient and info.value.status == 502


def test_atom_over_http(client: SafeHttpClient, base: str) -> None:
    entries = _poll(client, f"{base}/atom").entries
    assert [e.guid for e in entries] == [
        "tag:frontline.example,2026:article-9912",
        "tag:frontline.example,2026:article-9870",
    ]
    assert entries[0].title == "Russian jets blamed for deadly raid on Kafr Nabudah"  # markup stripped
    assert entries[0].url == "https://frontline.example/2026/11/kafr-nabudah-raid.html"  # xml:base
    assert entries[0].published_at == datetime(2026, 11, 17, 9, 15, tzinfo=UTC)
    assert entries[1].published_at == datetime(2026, 11, 14, 8, 0, tzinfo=UTC)  # only <updated>


def test_malformed_feed_keeps_entries_and_says_why(client: SafeHttpClient, base: str) -> None:
    result = _poll(client, f"{base}/malformed")
    assert [e.url for e in result.entries] == [
        "https://voices.example/ariha-market",
        "https://voices.example/sarmada-power",
    ]
    assert result.bozo_reason is not None and "not well-formed" in result.bozo_reason
    assert result.entries[1].summary == "Generators run four hours a day in most districts."


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/html", "returned an HTML page ('Idlib Local Voices - Home'), not an RSS/Atom feed (Content-Type text/html)"),
        ("/html-unlabelled", "returned an HTML page"),
        ("/empty", "empty response body from"),
        ("/broken", "malformed feed from"),
    ],
)
def test_unusable_feeds_raise_feed_parse_error(client: SafeHttpClient, base: str, path: str, message: str) -> None:
    with pytest.raises(FeedParseError) as info:
        _poll(client, f"{base}{path}")
    assert message in info.value.reason and f"{base}{path}" in info.value.reason
    assert not info.value.transient


def test_windows_1252_feed(client: SafeHttpClient, base: str) -> None:
    for path in ("/cp1252", "/cp1252-header-only"):  # declared in the XML, or only in the HTTP header
        (entry,) = _poll(client, f"{base}{path}").entries
        assert entry.title == "\u201cWe lost everything\u201d: families return to Ma\u2019arrat Misrin"
        assert "résumé" in entry.summary and "£30" in entry.summary
        assert entry.guid == "cafe-2026-311"  # not resolved into a URL


def test_well_formed_empty_feed_is_not_an_error(client: SafeHttpClient, base: str) -> None:
    result = _poll(client, f"{base}/empty-feed")
    assert result.entries == () and result.bozo_reason is None


# --- parse_feed and helpers --------------------------------------------------------------------------------
def test_parse_feed_never_treats_the_body_as_a_file_name() -> None:
    # feedparser.parse(b"/etc/hostname") would open and parse that local file; we hand it a stream.
    with pytest.raises(FeedParseError):
        parse_feed(b"/etc/hostname", "https://feeds.example/x")
    with pytest.raises(FeedParseError):
        parse_feed(b"http://127.0.0.1:9/feed", "https://feeds.example/x")


def test_duplicate_guids_in_one_document_are_kept_once() -> None:
    item = b"<item><title>t</title><link>https://x.example/a</link><guid>same</guid></item>"
    body = b'<rss version="2.0"><channel><title>c</title>' + item + item + b"</channel></rss>"
    entries, _ = parse_feed(body, "https://x.example/feed")
    assert len(entries) == 1


def test_non_http_links_are_dropped_and_said(caplog: pytest.LogCaptureFixture) -> None:
    body = (
        b'<rss version="2.0"><channel><title>c</title>'
        b"<item><title>a</title><link>javascript:alert(1)</link></item>"
        b"<item><title>f</title><link>file:///etc/passwd</link></item>"
        b"<item><title>b</title><link>https://x.example/b</link></item></channel></rss>"
    )
    with caplog.at_level("WARNING"):
        entries, _ = parse_feed(body, "https://x.example/feed")
    assert [e.url for e in entries] == ["https://x.example/b"]
    assert "is a javascript: URL" in caplog.text and "is a file: URL" in caplog.text


def test_html_to_text() -> None:
    assert html_to_text("<p>One &amp; two</p><p>three<br/>four</p><script>x()</script>") == "One & two three four"
    assert html_to_text("  plain   text ") == "plain text"
    assert html_to_text("&lt;b&gt; stays text") == "<b> stays text"


def test_short_content_encoded_is_not_full_text() -> None:
    body = (
        b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>c</title>'
        b"<item><title>t</title><link>https://x.example/a</link><description>Teaser.</description>"
        b"<content:encoded><![CDATA[<p>Teaser, slightly longer, but nowhere near an article.</p>]]></content:encoded>"
        b"</item></channel></rss>"
    )
    (entry,) = parse_feed(body, "https://x.example/feed")[0]
    assert entry.content_html is None and entry.summary == "Teaser."
