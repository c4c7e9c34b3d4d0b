"""Queue and task names: explicit, so operators can read them in Flower and routes never drift."""

from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    FEEDS = "feeds"  # I/O-bound: scheduling and polling feeds
    FETCH = "fetch"  # I/O-bound: fetching article pages
    NLP = "nlp"  # CPU-bound: cleaning, dedup, extraction (prefetch 1)
    ALERTS = "alerts"  # delivery to Slack and webhooks
    # Self-healing and watchers. Every worker consumes it (workers.processes adds it to any -Q), so the
    # re-queue of lost work runs while any one worker lives, whichever queue class died.
    MAINTENANCE = "maintenance"


class TaskName(StrEnum):
    SCHEDULE_DUE_FEEDS = "dmzwatch.schedule_due_feeds"
    POLL_FEED = "dmzwatch.poll_feed"
    FETCH_ARTICLE = "dmzwatch.fetch_article"
    CLEAN_ARTICLE = "dmzwatch.clean_article"
    EXTRACT_EVENTS = "dmzwatch.extract_events"
    DELIVER_ALERT = "dmzwatch.deliver_alert"
    DELIVER_DIGEST = "dmzwatch.deliver_digest"  # several alerts for one channel as one message (burst control)
    REQUEUE_STUCK = "dmzwatch.requeue_stuck"  # beat: re-send lost messages, fail rows out of attempts
    WATCH_ZONE_SILENCE = "dmzwatch.watch_zone_silence"  # beat: alarm when relevant news stops arriving
    WATCH_ALERT_CHANNELS = "dmzwatch.watch_alert_channels"  # beat: alarm when a channel keeps failing alerts


ROUTES: dict[TaskName, Queue] = {
    TaskName.SCHEDULE_DUE_FEEDS: Queue.FEEDS,
    TaskName.POLL_FEED: Queue.FEEDS,
    TaskName.FETCH_ARTICLE: Queue.FETCH,
    TaskName.CLEAN_ARTICLE: Queue.NLP,
    TaskName.EXTRACT_EVENTS: Queue.NLP,
    TaskName.DELIVER_ALERT: Queue.ALERTS,
    TaskName.DELIVER_DIGEST: Queue.ALERTS,
    TaskName.REQUEUE_STUCK: Queue.MAINTENANCE,
    TaskName.WATCH_ZONE_SILENCE: Queue.MAINTENANCE,
    TaskName.WATCH_ALERT_CHANNELS: Queue.MAINTENANCE,
}
