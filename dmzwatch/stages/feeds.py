"""Feed stages: lease due feeds, poll one feed (conditional GET), record health and backoff."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from dmzwatch import dedup
from dmzwatch.db.models import Article, ArticleStatus, Feed
from dmzwatch.db.repo import insert_ignore
from dmzwatch.errors import DmzwatchError, TransientError
from dmzwatch.feeds import poll_feed as fetch_feed
from dmzwatch.http import SafeHttpClient
from dmzwatch.stages import SessionScope, outlet_of

log = logging.getLogger(__name__)

# A poll lease outlives any poll (HTTP deadline + parsing) so a second scheduler never polls the same feed.
POLL_LEASE = timedelta(minutes=10)
MAX_FEED_BACKOFF = timedelta(hours=24)


def claim_due_feeds(sessions: SessionScope, *, now: datetime, limit: int = 200) -> list[int]:
    """Take a lease on every due feed; return the ids leased. Two schedulers never lease the same feed."""
    with sessions() as session:
        due = session.scalars(
            select(Feed.id)
            .where(
                Feed.enabled.is_(True),
                or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now),
                or_(Feed.lease_until.is_(None), Feed.lease_until < now),
            )
            .order_by(Feed.next_poll_at.is_(None).desc(), Feed.next_poll_at, Feed.id)
            .limit(limit)
        ).all()
        claimed: list[int] = []
        for feed_id in due:
            result = session.execute(
                update(Feed)
                .where(Feed.id == feed_id, or_(Feed.lease_until.is_(None), Feed.lease_until < now))
                .values(lease_until=now + POLL_LEASE)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:
                claimed.append(feed_id)
        return claimed


def feed_backoff(interval_s: int, failures: int, retry_after_s: float | None) -> timedelta:
    """Exponential backoff from the feed's own interval, capped at a day; a server's Retry-After wins if longer."""
    delay = timedelta(seconds=interval_s * (2 ** min(failures, 16)))
    delay = min(delay, MAX_FEED_BACKOFF)
    if retry_after_s is not None:
        delay = max(delay, timedelta(seconds=min(retry_after_s, MAX_FEED_BACKOFF.total_seconds())))
    return delay


def poll_feed(sessions: SessionScope, feed_id: int, *, client: SafeHttpClient, now: datetime) -> list[int]:
    """Conditional GET of one feed; new entries become article rows. Returns the new article ids."""
    with sessions() as session:
        feed = session.get(Feed, feed_id)
        if feed is None or not feed.enabled:
            return []
        url, etag, last_modified, interval = feed.url, feed.etag, feed.last_modified, feed.poll_interval_s

    try:
        result = fetch_feed(client, url, etag=etag, last_modified=last_modified)
    except DmzwatchError as exc:
        retry_after = exc.retry_after_s if isinstance(exc, TransientError) else None
        _record_feed_failure(sessions, feed_id, exc.reason, exc.status, retry_after, interval, now)
        return []
    if result.status in (429, 503):  # the server asked us to slow down: a failure that backs off
        reason = f"feed answered {result.status}; Retry-After {result.retry_after_s} s"
        _record_feed_failure(sessions, feed_id, reason, result.status, result.retry_after_s, interval, now)
        return []

    new_ids: list[int] = []
    with sessions() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            return []
        feed.last_status = result.status
        feed.last_polled_at = now
        feed.last_ok_at = now
        feed.consecutive_failures = 0
        feed.last_error = result.bozo_reason
        feed.lease_until = None
        if result.gone:
            feed.enabled = False
            feed.last_error = "feed answered 410 Gone: disabled"
            return []
        # A 301 moves the feed, unless another configured feed already has that URL.
        moved_to = result.permanent_url if result.permanent_url != feed.url else None
        if moved_to and session.scalar(select(Feed.id).where(Feed.url == moved_to)) is None:
            feed.url = moved_to
        if not result.not_modified:
            feed.etag, feed.last_modified = result.etag, result.last_modified
        feed.next_poll_at = now + timedelta(seconds=interval)
        for entry in result.entries:
            article_id = insert_ignore(
                session,
                Article,
                {
                    "feed_id": feed_id,
                    "entry_guid": entry.guid,
                    "url": entry.url,
                    "canonical_url": dedup.canonical_url(entry.url),
                    "outlet": outlet_of(entry.url),
                    "title": entry.title,
                    "summary": entry.summary,
                    "published_at": entry.published_at,
                    "feed_content_html": entry.content_html,
                    "discovered_at": now,
                    "updated_at": now,
                    "status": ArticleStatus.NEW.value,
                    "attempts": 0,
                },
                # Either unique key means a seen entry: the same guid in this feed, or the same page anywhere.
            )
            if article_id is not None:
                new_ids.append(article_id)
        feed.items_seen += len(new_ids)
        if new_ids:
            feed.last_new_item_at = now
    return new_ids


def _record_feed_failure(
    sessions: SessionScope,
    feed_id: int,
    reason: str,
    status: int | None,
    retry_after_s: float | None,
    interval_s: int,
    now: datetime,
) -> None:
    with sessions() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            return
        feed.consecutive_failures += 1
        feed.last_error = reason
        feed.last_status = status
        feed.last_polled_at = now
        feed.next_poll_at = now + feed_backoff(interval_s, feed.consecutive_failures, retry_after_s)
        feed.lease_until = None
    log.warning("feed %s poll failed (%d in a row): %s", feed_id, feed.consecutive_failures, reason)
