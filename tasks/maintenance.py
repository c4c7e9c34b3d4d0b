"""Beat-driven maintenance tasks: re-send lost messages, and alarm when relevant news stops arriving.

Thin like the pipeline tasks: the decisions live in dmzwatch.maintenance; here only the broker is read (queue
lengths) and messages are sent.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from dmzwatch import maintenance
from dmzwatch.db.session import session_scope
from dmzwatch.errors import TransientError
from dmzwatch.http import get_http_client
from dmzwatch.metrics import read_broker, redis_client
from dmzwatch.settings import get_settings
from dmzwatch.stages import utcnow
from tasks.pipeline import (
    MAX_RETRIES,
    _retry,
    clean_article,
    deliver_alert,
    deliver_digest,
    extract_events,
    fetch_article,
)
from workers.celery_app import app, broker_url
from workers.queues import ROUTES, Queue, TaskName

log = logging.getLogger(__name__)

# The queue each re-queueable stage's message waits in, from the routes (so they cannot drift).
STAGE_QUEUES: dict[str, str] = {
    "fetch": ROUTES[TaskName.FETCH_ARTICLE].value,
    "clean": ROUTES[TaskName.CLEAN_ARTICLE].value,
    "extract": ROUTES[TaskName.EXTRACT_EVENTS].value,
    "alert": ROUTES[TaskName.DELIVER_ALERT].value,
}
STAGE_TASKS = {"fetch": fetch_article, "clean": clean_article, "extract": extract_events}


@app.task(name=TaskName.REQUEUE_STUCK, ignore_result=True, expires=300)
def requeue_stuck() -> int:
    settings = get_settings()
    client = redis_client(broker_url())
    try:
        figures = read_broker(client, [queue.value for queue in Queue])
    finally:
        client.close()
    plan = maintenance.plan_requeue(
        session_scope,
        now=utcnow(),
        stuck_after=timedelta(seconds=settings.stuck_after_s),
        alert_pending_after=timedelta(seconds=settings.alert_pending_after_s),
        max_stage_attempts=settings.max_stage_attempts,
        max_alert_attempts=settings.max_alert_attempts,
        busy_stages=maintenance.stages_of_queues(figures.queue_lengths, STAGE_QUEUES),
        digest_window=timedelta(seconds=settings.alert_digest_window_s),
    )
    for stage, article_ids in plan.articles.items():
        for article_id in article_ids:
            STAGE_TASKS[stage].delay(article_id)
    for alert_id in plan.alerts:
        deliver_alert.delay(alert_id)
    for channel in plan.digests:
        deliver_digest.delay(channel)
    return plan.requeued


@app.task(name=TaskName.WATCH_ZONE_SILENCE, bind=True, acks_late=True, ignore_result=True)
def watch_zone_silence(self: Task) -> bool:
    settings = get_settings()
    if settings.zone_silence_h <= 0:
        return False
    try:
        silence = maintenance.detect_silence(
            session_scope, now=utcnow(), silence=timedelta(hours=settings.zone_silence_h)
        )
        if silence is None:
            return False
        return maintenance.send_silence_alarm(
            session_scope,
            silence,
            settings=settings,
            client=get_http_client("alerts"),
            now=utcnow(),
            final_attempt=self.request.retries >= MAX_RETRIES,
        )
    except (TransientError, OperationalError, PoolTimeoutError) as exc:
        _retry(self, exc)


@app.task(name=TaskName.WATCH_ALERT_CHANNELS, ignore_result=True, expires=300)
def watch_alert_channels() -> int:
    """Tell the operator when a channel has been failing its alerts for too long: a log line (always) and a
    notice on every channel (the others carry it)."""
    settings = get_settings()
    texts = maintenance.channel_alarms_due(
        session_scope, now=utcnow(), longer_than=timedelta(seconds=settings.alert_channel_alarm_after_s)
    )
    for text in texts:
        maintenance.notify_operator(settings, get_http_client("alerts"), text, now=utcnow())
    return len(texts)
