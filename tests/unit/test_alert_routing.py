"""config/alerts.yaml: routing by zone status and zone, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmzwatch.alerts.routing import Routing, load_alerts_file, parse_alerts_file
from dmzwatch.feeds_config import ConfigError

REPO = Path(__file__).resolve().parent.parent.parent
CHANNELS = ("slack", "slack-bot", "webhook-1", "webhook-2")


def test_default_routing_sends_inside_to_every_channel_and_edge_only_when_enabled() -> None:
    routing = Routing()
    assert routing.channels_for(CHANNELS, "inside", ["idlib-dmz"], alert_on_edge=False) == CHANNELS
    assert routing.channels_for(CHANNELS, "edge", [], alert_on_edge=False) == ()
    assert routing.channels_for(CHANNELS, "edge", [], alert_on_edge=True) == CHANNELS
    assert routing.channels_for(CHANNELS, "outside", [], alert_on_edge=True) == ()


def test_routes_by_zone_status_and_zone() -> None:
    routing = parse_alerts_file(
        """
routes:
  - channels: [slack]
  - channels: [webhook-2]
    zone_statuses: [inside, edge, outside]
    zones: [aleppo-west]
  - channels: [webhook-1]
    zone_statuses: [edge]
""",
        "alerts.yaml",
        zone_names=["idlib-dmz", "aleppo-west"],
    )
    assert routing.channels_for(CHANNELS, "inside", ["idlib-dmz"], alert_on_edge=False) == ("slack",)
    assert routing.channels_for(CHANNELS, "edge", [], alert_on_edge=False) == ("webhook-1",)
    assert routing.channels_for(CHANNELS, "outside", ["aleppo-west"], alert_on_edge=False) == ("webhook-2",)
    # A routed channel that is not configured here is skipped, not an error.
    assert routing.channels_for(("webhook-1",), "inside", ["idlib-dmz"], alert_on_edge=False) == ()
    assert routing.named_channels() == {"slack", "webhook-1", "webhook-2"}


@pytest.mark.parametrize("text", ["", "routes: []", "# nothing yet\n"])
def test_empty_file_means_default_routing(text: str) -> None:
    assert parse_alerts_file(text, "alerts.yaml").routes is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("routes: [{channels: [email]}]", "unknown channel 'email'"),
        ("routes: [{channels: [slack], zone_statuses: [near]}]", "routes.0.zone_statuses.0"),
        ("routes: [{channels: []}]", "routes.0.channels"),
        ("routes: [{channels: [slack], zones: [hama-north]}]", "unknown zone 'hama-north'"),
        ("routes: [{channels: [slack], url: 'https://hooks.example/secret'}]", "routes.0.url"),
        ("routes: {oops", "not valid YAML"),
        ("- slack", "expected a mapping"),
    ],
)
def test_bad_files_are_clear_errors_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_alerts_file(text, "/etc/dmzwatch/alerts.yaml", zone_names=["idlib-dmz"])
    assert message in str(caught.value) and "/etc/dmzwatch/alerts.yaml" in str(caught.value)


def test_the_shipped_file_is_valid() -> None:
    routing = load_alerts_file(REPO / "config" / "alerts.yaml", zone_names=["idlib-dmz"])
    assert routing.routes is not None
    assert "slack" in routing.channels_for(CHANNELS, "inside", ["idlib-dmz"], alert_on_edge=False)


def test_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DMZWATCH_ALERTS_FILE"):
        load_alerts_file(tmp_path / "nope.yaml")
