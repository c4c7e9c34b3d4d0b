"""Feed health: is each feed alive, failing, or silent? Figures for the CLI and for metrics.

A feed reader's commonest failure is a feed that dies without an error: it keeps answering 200 (or 304) and
never has anything new. So besides failures, each feed is judged against its *own* rhythm: the median gap
between its items (``feeds.item_gap_median_s``, updated by the poll stage from the feed's recent items). It is
**silent** when nothing new came for longer than ``factor`` x that median, and never before a floor
(``min_silence``), so a busy wire feed is not flagged over a quiet night. A feed with too little history is
judged by the floor alone, counted from its last new item or, if it never had one, from when it was added.

States, in the order they are decided: ``disabled``, ``new`` (never polled), ``failing`` (its last poll
failed; it is backing off), ``silent``, ``ok``.

Metrics: :func:`feed_metrics` returns plain samples (name, labels, value, kind, help) that a Prometheus
collector turns into metric families without knowing anything about feeds.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dmzwatch.db.models import Feed

FeedState = Literal["disabled", "new", "failing", "silent", "ok"]
FEED_STATES: tuple[FeedState, ...] = ("ok", "silent", "failing", "new", "disabled")
# Gaps needed before the median means anything; below this the floor alone decides.
MIN_GAPS_FOR_MEDIAN = 3
# Items of a feed the median is computed over: recent enough to follow a change of rhythm.
GAP_HISTORY_ITEMS = 50


def median_gap_s(times: Iterable[datetime]) -> float | None:
    """Median seconds between consecutive distinct item times, or None with fewer than 3 gaps."""
    ordered = sorted(set(times))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]
    gaps = [gap for gap in gaps if gap > 0]
    if len(gaps) < MIN_GAPS_FOR_MEDIAN:
        return None
    return float(statistics.median(gaps))


def silence_threshold(median_gap: float | None, *, factor: float, min_silence: timedelta) -> timedelta:
    """How long without a new item counts as silent for a feed with this median gap."""
    if median_gap is None:
        return min_silence
    return max(min_silence, timedelta(seconds=median_gap * factor))


@dataclass(frozen=True, slots=True)
class FeedHealth:
    id: int
    name: str
    url: str
    enabled: bool
    state: FeedState
    general_news: bool
    poll_interval_s: int
    last_polled_at: datetime | None
    last_ok_at: datetime | None
    last_new_item_at: datetime | None
    next_poll_at: datetime | None
    consecutive_failures: int
    failures_total: int
    last_status: int | None
    last_error: str | None
    disabled_reason: str | None
    items_seen: int
    item_gap_median_s: float | None
    silent_after_s: float  # the threshold applied to this feed
    quiet_for_s: float | None  # since the last new item (or since added, when there never was one)

    def as_dict(self) -> dict[str, object]:
        return {
            key: (value.isoformat() if isinstance(value, datetime) else value)
            for key, value in ((name, getattr(self, name)) for name in self.__slots__)
        }


def _state(feed: Feed, quiet_for: timedelta | None, threshold: timedelta) -> FeedState:
    if not feed.enabled:
        return "disabled"
    if feed.last_polled_at is None:
        return "new"
    if feed.consecutive_failures:
        return "failing"
    if quiet_for is not None and quiet_for > threshold:
        return "silent"
    return "ok"


def health_of(feed: Feed, *, now: datetime, factor: float, min_silence: timedelta) -> FeedHealth:
    threshold = silence_threshold(feed.item_gap_median_s, factor=factor, min_silence=min_silence)
    since = feed.last_new_item_at or feed.added_at
    quiet_for = now - since if since is not None else None
    return FeedHealth(
        id=feed.id,
        name=feed.name,
        url=feed.url,
        enabled=feed.enabled,
        state=_state(feed, quiet_for, threshold),
        general_news=feed.general_news,
        poll_interval_s=feed.poll_interval_s,
        last_polled_at=feed.last_polled_at,
        last_ok_at=feed.last_ok_at,
        last_new_item_at=feed.last_new_item_at,
        next_poll_at=feed.next_poll_at,
        consecutive_failures=feed.consecutive_failures,
        failures_total=feed.failures_total or 0,
        last_status=feed.last_status,
        last_error=feed.last_error,
        disabled_reason=feed.disabled_reason,
        items_seen=feed.items_seen,
        item_gap_median_s=feed.item_gap_median_s,
        silent_after_s=threshold.total_seconds(),
        quiet_for_s=quiet_for.total_seconds() if quiet_for is not None else None,
    )


def collect_feed_health(
    session: Session,
    *,
    now: datetime,
    factor: float | None = None,
    min_silence: timedelta | None = None,
) -> list[FeedHealth]:
    """Health of every feed, by id. ``factor``/``min_silence`` default to the settings
    (DMZWATCH_FEED_SILENT_FACTOR, DMZWATCH_FEED_SILENT_MIN_H)."""
    if factor is None or min_silence is None:
        from dmzwatch.settings import get_settings

        settings = get_settings()
        factor = settings.feed_silent_factor if factor is None else factor
        min_silence = timedelta(hours=settings.feed_silent_min_h) if min_silence is None else min_silence
    feeds = session.scalars(select(Feed).order_by(Feed.id)).all()
    return [health_of(feed, now=now, factor=factor, min_silence=min_silence) for feed in feeds]


# --- metrics -----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MetricSample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    kind: Literal["gauge", "counter"]
    help: str


_PER_FEED: tuple[tuple[str, Literal["gauge", "counter"], str], ...] = (
    ("dmzwatch_feed_up", "gauge", "1 when the feed's last poll succeeded, else 0"),
    ("dmzwatch_feed_silent", "gauge", "1 when the feed has had no new item for longer than usual"),
    ("dmzwatch_feed_consecutive_failures", "gauge", "Failed polls in a row (backoff grows with it)"),
    ("dmzwatch_feed_failures_total", "counter", "Failed polls over the feed's life"),
    ("dmzwatch_feed_items_total", "counter", "New items (entries) seen in the feed"),
    ("dmzwatch_feed_seconds_since_success", "gauge", "Seconds since the last successful poll (-1: never)"),
    ("dmzwatch_feed_seconds_since_new_item", "gauge", "Seconds since the last new item (-1: never)"),
    ("dmzwatch_feed_silent_after_seconds", "gauge", "Silence threshold for the feed, from its own history"),
)


def feed_metric_samples(health: Sequence[FeedHealth], *, now: datetime) -> list[MetricSample]:
    """Per-feed samples (labels feed_id, feed) plus ``dmzwatch_feeds{state}`` counts, from health records."""
    samples: list[MetricSample] = []
    for item in health:
        labels = (("feed_id", str(item.id)), ("feed", item.name))
        values = (
            1.0 if item.enabled and item.last_polled_at is not None and item.consecutive_failures == 0 else 0.0,
            1.0 if item.state == "silent" else 0.0,
            float(item.consecutive_failures),
            float(item.failures_total),
            float(item.items_seen),
            (now - item.last_ok_at).total_seconds() if item.last_ok_at else -1.0,
            (now - item.last_new_item_at).total_seconds() if item.last_new_item_at else -1.0,
            item.silent_after_s,
        )
        for (name, kind, help_text), value in zip(_PER_FEED, values, strict=True):
            samples.append(MetricSample(name, labels, value, kind, help_text))
    counts = {state: 0 for state in FEED_STATES}
    for item in health:
        counts[item.state] += 1
    for state, count in counts.items():
        samples.append(MetricSample("dmzwatch_feeds", (("state", state),), float(count), "gauge", "Feeds by state"))
    return samples


def feed_metrics(session: Session, *, now: datetime) -> list[MetricSample]:
    """Every feed metric sample, read in one query: what a Prometheus collector calls on each scrape."""
    return feed_metric_samples(collect_feed_health(session, now=now), now=now)


def feed_state_counts(session: Session, *, now: datetime) -> dict[FeedState, int]:
    """How many feeds are ok, silent, failing, new, disabled."""
    counts: dict[FeedState, int] = {state: 0 for state in FEED_STATES}
    for item in collect_feed_health(session, now=now):
        counts[item.state] += 1
    return counts
