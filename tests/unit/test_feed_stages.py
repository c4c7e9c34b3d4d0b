"""The feed and fetch stages against a hostile loopback server, on SQLite: what the rows show afterwards.

Each test drives the real stage functions (poll_feed, fetch_article) with the real SafeHttpClient, and moves
time forward by passing ``now`` (no sleeping, no timed assertions).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dmzwatch.db.migrate import upgrade
from dmzwatch.db.models import Article, ArticleStatus, Feed
from dmzwatch.db.session import session_scope
from dmzwatch.feed_health import collect_feed_health, feed_metric_samples, median_gap_s, silence_threshold
from dmzwatch.feeds_config import FeedSpec, sync_feeds
from dmzwatch.http import SafeHttpClient
from dmzwatch.politeness import HostBusyError, LocalHostPoliteness, PolitenessLimits
from dmzwatch.robots import RobotsPolicy
from dmzwatch.stages import articles, feeds
from tests.support.servers import NewsSite, news_site

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "web" / "feeds"
Sessions = Callable[[], AbstractContextManager[Session]]

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.example/</link><description>d</description>
<item><title>Air strikes on Kafr Nabl kill five</title><link>https://wire.example/a1</link><guid>a1</guid>
<pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate><description>Warplanes struck southern Idlib.</description></item>
<item><title>Markets rally in Tokyo</title><link>https://wire.example/a2</link><guid>a2</guid>
<pubDate>Fri, 20 Nov 2026 09:00:00 GMT</pubDate><description>Stocks rose on tech earnings.</description></item>
</channel></rss>"""
ETAG = '"wire-v1"'
LAST_MODIFIED = "Fri, 20 Nov 2026 09:00:00 GMT"


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path
        self.server.requests.append((path, dict(self.headers.items())))
        with self.server.lock:
            script = self.server.script.get(path)
            reply = (script.pop(0) if len(script) > 1 else script[0]) if script else Reply(404, b"not found")
        if callable(reply):
            reply = reply(self)
        self.send_response(reply.status)
        headers = {"Content-Type": "application/rss+xml", **(reply.headers or {})}
        headers["Content-Length"] = str(len(reply.body))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.script: dict[str, list[Any]] = {}
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def client() -> Iterator[SafeHttpClient]:
    with SafeHttpClient(user_agent="dmzwatch/0.1 (+test)", deadline_s=5, allow_hosts=("127.0.0.1",)) as c:
        yield c


@pytest.fixture
def sessions(tmp_path: Path) -> Sessions:
    url = f"sqlite:///{tmp_path / 'feeds.sqlite3'}"
    upgrade(url)
    return partial(session_scope, url)


def _add_feed(sessions: Sessions, url: str, *, interval: int = 300, general_news: bool = False) -> int:
    with sessions() as session:
        feed = Feed(
            url=url,
            name=url.rsplit("/", 1)[-1],
            poll_interval_s=interval,
            general_news=general_news,
            consecutive_failures=0,
            items_seen=0,
            added_at=NOW - timedelta(days=1),
        )
        session.add(feed)
        session.flush()
        return feed.id


def _feed(sessions: Sessions, feed_id: int) -> Feed:
    with sessions() as session:
        feed = session.get(Feed, feed_id)
        assert feed is not None
        session.expunge(feed)
        return feed


def _poll(sessions: Sessions, client: SafeHttpClient, feed_id: int, now: datetime, **kw: Any) -> list[int]:
    return feeds.poll_feed(sessions, feed_id, client=client, now=now, **kw)


# --- backoff and recovery ----------------------------------------------------------------------------------
def test_a_feed_failing_five_times_backs_off_and_recovers(
    sessions: Sessions, client: SafeHttpClient, server: _Server
) -> None:
    server.script["/flaky"] = [Reply(500, b"boom")] * 5 + [Reply(200, RSS)]
    feed_id = _add_feed(sessions, f"{server.base}/flaky", interval=300)
    now, delays = NOW, []
    for failures in range(1, 6):
        assert _poll(sessions, client, feed_id, now) == []
        feed = _feed(sessions, feed_id)
        assert feed.consecutive_failures == failures
        assert feed.failures_total == failures
        assert feed.last_status == 500
        assert feed.last_error is not None and "answered 500 Internal Server Error" in feed.last_error
        assert feed.last_ok_at is None and feed.lease_until is None
        assert feed.next_poll_at is not None
        delays.append(feed.next_poll_at - now)
        now = feed.next_poll_at  # the scheduler comes back exactly when it may
    for delay, doubling in zip(delays, (300 * 2**n for n in range(1, 6)), strict=True):  # 10 min, 20, ... 160
        assert timedelta(seconds=doubling) <= delay <= timedelta(seconds=doubling * 1.1)  # + jitter up to 10%
    assert [h.state for h in _health(sessions, now)] == ["failing"]

    new_ids = _poll(sessions, client, feed_id, now)
    feed = _feed(sessions, feed_id)
    assert len(new_ids) == 2
    assert (feed.consecutive_failures, feed.failures_total, feed.last_status) == (0, 5, 200)
    assert feed.last_error is None and feed.last_ok_at == now and feed.last_new_item_at == now
    assert now + timedelta(seconds=300) <= feed.next_poll_at <= now + timedelta(seconds=330)  # normal interval
    assert feed.items_seen == 2
    assert [h.state for h in _health(sessions, now)] == ["ok"]


def test_backoff_is_capped_at_a_day_and_retry_after_is_honoured(
    sessions: Sessions, client: SafeHttpClient, server: _Server
) -> None:
    server.script["/busy"] = [Reply(429, b"slow down", {"Retry-After": "7200"})]
    feed_id = _add_feed(sessions, f"{server.base}/busy", interval=60)
    _poll(sessions, client, feed_id, NOW)
    feed = _feed(sessions, feed_id)
    assert feed.next_poll_at is not None  # Retry-After beats the 2-minute backoff:
    assert NOW + timedelta(hours=2) <= feed.next_poll_at <= NOW + timedelta(hours=2.2)
    assert feed.last_status == 429 and "Retry-After 7200" in (feed.last_error or "")
    with sessions() as session:
        row = session.get(Feed, feed_id)
        assert row is not None
        row.consecutive_failures = 30
    server.script["/busy"] = [Reply(500)]
    _poll(sessions, client, feed_id, NOW)
    assert _feed(sessions, feed_id).next_poll_at == NOW + timedelta(hours=24)  # capped, jitter included


def test_schedule_jitter_spreads_feeds_and_never_shortens() -> None:
    interval = timedelta(minutes=5)
    delays = {feeds.schedule_jitter(interval, feed_id, NOW) for feed_id in range(100)}
    assert all(interval <= d <= interval * 1.1 for d in delays)
    assert len(delays) > 90  # feeds added together fall due at different moments
    assert max(delays) - min(delays) > timedelta(seconds=20)


# --- conditional GET across polls --------------------------------------------------------------------------
def test_304_flow_sends_the_stored_validators_on_the_next_poll(
    sessions: Sessions, client: SafeHttpClient, server: _Server
) -> None:
    def conditional(handler: _Handler) -> Reply:
        if handler.headers.get("If-None-Match") == ETAG and handler.headers.get("If-Modified-Since") == LAST_MODIFIED:
            return Reply(304, b"", {"ETag": ETAG})
        return Reply(200, RSS, {"ETag": ETAG, "Last-Modified": LAST_MODIFIED})

    server.script["/cond"] = [conditional]
    feed_id = _add_feed(sessions, f"{server.base}/cond")
    assert len(_poll(sessions, client, feed_id, NOW)) == 2
    first = _feed(sessions, feed_id)
    assert (first.etag, first.last_modified) == (ETAG, LAST_MODIFIED)
    assert "If-None-Match" not in server.requests[0][1]

    later = NOW + timedelta(minutes=5)
    assert _poll(sessions, client, feed_id, later) == []
    second_request = server.requests[-1][1]
    assert second_request["If-None-Match"] == ETAG
    assert second_request["If-Modified-Since"] == LAST_MODIFIED
    feed = _feed(sessions, feed_id)
    assert (feed.last_status, feed.etag, feed.last_modified) == (304, ETAG, LAST_MODIFIED)
    assert feed.last_ok_at == later and feed.last_new_item_at == NOW  # alive, nothing new
    assert feed.items_seen == 2


def test_entries_seen_before_are_not_inserted_again(
    sessions: Sessions, client: SafeHttpClient, server: _Server
) -> None:
    server.script["/plain"] = [Reply(200, RSS)]  # no validators: the full feed every time
    feed_id = _add_feed(sessions, f"{server.base}/plain")
    assert len(_poll(sessions, client, feed_id, NOW)) == 2
    assert _poll(sessions, client, feed_id, NOW + timedelta(minutes=5)) == []
    feed = _feed(sessions, feed_id)
    assert feed.items_seen == 2 and feed.last_new_item_at == NOW


# --- bad feeds: a clear last_error each, and the other feeds carry on --------------------------------------
CP1252_DECLARED_UTF8 = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>c</title>'
    "<item><title>Caf\u00e9 in Ma\u2019arrat Misrin</title><link>https://cp.example/a</link></item>"
    "</channel></rss>"
).encode("cp1252")

BAD_FEEDS: dict[str, tuple[Reply, str]] = {
    "/broken-xml": (Reply(200, (FEEDS / "broken.xml").read_bytes()), "malformed feed from"),
    "/html-page": (
        Reply(200, (FEEDS / "html_page.html").read_bytes(), {"Content-Type": "text/html; charset=utf-8"}),
        "returned an HTML page ('Idlib Local Voices - Home'), not an RSS/Atom feed",
    ),
    "/empty-200": (Reply(200, b""), "empty response body from"),
    "/not-a-feed": (Reply(200, b'{"json": true}', {"Content-Type": "application/json"}), "is not an RSS or Atom"),
    "/gone-404": (Reply(404, b"nope"), "answered 404 Not Found"),
}


def test_bad_feeds_each_leave_a_clear_last_error_and_do_not_stop_the_others(
    sessions: Sessions, client: SafeHttpClient, server: _Server
) -> None:
    ids: dict[str, int] = {}
    for path, (reply, _) in BAD_FEEDS.items():
        server.script[path] = [reply]
        ids[path] = _add_feed(sessions, f"{server.base}{path}")
    server.script["/good"] = [Reply(200, RSS)]
    server.script["/cp1252"] = [Reply(200, CP1252_DECLARED_UTF8, {"Content-Type": "application/rss+xml"})]
    good, wrong_encoding = _add_feed(sessions, f"{server.base}/good"), _add_feed(sessions, f"{server.base}/cp1252")

    leased = feeds.claim_due_feeds(sessions, now=NOW)
    assert sorted(leased) == sorted([*ids.values(), good, wrong_encoding])
    new_ids = [i for feed_id in leased for i in _poll(sessions, client, feed_id, NOW)]

    for path, (_, message) in BAD_FEEDS.items():
        feed = _feed(sessions, ids[path])
        assert feed.last_error is not None and message in feed.last_error, (path, feed.last_error)
        assert f"{server.base}{path}" in feed.last_error
        assert feed.consecutive_failures == 1 and feed.lease_until is None and feed.enabled
    assert _feed(sessions, good).consecutive_failures == 0
    encoded = _feed(sessions, wrong_encoding)
    assert encoded.consecutive_failures == 0
    assert encoded.last_error == "CharacterEncodingOverride: document declared as utf-8, but parsed as windows-1252"
    with sessions() as session:
        titles = set(session.scalars(select(Article.title).where(Article.id.in_(new_ids))))
    assert titles == {"Air strikes on Kafr Nabl kill five", "Markets rally in Tokyo", "Café in Ma’arrat Misrin"}


def test_malformed_feed_with_readable_entries_keeps_them_and_says_why(
    sessions: Sessions, client: SafeHttpClient, server: _Server
) -> None:
    server.script["/malformed"] = [Reply(200, (FEEDS / "malformed.xml").read_bytes())]
    feed_id = _add_feed(sessions, f"{server.base}/malformed")
    assert len(_poll(sessions, client, feed_id, NOW)) == 2
    feed = _feed(sessions, feed_id)
    assert feed.consecutive_failures == 0 and "not well-formed" in (feed.last_error or "")


def test_a_parser_crash_is_recorded_on_the_feed(
    sessions: Sessions, client: SafeHttpClient, server: _Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(feeds, "fetch_feed", explode)  # stands in for a parser bug we cannot trigger on purpose
    feed_id = _add_feed(sessions, f"{server.base}/any")
    assert _poll(sessions, client, feed_id, NOW) == []
    feed = _feed(sessions, feed_id)
    assert feed.last_error == "unexpected error while polling: RecursionError: maximum recursion depth exceeded"
    assert feed.consecutive_failures == 1 and feed.lease_until is None


# --- 301 and 410 -------------------------------------------------------------------------------------------
def test_301_updates_the_url_and_410_disables_for_good(
    sessions: Sessions, client: SafeHttpClient, server: _Server
) -> None:
    server.script["/old"] = [Reply(301, b"", {"Location": "/new"})]
    server.script["/new"] = [Reply(200, RSS), Reply(410, b"removed")]
    feed_id = _add_feed(sessions, f"{server.base}/old")
    _poll(sessions, client, feed_id, NOW)
    assert _feed(sessions, feed_id).url == f"{server.base}/new"
    _poll(sessions, client, feed_id, NOW + timedelta(minutes=5))
    feed = _feed(sessions, feed_id)
    assert not feed.enabled and feed.disabled_reason == "410 Gone"
    assert feed.last_error == "feed answered 410 Gone: disabled"
    # The feeds file still says enabled: a start-up sync must not bring the dead feed back.
    with sessions() as session:
        sync_feeds(session, [FeedSpec(name="new", url=f"{server.base}/new", interval=300)])  # type: ignore[arg-type]
    assert not _feed(sessions, feed_id).enabled
    assert feeds.claim_due_feeds(sessions, now=NOW + timedelta(days=2)) == []


# --- general-news pre-filter -------------------------------------------------------------------------------
def _relevant(text: str) -> bool:
    """The real pre-filter's rule on a tiny gazetteer: a Syrian place and a violence word."""
    from dmzwatch.nlp.relevance import RelevanceFilter

    return RelevanceFilter(["Kafr Nabl"]).is_relevant(text)


def test_general_news_entries_that_cannot_be_relevant_are_recorded_not_fetched(
    sessions: Sessions, client: SafeHttpClient, server: _Server
) -> None:
    server.script["/general"] = [Reply(200, RSS)]
    general = _add_feed(sessions, f"{server.base}/general", general_news=True)
    new_ids = _poll(sessions, client, general, NOW, is_relevant=_relevant)
    with sessions() as session:
        rows = {a.title: a for a in session.scalars(select(Article).where(Article.feed_id == general))}
    assert set(rows) == {"Air strikes on Kafr Nabl kill five", "Markets rally in Tokyo"}
    kept, dropped = rows["Air strikes on Kafr Nabl kill five"], rows["Markets rally in Tokyo"]
    assert new_ids == [kept.id] and kept.status == ArticleStatus.NEW
    assert dropped.status == ArticleStatus.IRRELEVANT and dropped.error == feeds.PREFILTER_REASON
    assert _feed(sessions, general).items_seen == 2  # both were seen; one was set aside, with a reason

    # A dedicated feed listing the set-aside page outweighs a judgement made on a headline: it is fetched.
    server.script["/dedicated"] = [Reply(200, RSS)]
    dedicated = _add_feed(sessions, f"{server.base}/dedicated")
    assert _poll(sessions, client, dedicated, NOW, is_relevant=_relevant) == [dropped.id]
    with sessions() as session:
        revived = session.get(Article, dropped.id)
        assert revived is not None and revived.status == ArticleStatus.NEW and revived.error is None


def test_feeds_that_are_not_general_news_are_not_prefiltered(
    sessions: Sessions, client: SafeHttpClient, server: _Server
) -> None:
    server.script["/specialised"] = [Reply(200, RSS)]
    feed_id = _add_feed(sessions, f"{server.base}/specialised")

    def never(_text: str) -> bool:
        raise AssertionError("the pre-filter must not run for a specialised feed")

    assert len(_poll(sessions, client, feed_id, NOW, is_relevant=never)) == 2


# --- article fetch: robots.txt and politeness --------------------------------------------------------------
@pytest.fixture
def site() -> Iterator[NewsSite]:
    with news_site() as served:
        yield served


def _article(sessions: Sessions, url: str, feed_html: str | None = None) -> int:
    with sessions() as session:
        article = Article(
            url=url,
            canonical_url=url,
            outlet="levantwire",
            title="t",
            summary="A summary.",
            feed_content_html=feed_html,
            discovered_at=NOW,
            updated_at=NOW,
            status=ArticleStatus.NEW.value,
            attempts=0,
        )
        session.add(article)
        session.flush()
        return article.id


def _open_politeness() -> LocalHostPoliteness:
    return LocalHostPoliteness(PolitenessLimits(min_interval_s=0, max_concurrent=0, lease_s=60))


def test_robots_disallow_fails_the_article_with_the_rule(
    sessions: Sessions, client: SafeHttpClient, site: NewsSite
) -> None:
    robots = RobotsPolicy(client, user_agent="dmzwatch/0.1")
    private = _article(sessions, f"{site.base}/private/leak")
    public = _article(sessions, f"{site.base}/news/kafr-nabl-strikes")
    polite = _open_politeness()
    assert not articles.fetch_article(sessions, private, client=client, now=NOW, robots=robots, politeness=polite)
    assert articles.fetch_article(sessions, public, client=client, now=NOW, robots=robots, politeness=polite)
    with sessions() as session:
        failed, fetched = session.get(Article, private), session.get(Article, public)
        assert failed is not None and fetched is not None
        assert failed.status == ArticleStatus.FAILED
        assert failed.error == (
            f"fetch: robots.txt disallows {site.base}/private/leak "
            f"(Disallow: /private/ for user-agent '*' at {site.base}/robots.txt)"
        )
        assert fetched.status == ArticleStatus.FETCHED
    paths = [path for path, _ in site.requests]
    assert paths.count("/robots.txt") == 1  # cached for the second article
    assert "/private/leak" not in paths  # the disallowed page was never requested


def test_busy_host_raises_transient_and_leaves_the_article_to_retry(
    sessions: Sessions, client: SafeHttpClient, site: NewsSite
) -> None:
    robots = RobotsPolicy(client, user_agent="dmzwatch/0.1")
    polite = LocalHostPoliteness(PolitenessLimits(min_interval_s=3600, max_concurrent=2, lease_s=60))
    first = _article(sessions, f"{site.base}/news/kafr-nabl-strikes")
    second = _article(sessions, f"{site.base}/news/aid-convoy")
    assert articles.fetch_article(sessions, first, client=client, now=NOW, robots=robots, politeness=polite)
    with pytest.raises(HostBusyError) as caught:
        articles.fetch_article(sessions, second, client=client, now=NOW, robots=robots, politeness=polite)
    assert caught.value.retry_after_s is not None and caught.value.retry_after_s > 3000
    with sessions() as session:
        waiting = session.get(Article, second)
        assert waiting is not None and waiting.status == ArticleStatus.NEW and waiting.error is None
    assert "/news/aid-convoy" not in [path for path, _ in site.requests]


def test_feed_full_text_skips_robots_politeness_and_the_fetch(sessions: Sessions, client: SafeHttpClient) -> None:
    class Refuse:
        def check(self, url: str) -> None:
            raise AssertionError("no page fetch, so no robots.txt either")

        def slot(self, host: str) -> Any:
            raise AssertionError("no page fetch, so no politeness slot either")

    article_id = _article(sessions, "https://unreachable.invalid/a", feed_html="<p>" + "Full text. " * 80 + "</p>")
    refuse: Any = Refuse()
    assert articles.fetch_article(sessions, article_id, client=client, now=NOW, robots=refuse, politeness=refuse)


# --- health ------------------------------------------------------------------------------------------------
def _health(sessions: Sessions, now: datetime) -> list[Any]:
    with sessions() as session:
        return collect_feed_health(session, now=now, factor=4, min_silence=timedelta(hours=12))


def test_median_gap_and_threshold() -> None:
    hours = [NOW + timedelta(hours=h) for h in (0, 1, 2, 2, 3, 10)]  # duplicates ignored
    assert median_gap_s(hours) == 3600.0
    assert median_gap_s(hours[:3]) is None  # too little history
    floor = timedelta(hours=12)
    assert silence_threshold(None, factor=4, min_silence=floor) == floor
    assert silence_threshold(3600.0, factor=4, min_silence=floor) == floor  # a busy feed: the floor applies
    assert silence_threshold(6 * 3600.0, factor=4, min_silence=floor) == timedelta(hours=24)


def test_a_feed_is_silent_after_longer_than_its_own_usual_gap(
    sessions: Sessions, client: SafeHttpClient, server: _Server
) -> None:
    items = "".join(
        f"<item><title>t{n}</title><link>https://slow.example/{n}</link>"
        f"<pubDate>{(NOW - timedelta(hours=6 * n)).strftime('%a, %d %b %Y %H:%M:%S GMT')}</pubDate></item>"
        for n in range(6)
    )
    body = f'<rss version="2.0"><channel><title>s</title>{items}</channel></rss>'.encode()
    server.script["/slow"] = [Reply(200, body)]
    feed_id = _add_feed(sessions, f"{server.base}/slow")
    _poll(sessions, client, feed_id, NOW)
    assert _feed(sessions, feed_id).item_gap_median_s == 6 * 3600.0  # from the items' own dates

    (fresh,) = _health(sessions, NOW + timedelta(hours=23))
    assert fresh.state == "ok" and fresh.silent_after_s == 24 * 3600
    (quiet,) = _health(sessions, NOW + timedelta(hours=25))
    assert quiet.state == "silent" and quiet.quiet_for_s == 25 * 3600

    samples = {(s.name, s.labels): s.value for s in feed_metric_samples([quiet], now=NOW + timedelta(hours=25))}
    labels = (("feed_id", str(feed_id)), ("feed", "slow"))
    assert samples[("dmzwatch_feed_silent", labels)] == 1.0
    assert samples[("dmzwatch_feed_up", labels)] == 1.0
    assert samples[("dmzwatch_feed_items_total", labels)] == 6.0
    assert samples[("dmzwatch_feed_seconds_since_new_item", labels)] == 25 * 3600
    assert samples[("dmzwatch_feeds", (("state", "silent"),))] == 1.0


def test_a_feed_that_never_had_an_item_is_silent_from_when_it_was_added(sessions: Sessions) -> None:
    feed_id = _add_feed(sessions, "https://never.example/feed")  # added a day before NOW
    with sessions() as session:
        feed = session.get(Feed, feed_id)
        assert feed is not None
        feed.last_polled_at = feed.last_ok_at = NOW
    (item,) = _health(sessions, NOW)
    assert item.state == "silent" and item.quiet_for_s == 24 * 3600


def test_concurrent_schedulers_never_lease_the_same_feed(sessions: Sessions) -> None:
    for n in range(40):
        _add_feed(sessions, f"https://many.example/{n}")
    results: list[list[int]] = [[], [], [], []]

    def claim(slot: int) -> None:
        results[slot] = feeds.claim_due_feeds(sessions, now=NOW, limit=40)

    threads = [threading.Thread(target=claim, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [feed_id for batch in results for feed_id in batch]
    assert sorted(claimed) == sorted(set(claimed))  # nobody got a feed twice
    assert len(claimed) == 40


def test_a_page_that_defeats_extraction_keeps_the_feed_summary_marked_as_such(
    sessions: Sessions, client: SafeHttpClient, server: _Server
) -> None:
    chrome_only = b"<html><head><title>Home</title></head><body><nav><a href='/'>Home</a></nav></body></html>"
    server.script["/news/teaser"] = [Reply(200, chrome_only, {"Content-Type": "text/html; charset=utf-8"})]
    article_id = _article(sessions, f"{server.base}/news/teaser")
    fetched = articles.fetch_article(
        sessions, article_id, client=client, now=NOW, robots=RobotsPolicy(client, user_agent="dmzwatch"),
        politeness=_open_politeness(),
    )  # fmt: skip
    assert fetched
    assert articles.clean_article(sessions, article_id, is_relevant=lambda text: True, now=NOW)
    with sessions() as session:
        row = session.get(Article, article_id)
        assert row is not None
        assert (row.status, row.text_source, row.text) == (ArticleStatus.CLEANED, "feed_summary", "A summary.")
