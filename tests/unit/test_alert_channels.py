"""Channels against loopback HTTP servers: Slack bot mode (a local stand-in for Slack's Web API, reached
through slack-sdk's WebClient base_url), signed webhooks, digests, and secrets kept out of errors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from pydantic import SecretStr

from dmzwatch.alerts.channels import SlackBotChannel, WebhookChannel, configured_channels, slack_thread_ts
from dmzwatch.alerts.message import DigestMessage, SourceLink
from dmzwatch.alerts.slack import render_slack_digest
from dmzwatch.errors import HTTPStatusError, RateLimitedError, ServerError
from dmzwatch.http import SafeHttpClient
from dmzwatch.settings import Settings
from tests.support.servers import check_slack_payload, serve, webhook_receiver
from tests.unit.test_alerts import _message

TOKEN = "xoxb-test-token-not-a-real-one"


@dataclass
class FakeSlackApi:
    """chat.postMessage as Slack documents it: Bearer token, JSON body, {"ok": true, "ts": ...}."""

    replies: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    base: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def slack_api() -> Iterator[FakeSlackApi]:
    api = FakeSlackApi()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            with api.lock:
                api.calls.append((self.path, dict(self.headers.items()), body))
                status, reply, headers = (
                    api.replies.pop(0)
                    if api.replies
                    else (200, {"ok": True, "ts": f"17000000{len(api.calls)}.000100"}, {})
                )
            data = json.dumps(reply).encode()
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    with serve(Handler) as base:
        api.base = base + "/api/"
        yield api


def _bot(api: FakeSlackApi) -> SlackBotChannel:
    return SlackBotChannel(token=SecretStr(TOKEN), channel="C0DMZ", base_url=api.base, timeout_s=5)


def test_bot_posts_then_threads_the_update_under_the_first_message(slack_api: FakeSlackApi) -> None:
    bot = _bot(slack_api)
    first_ts = bot.send(_message())
    assert first_ts == "170000001.000100"
    bot.send(_message(kind="update", version=2, changes=("death toll rose to 7",), first_alert_ref=first_ts))
    (path1, headers1, body1), (_, _, body2) = slack_api.calls
    assert path1 == "/api/chat.postMessage"
    assert headers1["Authorization"] == f"Bearer {TOKEN}"
    assert body1["channel"] == "C0DMZ" and "thread_ts" not in body1
    check_slack_payload({"text": body1["text"], "blocks": body1["blocks"]})
    assert body2["thread_ts"] == first_ts and body2["text"].startswith("Update:")


def test_update_whose_first_alert_went_in_a_digest_threads_under_the_digest(slack_api: FakeSlackApi) -> None:
    assert slack_thread_ts("digest:1700000001.000100") == "1700000001.000100"
    assert slack_thread_ts("42-1-webhook-1") is None and slack_thread_ts(None) is None
    _bot(slack_api).send(_message(kind="update", version=2, first_alert_ref="digest:1700000001.000100"))
    assert slack_api.calls[0][2]["thread_ts"] == "1700000001.000100"


def test_bot_errors_map_to_retry_or_fail_and_never_show_the_token(slack_api: FakeSlackApi) -> None:
    slack_api.replies = [
        (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"}),
        (500, {"ok": False, "error": "internal_error"}, {}),
        (200, {"ok": False, "error": "channel_not_found"}, {}),
    ]
    bot = _bot(slack_api)
    with pytest.raises(RateLimitedError) as limited:
        bot.send(_message())
    assert limited.value.retry_after_s == 7
    with pytest.raises(ServerError):
        bot.send(_message())
    with pytest.raises(HTTPStatusError) as refused:
        bot.send(_message())
    assert "channel_not_found" in str(refused.value)
    for error in (limited.value, refused.value):
        assert TOKEN not in str(error) and TOKEN not in repr(error)
    assert TOKEN not in repr(bot)


def test_webhook_errors_do_not_leak_the_secret_url() -> None:
    client = SafeHttpClient(user_agent="dmzwatch-test", allow_hosts=["127.0.0.1"])
    with webhook_receiver() as receiver:
        receiver.statuses = [404, 503]
        secret_url = f"{receiver.base}/hooks/T0/secret-token-123"
        channel = WebhookChannel(name="webhook-1", url=secret_url, secret="k", client=client)
        with pytest.raises(HTTPStatusError) as missing:
            channel.send(_message())
        with pytest.raises(RateLimitedError) as unavailable:
            channel.send(_message())
    for error in (missing.value, unavailable.value):
        assert "secret-token-123" not in str(error) and "webhook webhook-1" in str(error)
    assert "secret-token-123" not in repr(channel)


def test_webhook_digest_is_one_signed_request_with_a_stable_delivery_id() -> None:
    client = SafeHttpClient(user_agent="dmzwatch-test", allow_hosts=["127.0.0.1"])
    digest = DigestMessage(channel="webhook-1", alerts=(_message(alert_id=3), _message(alert_id=4)), window_s=600)
    with webhook_receiver() as receiver:
        channel = WebhookChannel(name="webhook-1", url=f"{receiver.base}/hook", secret="k", client=client)
        ref = channel.send_digest(digest)
    (received,) = receiver.received
    assert received.headers["X-Dmzwatch-Event"] == "incident.digest"
    assert received.headers["X-Dmzwatch-Delivery"] == ref == digest.delivery_id
    payload = received.json()
    assert payload["type"] == "incident.digest" and payload["count"] == 2
    assert [a["alert_id"] for a in payload["alerts"]] == [3, 4]


def test_slack_digest_fits_block_kit_limits_even_for_a_huge_burst() -> None:
    small = render_slack_digest(DigestMessage("slack", (_message(), _message(kind="update")), 600))
    check_slack_payload(small)
    assert small["text"] == "Digest: 1 incident in the last 10 min"
    assert "*New* Air/drone strike in Kafr Nabl, Idlib" in json.dumps(small)
    huge = render_slack_digest(DigestMessage("slack", tuple(_message(alert_id=i) for i in range(400)), 600))
    check_slack_payload(huge)


def test_channels_come_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMZWATCH_SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("DMZWATCH_SLACK_CHANNEL", "C0DMZ")
    monkeypatch.setenv("DMZWATCH_WEBHOOK_URLS", "https://a.example/h,https://b.example/h")
    settings = Settings()
    assert TOKEN not in repr(settings)  # a SecretStr: never in a log line that prints the settings
    client = SafeHttpClient(user_agent="dmzwatch-test")
    assert list(configured_channels(settings, client)) == ["slack-bot", "webhook-1", "webhook-2"]


def test_a_digest_line_carries_what_a_single_alert_does_once_per_incident() -> None:
    """Precision, sources with links (and "1 source", not "1 sources"), one line per incident at its latest
    version: a `new` and its update folded together read as one new incident."""
    first = _message(alert_id=1, kind="new", version=1, killed=3)
    update = _message(alert_id=2, kind="update", version=2, killed=5)
    other = _message(
        alert_id=3, kind="new", incident_id=43, place_name="Hass", geo_precision=3,
        sources=(SourceLink("https://wire.example/hass", "Levant Wire", None, 6, None),),
    )  # fmt: skip
    payload = render_slack_digest(DigestMessage("slack", (first, update, other), 60))
    check_slack_payload(payload)
    assert payload["text"] == "Digest: 2 incidents in the last 60 s"
    lines = payload["blocks"][1]["text"]["text"].splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("• *New* Air/drone strike in Kafr Nabl, Idlib (exact place): killed 5")
    assert "(#42 v2)" in lines[0] and "2 sources: <https://a.example/x|a.example>, " in lines[0]
    assert "Update" not in json.dumps(payload)
    assert "Hass, Idlib (region only)" in lines[1] and "1 source: <https://wire.example/hass|Levant Wire>" in lines[1]
