"""robots.txt: RFC 9309 parsing, and the cached policy against a loopback server (no internet)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dmzwatch.errors import PermanentError, TransientError
from dmzwatch.http import SafeHttpClient
from dmzwatch.robots import (
    RobotsDisallowedError,
    RobotsPolicy,
    RobotsRules,
    RobotsUnreachableError,
    product_token,
    robots_url,
)

ROBOTS = """\
# a comment line
User-agent: Googlebot
Disallow: /

User-agent: *
Disallow: /private/
Allow: /private/public-note
Disallow: /*.pdf$
Disallow: /search?
Disallow:

User-agent: dmzwatch
User-agent: otherbot
Disallow: /drafts/
"""


def test_product_token() -> None:
    assert product_token("dmzwatch/0.1 (+https://example.org; monitor)") == "dmzwatch"
    assert product_token("DMZ-Watch") == "dmz-watch"


@pytest.mark.parametrize(
    ("agent", "path", "allowed"),
    [
        ("somebot", "/news/kafr-nabl", True),
        ("somebot", "/private/", False),
        ("somebot", "/private/file.html", False),
        ("somebot", "/private/public-note", True),  # longer Allow beats shorter Disallow
        ("somebot", "/files/report.pdf", False),  # * wildcard and $ anchor
        ("somebot", "/files/report.pdf?x=1", True),  # $ anchors: the query makes it not end in .pdf
        ("somebot", "/search?q=idlib", False),
        ("somebot", "/searching", True),
        ("somebot", "/robots.txt", True),
        ("googlebot", "/news/x", False),  # group matching is case-insensitive
        # Our own group replaces the * group entirely (RFC 9309: the most specific group applies).
        ("dmzwatch", "/private/file.html", True),
        ("dmzwatch", "/drafts/1", False),
        ("otherbot", "/drafts/1", False),  # several user-agent lines share one group
    ],
)
def test_rfc9309_matching(agent: str, path: str, allowed: bool) -> None:
    assert RobotsRules.parse(ROBOTS, agent).allows(path) is allowed


def test_equal_length_tie_goes_to_allow_and_percent_encoding_is_normalised() -> None:
    rules = RobotsRules.parse("User-agent: *\nDisallow: /page\nAllow: /page\nDisallow: /caf%C3%A9/\n", "x")
    assert rules.allows("/page")
    assert not rules.allows("/café/menu")


def test_no_groups_or_garbage_allows_everything() -> None:
    assert RobotsRules.parse("", "dmzwatch").allows("/anything")
    assert RobotsRules.parse("<html><body>Not a robots file</body></html>", "dmzwatch").allows("/x")
    # Rules before any user-agent line belong to no group.
    assert RobotsRules.parse("Disallow: /\n", "dmzwatch").allows("/x")


def test_robots_url() -> None:
    assert robots_url("https://Example.org:8443/a/b?c=d#e") == "https://Example.org:8443/robots.txt"


# --- the policy over HTTP ----------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        status, body = self.server.robots.get(self.headers.get("Host", "").split(":")[0], (404, b"nope"))
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: list[str] = []
        # keyed by the Host header's name, so "localhost" and "127.0.0.1" are two different sites
        self.robots: dict[str, tuple[int, bytes]] = {}


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client() -> Iterator[SafeHttpClient]:
    with SafeHttpClient(user_agent="dmzwatch/0.1 (+test)", deadline_s=5, allow_hosts=("127.0.0.1", "localhost")) as c:
        yield c


def test_disallowed_page_raises_a_clear_permanent_error_and_robots_is_fetched_once_per_ttl(
    server: _Server, client: SafeHttpClient
) -> None:
    server.robots["127.0.0.1"] = (200, b"User-agent: *\nDisallow: /private/\n")
    clock = _Clock()
    policy = RobotsPolicy(client, user_agent="dmzwatch/0.1", ttl_s=60, clock=clock)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    policy.check(f"{base}/news/ok")
    with pytest.raises(RobotsDisallowedError) as caught:
        policy.check(f"{base}/private/secret")
    assert isinstance(caught.value, PermanentError)
    assert caught.value.reason.startswith(f"robots.txt disallows {base}/private/secret")
    assert "Disallow: /private/" in caught.value.reason
    assert server.hits == ["/robots.txt"]  # cached: one fetch for both checks
    clock.now += 61
    server.robots["127.0.0.1"] = (200, b"User-agent: *\nDisallow:\n")
    policy.check(f"{base}/private/secret")  # the TTL expired: fetched again, and the site relented
    assert server.hits == ["/robots.txt", "/robots.txt"]


def test_cache_is_per_host(server: _Server, client: SafeHttpClient) -> None:
    port = server.server_address[1]
    server.robots["127.0.0.1"] = (200, b"User-agent: *\nDisallow: /\n")
    policy = RobotsPolicy(client, user_agent="dmzwatch/0.1", ttl_s=60)
    with pytest.raises(RobotsDisallowedError):
        policy.check(f"http://127.0.0.1:{port}/a")
    policy.check(f"http://localhost:{port}/a")  # another host, no robots.txt (404): allowed
    assert server.hits == ["/robots.txt", "/robots.txt"]


@pytest.mark.parametrize("status", [404, 410, 403])
def test_unavailable_robots_allows_everything(server: _Server, client: SafeHttpClient, status: int) -> None:
    server.robots["127.0.0.1"] = (status, b"User-agent: *\nDisallow: /\n")
    RobotsPolicy(client, user_agent="dmzwatch/0.1").check(f"http://127.0.0.1:{server.server_address[1]}/a")


@pytest.mark.parametrize("status", [500, 503, 429])
def test_unreachable_robots_is_transient_and_remembered_briefly(
    server: _Server, client: SafeHttpClient, status: int
) -> None:
    server.robots["127.0.0.1"] = (status, b"try later")
    clock = _Clock()
    policy = RobotsPolicy(client, user_agent="dmzwatch/0.1", ttl_s=3600, clock=clock)
    url = f"http://127.0.0.1:{server.server_address[1]}/news/a"
    for _ in range(2):
        with pytest.raises(RobotsUnreachableError) as caught:
            policy.check(url)
        assert isinstance(caught.value, TransientError)
        assert caught.value.retry_after_s is not None and 0 < caught.value.retry_after_s <= 120
        assert "unreachable" in caught.value.reason
    assert server.hits == ["/robots.txt"]
    clock.now += 121
    server.robots["127.0.0.1"] = (200, b"")
    policy.check(url)
    assert server.hits == ["/robots.txt", "/robots.txt"]


def test_robots_at_a_refused_address_is_not_fetched() -> None:
    """The SSRF guard applies to robots.txt too: with no allow-list, a loopback host is never contacted; that
    is 'unavailable', and the page fetch that follows is refused by the same guard with its own reason."""
    with SafeHttpClient(user_agent="dmzwatch/0.1") as guarded:
        RobotsPolicy(guarded, user_agent="dmzwatch/0.1").check("http://127.0.0.1:9/news/a")
