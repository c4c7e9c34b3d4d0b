"""Feed stages: lease due feeds, poll one feed (conditional GET), record health and backoff.

Entries of a ``general_news`` feed (a broad outlet feed, most of it about elsewhere) go through the cheap
relevance pre-filter on their title, summary and any full text *before* any page fetch; the ones that cannot be
about a violent event in Syria are stored with status ``irrelevant`` and the reason, so nothing is dropped
silently, and are never fetched.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from dmzwatch import dedup
from dmzwatch.db.models import Article, ArticleStatus, Feed
from dmzwatch.db.repo import insert_ignore
from dmzwatch.errors import DmzwatchError, TransientError
from dmzwatch.feed_health import GAP_HISTORY_ITEMS, median_gap_s
from dmzwatch.feeds import html_to_text
from dmzwatch.feeds import poll_feed as fetch_feed
from dmzwatch.http import SafeHttpClient
from dmzwatch.records import FeedEntry
from dmzwatch.stages import SessionScope, outlet_of

log = logging.getLogger(__name__)

# A poll lease outlives any poll (HTTP deadline + parsing) so a second scheduler never polls the same feed.
POLL_LEASE = timedelta(minutes=10)
MAX_FEED_BACKOFF = timedelta(hours=24)
JITTER_FRACTION = 0.1


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
        if not due:
            return []
        # One conditional UPDATE for the batch: each row is leased only if still unleased at that instant, so
        # a concurrent scheduler's claim wins or loses per row, never both (RETURNING: SQLite 3.35+, PostgreSQL).
        leased = session.scalars(
            update(Feed)
            .where(Feed.id.in_(due), or_(Feed.lease_until.is_(None), Feed.lease_until < now))
            .values(lease_until=now + POLL_LEASE)
            .returning(Feed.id)
            .execution_options(synchronize_session=False)
        ).all()
        order = {feed_id: position for position, feed_id in enumerate(due)}
        return sorted((int(feed_id) for feed_id in leased), key=order.__getitem__)


def schedule_jitter(delay: timedelta, feed_id: int, now: datetime) -> timedelta:
    """``delay`` stretched by 0-10%: feeds added together drift apart instead of all falling due on the same
    beat tick forever. Never shorter (a publisher's interval and Retry-After are floors). Derived from the feed
    and the time rather than a global RNG, so any one poll's schedule is reproducible."""
    digest = hashlib.blake2b(f"{feed_id}:{now.timestamp()}".encode(), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / 2**64
    return delay * (1 + JITTER_FRACTION * fraction)


def feed_backoff(interval_s: int, failures: int, retry_after_s: float | None) -> timedelta:
    """Exponential backoff from the feed's own interval, capped at a day; a server's Retry-After wins if longer."""
    delay = timedelta(seconds=interval_s * (2 ** min(failures, 16)))
    delay = min(delay, MAX_FEED_BACKOFF)
    if retry_after_s is not None:
        delay = max(delay, timedelta(seconds=min(retry_after_s, MAX_FEED_BACKOFF.total_seconds())))
    return delay


PREFILTER_REASON = (
    "general-news pre-filter: title and summary name no Syrian place together with a violence word; not fetched"
)


def _default_is_relevant() -> Callable[[str], bool]:
    """The extractor's cheap pre-filter (gazetteer set lookup and a regex; the spaCy model is not loaded)."""
    from dmzwatch.nlp.extract import get_extractor

    return get_extractor().is_relevant


def entry_prefilter_text(entry: FeedEntry) -> str:
    """What the pre-filter reads for an entry: title, summary, and the feed's full text when it gives one."""
    parts = [entry.title, entry.summary]
    if entry.content_html:
        parts.append(html_to_text(entry.content_html))
    return "\n\n".join(part for part in parts if part)


def poll_feed(
    sessions: SessionScope,
    feed_id: int,
    *,
    client: SafeHttpClient,
    now: datetime,
    is_relevant: Callable[[str], bool] | None = None,
) -> list[int]:
    """Conditional GET of one feed; new entries become article rows. Returns the ids of the new articles to fetch.

    ``is_relevant`` is the pre-filter for general-news feeds; by default the process's extractor's, loaded only
    when a general-news feed has new entries."""
    with sessions() as session:
        feed = session.get(Feed, feed_id)
        if feed is None or not feed.enabled:
            return []
        url, etag, last_modified, interval = feed.url, feed.etag, feed.last_modified, feed.poll_interval_s
        general_news = feed.general_news

    try:
        result = fetch_feed(client, url, etag=etag, last_modified=last_modified)
    except DmzwatchError as exc:
        retry_after = exc.retry_after_s if isinstance(exc, TransientError) else None
        _record_feed_failure(sessions, feed_id, exc.reason, exc.status, retry_after, interval, now)
        return []
    except Exception as exc:
        # A bug or a feed that crashes the parser: record it on the feed (backing off) rather than leave the
        # row leased and silent, and let the other feeds carry on. The traceback goes to the log.
        log.exception("feed %s: unexpected error while polling %s", feed_id, url)
        reason = f"unexpected error while polling: {type(exc).__name__}: {exc}"
        _record_feed_failure(sessions, feed_id, reason, None, None, interval, now)
        return []
    if result.status in (429, 503):  # the server asked us to slow down: a failure that backs off
        reason = f"feed answered {result.status}; Retry-After {result.retry_after_s} s"
        _record_feed_failure(sessions, feed_id, reason, result.status, result.retry_after_s, interval, now)
        return []

    # Decided before the write transaction: the first call may load the gazetteer (a second or two).
    relevant = _relevance_check(general_news, result.entries, is_relevant)
    keeps = [relevant(entry) for entry in result.entries]

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
            feed.disabled_reason = "410 Gone"
            return []
        # A 301 moves the feed, unless another configured feed already has that URL.
        moved_to = result.permanent_url if result.permanent_url != feed.url else None
        if moved_to and session.scalar(select(Feed.id).where(Feed.url == moved_to)) is None:
            feed.url = moved_to
        if not result.not_modified:
            feed.etag, feed.last_modified = result.etag, result.last_modified
        feed.next_poll_at = now + schedule_jitter(timedelta(seconds=interval), feed_id, now)
        items = 0
        seen_elsewhere: list[str] = []
        for entry, keep in zip(result.entries, keeps, strict=True):
            canonical = dedup.canonical_url(entry.url)
            article_id = insert_ignore(
                session,
                Article,
                {
                    "feed_id": feed_id,
                    "entry_guid": entry.guid,
                    "url": entry.url,
                    "canonical_url": canonical,
                    "outlet": outlet_of(entry.url),
                    "title": entry.title,
                    "summary": entry.summary,
                    "published_at": entry.published_at,
                    "feed_content_html": entry.content_html,
                    "discovered_at": now,
                    "updated_at": now,
                    "status": (ArticleStatus.NEW if keep else ArticleStatus.IRRELEVANT).value,
                    "error": None if keep else PREFILTER_REASON,
                    "attempts": 0,
                },
                # Either unique key means a seen entry: the same guid in this feed, or the same page anywhere.
            )
            if article_id is None:
                if keep and not general_news:
                    seen_elsewhere.append(canonical)
                continue
            items += 1
            if keep:
                new_ids.append(article_id)
        feed.items_seen += items
        if items:
            feed.last_new_item_at = now
            feed.item_gap_median_s = _item_gap_median(session, feed_id)
        new_ids.extend(_revive_prefiltered(session, seen_elsewhere, now))
    answer = "not modified" if result.not_modified else f"{len(result.entries)} entries"
    log.info(
        "feed %s polled: %s, %d new, %d to fetch",
        feed_id,
        answer,
        items,
        len(new_ids),
        extra={"feed_id": feed_id, "new_articles": len(new_ids)},
    )
    return new_ids


def _revive_prefiltered(session: Session, canonical_urls: list[str], now: datetime) -> list[int]:
    """Pages a general-news feed's pre-filter set aside, now listed by a dedicated feed: fetch them after all.

    The pre-filter judged a title and a summary; a feed about Syria listing the same page outweighs that."""
    if not canonical_urls:
        return []
    ids = session.scalars(
        select(Article.id).where(
            Article.canonical_url.in_(canonical_urls),
            Article.status == ArticleStatus.IRRELEVANT.value,
            Article.error == PREFILTER_REASON,
        )
    ).all()
    revived: list[int] = []
    for article_id in ids:
        moved = session.execute(
            update(Article)
            .where(Article.id == article_id, Article.status == ArticleStatus.IRRELEVANT.value)
            .values(status=ArticleStatus.NEW.value, error=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(moved, "rowcount", 0) == 1:
            revived.append(int(article_id))
    return revived


def _relevance_check(
    general_news: bool, entries: tuple[FeedEntry, ...], is_relevant: Callable[[str], bool] | None
) -> Callable[[FeedEntry], bool]:
    if not general_news or not entries:
        return lambda entry: True
    check = is_relevant or _default_is_relevant()
    return lambda entry: check(entry_prefilter_text(entry))


def _item_gap_median(session: Session, feed_id: int) -> float | None:
    """Median gap between the feed's recent items (publication time, else discovery time)."""
    session.flush()
    times = session.scalars(
        select(func.coalesce(Article.published_at, Article.discovered_at))
        .where(Article.feed_id == feed_id)
        .order_by(Article.id.desc())
        .limit(GAP_HISTORY_ITEMS)
    ).all()
    return median_gap_s(t for t in times if t is not None)


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
        feed.failures_total = (feed.failures_total or 0) + 1
        feed.last_error = reason
        feed.last_status = status
        feed.last_polled_at = now
        delay = schedule_jitter(feed_backoff(interval_s, feed.consecutive_failures, retry_after_s), feed_id, now)
        feed.next_poll_at = now + min(delay, MAX_FEED_BACKOFF)
        feed.lease_until = None
    log.warning("feed %s poll failed (%d in a row): %s", feed_id, feed.consecutive_failures, reason)
