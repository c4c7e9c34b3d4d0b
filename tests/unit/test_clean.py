"""extract_article on fixture pages with realistic chrome (golden files), charset detection, and fetch_page."""

from __future__ import annotations

import codecs
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dmzwatch.clean import decode_html, detect_charset, detect_language, extract_article, fetch_page
from dmzwatch.errors import BadContentTypeError, ExtractionError, HTTPStatusError
from dmzwatch.http import SafeHttpClient

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "web" / "pages"

# Page chrome that must never reach the article text: navigation, breadcrumbs, share bar, photo credit, in-body
# promo, tags, related links, newsletter box, comments, sidebars, ticker, cookie banner, footer.
CHROME = [
    "Support our journalism", "Home", "Share on", "Photo: local activists", "Read more", "Shelling hits market",
    "Tags:", "Related stories", "Turkey reinforces", "morning briefing", "propaganda", "cousin lives",
    "international community", "Join the discussion", "Most read", "Sponsored", "Breaking:", "Beirut 19",
    "one-sided", "Café owners", "cookies", "All rights reserved", "Privacy policy", "Copyright wire service",
]  # fmt: skip


def _page(name: str) -> str:
    return decode_html((PAGES / name).read_bytes(), "text/html")


def _golden(name: str) -> str:
    return (PAGES / name.replace(".html", ".expected.txt")).read_text(encoding="utf-8").rstrip("\n")


@pytest.mark.parametrize(
    "name", ["nsm_kafr_nabudah.html", "levantwire_copy.html", "frontline_rewrite_cp1252.html", "nsm_olive_harvest.html"]
)
def test_text_matches_golden_file_and_has_no_chrome(name: str) -> None:
    article = extract_article(_page(name), f"https://pages.example/{name}")
    assert article.text == _golden(name)
    for chrome in CHROME:
        assert chrome not in article.text, chrome
    assert "\n\n" in article.text and "\n\n\n" not in article.text


def test_metadata_from_the_page() -> None:
    article = extract_article(_page("nsm_kafr_nabudah.html"), "https://www.nsm.example/news/x?utm_source=rss")
    assert article.title == "Air strikes kill six civilians in Kafr Nabudah"
    assert article.published_at == datetime(2026, 11, 17, 6, 40, tzinfo=UTC)  # article:published_time, +03:00
    assert article.language == "en"  # <html lang="en-GB">
    assert article.site_name == "North Syria Monitor"
    assert article.canonical_url == "https://www.nsm.example/news/2026/11/17/kafr-nabudah-air-strikes/?utm_source=rss"
    assert article.text.startswith("At least six civilians, among them three children")  # headline not repeated


def test_metadata_from_json_ld_og_url_and_language_detection() -> None:
    article = extract_article(_page("levantwire_copy.html"), "https://levantwire.example/some/path")
    assert article.published_at == datetime(2026, 11, 17, 7, 5, tzinfo=UTC)  # JSON-LD datePublished
    assert (
        article.canonical_url
        == "https://levantwire.example/world/middle-east/six-civilians-killed-hama-village-20261117"
    )
    assert article.language == "en"  # no lang attribute: stopword vote
    assert article.site_name == "Levant Wire Daily"


def test_windows_1252_page_with_relative_canonical_and_time_element() -> None:
    html = _page("frontline_rewrite_cp1252.html")
    assert "\u201cWe are still digging" in html  # decoded with the <meta charset>
    article = extract_article(html, "https://frontline.example/2026/11/kafr-nabudah-raid.html?src=feed")
    assert article.canonical_url == "https://frontline.example/2026/11/kafr-nabudah-raid.html"  # no #fragment
    assert article.published_at == datetime(2026, 11, 17, 9, 15, tzinfo=UTC)
    assert article.title == "Russian jets blamed for deadly raid on Kafr Nabudah"


def test_page_without_article_raises() -> None:
    with pytest.raises(ExtractionError, match=r"no article text on https://pages\.example/404") as info:
        extract_article(_page("nav_only.html"), "https://pages.example/404")
    assert not info.value.transient


def test_short_news_brief_is_kept_without_its_chrome() -> None:
    brief = """<main><article><h1>Shelling reported near Kansafra</h1>
<p>Government artillery shelled the outskirts of Kansafra in Jabal al-Zawiya on Wednesday evening, local sources
told our correspondent. Two civilians were lightly wounded, according to the Syrian Civil Defence.</p>
<p>More details to follow.</p></article>
<section class="related"><h2>Related stories</h2><ul><li><a href="/a">Turkey reinforces observation posts near
Saraqib</a></li></ul></section></main>"""
    html = _page("nav_only.html").replace("<main><h1>Sorry</h1><p>Page not found.</p></main>", brief)
    article = extract_article(html, "https://pages.example/brief")
    assert article.title == "Shelling reported near Kansafra"
    assert article.text.startswith("Government artillery shelled") and article.text.endswith("More details to follow.")
    assert "Saraqib" not in article.text and "Support our journalism" not in article.text


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   \n ",
        "<html><body></body></html>",
        "<html><body><p>" + "%$#@! 0x1F 1234 ;;; {} " * 80 + "</p></body></html>",
        "\x00\x01\x02 binary \xff\xfe junk",
    ],
)
def test_empty_or_garbage_raises(html: str) -> None:
    with pytest.raises(ExtractionError):
        extract_article(html, "https://pages.example/junk")


# --- charset -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (codecs.BOM_UTF8 + "<p>é</p>".encode(), "text/html; charset=windows-1252", "utf-8-sig"),  # BOM wins
        ("<p>é</p>".encode("cp1252"), "text/html; charset=windows-1252", "cp1252"),
        ("<p>é</p>".encode("cp1252"), "text/html; charset=ISO-8859-1", "cp1252"),  # WHATWG: latin-1 means 1252
        ('<meta charset="utf-8"><p>é</p>'.encode(), "text/html", "utf-8"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">', "text/html", "koi8-r"),
        (b'<meta charset="klingon"><p>plain</p>', "text/html", "utf-8"),  # unknown label: fall through
        (b'<meta charset="utf-16"><p>plain</p>', "text/html", "utf-8"),
        ("<p>caf\u00e9 \u2019</p>".encode("cp1252"), "text/html", "cp1252"),  # undeclared, not UTF-8
        ("<p>ok \u2019</p>".encode(), "", "utf-8"),  # undeclared, valid UTF-8
        ("<p>é</p>".encode(), "text/html; charset=bogus", "utf-8"),
    ],
)
def test_detect_charset(body: bytes, content_type: str, expected: str) -> None:
    assert detect_charset(body, content_type) == expected


def test_decode_html_header_beats_meta_and_never_raises() -> None:
    body = '<meta charset="utf-8"><p>caf\u00e9</p>'.encode("cp1252")
    assert "café" in decode_html(body, "text/html; charset=windows-1252")
    assert "\ufffd" in decode_html(b"<p>\xff\xfe\xfa</p>", "text/html; charset=utf-8")


def test_detect_language() -> None:
    assert detect_language("Les frappes aériennes ont tué six civils dans le village, selon les secouristes.") == "fr"
    assert detect_language("قتل ستة مدنيين في غارات جوية على قرية كفرنبودة في ريف حماة الشمالي") == "ar"
    assert detect_language("Kafr Nabudah Hama Idlib") is None


# --- fetch_page --------------------------------------------------------------------------------------------
def _read(name: str) -> bytes:
    return (PAGES / name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        routes: dict[str, tuple[int, dict[str, str], bytes]] = {
            "/article": (200, {"Content-Type": "text/html; charset=UTF-8"}, _read("nsm_kafr_nabudah.html")),
            "/legacy": (200, {"Content-Type": "text/html"}, _read("frontline_rewrite_cp1252.html")),
            "/unlabelled": (200, {}, _read("levantwire_copy.html")),
            "/xhtml": (200, {"Content-Type": "application/xhtml+xml"}, b"<html><body><p>x</p></body></html>"),
            "/report.pdf": (200, {"Content-Type": "application/pdf"}, b"%PDF-1.7\n..."),
            "/json": (200, {"Content-Type": "application/json"}, b'{"html": "<p>no</p>"}'),
            "/old": (301, {"Location": "/article"}, b""),
            "/removed": (410, {"Content-Type": "text/html"}, b"<p>gone</p>"),
        }  # fmt: skip
        status, headers, body = routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def client() -> Iterator[SafeHttpClient]:
    with SafeHttpClient(user_agent="dmzwatch-test", deadline_s=5, allow_hosts=("127.0.0.1",)) as c:
        yield c


def test_fetch_page_follows_redirects_and_decodes(client: SafeHttpClient, base: str) -> None:
    page = fetch_page(client, f"{base}/old")
    assert page.url == f"{base}/article" and page.status == 200
    assert page.content_type == "text/html" and page.encoding == "utf-8"
    assert "Kafr Nabudah" in page.text and page.body.startswith(b"<!DOCTYPE html>")
    assert extract_article(page.text, page.url).text == _golden("nsm_kafr_nabudah.html")


def test_fetch_page_legacy_charset_from_meta(client: SafeHttpClient, base: str) -> None:
    page = fetch_page(client, f"{base}/legacy")
    assert page.encoding == "cp1252" and "\u201cWe are still digging" in page.text


def test_fetch_page_accepts_xhtml_and_sniffs_unlabelled_html(client: SafeHttpClient, base: str) -> None:
    assert fetch_page(client, f"{base}/xhtml").content_type == "application/xhtml+xml"
    assert fetch_page(client, f"{base}/unlabelled").content_type == "text/html"


@pytest.mark.parametrize(("path", "shown"), [("/report.pdf", "application/pdf"), ("/json", "application/json")])
def test_fetch_page_refuses_other_content_types(client: SafeHttpClient, base: str, path: str, shown: str) -> None:
    with pytest.raises(BadContentTypeError, match=f"expected an HTML page from {base}{path}, got {shown}") as info:
        fetch_page(client, f"{base}{path}")
    assert not info.value.transient


def test_fetch_page_410_is_permanent(client: SafeHttpClient, base: str) -> None:
    with pytest.raises(HTTPStatusError) as info:
        fetch_page(client, f"{base}/removed")
    assert info.value.status == 410 and not info.value.transient
