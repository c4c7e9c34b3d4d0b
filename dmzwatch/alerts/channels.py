"""Delivery channels. A channel turns an alert (or a digest of several) into one request; retries belong to
the caller, which retries only TransientError (with the server's Retry-After as a floor).

Which channels exist is decided by the environment alone, because that is where their secrets live:
``slack`` (DMZWATCH_SLACK_WEBHOOK_URL), ``slack-bot`` (DMZWATCH_SLACK_BOT_TOKEN + DMZWATCH_SLACK_CHANNEL),
``webhook-N`` (the N-th URL of DMZWATCH_WEBHOOK_URLS). Which incidents go where is config/alerts.yaml
(``dmzwatch.alerts.routing``). Secrets are never put in an error, a log line or a repr.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import SecretStr

from dmzwatch.alerts.message import AlertMessage, DigestMessage
from dmzwatch.alerts.slack import render_slack, render_slack_digest
from dmzwatch.alerts.webhook import sign
from dmzwatch.errors import (
    ConnectionFailedError,
    DmzwatchError,
    HTTPStatusError,
    PermanentError,
    RateLimitedError,
    ServerError,
)
from dmzwatch.http import SafeHttpClient, parse_retry_after
from dmzwatch.settings import Settings

if TYPE_CHECKING:
    from slack_sdk import WebClient

DIGEST_REF_PREFIX = "digest:"
# Slack Web API errors that a later call may not repeat (Slack's method docs list them as transient).
_SLACK_TRANSIENT_ERRORS = {"ratelimited", "service_unavailable", "internal_error", "request_timeout", "fatal_error"}


class Channel(Protocol):
    @property
    def name(self) -> str: ...

    def send(self, message: AlertMessage) -> str | None:
        """Deliver; return the channel's reference for the message, if it gives one. Raises DmzwatchError."""
        ...

    def send_digest(self, digest: DigestMessage) -> str | None:
        """Deliver several alerts as one message; return its reference. Raises DmzwatchError."""
        ...


@dataclass(frozen=True)
class SlackWebhookChannel:
    url: str = field(repr=False)  # the URL is the secret
    client: SafeHttpClient
    name: str = "slack"

    def send(self, message: AlertMessage) -> str | None:
        self._post(render_slack(message))
        return None  # incoming webhooks answer "ok" and no message id

    def send_digest(self, digest: DigestMessage) -> str | None:
        self._post(render_slack_digest(digest))
        return None

    def _post(self, payload: dict[str, Any]) -> None:
        try:
            self.client.post(
                self.url, content=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
            )
        except DmzwatchError as exc:
            raise _redacted(exc, self.url, "the Slack webhook") from None


@dataclass(frozen=True)
class WebhookChannel:
    name: str
    url: str = field(repr=False)  # webhook URLs often embed a token
    secret: str | None = field(repr=False)
    client: SafeHttpClient

    def send(self, message: AlertMessage) -> str | None:
        event = f"incident.{message.kind}"
        delivery_id = f"{message.incident_id}-{message.version}-{self.name}"
        self._post(event, delivery_id, {"type": event, "alert": message.to_json()})
        return delivery_id

    def send_digest(self, digest: DigestMessage) -> str | None:
        self._post("incident.digest", digest.delivery_id, {"type": "incident.digest", **digest.to_json()})
        return digest.delivery_id

    def _post(self, event: str, delivery_id: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Dmzwatch-Event": event,
            "X-Dmzwatch-Delivery": delivery_id,  # receivers de-duplicate on this
            "X-Dmzwatch-Timestamp": str(timestamp),
        }
        if self.secret:
            headers["X-Dmzwatch-Signature"] = sign(self.secret, timestamp, body)
        try:
            self.client.post(self.url, content=body, headers=headers)
        except DmzwatchError as exc:
            raise _redacted(exc, self.url, f"webhook {self.name}") from None


@dataclass(frozen=True)
class SlackBotChannel:
    """Slack through the Web API with a bot token: chat.postMessage, updates threaded under the first message."""

    token: SecretStr
    channel: str
    base_url: str = "https://slack.com/api/"
    timeout_s: int = 15
    name: str = "slack-bot"

    def send(self, message: AlertMessage) -> str | None:
        payload = render_slack(message)
        thread_ts = slack_thread_ts(message.first_alert_ref) if message.kind == "update" else None
        return self._post(payload, thread_ts)

    def send_digest(self, digest: DigestMessage) -> str | None:
        return self._post(render_slack_digest(digest), None)

    def _client(self) -> WebClient:
        from slack_sdk import WebClient  # loaded on first send, not at import

        # No SDK-level retries: the delivery task retries with backoff and honours Retry-After itself.
        return WebClient(
            token=self.token.get_secret_value(), base_url=self.base_url, timeout=self.timeout_s, retry_handlers=[]
        )

    def _post(self, payload: dict[str, Any], thread_ts: str | None) -> str | None:
        from slack_sdk.errors import SlackApiError

        arguments: dict[str, Any] = {
            "channel": self.channel,
            "text": payload["text"],
            "blocks": payload["blocks"],
            "unfurl_links": False,
        }
        if thread_ts:
            arguments["thread_ts"] = thread_ts
        try:
            response = self._client().chat_postMessage(**arguments)
        except SlackApiError as exc:
            raise slack_api_error(exc.response.status_code, exc.response.headers, exc.response.data) from None
        except OSError as exc:  # urllib's URLError, timeouts, refused connections
            raise ConnectionFailedError(f"Slack API unreachable: {type(exc).__name__}: {exc}") from None
        ts = response.get("ts")
        return str(ts) if ts else None


def slack_thread_ts(first_alert_ref: str | None) -> str | None:
    """The Slack ts to thread an update under: the first alert's own message, or the digest that carried it."""
    if not first_alert_ref:
        return None
    ts = first_alert_ref.removeprefix(DIGEST_REF_PREFIX)
    return ts if ts.replace(".", "", 1).isdigit() else None


def slack_api_error(status: int, headers: Any, data: Any) -> DmzwatchError:
    """Slack's answer as our error taxonomy: 429, 5xx and Slack's transient codes retry; the rest do not."""
    error = data.get("error", "") if isinstance(data, dict) else ""
    lower_headers = {str(k).lower(): v for k, v in dict(headers or {}).items()}
    retry_after = parse_retry_after(_first(lower_headers.get("retry-after")))
    reason = f"Slack API answered {status}" + (f": {error}" if error else "")
    if status == 429 or error == "ratelimited":
        return RateLimitedError(reason, status=status, retry_after_s=retry_after)
    if status >= 500 or error in _SLACK_TRANSIENT_ERRORS:
        return ServerError(reason, status=status, retry_after_s=retry_after)
    return HTTPStatusError(reason + " (check DMZWATCH_SLACK_BOT_TOKEN and DMZWATCH_SLACK_CHANNEL)", status=status)


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def _redacted(exc: DmzwatchError, secret_url: str, label: str) -> DmzwatchError:
    """The same error with the secret URL replaced by a label: reasons end up in logs and alerts.last_error."""
    reason = exc.reason.replace(secret_url, label)
    if isinstance(exc, PermanentError):
        return type(exc)(reason, status=exc.status)
    retry_after = getattr(exc, "retry_after_s", None)
    return type(exc)(reason, status=exc.status, retry_after_s=retry_after)  # type: ignore[call-arg]


def configured_channels(settings: Settings, client: SafeHttpClient) -> dict[str, Channel]:
    """Channels enabled by the settings, by name. Secrets come only from the environment."""
    channels: dict[str, Channel] = {}
    if settings.slack_webhook_url:
        channels["slack"] = SlackWebhookChannel(url=settings.slack_webhook_url, client=client)
    if settings.slack_bot_token is not None and settings.slack_channel:
        channels["slack-bot"] = SlackBotChannel(
            token=settings.slack_bot_token,
            channel=settings.slack_channel,
            base_url=settings.slack_api_url,
            timeout_s=max(1, round(settings.alert_send_timeout_s)),
        )
    for index, url in enumerate(settings.webhook_urls, start=1):
        name = f"webhook-{index}"
        channels[name] = WebhookChannel(name=name, url=url, secret=settings.webhook_secret, client=client)
    return channels
