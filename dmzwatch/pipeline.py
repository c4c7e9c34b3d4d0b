"""The pipeline stages: id in, work, ids of the next stage's rows out. No Celery here.

Each stage reads what it needs in one short transaction, does the slow part (HTTP, trafilatura, spaCy) with no
transaction open, and writes its result in a second short transaction guarded by the row's status: a
redelivered message, or a second worker holding the same id, finds the row already moved and does nothing.
SQLite takes its single write lock at BEGIN, so holding a transaction across an HTTP fetch would stall
every other worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from dmzwatch import dedup
from dmzwatch.alerts.channels import Channel
from dmzwatch.alerts.message import AlertMessage, SourceLink
from dmzwatch.clean import extract_article, fetch_page
from dmzwatch.db.models import (
    Alert,
    AlertStatus,
    Article,
    ArticleBand,
    ArticleStatus,
    Feed,
    Incident,
    IncidentReport,
)
from dmzwatch.db.repo import acquire_lock, advance_article, compress, decompress, fail_article, insert_ignore
from dmzwatch.errors import DmzwatchError, PermanentError, TransientError
from dmzwatch.feeds import poll_feed as fetch_feed
from dmzwatch.geo import ZoneSet
from dmzwatch.http import SafeHttpClient
from dmzwatch.incidents import (
    Candidate,
    Claim,
    Summary,
    alert_is_fresh,
    find_match,
    material_changes,
    place_key,
    summarise,
)
from dmzwatch.records import ExtractedEvent, SubEventType, ZoneResult

log = logging.getLogger(__name__)

SessionScope = Callable[[], AbstractContextManager[Session]]


class EventExtractor(Protocol):
    """What extraction needs from the NLP layer (dmzwatch.nlp.extract.Extractor implements it)."""

    def extract(self, text: str, published_at: datetime | None) -> list[ExtractedEvent]: ...


# A poll lease outlives any poll (HTTP deadline + parsing) so a second scheduler never polls the same feed.
POLL_LEASE = timedelta(minutes=10)
MAX_FEED_BACKOFF = timedelta(hours=24)
MERGE_LOCK = "incident-merge"
# Near-duplicate threshold on estimated Jaccard of word shingles: wire copies score ~0.9+, rewrites of the
# same agency copy 0.5-0.8; unrelated reports of the same event (different wording) score < 0.2.
NEAR_DUPLICATE_JACCARD = 0.5


def utcnow() -> datetime:
    return datetime.now(UTC)


def outlet_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.") or "unknown"


# --- feeds ---------------------------------------------------------------------------------------------------
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


# --- articles ------------------------------------------------------------------------------------------------
def fetch_article(sessions: SessionScope, article_id: int, *, client: SafeHttpClient, now: datetime) -> bool:
    """Fetch the page (or take the feed's full text). True when the article moved on to cleaning."""
    with sessions() as session:
        article = session.get(Article, article_id)
        if article is None or article.status != ArticleStatus.NEW:
            return False
        url, feed_html = article.url, article.feed_content_html
        session.execute(update(Article).where(Article.id == article_id).values(attempts=Article.attempts + 1))

    if feed_html:
        html, final_url = feed_html, url  # the feed carries the full text: no page fetch needed
    else:
        try:
            page = fetch_page(client, url)
        except PermanentError as exc:
            with sessions() as session:
                fail_article(session, article_id, f"fetch: {exc.reason}", now)
            return False
        html, final_url = page.text, page.url

    with sessions() as session:
        return advance_article(
            session,
            article_id,
            ArticleStatus.NEW,
            ArticleStatus.FETCHED,
            raw_html=compress(html),
            fetched_at=now,
            updated_at=now,
            url=final_url,
        )


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

    text_source = "feed" if from_feed else "page"
    try:
        cleaned = extract_article(html or "", url)
        text, title, language = cleaned.text, cleaned.title, cleaned.language
        page_canonical, published = cleaned.canonical_url, cleaned.published_at
    except PermanentError as exc:
        if not summary:
            with sessions() as session:
                fail_article(session, article_id, f"clean: {exc.reason}", now)
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

        duplicate_of = _find_duplicate(session, article_id, page_canonical, content_hash, bands, signature)
        if duplicate_of is not None:
            acquire_lock(session, MERGE_LOCK)  # the original's extraction may be attaching its duplicates now
            advance_article(
                session, article_id, ArticleStatus.FETCHED, ArticleStatus.DUPLICATE, duplicate_of=duplicate_of, **values
            )
            _attach_duplicate(session, article_id, duplicate_of, now)
            return False
        if page_canonical:
            canonical = dedup.canonical_url(page_canonical)
            taken = session.scalar(select(Article.id).where(Article.canonical_url == canonical))
            if taken is None:
                values["canonical_url"] = canonical
        for band, band_hash in bands:
            session.add(ArticleBand(band=band, hash=band_hash, article_id=article_id))
        values["minhash"] = dedup.pack_signature(signature)
        if language and language != "en":
            values["error"] = f"language {language}: only English is extracted"
            relevant = False
        if not relevant:
            advance_article(session, article_id, ArticleStatus.FETCHED, ArticleStatus.IRRELEVANT, **values)
            return False
        return advance_article(session, article_id, ArticleStatus.FETCHED, ArticleStatus.CLEANED, **values)


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


def _attach_duplicate(session: Session, duplicate_id: int, original_id: int, now: datetime) -> None:
    """A duplicate adds its outlet as a source of every incident its original reported (not independent)."""
    original_reports = session.scalars(select(IncidentReport).where(IncidentReport.article_id == original_id)).all()
    for report in original_reports:
        insert_ignore(
            session,
            IncidentReport,
            {
                "incident_id": report.incident_id,
                "article_id": duplicate_id,
                "event_index": report.event_index,
                "place_text": report.place_text,
                "sub_event_type": report.sub_event_type,
                "killed": report.killed,
                "injured": report.injured,
                "killed_civilians": report.killed_civilians,
                "perpetrator": report.perpetrator,
                "occurred_on": report.occurred_on,
                "sentence": report.sentence,
                "start": report.start,
                "end": report.end,
                "confidence": report.confidence,
                "evidence": {"duplicate_of": original_id},
                "created_at": now,
            },
            conflict=["article_id", "event_index"],
        )
        incident = session.get(Incident, report.incident_id)
        if incident is not None:
            incident.source_count = _summary_for(session, incident.id).source_count
            incident.updated_at = now


# --- extraction and incidents ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AlertPolicy:
    channels: Sequence[str]
    max_age: timedelta
    alert_on_edge: bool

    def zone_alerts(self, zone_status: str) -> bool:
        return zone_status == "inside" or (self.alert_on_edge and zone_status == "edge")


def extract_events(
    sessions: SessionScope,
    article_id: int,
    *,
    extractor: EventExtractor,
    zones: ZoneSet,
    policy: AlertPolicy,
    now: datetime,
) -> list[int]:
    """Extract incidents, merge them with what other sources said, decide alerts. Returns alert ids to send."""
    with sessions() as session:
        article = session.get(Article, article_id)
        if article is None or article.status != ArticleStatus.CLEANED:
            return []
        text, published_at = article.text or "", article.published_at
        discovered_at = article.discovered_at

    events = extractor.extract(text, published_at)
    located = [(event, _zone_of(event, zones)) for event in events if event.resolution is not None]

    with sessions() as session:
        acquire_lock(session, MERGE_LOCK)  # concurrent workers must not create twin incidents
        if not advance_article(session, article_id, ArticleStatus.CLEANED, ArticleStatus.EXTRACTED, updated_at=now):
            return []  # another delivery of this message got here first
        alert_ids: list[int] = []
        reference_time = published_at or discovered_at
        for index, (event, zone) in enumerate(located):
            alert_ids += _merge_event(session, article_id, index, event, zone, reference_time, policy, now)
        for duplicate_id in session.scalars(select(Article.id).where(Article.duplicate_of == article_id)).all():
            _attach_duplicate(session, duplicate_id, article_id, now)
        return alert_ids


def _zone_of(event: ExtractedEvent, zones: ZoneSet) -> ZoneResult:
    assert event.resolution is not None
    return zones.classify_resolution(event.resolution)


def _summary_for(session: Session, incident_id: int) -> Summary:
    rows = session.execute(
        select(IncidentReport, Article.outlet, Article.duplicate_of)
        .join(Article, Article.id == IncidentReport.article_id)
        .where(IncidentReport.incident_id == incident_id)
        .order_by(IncidentReport.id)
    ).all()
    claims = [
        Claim(
            outlet=outlet or "unknown",
            independent=duplicate_of is None,
            sub_event_type=SubEventType(report.sub_event_type),
            killed=report.killed,
            injured=report.injured,
            killed_civilians=report.killed_civilians,
            perpetrator=report.perpetrator,
            confidence=report.confidence,
        )
        for report, outlet, duplicate_of in rows
    ]
    return summarise(claims)


def _merge_event(
    session: Session,
    article_id: int,
    index: int,
    event: ExtractedEvent,
    zone: ZoneResult,
    reference_time: datetime,
    policy: AlertPolicy,
    now: datetime,
) -> list[int]:
    assert event.resolution is not None
    place = event.resolution.place
    key = place_key(event)
    window = timedelta(days=2)
    query = select(Incident)
    if event.occurred_on is not None:
        query = query.where(
            or_(
                Incident.occurred_on.is_(None),
                Incident.occurred_on.between(event.occurred_on - window, event.occurred_on + window),
            )
        )
    if event.resolution.geo_precision < 3:
        box = 0.05  # ~5 km in latitude: a coarse index filter before the exact 3 km test
        query = query.where(
            or_(
                Incident.place_key == key,
                Incident.lat.between(place.lat - box, place.lat + box)
                & Incident.lon.between(place.lon - box, place.lon + box),
            )
        )
    else:
        query = query.where(Incident.place_key == key)
    existing = session.scalars(query.order_by(Incident.id)).all()
    match = find_match(
        key,
        place.lat,
        place.lon,
        event.resolution.geo_precision,
        event.sub_event_type,
        event.occurred_on,
        [
            Candidate(
                id=i.id,
                place_key=i.place_key,
                lat=i.lat,
                lon=i.lon,
                geo_precision=i.geo_precision,
                sub_event_type=SubEventType(i.sub_event_type),
                occurred_on=i.occurred_on,
            )
            for i in existing
        ],
    )
    report_values = {
        "article_id": article_id,
        "event_index": index,
        "place_text": event.place_text[:200],
        "sub_event_type": event.sub_event_type.value,
        "killed": event.killed,
        "injured": event.injured,
        "killed_civilians": event.killed_civilians,
        "perpetrator": event.perpetrator,
        "occurred_on": event.occurred_on,
        "sentence": event.evidence.sentence,
        "start": event.evidence.start,
        "end": event.evidence.end,
        "confidence": event.confidence,
        "evidence": {
            name: {"sentence": ev.sentence, "start": ev.start, "end": ev.end}
            for name, ev in event.field_evidence.items()
        },
        "created_at": now,
    }

    if match is None:
        incident = Incident(
            event_type=event.event_type,
            sub_event_type=event.sub_event_type.value,
            place_name=place.name if event.resolution.method != "region" else event.place_text,
            place_id=place.id,
            place_key=key,
            lat=place.lat,
            lon=place.lon,
            geo_precision=event.resolution.geo_precision,
            admin1=place.admin1,
            occurred_on=event.occurred_on,
            time_precision=event.time_precision,
            killed=event.killed,
            killed_min=event.killed,
            killed_max=event.killed,
            injured=event.injured,
            injured_min=event.injured,
            injured_max=event.injured,
            killed_civilians=event.killed_civilians,
            perpetrator=event.perpetrator,
            target=event.target,
            zones=list(zone.zones),
            zone_status=zone.zone_status,
            distance_to_line_km=zone.distance_to_line_km,
            confidence=event.confidence,
            source_count=1,
            first_seen_at=now,
            first_published_at=reference_time,
            updated_at=now,
            version=1,
        )
        session.add(incident)
        session.flush()
        insert_ignore(
            session, IncidentReport, {"incident_id": incident.id, **report_values}, ["article_id", "event_index"]
        )
        if policy.zone_alerts(zone.zone_status) and alert_is_fresh(reference_time, now, policy.max_age):
            return _create_alerts(session, incident, "new", reference_time, now, policy)
        return []

    incident = session.get_one(Incident, match.id)
    before = _summary_for(session, incident.id)
    inserted = insert_ignore(
        session, IncidentReport, {"incident_id": incident.id, **report_values}, ["article_id", "event_index"]
    )
    if inserted is None:
        return []
    after = _summary_for(session, incident.id)
    _apply_summary(incident, after, now)
    if incident.geo_precision > event.resolution.geo_precision:
        # A more precise report of the same incident moves the pin (e.g. region → village).
        incident.place_name, incident.place_id = place.name, place.id
        incident.lat, incident.lon, incident.admin1 = place.lat, place.lon, place.admin1
        incident.geo_precision = event.resolution.geo_precision
        incident.zones, incident.zone_status = list(zone.zones), zone.zone_status
        incident.distance_to_line_km = zone.distance_to_line_km
    changes = material_changes(before, after)
    if not changes:
        return []
    incident.version += 1
    has_new_alert = session.scalar(
        select(func.count()).select_from(Alert).where(Alert.incident_id == incident.id, Alert.kind == "new")
    )
    if not policy.zone_alerts(incident.zone_status) or not alert_is_fresh(reference_time, now, policy.max_age):
        return []
    return _create_alerts(session, incident, "update" if has_new_alert else "new", reference_time, now, policy)


def _apply_summary(incident: Incident, summary: Summary, now: datetime) -> None:
    incident.sub_event_type = summary.sub_event_type.value
    incident.event_type = summary.sub_event_type.event_type
    incident.killed, incident.killed_min, incident.killed_max = summary.killed, summary.killed_min, summary.killed_max
    incident.injured = summary.injured
    incident.injured_min, incident.injured_max = summary.injured_min, summary.injured_max
    incident.killed_civilians = summary.killed_civilians
    incident.perpetrator = summary.perpetrator
    incident.confidence = max(incident.confidence, summary.confidence)
    incident.source_count = summary.source_count
    incident.updated_at = now


def _create_alerts(
    session: Session, incident: Incident, kind: str, source_time: datetime, now: datetime, policy: AlertPolicy
) -> list[int]:
    ids: list[int] = []
    for channel in policy.channels:
        alert_id = insert_ignore(
            session,
            Alert,
            {
                "incident_id": incident.id,
                "incident_version": incident.version,
                "channel": channel,
                "kind": kind,
                "status": AlertStatus.PENDING.value,
                "attempts": 0,
                "created_at": now,
                "source_published_at": source_time,
            },
            ["incident_id", "incident_version", "channel"],
        )
        if alert_id is not None:
            ids.append(alert_id)
    return ids


# --- alerts ----------------------------------------------------------------------------------------------------
def build_alert_message(session: Session, alert: Alert) -> AlertMessage:
    incident = session.get_one(Incident, alert.incident_id)
    sources = [
        SourceLink(
            url=article.url,
            outlet=article.outlet or outlet_of(article.url),
            published_at=article.published_at,
            killed=report.killed,
            injured=report.injured,
        )
        for report, article in session.execute(
            select(IncidentReport, Article)
            .join(Article, Article.id == IncidentReport.article_id)
            .where(IncidentReport.incident_id == incident.id)
            .order_by(IncidentReport.id)
        ).all()
    ]
    first_ref = None
    changes: tuple[str, ...] = ()
    if alert.kind == "update":
        first_ref = session.scalar(
            select(Alert.external_ref).where(
                Alert.incident_id == incident.id, Alert.channel == alert.channel, Alert.kind == "new"
            )
        )
        changes = (f"now version {incident.version}",)
    return AlertMessage(
        alert_id=alert.id,
        kind=alert.kind,
        incident_id=incident.id,
        version=alert.incident_version,
        event_type=incident.event_type,
        sub_event_type=incident.sub_event_type,
        place_name=incident.place_name,
        admin1=incident.admin1,
        lat=incident.lat,
        lon=incident.lon,
        geo_precision=incident.geo_precision,
        zone_status=incident.zone_status,
        zones=tuple(incident.zones or ()),
        distance_to_line_km=incident.distance_to_line_km,
        occurred_on=incident.occurred_on,
        killed=incident.killed,
        killed_min=incident.killed_min,
        killed_max=incident.killed_max,
        injured=incident.injured,
        injured_min=incident.injured_min,
        injured_max=incident.injured_max,
        killed_civilians=incident.killed_civilians,
        perpetrator=incident.perpetrator,
        confidence=incident.confidence,
        sources=tuple(sources),
        changes=changes,
        first_alert_ref=first_ref,
    )


def deliver_alert(
    sessions: SessionScope, alert_id: int, *, channels: dict[str, Channel], now: datetime, final_attempt: bool
) -> None:
    """Send one alert once. Transient failures propagate (the caller retries); the last one marks it failed."""
    with sessions() as session:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.status != AlertStatus.PENDING:
            return
        channel = channels.get(alert.channel)
        if channel is None:
            alert.status = AlertStatus.FAILED.value
            alert.last_error = f"channel {alert.channel!r} is not configured"
            return
        message = build_alert_message(session, alert)
        alert.attempts += 1

    try:
        external_ref = channel.send(message)
    except TransientError as exc:
        with sessions() as session:
            alert = session.get_one(Alert, alert_id)
            alert.last_error = exc.reason
            if final_attempt:
                alert.status = AlertStatus.FAILED.value
        if not final_attempt:
            raise
        return
    except PermanentError as exc:
        with sessions() as session:
            alert = session.get_one(Alert, alert_id)
            alert.status, alert.last_error = AlertStatus.FAILED.value, exc.reason
        return

    with sessions() as session:
        session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.status == AlertStatus.PENDING.value)
            .values(status=AlertStatus.SENT.value, sent_at=now, external_ref=external_ref, last_error=None)
        )
