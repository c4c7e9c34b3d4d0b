"""Health figures read from the database and the broker at the moment they are asked for.

Why at scrape time rather than counters in the workers: a deployment runs many worker processes on several
machines, forked and recycled (max tasks/memory per child); in-process counters would be per process and reset
on every recycle. The database and Redis already hold the truth, so one `dmzwatch metrics` process (or
`dmzwatch status`) reads them and every figure is right however many workers there are. Latency histograms are
computed over all rows (cumulative, so Prometheus' rate() and histogram_quantile() work on them). Per-task
run times come from Flower's own /metrics (`flower_task_runtime_seconds`), which sees every worker's events.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import ColumnElement, Float, case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dmzwatch.db.models import OPEN_ARTICLE_STATUSES, Alert, AlertStatus, Article, Incident, SilenceAlarm
from dmzwatch.feed_health import FeedHealth, MetricSample, collect_feed_health, feed_metric_samples
from dmzwatch.maintenance import RELEVANT_STATUSES, oldest_undelivered_alert
from dmzwatch.stages import SessionScope

log = logging.getLogger(__name__)

# Publish-to-alert: the product promise is "within a couple of minutes"; feeds are polled every few minutes.
LATENCY_BUCKETS_S: tuple[float, ...] = (30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600, 48 * 3600)
STAGE_BUCKETS_S: tuple[float, ...] = (0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600)

# kombu's Redis transport keeps a queue as one list per priority step; with the default steps (0, 3, 6, 9)
# the list for step 0 is named after the queue and the others get this separator and the step appended.
_KOMBU_PRIORITY_SEP = "\x06\x16"
_KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)
_KOMBU_UNACKED = "unacked"  # hash of delivered, not yet acknowledged messages (running, reserved, ETA)


@dataclass(frozen=True, slots=True)
class Histogram:
    buckets: tuple[tuple[float, int], ...]  # (upper bound, cumulative count), +Inf last
    total: float
    count: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything `dmzwatch status` prints and `dmzwatch metrics` exports, read in one short transaction."""

    taken_at: datetime
    articles_by_status: dict[str, int]
    stuck_by_status: dict[str, int]
    oldest_stuck: tuple[int, str, datetime] | None
    incidents_by_zone_status: dict[str, int]
    alerts_by_status_channel: dict[tuple[str, str], int]
    last_alert: tuple[int, str, datetime, float | None] | None  # id, channel, sent_at, publish-to-alert s
    feeds: list[FeedHealth]  # dmzwatch.feed_health's judgement: ok, silent, failing, new, disabled
    last_relevant_at: datetime | None
    silence_alarms_by_status: dict[str, int]
    publish_to_alert: Histogram
    stage_latency: dict[str, Histogram] = field(default_factory=dict)
    oldest_undelivered_alert_at: datetime | None = None  # pending or waiting in a digest

    def feeds_in(self, state: str) -> list[FeedHealth]:
        return [f for f in self.feeds if f.state == state]


def _seconds_between(session: Session, later: Any, earlier: Any) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier).cast(Float)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _histogram(
    session: Session, seconds: ColumnElement[float], where: Sequence[Any], bounds: Sequence[float]
) -> Histogram:
    columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in bounds]
    row = session.execute(select(func.count(), func.coalesce(func.sum(seconds), 0.0), *columns).where(*where)).one()
    count, total, *cumulative = row
    buckets = tuple((float(bound), int(value or 0)) for bound, value in zip(bounds, cumulative, strict=True))
    return Histogram(buckets=(*buckets, (float("inf"), int(count))), total=float(total or 0.0), count=int(count))


def read_snapshot(sessions: SessionScope, *, now: datetime, stuck_after: timedelta) -> Snapshot:
    cutoff = now - stuck_after
    open_statuses = [s.value for s in OPEN_ARTICLE_STATUSES]
    with sessions() as session:
        articles = {
            str(s): int(n) for s, n in session.execute(select(Article.status, func.count()).group_by(Article.status))
        }
        stuck = {
            str(s): int(n)
            for s, n in session.execute(
                select(Article.status, func.count())
                .where(Article.status.in_(open_statuses), Article.updated_at < cutoff)
                .group_by(Article.status)
            )
        }
        oldest = session.execute(
            select(Article.id, Article.status, Article.updated_at)
            .where(Article.status.in_(open_statuses), Article.updated_at < cutoff)
            .order_by(Article.updated_at)
            .limit(1)
        ).first()
        incidents = {
            str(s): int(n)
            for s, n in session.execute(select(Incident.zone_status, func.count()).group_by(Incident.zone_status))
        }
        alerts = {
            (str(s), str(c)): int(n)
            for s, c, n in session.execute(
                select(Alert.status, Alert.channel, func.count()).group_by(Alert.status, Alert.channel)
            )
        }
        last_alert_row = session.execute(
            select(Alert.id, Alert.channel, Alert.sent_at, Alert.source_published_at)
            .where(Alert.status == AlertStatus.SENT.value, Alert.sent_at.is_not(None))
            .order_by(Alert.sent_at.desc())
            .limit(1)
        ).first()
        last_alert = None
        if last_alert_row is not None:
            alert_id, channel, sent_at, published = last_alert_row
            assert sent_at is not None  # filtered above
            latency = (sent_at - published).total_seconds() if published is not None else None
            last_alert = (int(alert_id), str(channel), sent_at, latency)
        feeds = collect_feed_health(session, now=now)
        oldest_undelivered = oldest_undelivered_alert(session)
        last_relevant = session.scalar(
            select(func.max(Article.discovered_at)).where(Article.status.in_([s.value for s in RELEVANT_STATUSES]))
        )
        silence = {
            str(s): int(n)
            for s, n in session.execute(select(SilenceAlarm.status, func.count()).group_by(SilenceAlarm.status))
        }
        publish_to_alert = _histogram(
            session,
            _seconds_between(session, Alert.sent_at, Alert.source_published_at),
            [
                Alert.status == AlertStatus.SENT.value,
                Alert.sent_at.is_not(None),
                Alert.source_published_at.is_not(None),
            ],
            LATENCY_BUCKETS_S,
        )
        stage_latency = {
            # Queue wait + page fetch (or taking the feed's full text).
            "discovered_to_fetched": _histogram(
                session,
                _seconds_between(session, Article.fetched_at, Article.discovered_at),
                [Article.fetched_at.is_not(None)],
                STAGE_BUCKETS_S,
            ),
            # Cleaning, dedup, pre-filter, extraction, merge: fetched until the row reached `extracted`.
            "fetched_to_extracted": _histogram(
                session,
                _seconds_between(session, Article.updated_at, Article.fetched_at),
                [Article.status == "extracted", Article.fetched_at.is_not(None)],
                STAGE_BUCKETS_S,
            ),
        }
    return Snapshot(
        taken_at=now,
        articles_by_status=articles,
        stuck_by_status=stuck,
        oldest_stuck=None if oldest is None else (int(oldest[0]), str(oldest[1]), oldest[2]),
        incidents_by_zone_status=incidents,
        alerts_by_status_channel=alerts,
        last_alert=last_alert,
        feeds=feeds,
        last_relevant_at=last_relevant,
        silence_alarms_by_status=silence,
        publish_to_alert=publish_to_alert,
        stage_latency=stage_latency,
        oldest_undelivered_alert_at=oldest_undelivered,
    )


# --- broker ----------------------------------------------------------------------------------------------------
def redis_client(broker_url: str, timeout_s: float = 5.0) -> redis.Redis:
    """A client for the Celery broker URL (`redis://...` or the embedded `redis+socket:///path`).

    No retries: redis-py 6 retries a refused connection with backoff for seconds by default, and every caller
    here (status, metrics scrape, maintenance tick) would rather say "unreachable" now and try next time."""
    options: dict[str, Any] = {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "retry": Retry(NoBackoff(), 0),
    }
    if broker_url.startswith("redis+socket://"):
        return redis.Redis(unix_socket_path=unquote(urlsplit(broker_url).path), **options)
    return redis.Redis.from_url(broker_url, **options)


@dataclass(frozen=True, slots=True)
class BrokerFigures:
    queue_lengths: dict[str, int]
    unacked: int


def read_broker(client: redis.Redis, queues: Sequence[str]) -> BrokerFigures:
    lengths: dict[str, int] = {}
    pipe = client.pipeline(transaction=False)
    keys = [
        (queue, queue if step == 0 else f"{queue}{_KOMBU_PRIORITY_SEP}{step}")
        for queue in queues
        for step in _KOMBU_PRIORITY_STEPS
    ]
    for _queue, key in keys:
        pipe.llen(key)
    pipe.hlen(_KOMBU_UNACKED)
    *counts, unacked = pipe.execute()
    for (queue, _key), count in zip(keys, counts, strict=True):
        lengths[queue] = lengths.get(queue, 0) + int(count)
    return BrokerFigures(queue_lengths=lengths, unacked=int(unacked))


# --- Prometheus --------------------------------------------------------------------------------------------------
def _ts(value: datetime | None) -> float:
    return value.timestamp() if value is not None else 0.0


def _histogram_family(name: str, doc: str, labels: Sequence[str] = ()) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, doc, labels=list(labels))


def _add_histogram(family: HistogramMetricFamily, histogram: Histogram, labels: Sequence[str] = ()) -> None:
    buckets = [("+Inf" if bound == float("inf") else repr(bound), count) for bound, count in histogram.buckets]
    family.add_metric(list(labels), buckets, histogram.total)


def _sample_families(samples: Sequence[MetricSample]) -> Iterator[Metric]:
    """Plain samples (feed health's interface) grouped into metric families, in first-seen order."""
    families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}
    for sample in samples:
        family = families.get(sample.name)
        if family is None:
            labels = [name for name, _value in sample.labels]
            if sample.kind == "counter":
                # CounterMetricFamily appends _total itself.
                family = CounterMetricFamily(sample.name.removesuffix("_total"), sample.help, labels=labels)
            else:
                family = GaugeMetricFamily(sample.name, sample.help, labels=labels)
            families[sample.name] = family
        family.add_metric([value for _name, value in sample.labels], sample.value)
    yield from families.values()


def snapshot_metrics(snapshot: Snapshot) -> Iterator[Metric]:
    articles = GaugeMetricFamily("dmzwatch_articles", "Articles by status.", labels=["status"])
    for status, count in sorted(snapshot.articles_by_status.items()):
        articles.add_metric([status], count)
    yield articles
    stuck = GaugeMetricFamily(
        "dmzwatch_articles_stuck", "Open articles untouched past the re-queue deadline.", labels=["status"]
    )
    for status in ("new", "fetched", "cleaned"):
        stuck.add_metric([status], snapshot.stuck_by_status.get(status, 0))
    yield stuck
    incidents = GaugeMetricFamily("dmzwatch_incidents", "Incidents by zone status.", labels=["zone_status"])
    for zone_status, count in sorted(snapshot.incidents_by_zone_status.items()):
        incidents.add_metric([zone_status], count)
    yield incidents
    alerts = GaugeMetricFamily("dmzwatch_alerts", "Alerts by outcome and channel.", labels=["status", "channel"])
    for (status, channel), count in sorted(snapshot.alerts_by_status_channel.items()):
        alerts.add_metric([status, channel], count)
    yield alerts
    yield GaugeMetricFamily(
        "dmzwatch_last_alert_sent_timestamp_seconds",
        "When the last alert was sent (0: never).",
        value=_ts(snapshot.last_alert[2] if snapshot.last_alert else None),
    )
    undelivered = snapshot.oldest_undelivered_alert_at
    yield GaugeMetricFamily(
        "dmzwatch_alert_oldest_undelivered_age_seconds",
        "Age of the oldest alert not yet delivered (pending or in a digest); 0: none. Alarm on minutes.",
        value=0.0 if undelivered is None else max(0.0, (snapshot.taken_at - undelivered).total_seconds()),
    )
    yield GaugeMetricFamily(
        "dmzwatch_last_relevant_article_timestamp_seconds",
        "Discovery time of the newest article that passed the conflict pre-filter (0: none yet).",
        value=_ts(snapshot.last_relevant_at),
    )
    yield from _sample_families(feed_metric_samples(snapshot.feeds, now=snapshot.taken_at))
    silence = GaugeMetricFamily("dmzwatch_silence_alarms", "Zone silence alarms by status.", labels=["status"])
    for status, count in sorted(snapshot.silence_alarms_by_status.items()):
        silence.add_metric([status], count)
    yield silence
    latency = _histogram_family(
        "dmzwatch_publish_to_alert_seconds", "Source publication to alert sent (alerts.sent_at - source_published_at)."
    )
    _add_histogram(latency, snapshot.publish_to_alert)
    yield latency
    stages = _histogram_family(
        "dmzwatch_article_stage_seconds", "Article time between pipeline milestones.", labels=["stage"]
    )
    for stage, histogram in sorted(snapshot.stage_latency.items()):
        _add_histogram(stages, histogram, [stage])
    yield stages


def broker_metrics(figures: BrokerFigures) -> Iterator[Metric]:
    queues = GaugeMetricFamily("dmzwatch_queue_messages", "Messages waiting in each Celery queue.", labels=["queue"])
    for queue, count in sorted(figures.queue_lengths.items()):
        queues.add_metric([queue], count)
    yield queues
    yield GaugeMetricFamily(
        "dmzwatch_broker_unacked_messages",
        "Messages delivered to workers and not yet acknowledged (running, reserved, waiting a retry countdown).",
        value=figures.unacked,
    )


class DmzwatchCollector(Collector):
    """A prometheus_client collector that reads the database and the broker on every scrape."""

    def __init__(
        self,
        sessions: SessionScope,
        broker: redis.Redis | None,
        queues: Sequence[str],
        *,
        stuck_after: timedelta,
        clock: Any,
    ) -> None:
        self.sessions = sessions
        self.broker = broker
        self.queues = tuple(queues)
        self.stuck_after = stuck_after
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "dmzwatch_up", "Whether the last scrape could read each component.", labels=["component"]
        )
        try:
            yield from snapshot_metrics(read_snapshot(self.sessions, now=self.clock(), stuck_after=self.stuck_after))
            up.add_metric(["database"], 1)
        except SQLAlchemyError as exc:
            log.warning("metrics: database unreadable: %s", exc)
            up.add_metric(["database"], 0)
        if self.broker is not None:
            try:
                yield from broker_metrics(read_broker(self.broker, self.queues))
                up.add_metric(["broker"], 1)
            except redis.RedisError as exc:
                log.warning("metrics: broker unreadable: %s", exc)
                up.add_metric(["broker"], 0)
        yield up
