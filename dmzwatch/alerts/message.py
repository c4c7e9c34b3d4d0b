"""What an alert says, independent of where it goes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class SourceLink:
    url: str
    outlet: str
    published_at: datetime | None
    killed: int | None
    injured: int | None
    sentence: str | None = None  # what this source wrote: the analyst checks the claim against it


@dataclass(frozen=True, slots=True)
class AlertMessage:
    alert_id: int
    kind: str  # "new" or "update"
    incident_id: int
    version: int
    event_type: str
    sub_event_type: str
    place_name: str
    admin1: str | None
    lat: float | None
    lon: float | None
    geo_precision: int
    zone_status: str
    zones: tuple[str, ...]
    distance_to_line_km: float | None
    occurred_on: date | None
    killed: int | None
    killed_min: int | None
    killed_max: int | None
    injured: int | None
    injured_min: int | None
    injured_max: int | None
    killed_civilians: int | None
    perpetrator: str
    confidence: float
    sources: tuple[SourceLink, ...]
    changes: tuple[str, ...] = ()  # for an update: what changed
    first_alert_ref: str | None = None  # the channel's reference of the first alert (Slack ts, webhook id)

    @property
    def map_url(self) -> str | None:
        if self.lat is None or self.lon is None:
            return None
        return f"https://www.openstreetmap.org/?mlat={self.lat:.5f}&mlon={self.lon:.5f}#map=13/{self.lat:.5f}/{self.lon:.5f}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["occurred_on"] = self.occurred_on.isoformat() if self.occurred_on else None
        data["zones"] = list(self.zones)
        data["changes"] = list(self.changes)
        data["sources"] = [
            {**asdict(s), "published_at": s.published_at.isoformat() if s.published_at else None} for s in self.sources
        ]
        data["map_url"] = self.map_url
        return data


def toll_text(best: int | None, low: int | None, high: int | None) -> str:
    if best is None:
        return "not reported"
    if low is not None and high is not None and low != high:
        return f"{best} (sources say {low}-{high})"
    return str(best)


@dataclass(frozen=True, slots=True)
class DigestMessage:
    """Several alerts for one channel folded into one message (a burst over the configured rate)."""

    channel: str
    alerts: tuple[AlertMessage, ...]
    window_s: int

    @property
    def delivery_id(self) -> str:
        """Stable for the same set of alerts, so a receiver can de-duplicate a re-sent digest."""
        return f"digest-{self.channel}-{self.alerts[0].alert_id}-{self.alerts[-1].alert_id}-{len(self.alerts)}"

    def to_json(self) -> dict[str, Any]:
        return {"window_s": self.window_s, "count": len(self.alerts), "alerts": [a.to_json() for a in self.alerts]}
