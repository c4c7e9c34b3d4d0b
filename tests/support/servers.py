"""Loopback HTTP servers for tests and benchmarks: a news site with a feed, and a webhook receiver."""

from __future__ import annotations

import hashlib
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SITE_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "site"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class NewsSite:
    """Serves feed.xml and /news/<slug> pages rendered from tests/fixtures/site, with ETag support.

    Several outlets: one NewsSite each, bound to its own loopback address (outlet identity is the host), each
    serving its own feed file at /feed.xml."""

    site_dir: Path = SITE_DIR
    feed_file: str = "feed.xml"
    published: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    base: str = ""
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def values(self) -> dict[str, str]:
        return {
            "{BASE}": self.base,
            "{PUBLISHED_RFC822}": format_datetime(self.published, usegmt=True),
            "{PUBLISHED_ISO}": self.published.isoformat(),
            "{PUBLISHED_HUMAN}": self.published.strftime("%d %B %Y"),
            "{WEEKDAY}": self.published.strftime("%A"),
        }

    def render(self, template: str, extra: dict[str, str] | None = None) -> str:
        for key, value in {**self.values(), **(extra or {})}.items():
            template = template.replace(key, value)
        return template

    def page(self, slug: str) -> str | None:
        body = self.site_dir / f"{slug}.body.html"
        if not body.exists():
            return None
        head = (self.site_dir / "_chrome_head.html").read_text()
        foot = (self.site_dir / "_chrome_foot.html").read_text()
        title = slug.replace("-", " ").capitalize()
        return self.render(head + body.read_text() + foot, {"{TITLE}": title, "{SLUG}": slug})

    def feed(self) -> str:
        return self.render((self.site_dir / self.feed_file).read_text())


def _site_handler(site: NewsSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            site.requests.append((self.path, dict(self.headers.items())))
            path = self.path.split("?", 1)[0]
            if path == "/feed.xml":
                body = site.feed().encode()
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._send(200, body, "application/rss+xml; charset=utf-8", {"ETag": etag})
                return
            if path == "/robots.txt":
                self._send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
                return
            if path.startswith("/news/"):
                page = site.page(path.removeprefix("/news/"))
                if page is not None:
                    self._send(200, page.encode(), "text/html; charset=utf-8")
                    return
            self._send(404, b"not found", "text/plain")

    return Handler


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Records POSTs. `statuses` is consumed one per request (then 200); Retry-After can be scripted too."""

    statuses: list[int] = field(default_factory=list)
    retry_after: str | None = None
    received: list[Received] = field(default_factory=list)
    attempts: int = 0
    attempt_log: list[tuple[float, int]] = field(default_factory=list)  # (time.monotonic() on arrival, status)
    base: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Outage: every request before this time.monotonic() is answered 500.
    down_until: float = 0.0
    # Hang: requests are read (and recorded as received: the receiver acted on them) but not answered until
    # `release` is set, as a receiver stuck on its own backend. `in_flight_max`: most answered-later requests
    # held at once.
    hang: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    in_flight: int = 0
    in_flight_max: int = 0

    def deliveries(self) -> set[str]:
        """Distinct X-Dmzwatch-Delivery ids received: what a de-duplicating receiver acts on."""
        with self.lock:
            return {r.headers.get("X-Dmzwatch-Delivery", "") for r in self.received}

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.1)
        with self.lock:
            return list(self.received)


def _receiver_handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:
            pass

        def _hold_until_released_or_gone(self) -> None:
            """Wait for `release`, or until the sender gives up and closes the connection."""
            deadline = time.monotonic() + 300
            while not receiver.release.wait(0.05) and time.monotonic() < deadline:
                readable, _w, _x = select.select([self.connection], [], [], 0)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.attempts += 1
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if time.monotonic() < receiver.down_until:
                    status = 500
                receiver.attempt_log.append((time.monotonic(), status))
                if status == 200:
                    receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                hang = receiver.hang and not receiver.release.is_set()
                if hang:
                    receiver.in_flight += 1
                    receiver.in_flight_max = max(receiver.in_flight_max, receiver.in_flight)
            if hang:
                self._hold_until_released_or_gone()
                with receiver.lock:
                    receiver.in_flight -= 1
            reply = b"ok" if status == 200 else b"error"
            self.send_response(status)
            if status == 429 and receiver.retry_after:
                self.send_header("Retry-After", receiver.retry_after)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    return Handler


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> Iterator[str]:
    server = _QuietServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def news_site(site: NewsSite | None = None, host: str = "127.0.0.1") -> Iterator[NewsSite]:
    site = site or NewsSite()
    with serve(_site_handler(site), host) as base:
        site.base = base
        yield site


@contextmanager
def webhook_receiver(receiver: WebhookReceiver | None = None) -> Iterator[WebhookReceiver]:
    receiver = receiver or WebhookReceiver()
    with serve(_receiver_handler(receiver)) as base:
        receiver.base = base
        yield receiver


def check_slack_payload(payload: dict[str, Any]) -> None:
    """The shape Slack's incoming webhooks accept (Block Kit limits from Slack's reference)."""
    assert isinstance(payload.get("text"), str) and payload["text"], "fallback text is required"
    blocks = payload.get("blocks")
    assert isinstance(blocks, list) and 0 < len(blocks) <= 50
    for block in blocks:
        kind = block["type"]
        assert kind in {"header", "section", "context", "divider", "actions", "image"}, kind
        if kind == "header":
            assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
        if kind == "section":
            assert "text" in block or "fields" in block
            for item in block.get("fields", []):
                assert item["type"] in {"mrkdwn", "plain_text"} and len(item["text"]) <= 2000
            assert len(block.get("fields", [])) <= 10
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
        if kind == "context":
            assert 0 < len(block["elements"]) <= 10
