"""SafeHttpClient against a hostile loopback server (127.0.0.1, port 0). No internet.

The server is allow-listed by *hostname* ("localhost") only, so any redirect to a literal address (127.0.0.1,
169.254.169.254, 10.0.0.1) has to get past the address guard, which must refuse it before a socket is opened.
"""

from __future__ import annotations

import gzip
import ipaddress
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dmzwatch import http as dmz_http
from dmzwatch.errors import (
    BlockedAddressError,
    BodyTooLargeError,
    ConnectionFailedError,
    DeadlineExceededError,
    DecompressionBombError,
    FetchTimeoutError,
    HTTPStatusError,
    InvalidURLError,
    PermanentError,
    RateLimitedError,
    RedirectLoopError,
    ServerError,
    TooManyRedirectsError,
    TransientError,
)
from dmzwatch.http import AddressGuard, HttpResponse, SafeHttpClient, blocked_reason, parse_retry_after
from dmzwatch.settings import Settings

UA = "dmzwatch-test/1.0 (+https://example.invalid/ops)"
CAP = 200_000
ETAG = '"v42"'
LAST_MODIFIED = "Sat, 21 Nov 2026 10:00:00 GMT"

# 50 MB of zeros gzips to ~50 KB: built once per test session, in memory.
_BOMB: dict[str, bytes] = {}


def _bomb(kind: str) -> bytes:
    if kind not in _BOMB:
        zeros = bytes(50 * 1024 * 1024)
        _BOMB[kind] = gzip.compress(zeros, compresslevel=9) if kind == "gzip" else zlib.compress(zeros, 9)
    return _BOMB[kind]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        all_headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))}
        all_headers.update(headers or {})
        for key, value in all_headers.items():
            self.send_header(key, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _redirect(self, status: int, location: str) -> None:
        self._send(status, headers={"Location": location})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        payload = self.rfile.read(length)
        self.server.hits.append((self.path, dict(self.headers.items())))
        if self.path == "/hook":
            self._send(200, b"ok:" + payload)
        elif self.path == "/hook-moved":
            self._redirect(302, "/hook")
        elif self.path == "/hook-307":
            self._redirect(307, "/hook")
        else:
            self._send(404)

    def do_GET(self) -> None:
        self.server.hits.append((self.path, dict(self.headers.items())))
        path = self.path
        port = self.server.server_address[1]
        if path == "/ok":
            self._send(200, b"hello", {"X-Custom": "yes", "ETag": ETAG})
        elif path == "/set-cookie":
            self._send(200, b"have a cookie", {"Set-Cookie": "session=abc123; Path=/"})
        elif path == "/echo-headers":
            self._send(200, repr(dict(self.headers.items())).encode())
        elif path == "/conditional":
            if self.headers.get("If-None-Match") == ETAG and self.headers.get("If-Modified-Since") == LAST_MODIFIED:
                self._send(304, headers={"ETag": ETAG})
            else:
                self._send(200, b"<rss/>", {"ETag": ETAG, "Last-Modified": LAST_MODIFIED})
        elif path == "/r301":
            self._redirect(301, "/r302")
        elif path == "/r302":
            self._redirect(302, f"http://localhost:{port}/ok")
        elif path == "/loop-a":
            self._redirect(302, "/loop-b")
        elif path == "/loop-b":
            self._redirect(302, "/loop-a")
        elif path.startswith("/hop/"):
            self._redirect(302, f"/hop/{int(path.rsplit('/', 1)[1]) + 1}")
        elif path == "/to-loopback-ip":
            self._redirect(302, f"http://127.0.0.1:{port}/ok")
        elif path == "/to-metadata":
            self._redirect(302, "http://169.254.169.254/latest/meta-data/iam/security-credentials/")
        elif path == "/to-private":
            self._redirect(301, "http://10.0.0.1/admin")
        elif path == "/to-mapped":
            self._redirect(302, f"http://[::ffff:127.0.0.1]:{port}/ok")
        elif path == "/to-file":
            self._redirect(302, "file:///etc/passwd")
        elif path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()  # HTTP/1.0, no length: the body ends when we stop, which is never
            chunk = b"<p>" + b"x" * 16_000 + b"</p>\n"
            try:
                for _ in range(10_000):
                    self.wfile.write(chunk)
            except OSError:
                return
        elif path == "/huge-length":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
            try:
                self.wfile.write(b"x" * 1000)
            except OSError:
                return
        elif path in ("/gzip-bomb", "/deflate-bomb"):
            kind = "gzip" if path == "/gzip-bomb" else "deflate"
            self._send(200, _bomb(kind), {"Content-Encoding": kind, "Content-Type": "text/html"})
        elif path == "/gzip-ok":
            self._send(200, gzip.compress(b"small but compressed " * 100), {"Content-Encoding": "gzip"})
        elif path == "/raw-deflate-ok":
            obj = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
            body = obj.compress(b"raw deflate " * 50) + obj.flush()
            self._send(200, body, {"Content-Encoding": "deflate"})
        elif path == "/brotli":
            self._send(200, b"\x00\x01", {"Content-Encoding": "br"})
        elif path == "/drip":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(100):  # at most ~10 s even if the client never gives up
                    self.wfile.write(b"a")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                return
        elif path == "/stall":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.flush()
            time.sleep(3)
        elif path == "/429":
            self._send(429, b"slow down", {"Retry-After": "7"})
        elif path == "/503-date":
            when = datetime.now(UTC) + timedelta(seconds=120)
            self._send(503, b"maintenance", {"Retry-After": format_datetime(when, usegmt=True)})
        elif path == "/500":
            self._send(500, b"boom")
        elif path == "/404":
            self._send(404, b"nope")
        elif path == "/410":
            self._send(410, b"gone for good")
        elif path == "/redirect-no-location":
            self._send(302)
        else:
            self._send(404)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: list[tuple[str, dict[str, str]]] = []

    def paths(self) -> list[str]:
        return [path for path, _ in self.hits]


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def base(server: _Server) -> str:
    server.hits.clear()
    return f"http://localhost:{server.server_address[1]}"


@pytest.fixture()
def connects(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every address a socket is actually opened to (httpcore's sync backend uses socket.create_connection)."""
    seen: list[tuple[str, int]] = []
    real = socket.create_connection

    def spy(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        seen.append(address)
        assert ipaddress.ip_address(address[0]).is_loopback, f"connected to non-loopback {address}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", spy)  # what httpcore's sync backend calls
    return seen


def _client(**overrides: Any) -> SafeHttpClient:
    options: dict[str, Any] = {
        "user_agent": UA,
        "connect_timeout_s": 1.0,
        "read_timeout_s": 1.0,
        "deadline_s": 3.0,
        "max_bytes": CAP,
        "max_redirects": 5,
        "allow_hosts": ("localhost",),
    }
    options.update(overrides)
    return SafeHttpClient(**options)


@pytest.fixture()
def client() -> Iterator[SafeHttpClient]:
    with _client() as c:
        yield c


# --- happy paths -------------------------------------------------------------------------------------------
def test_get_returns_body_headers_and_sends_user_agent(client: SafeHttpClient, base: str, server: _Server) -> None:
    response = client.get(f"{base}/ok", accept="text/html")
    assert isinstance(response, HttpResponse)
    assert (response.status, response.body, response.redirects) == (200, b"hello", ())
    assert response.header("x-custom") == response.header("X-Custom") == "yes"
    assert response.content_type == "text/plain" and response.charset == "utf-8"
    sent = server.hits[-1][1]
    assert sent["User-Agent"] == UA
    assert sent["Accept"] == "text/html"
    assert sent["Accept-Encoding"] == "gzip, deflate"


def test_conditional_get_returns_304_when_validators_match(client: SafeHttpClient, base: str, server: _Server) -> None:
    first = client.get(f"{base}/conditional", accept="application/rss+xml")
    assert first.status == 200 and first.header("etag") == ETAG
    second = client.get(
        f"{base}/conditional",
        accept="application/rss+xml",
        headers={"If-None-Match": ETAG, "If-Modified-Since": LAST_MODIFIED},
    )
    assert second.status == 304 and second.body == b""
    sent = server.hits[-1][1]
    assert sent["If-None-Match"] == ETAG and sent["If-Modified-Since"] == LAST_MODIFIED


def test_redirect_chain_is_followed_and_recorded(client: SafeHttpClient, base: str) -> None:
    response = client.get(f"{base}/r301", accept="*/*")
    assert response.status == 200 and response.body == b"hello"
    assert response.url == f"{base}/ok"
    assert response.redirects == ((301, f"{base}/r302"), (302, f"{base}/ok"))


def test_cookies_are_never_stored(client: SafeHttpClient, base: str, server: _Server) -> None:
    client.get(f"{base}/set-cookie", accept="*/*")
    client.get(f"{base}/ok", accept="*/*")
    assert "Cookie" not in server.hits[-1][1]


def test_410_is_returned_not_raised(client: SafeHttpClient, base: str) -> None:
    response = client.get(f"{base}/410", accept="*/*")
    assert response.status == 410


def test_gzip_and_raw_deflate_bodies_are_decoded(client: SafeHttpClient, base: str) -> None:
    assert client.get(f"{base}/gzip-ok", accept="*/*").body == b"small but compressed " * 100
    assert client.get(f"{base}/raw-deflate-ok", accept="*/*").body == b"raw deflate " * 50


def test_post_for_webhooks(client: SafeHttpClient, base: str) -> None:
    response = client.post(f"{base}/hook", content=b'{"a":1}', headers={"Content-Type": "application/json"})
    assert response.status == 200 and response.body == b'ok:{"a":1}'
    kept = client.post(f"{base}/hook-307", content=b"x", headers={"Content-Type": "text/plain"})
    assert kept.body == b"ok:x" and kept.redirects[0][0] == 307
    with pytest.raises(HTTPStatusError, match="302"):
        client.post(f"{base}/hook-moved", content=b"x", headers={"Content-Type": "text/plain"})


# --- redirects ---------------------------------------------------------------------------------------------
def test_redirect_loop_is_refused(client: SafeHttpClient, base: str) -> None:
    with pytest.raises(RedirectLoopError, match="redirect loop") as info:
        client.get(f"{base}/loop-a", accept="*/*")
    assert not info.value.transient


def test_too_many_redirects(client: SafeHttpClient, base: str, server: _Server) -> None:
    with pytest.raises(TooManyRedirectsError, match="more than 5 redirects"):
        client.get(f"{base}/hop/0", accept="*/*")
    assert server.paths() == [f"/hop/{i}" for i in range(6)]  # the first request plus 5 followed


def test_redirect_without_location_is_permanent(client: SafeHttpClient, base: str) -> None:
    with pytest.raises(HTTPStatusError) as info:
        client.get(f"{base}/redirect-no-location", accept="*/*")
    assert info.value.status == 302


# --- SSRF guard --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/to-loopback-ip", "127.0.0.1: loopback"),
        ("/to-metadata", "169.254.169.254: link-local (cloud metadata service)"),
        ("/to-private", "10.0.0.1: private"),
        ("/to-mapped", "::ffff:127.0.0.1: IPv4-mapped loopback"),
    ],
)
def test_redirect_to_internal_address_is_refused_before_connecting(
    client: SafeHttpClient, base: str, server: _Server, connects: list[tuple[str, int]], path: str, shown: str
) -> None:
    with pytest.raises(BlockedAddressError, match="refusing to connect") as info:
        client.get(f"{base}{path}", accept="*/*")
    assert shown in info.value.reason
    assert "refused before connecting" in info.value.reason
    assert not info.value.transient
    assert server.paths() == [path]  # the target was never reached ...
    port = server.server_address[1]
    assert connects and all(address[1] == port for address in connects)  # ... and no socket was opened to it


def test_first_url_is_checked_too(base: str, server: _Server, connects: list[tuple[str, int]]) -> None:
    port = server.server_address[1]
    with _client(allow_hosts=()) as strict:
        with pytest.raises(BlockedAddressError, match="localhost"):
            strict.get(f"{base}/ok", accept="*/*")
        with pytest.raises(BlockedAddressError, match="loopback"):
            strict.get(f"http://127.0.0.1:{port}/ok", accept="*/*")
        with pytest.raises(BlockedAddressError, match="metadata"):
            strict.get("http://169.254.169.254/latest/meta-data/", accept="*/*")
    assert connects == [] and server.hits == []


def test_cidr_allow_list(server: _Server) -> None:
    port = server.server_address[1]
    with _client(allow_hosts=("127.0.0.0/8",)) as by_cidr:
        assert by_cidr.get(f"http://127.0.0.1:{port}/ok", accept="*/*").body == b"hello"


def test_hostname_resolving_to_private_address_is_refused(
    client: SafeHttpClient, monkeypatch: pytest.MonkeyPatch, connects: list[tuple[str, int]]
) -> None:
    def fake_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "news.example"
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),  # one bad answer spoils the host
        ]

    monkeypatch.setattr(dmz_http.socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(BlockedAddressError, match=r"news\.example \(10\.1\.2\.3\): private"):
        client.get("http://news.example/story", accept="*/*")
    assert connects == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x/", "/relative", "http://"])
def test_only_http_and_https(client: SafeHttpClient, url: str) -> None:
    with pytest.raises(InvalidURLError):
        client.get(url, accept="*/*")


def test_redirect_to_file_scheme_is_refused(client: SafeHttpClient, base: str) -> None:
    with pytest.raises(InvalidURLError, match="only http and https"):
        client.get(f"{base}/to-file", accept="*/*")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local (cloud metadata service)"),
        ("169.254.1.1", "link-local"),
        ("100.64.0.1", "non-global"),
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "private"),
        ("255.255.255.255", "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "private"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
        ("::ffff:10.0.0.1", "IPv4-mapped private"),
        ("2002:7f00:1::", "6to4 loopback"),
        ("64:ff9b::a9fe:a9fe", "NAT64 link-local"),
    ],
)
def test_blocked_addresses(address: str, reason: str) -> None:
    got = blocked_reason(ipaddress.ip_address(address))
    assert got is not None and reason in got


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.216.34"])
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_allow_list_parsing() -> None:
    guard = AddressGuard(["LocalHost.", "10.9.0.0/16", "192.168.7.7", " "])
    assert guard.check_ip(ipaddress.ip_address("10.9.3.4")) is None
    assert guard.check_ip(ipaddress.ip_address("192.168.7.7")) is None
    assert guard.check_ip(ipaddress.ip_address("192.168.7.8")) == "private"
    assert guard.resolve("localhost", 80)  # exempt by hostname, whatever it resolves to


# --- size caps ---------------------------------------------------------------------------------------------
def test_endless_body_is_cut_at_the_cap(client: SafeHttpClient, base: str) -> None:
    started = time.monotonic()
    with pytest.raises(BodyTooLargeError, match=f"body exceeded {CAP} bytes from {base}/endless"):
        client.get(f"{base}/endless", accept="text/html")
    assert time.monotonic() - started < 2


def test_content_length_over_the_cap_is_refused_up_front(client: SafeHttpClient, base: str) -> None:
    with pytest.raises(BodyTooLargeError, match="1000000000 bytes \\(Content-Length\\)"):
        client.get(f"{base}/huge-length", accept="text/html")


def test_per_call_cap(client: SafeHttpClient, base: str) -> None:
    with pytest.raises(BodyTooLargeError, match="3-byte cap"):
        client.get(f"{base}/ok", accept="*/*", max_bytes=3)


@pytest.mark.parametrize("path", ["/gzip-bomb", "/deflate-bomb"])
def test_decompression_bomb_is_cut_with_a_clear_error(client: SafeHttpClient, base: str, path: str) -> None:
    _bomb("gzip" if "gzip" in path else "deflate")  # build outside the timed part
    started = time.monotonic()
    with pytest.raises(DecompressionBombError) as info:
        client.get(f"{base}{path}", accept="text/html")
    assert f"body exceeded {CAP} bytes after decompression from {base}{path}" in info.value.reason
    assert isinstance(info.value, BodyTooLargeError) and not info.value.transient
    assert time.monotonic() - started < 2


def test_unsupported_content_encoding(client: SafeHttpClient, base: str) -> None:
    with pytest.raises(PermanentError, match="unsupported Content-Encoding 'br'"):
        client.get(f"{base}/brotli", accept="*/*")


# --- time ----------------------------------------------------------------------------------------------------
def test_slow_drip_hits_the_total_deadline(base: str) -> None:
    # One byte every 0.1 s never trips the 0.5 s read timeout; only the 1 s total deadline can stop it.
    with _client(read_timeout_s=0.5, deadline_s=1.0) as quick:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError, match="exceeded the 1s deadline") as info:
            quick.get(f"{base}/drip", accept="text/html")
        elapsed = time.monotonic() - started
    assert info.value.transient
    assert 0.9 <= elapsed < 1.6


def test_stalled_body_hits_the_read_timeout(base: str) -> None:
    with _client(read_timeout_s=0.3, deadline_s=2.0) as quick:
        started = time.monotonic()
        with pytest.raises(FetchTimeoutError, match="read timeout") as info:
            quick.get(f"{base}/stall", accept="text/html")
        assert time.monotonic() - started < 1.0
    assert not isinstance(info.value, DeadlineExceededError) and info.value.transient


def test_connection_refused_is_transient(server: _Server) -> None:
    with socket.socket() as spare:  # a port nobody listens on
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    with _client(allow_hosts=("127.0.0.1",)) as c, pytest.raises(ConnectionFailedError) as info:
        c.get(f"http://127.0.0.1:{port}/", accept="*/*")
    assert info.value.transient


# --- statuses ------------------------------------------------------------------------------------------------
def test_429_carries_retry_after(client: SafeHttpClient, base: str) -> None:
    with pytest.raises(RateLimitedError) as info:
        client.get(f"{base}/429", accept="*/*")
    assert info.value.transient and info.value.status == 429
    assert info.value.retry_after_s == 7.0
    assert "retry after 7s" in info.value.reason


def test_503_with_http_date_retry_after(client: SafeHttpClient, base: str) -> None:
    with pytest.raises(RateLimitedError) as info:
        client.get(f"{base}/503-date", accept="*/*")
    assert info.value.status == 503
    assert info.value.retry_after_s is not None and 100 < info.value.retry_after_s <= 121


def test_500_is_transient_and_404_is_permanent(client: SafeHttpClient, base: str) -> None:
    with pytest.raises(ServerError) as server_error:
        client.get(f"{base}/500", accept="*/*")
    assert isinstance(server_error.value, TransientError) and server_error.value.status == 500
    with pytest.raises(HTTPStatusError) as missing:
        client.get(f"{base}/404", accept="*/*")
    assert isinstance(missing.value, PermanentError) and missing.value.status == 404
    assert missing.value.reason == f"{base}/404 answered 404 Not Found"


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Sun, 22 Nov 2026 04:01:30 GMT", now=now) == 90.0
    assert parse_retry_after("Sun, 22 Nov 2026 03:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_from_settings_and_process_client(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(http_allow_hosts=("localhost",), http_user_agent=UA)
    with SafeHttpClient.from_settings(settings) as built:
        assert built._max_bytes == settings.http_max_bytes
    dmz_http.reset_http_client()
    monkeypatch.setattr("dmzwatch.settings.get_settings", lambda: settings)
    first = dmz_http.get_http_client()
    assert dmz_http.get_http_client() is first
    dmz_http.reset_http_client()
