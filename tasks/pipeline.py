"""Celery tasks: an id in, one call into dmzwatch.pipeline (which commits), the next stage enqueued.

Retries are only for errors that may succeed next time (timeouts, 5xx, 429, a database that is restarting);
bad input fails the row with a reason at once. Every task is idempotent: the stage finds a row already moved
and does nothing, so acks_late redelivery after a crash is safe.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from dmzwatch.alerts.channels import Channel, configured_channels
from dmzwatch.alerts.routing import get_routing
from dmzwatch.db.repo import fail_article
from dmzwatch.db.session import session_scope
from dmzwatch.errors import TransientError, backoff_s
from dmzwatch.feeds_config import ConfigError
from dmzwatch.geo import load_zones
from dmzwatch.http import get_http_client
from dmzwatch.maintenance import alert_attempts_exhausted, claim_stage_attempt, release_stage_attempt
from dmzwatch.politeness import HostBusyError
from dmzwatch.settings import get_settings
from dmzwatch.stages import alerts, articles, feeds, incidents, utcnow
from workers.celery_app import app
from workers.queues import TaskName

if TYPE_CHECKING:
    from dmzwatch.nlp.extract import Extractor

log = logging.getLogger(__name__)

MAX_RETRIES = 6
_BACKOFF_BASE_S = 5.0
_BACKOFF_CAP_S = 900.0  # stays far below the broker's visibility timeout (see workers.celery_app)
# The database restarting or a network blip: worth retrying.
DATABASE_TRANSIENT = (OperationalError, PoolTimeoutError)
TRANSIENT = (TransientError, *DATABASE_TRANSIENT)


def _retry(task: Task, exc: BaseException, base_s: float = _BACKOFF_BASE_S) -> NoReturn:
    retry_after = exc.retry_after_s if isinstance(exc, TransientError) else None
    countdown = backoff_s(task.request.retries, retry_after, base_s=base_s, cap_s=_BACKOFF_CAP_S)
    raise task.retry(exc=exc, countdown=countdown, max_retries=MAX_RETRIES)


def _run_article_stage(task: Task, article_id: int, stage: str, call: Any) -> Any:
    """Run one article stage: transient errors retry, exhaustion or a bug fails the row with a reason."""
    try:
        # Counted before the work, so a delivery that kills its worker still counts: a poison article ends
        # `failed` after max_stage_attempts deliveries instead of being redelivered forever.
        if not claim_stage_attempt(
            session_scope, article_id, stage, max_attempts=get_settings().max_stage_attempts, now=utcnow()
        ):
            return None
        return call()
    except HostBusyError as exc:
        # Politeness, not failure: wait for the host's turn in a fresh message. task.retry() would spend the
        # retry budget (and Celery's max_retries=None means "the task default", not "unlimited"), so a burst
        # of links from one outlet would end failed or, worse, stuck. The new message is queued before this
        # one is acknowledged: a crash in between redelivers this one, and the stage is idempotent.
        release_stage_attempt(session_scope, article_id, stage, now=utcnow())
        countdown = (exc.retry_after_s or 1.0) + random.uniform(0.0, 1.0)
        task.apply_async(args=(article_id,), countdown=countdown)
        log.info("article %s: %s; again in %.1f s", article_id, exc.reason, countdown)
        return None
    except TRANSIENT as exc:
        if task.request.retries < MAX_RETRIES:
            _retry(task, exc)
        reason = f"{stage}: gave up after {MAX_RETRIES} retries: {exc}"
    except SoftTimeLimitExceeded:
        reason = f"{stage}: exceeded the soft time limit"
    except Exception as exc:
        # A bug or a poison input: record it on the row so nothing is silently lost, then let Celery log it.
        with session_scope() as session:
            fail_article(session, article_id, f"{stage}: {type(exc).__name__}: {exc}", utcnow())
        raise
    with session_scope() as session:
        fail_article(session, article_id, reason, utcnow())
    log.error("article %s failed: %s", article_id, reason)
    return None


def _extractor() -> Extractor:
    # Imported on first use: feeds and fetch workers never need the NLP stack in memory.
    from dmzwatch.nlp.extract import get_extractor

    return get_extractor()


def _is_relevant() -> Callable[[str], bool]:
    return _extractor().is_relevant


@app.task(name=TaskName.SCHEDULE_DUE_FEEDS, ignore_result=True)
def schedule_due_feeds() -> int:
    feed_ids = feeds.claim_due_feeds(session_scope, now=utcnow())
    for feed_id in feed_ids:
        poll_feed.delay(feed_id)
    return len(feed_ids)


@app.task(name=TaskName.POLL_FEED, bind=True, acks_late=True)
def poll_feed(self: Task, feed_id: int) -> int:
    try:
        article_ids = feeds.poll_feed(session_scope, feed_id, client=get_http_client(), now=utcnow())
    except (OperationalError, PoolTimeoutError) as exc:
        _retry(self, exc)
    for article_id in article_ids:
        fetch_article.delay(article_id)
    return len(article_ids)


@app.task(name=TaskName.FETCH_ARTICLE, bind=True, acks_late=True)
def fetch_article(self: Task, article_id: int) -> None:
    fetched = _run_article_stage(
        self,
        article_id,
        "fetch",
        lambda: articles.fetch_article(session_scope, article_id, client=get_http_client(), now=utcnow()),
    )
    if fetched:
        clean_article.delay(article_id)


@app.task(name=TaskName.CLEAN_ARTICLE, bind=True, acks_late=True)
def clean_article(self: Task, article_id: int) -> None:
    cleaned = _run_article_stage(
        self,
        article_id,
        "clean",
        lambda: articles.clean_article(session_scope, article_id, is_relevant=_is_relevant(), now=utcnow()),
    )
    if cleaned:
        extract_events.delay(article_id)


def alert_policy() -> incidents.AlertPolicy:
    settings = get_settings()
    try:
        routing = get_routing(settings.alerts_file, load_zones().zone_names)
    except ConfigError as exc:
        # Retried like an outage: once the operator fixes the file, the article goes through (none is lost).
        raise TransientError(f"alerts configuration: {exc}") from exc
    return incidents.AlertPolicy(
        channels=tuple(alert_channels()),
        max_age=timedelta(hours=settings.alert_max_age_h),
        alert_on_edge=settings.alert_on_edge,
        routing=routing,
    )


def digest_policy() -> alerts.DigestPolicy:
    settings = get_settings()
    return alerts.DigestPolicy(
        threshold=settings.alert_digest_threshold, window=timedelta(seconds=settings.alert_digest_window_s)
    )


def retry_policy() -> alerts.RetryPolicy:
    settings = get_settings()
    return alerts.RetryPolicy(
        fresh_for=timedelta(hours=settings.alert_max_age_h),
        base_s=settings.alert_retry_base_s,
        cap_s=settings.alert_retry_cap_s,
        channel_concurrency=settings.alert_channel_concurrency,
    )


def alert_channels() -> dict[str, Channel]:
    return configured_channels(get_settings(), get_http_client("alerts"))


def _follow_up(task: Task, delivery: alerts.Delivery, args: tuple[object, ...]) -> None:
    """What a delivery asks for next: a retry after a transient failure (as a Celery retry, so Flower shows
    it; unbounded, since the stage gives up once the alert is stale), or the same message again later when the
    channel or the alert was busy (not a failure: no retry counted)."""
    if delivery.outcome == "retry":
        raise task.retry(
            exc=TransientError(delivery.reason or "channel failed"), countdown=delivery.retry_in_s, max_retries=None
        )
    if delivery.outcome == "deferred":
        task.apply_async(args=args, countdown=delivery.retry_in_s)


@app.task(name=TaskName.EXTRACT_EVENTS, bind=True, acks_late=True)
def extract_events(self: Task, article_id: int) -> None:
    alert_ids = _run_article_stage(
        self,
        article_id,
        "extract",
        lambda: incidents.extract_events(
            session_scope,
            article_id,
            extractor=_extractor(),
            zones=load_zones(),
            policy=alert_policy(),
            now=utcnow(),
        ),
    )
    for alert_id in alert_ids or ():
        deliver_alert.delay(alert_id)


# max_retries=None: a channel outage is retried for as long as the alert is fresh (the stage decides).
@app.task(name=TaskName.DELIVER_ALERT, bind=True, acks_late=True, max_retries=None)
def deliver_alert(self: Task, alert_id: int) -> None:
    settings = get_settings()
    try:
        if alert_attempts_exhausted(session_scope, alert_id, max_attempts=settings.max_alert_attempts, now=utcnow()):
            return  # a delivery that keeps crashing its worker must not loop forever
        delivery = alerts.deliver_alert(
            session_scope,
            alert_id,
            channels=alert_channels(),
            now=utcnow(),
            retry=retry_policy(),
            digest=digest_policy(),
        )
    except DATABASE_TRANSIENT as exc:
        _retry(self, exc, settings.alert_retry_base_s)
    _follow_up(self, delivery, (alert_id,))
    if delivery.digest_in_s is not None:
        deliver_digest.apply_async((delivery.channel,), countdown=delivery.digest_in_s)


@app.task(name=TaskName.DELIVER_DIGEST, bind=True, acks_late=True, max_retries=None)
def deliver_digest(self: Task, channel: str) -> None:
    settings = get_settings()
    try:
        delivery = alerts.deliver_digest(
            session_scope,
            channel,
            channels=alert_channels(),
            now=utcnow(),
            window=digest_policy().window,
            retry=retry_policy(),
        )
    except DATABASE_TRANSIENT as exc:
        _retry(self, exc, settings.alert_retry_base_s)
    _follow_up(self, delivery, (channel,))
    if delivery.digest_in_s is not None:  # more waited than one digest holds
        deliver_digest.apply_async((channel,), countdown=delivery.digest_in_s)
