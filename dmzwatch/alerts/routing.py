"""Which channels receive which incidents: config/alerts.yaml, validated with clear errors.

The file routes by zone status and zone name. It never holds a secret: channels exist because their URL or
token is set in the environment (see ``dmzwatch.alerts.channels``), and the file only refers to them by name:
``slack`` (incoming webhook), ``slack-bot`` (bot token), ``webhook-1``, ``webhook-2``, ... (one per URL in
DMZWATCH_WEBHOOK_URLS, in order).

With no ``routes`` (or an empty list) every configured channel receives incidents ``inside`` the primary zone,
plus ``edge`` when DMZWATCH_ALERT_ON_EDGE is true. With routes, a channel receives an incident when any route
naming it matches; DMZWATCH_ALERT_ON_EDGE is then unused (say ``edge`` in a route instead).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dmzwatch.feeds_config import ConfigError

ZoneStatus = Literal["inside", "edge", "outside"]
# The names channels get from the environment; anything else in the file is a typo.
CHANNEL_NAME = re.compile(r"^(slack|slack-bot|webhook-[1-9][0-9]*)$")


def _inside_only() -> list[ZoneStatus]:
    return ["inside"]


class RouteSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: list[str] = Field(min_length=1)
    zone_statuses: list[ZoneStatus] = Field(default_factory=lambda: _inside_only(), min_length=1)
    # Empty: any incident with a matching zone status. Else the incident must lie in one of these zones.
    zones: list[str] = Field(default_factory=list)

    @field_validator("channels")
    @classmethod
    def _known_channel_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not CHANNEL_NAME.match(name):
                raise ValueError(
                    f"unknown channel {name!r}: channels are 'slack' (DMZWATCH_SLACK_WEBHOOK_URL), 'slack-bot' "
                    "(DMZWATCH_SLACK_BOT_TOKEN), 'webhook-N' (the N-th URL of DMZWATCH_WEBHOOK_URLS)"
                )
        return value


class AlertsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    routes: list[RouteSpec] | None = None


@dataclass(frozen=True, slots=True)
class Route:
    channels: tuple[str, ...]
    zone_statuses: frozenset[str]
    zones: frozenset[str]

    def matches(self, zone_status: str, zones: Iterable[str]) -> bool:
        if zone_status not in self.zone_statuses:
            return False
        return not self.zones or bool(self.zones.intersection(zones))


@dataclass(frozen=True, slots=True)
class Routing:
    """Routes from the file; None means the default (every channel, primary zone inside, edge if enabled)."""

    routes: tuple[Route, ...] | None = None

    def channels_for(
        self, available: Sequence[str], zone_status: str, zones: Iterable[str], *, alert_on_edge: bool
    ) -> tuple[str, ...]:
        """The configured channels that receive an incident, in the order they are configured."""
        if self.routes is None:
            if zone_status == "inside" or (alert_on_edge and zone_status == "edge"):
                return tuple(available)
            return ()
        zone_list = list(zones)
        wanted = {name for route in self.routes if route.matches(zone_status, zone_list) for name in route.channels}
        return tuple(name for name in available if name in wanted)

    def named_channels(self) -> set[str]:
        return {name for route in self.routes or () for name in route.channels}


def parse_alerts_file(text: str, source: str, zone_names: Iterable[str] | None = None) -> Routing:
    """Validate the file's text. ``zone_names``, when given, are the zones a route may name."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with 'routes:', got {type(raw).__name__}")
    try:
        spec = AlertsFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise ConfigError(f"{source}: {problems}") from exc
    if not spec.routes:
        return Routing(None)
    known_zones = set(zone_names) if zone_names is not None else None
    routes = []
    for index, route in enumerate(spec.routes):
        if known_zones is not None:
            unknown = sorted(set(route.zones) - known_zones)
            if unknown:
                zones = ", ".join(sorted(known_zones))
                raise ConfigError(f"{source}: routes.{index}.zones: unknown zone {unknown[0]!r} (zones: {zones})")
        routes.append(Route(tuple(route.channels), frozenset(route.zone_statuses), frozenset(route.zones)))
    return Routing(tuple(routes))


def load_alerts_file(path: Path, zone_names: Iterable[str] | None = None) -> Routing:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"alerts file not found: {path} (set DMZWATCH_ALERTS_FILE)") from exc
    return parse_alerts_file(text, str(path), zone_names)


@lru_cache(maxsize=4)
def _load_cached(path: Path, mtime_ns: int, zone_names: tuple[str, ...]) -> Routing:
    return load_alerts_file(path, zone_names)


def get_routing(path: Path, zone_names: Iterable[str]) -> Routing:
    """The routing, read once per process and again when the file changes (an operator's fix takes effect)."""
    try:
        mtime_ns = path.stat().st_mtime_ns
    except FileNotFoundError as exc:
        raise ConfigError(f"alerts file not found: {path} (set DMZWATCH_ALERTS_FILE)") from exc
    return _load_cached(path, mtime_ns, tuple(sorted(zone_names)))
