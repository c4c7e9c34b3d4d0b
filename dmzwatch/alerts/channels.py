"""Delivery channels. A channel turns an AlertMessage into one HTTP request; retries belong to the caller."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Protocol

from dmzwatch.alerts.message import AlertMessage
from dmzwatch.alerts.slack import render_slack
from dmzwatch.alerts.webhook import sign
from dmzwatch.http import SafeHttpClient
from dmzwatch.settings import Settings


class Channel(Protocol):
    @property
    def name(self) -> str: ...

    def send(self, message: AlertMessage) -> str | None:
        """Deliver; return the channel's reference for the message, if it gives one. Raises DmzwatchError."""
        ...


@dataclass(frozen=True)
class SlackWebhookChannel:
    url: str
    client: SafeHttpClient
    name: str = "slack"

    def send(self, message: AlertMessage) -> str | None:
        body = json.dumps(render_slack(message)).encode()
        self.client.post(self.url, content=body, headers={"Content-Type": "application/json"})
        return None  # incoming webhooks answer "ok" and no message id


@dataclass(frozen=True)
class WebhookChannel:
    name: str
    url: str
    secret: str | None
    client: SafeHttpClient

    def send(self, message: AlertMessage) -> str | None:
        body = json.dumps({"type": f"incident.{message.kind}", "alert": message.to_json()}).encode()
        timestamp = int(time.time())
        delivery_id = f"{message.incident_id}-{message.version}-{self.name}"
        headers = {
            "Content-Type": "application/json",
            "X-Dmzwatch-Event": f"incident.{message.kind}",
            "X-Dmzwatch-Delivery": delivery_id,  # receivers de-duplicate on this
            "X-Dmzwatch-Timestamp": str(timestamp),
        }
        if self.secret:
            headers["X-Dmzwatch-Signature"] = sign(self.secret, timestamp, body)
        self.client.post(self.url, content=body, headers=headers)
        return delivery_id


def configured_channels(settings: Settings, client: SafeHttpClient) -> dict[str, Channel]:
    """Channels enabled by the settings, by name. Secrets come only from the environment."""
    channels: dict[str, Channel] = {}
    if settings.slack_webhook_url:
        channels["slack"] = SlackWebhookChannel(url=settings.slack_webhook_url, client=client)
    for index, url in enumerate(settings.webhook_urls, start=1):
        name = f"webhook-{index}"
        channels[name] = WebhookChannel(name=name, url=url, secret=settings.webhook_secret, client=client)
    return channels
