"""Article stages: fetch the page (or take the feed's full text), clean it, deduplicate, pre-filter."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from dmzwatch import dedup
from dmzwatch.clean import extract_article, fetch_page
from dmzwatch.db.models import Article, ArticleBand, ArticleStatus
from dmzwatch.db.repo import acquire_lock, advance_article, compress, decompress, fail_article
from dmzwatch.errors import PermanentError
from dmzwatch.http import SafeHttpClient
from dmzwatch.politeness import HostPoliteness, get_host_politeness, host_key
from dmzwatch.prefilter import page_text
from dmzwatch.robots import RobotsPolicy, get_robots_policy
from dmzwatch.stages import SessionScope, log_article
from dmzwatch.stages.incidents import MERGE_LOCK, attach_duplicate

# Near-duplicate threshold on estimated Jaccard of word shingles: wire copies score ~0.9+, rewrites of the
# same agency copy 0.5-0.8; unrelated reports of the same event (different wording) score < 0.2.
NEAR_DUPLICATE_JACCARD = 0.5
RAW_PAGE_REJECTED = "pre-filter: no Syrian place together with a violence word anywhere on the page"
DEDUP_LOCK = "article-dedup"  # taken before MERGE_LOCK when both are held (one order: no deadlock)


def fetch_article(
    sessions: SessionScope,
    article_id: int,
    *,
    client: SafeHttpClient,
    now: datetime,
    robots: RobotsPolicy | None = None,
    politeness: HostPoliteness | None = None,
) -> bool:
    """Fetch the page (or take the feed's full text). True when the article moved on to cleaning.

    A page fetch first takes a slot for its host (``politeness``, shared by all workers through Redis; a busy
    host raises HostBusyError, transient, so the task retries later), then checks robots.txt (``robots``;
    a disallowed page fails with the rule that forbids it). Both default to the process-wide instances."""
    with sessions() as session:
        article = session.get(Article, article_id)
        if article is None or article.status != ArticleStatus.NEW:
            return False
        url, feed_html = article.url, article.feed_content_html
        session.execute(update(Article).where(Article.id == article_id).values(attempts=Article.attempts + 1))

    if feed_html:
        html, final_url = feed_html, url  # the feed carries the full text: no page fetch needed
    else:
        robots = robots or get_robots_policy(client)
        politeness = politeness or get_host_politeness()
        try:
            with politeness.slot(host_key(url)):
                robots.check(url)
                page = fetch_page(client, url)
        except PermanentError as exc:
            with sessions() as session:
                fail_article(session, article_id, f"fetch: {exc.reason}", now)
            log_article(article_id, "failed", f"fetch: {exc.reason}", level=logging.WARNING)
            return False
        html, final_url = page.text, page.url

    with sessions() as session:
        moved = advance_article(
            session,
            article_id,
            ArticleStatus.NEW,
            ArticleStatus.FETCHED,
            raw_html=compress(html),
            fetched_at=now,
            updated_at=now,
            url=final_url,
        )
    if moved:
        log_article(article_id, "fetched", f"{final_url} ({len(html)} chars{', from the feed' if feed_html else ''})")
    return moved


def clean_article(
    sessions: SessionScope, article_id: int, *, is_relevant: Callable[[str], bool], now: datetime
) -> bool:
    """Extract the text, deduplicate, pre-filter. True when the article goes on to event extraction."""
    with sessions() as session:
        article = session.get(Article, article_id)
        if article is None or article.status != ArticleStatus.FETCHED:
            return False
        html, url, summary = decompress(article.raw_html), article.url, article.summary
        from_feed = bool(article.feed_content_html)
        feed_title = article.title

    # Most news is not about north-west Syria. If the whole raw page (menus and comments included) cannot pass
    # the pre-filter, its main text cannot either: reject it before trafilatura, which costs 5-20 ms a page.
    if not is_relevant("\n\n".join(part for part in (feed_title, summary, page_text(html or "")) if part)):
        with sessions() as session:
            advance_article(
                session,
                article_id,
                ArticleStatus.FETCHED,
                ArticleStatus.IRRELEVANT,
                error=RAW_PAGE_REJECTED,
                updated_at=now,
            )
        log_article(article_id, "irrelevant", "the raw page fails the conflict pre-filter")
        return False

    text_source = "feed" if from_feed else "page"
    try:
        cleaned = extract_article(html or "", url)
        text, title, language = cleaned.text, cleaned.title, cleaned.language
        page_canonical, published = cleaned.canonical_url, cleaned.published_at
    except PermanentError as exc:
        if not summary:
            with sessions() as session:
                fail_article(session, article_id, f"clean: {exc.reason}", now)
            log_article(article_id, "failed", f"clean: {exc.reason}", level=logging.WARNING)
            return False
        # The page defeated extraction; the feed's summary is all we have. Keep it, and say so.
        text, title, language, page_canonical, published = summary, None, None, None, None
        text_source = "feed_summary"

    content_hash = dedup.content_hash(text)
    signature = dedup.minhash_signature(text)
    bands = dedup.band_keys(signature)
    relevant = is_relevant((title or "") + "\n\n" + text)

    with sessions() as session:
        article = session.get(Article, article_id)
        if article is None or article.status != ArticleStatus.FETCHED:
            return False
        values: dict[str, object] = {
            "text": text,
            "text_source": text_source,
            "language": language,
            "content_hash": content_hash,
            "updated_at": now,
        }
        if title and not article.title:
            values["title"] = title
        if published and not article.published_at:
            values["published_at"] = published

        # Two copies of one story cleaned at the same moment must not both miss each other (each would become
        # an independent source): dedup decisions are serialised, and this one sees every earlier commit.
        acquire_lock(session, DEDUP_LOCK)
        duplicate_of = _find_duplicate(session, article_id, page_canonical, content_hash, bands, signature)
        if duplicate_of is not None:
            acquire_lock(session, MERGE_LOCK)  # the original's extraction may be attaching its duplicates now
            advance_article(
                session, article_id, ArticleStatus.FETCHED, ArticleStatus.DUPLICATE, duplicate_of=duplicate_of, **values
            )
            attach_duplicate(session, article_id, duplicate_of, now)
            outcome: tuple[str, str] | None = ("duplicate", f"of article {duplicate_of}")
        else:
            outcome = _store_original(session, article_id, values, page_canonical, bands, signature, relevant)
    if outcome is None:
        return False  # another delivery moved it first
    log_article(article_id, *outcome)  # once committed: a line never claims what the database does not hold
    return outcome[0] == "cleaned"


def _store_original(
    session: Session,
    article_id: int,
    values: dict[str, object],
    page_canonical: str | None,
    bands: Sequence[tuple[int, str]],
    signature: Sequence[int],
    relevant: bool,
) -> tuple[str, str] | None:
    """An article that repeats no other: its dedup keys stored, on to extraction or set aside as irrelevant.
    Returns (outcome, detail) for the log, or None when another delivery moved the row first."""
    if page_canonical:
        canonical = dedup.canonical_url(page_canonical)
        taken = session.scalar(select(Article.id).where(Article.canonical_url == canonical))
        if taken is None:
            values["canonical_url"] = canonical
    for band, band_hash in bands:
        session.add(ArticleBand(band=band, hash=band_hash, article_id=article_id))
    values["minhash"] = dedup.pack_signature(signature)
    language = values.get("language")
    if language and language != "en":
        values["error"] = f"language {language}: only English is extracted"
        relevant = False
    if not relevant:
        advance_article(session, article_id, ArticleStatus.FETCHED, ArticleStatus.IRRELEVANT, **values)
        return "irrelevant", str(values.get("error") or "no conflict event or place in its text")
    if not advance_article(session, article_id, ArticleStatus.FETCHED, ArticleStatus.CLEANED, **values):
        return None
    return "cleaned", f"{len(str(values['text']))} chars of text from the {values['text_source']}"


def _find_duplicate(
    session: Session,
    article_id: int,
    page_canonical: str | None,
    content_hash: str,
    bands: Sequence[tuple[int, str]],
    signature: Sequence[int],
) -> int | None:
    """The earliest other article this one repeats: same canonical page, same text, or near-same text."""
    if page_canonical:
        same_page = session.scalar(
            select(Article.id).where(
                Article.canonical_url == dedup.canonical_url(page_canonical), Article.id != article_id
            )
        )
        if same_page is not None:
            return int(same_page)
    same_text = session.scalar(
        select(func.min(Article.id)).where(Article.content_hash == content_hash, Article.id != article_id)
    )
    if same_text is not None:
        return int(same_text)
    if not bands:
        return None
    candidates = session.scalars(
        select(ArticleBand.article_id)
        .where(or_(*[(ArticleBand.band == band) & (ArticleBand.hash == h) for band, h in bands]))
        .where(ArticleBand.article_id != article_id)
        .distinct()
    ).all()
    best: tuple[float, int] | None = None
    for candidate_id in sorted(candidates):
        blob = session.scalar(select(Article.minhash).where(Article.id == candidate_id))
        if blob is None:
            continue
        similarity = dedup.estimated_jaccard(signature, dedup.unpack_signature(blob))
        if similarity >= NEAR_DUPLICATE_JACCARD and (best is None or similarity > best[0]):
            best = (similarity, candidate_id)
    return None if best is None else best[1]
