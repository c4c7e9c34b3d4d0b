"""SQLAlchemy 2 models (DESIGN §3). Portable across SQLite and PostgreSQL: JSON, not JSONB; no arrays."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Named constraints so Alembic migrations are stable on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out, on both backends (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ArticleStatus(StrEnum):
    NEW = "new"
    FETCHED = "fetched"
    CLEANED = "cleaned"
    EXTRACTED = "extracted"
    DUPLICATE = "duplicate"
    IRRELEVANT = "irrelevant"
    FAILED = "failed"


# Statuses a row can still leave; everything else is final.
OPEN_ARTICLE_STATUSES = (ArticleStatus.NEW, ArticleStatus.FETCHED, ArticleStatus.CLEANED)


class AlertStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"  # folded into a digest or muted by routing
    DIGEST = "digest"  # waiting to go out folded into its channel's next digest message (burst control)


class Feed(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    general_news: Mapped[bool] = mapped_column(Boolean, default=False)
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    poll_interval_s: Mapped[int] = mapped_column(Integer, default=300)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # A poll holds a lease until this time; a second scheduler sees it and skips the feed.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_new_item_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    # Health (migration 0004): see dmzwatch.feed_health.
    added_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    item_gap_median_s: Mapped[float | None] = mapped_column(Float)  # median gap between items, own history
    disabled_reason: Mapped[str | None] = mapped_column(Text)  # set by 410 or `feeds disable`; sync keeps it


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("feed_id", "entry_guid"),
        Index("ix_articles_status_updated", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int | None] = mapped_column(ForeignKey("feeds.id", ondelete="SET NULL"), index=True)
    entry_guid: Mapped[str | None] = mapped_column(String(2048))
    url: Mapped[str] = mapped_column(String(2048))
    canonical_url: Mapped[str] = mapped_column(String(2048), unique=True)
    outlet: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discovered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raw_html: Mapped[bytes | None] = mapped_column(LargeBinary)  # zlib-compressed
    feed_content_html: Mapped[str | None] = mapped_column(Text)  # full text from the feed, when given
    text: Mapped[str | None] = mapped_column(Text)
    text_source: Mapped[str | None] = mapped_column(String(16))  # "page", "feed", "feed_summary"
    language: Mapped[str | None] = mapped_column(String(8))
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)  # packed signature, to verify LSH candidates
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=ArticleStatus.NEW)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Deliveries of the stage that starts from status `attempt_stage` (see dmzwatch.maintenance): a message
    # that kills its worker is redelivered forever unless something counts the deliveries and stops it.
    stage_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    attempt_stage: Mapped[str | None] = mapped_column(String(16))


class ArticleBand(Base):
    """MinHash LSH bands in SQL, so every worker shares the near-duplicate index."""

    __tablename__ = "article_bands"
    __table_args__ = (Index("ix_article_bands_band_hash", "band", "hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    band: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(40))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_place_day", "place_key", "occurred_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    sub_event_type: Mapped[str] = mapped_column(String(64))
    place_name: Mapped[str] = mapped_column(String(200))
    place_id: Mapped[str | None] = mapped_column(String(64))
    # place_id when resolved, else the normalised toponym: the merge looks incidents up by it.
    place_key: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    geo_precision: Mapped[int] = mapped_column(Integer)
    admin1: Mapped[str | None] = mapped_column(String(64))
    occurred_on: Mapped[date | None] = mapped_column(Date)
    time_precision: Mapped[int | None] = mapped_column(Integer)
    killed: Mapped[int | None] = mapped_column(Integer)  # best figure
    killed_min: Mapped[int | None] = mapped_column(Integer)
    killed_max: Mapped[int | None] = mapped_column(Integer)
    injured: Mapped[int | None] = mapped_column(Integer)
    injured_min: Mapped[int | None] = mapped_column(Integer)
    injured_max: Mapped[int | None] = mapped_column(Integer)
    killed_civilians: Mapped[int | None] = mapped_column(Integer)
    perpetrator: Mapped[str] = mapped_column(String(32), default="unknown")
    target: Mapped[str | None] = mapped_column(Text)
    zones: Mapped[list[str]] = mapped_column(JSON, default=list)
    zone_status: Mapped[str] = mapped_column(String(16))
    distance_to_line_km: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    source_count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    reports: Mapped[list[IncidentReport]] = relationship(back_populates="incident", order_by="IncidentReport.id")


class IncidentReport(Base):
    """One source's claim about one incident, kept side by side with the others."""

    __tablename__ = "incident_reports"
    __table_args__ = (UniqueConstraint("article_id", "event_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    event_index: Mapped[int] = mapped_column(Integer)  # position of the event within its article
    place_text: Mapped[str] = mapped_column(String(200))
    sub_event_type: Mapped[str] = mapped_column(String(64))
    killed: Mapped[int | None] = mapped_column(Integer)
    injured: Mapped[int | None] = mapped_column(Integer)
    killed_civilians: Mapped[int | None] = mapped_column(Integer)
    perpetrator: Mapped[str] = mapped_column(String(32))
    occurred_on: Mapped[date | None] = mapped_column(Date)
    sentence: Mapped[str] = mapped_column(Text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    incident: Mapped[Incident] = relationship(back_populates="reports")
    article: Mapped[Article] = relationship()


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("incident_id", "incident_version", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    incident_version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # "new" or "update"
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    external_ref: Mapped[str | None] = mapped_column(String(200))
    # Source publication time of the report that caused it: publish-to-alert latency is measured from here.
    source_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Last time the maintenance task re-sent a pending alert whose message was lost.
    requeued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A delivery in progress holds the alert until this time: a redelivered or re-queued message arriving
    # mid-send finds it held and sends nothing. Expires, so a worker killed mid-send cannot strand it.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # For an update: what changed since the last version ("death toll rose to 7"), shown to the reader.
    changes: Mapped[list[str] | None] = mapped_column(JSON)
    # Sends the channel refused for now (5xx, 429, timeout). attempts - failures: deliveries that never
    # finished (a crashed worker); only those count towards DMZWATCH_MAX_ALERT_ATTEMPTS.
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the channel failing it since
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the scheduled retry
    retried_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # an operator's `alerts retry`


__all__ = [
    "OPEN_ARTICLE_STATUSES",
    "Alert",
    "AlertStatus",
    "Article",
    "ArticleBand",
    "ArticleStatus",
    "Base",
    "Feed",
    "Incident",
    "IncidentReport",
    "Lock",
    "SilenceAlarm",
]


class Lock(Base):
    """Named rows to serialise short critical sections across workers (SELECT ... FOR UPDATE).

    PostgreSQL row locks make the incident merge safe under concurrent workers; SQLite needs no row lock
    because every transaction there is BEGIN IMMEDIATE (see db.session).
    """

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)


class SilenceAlarm(Base):
    """One row per silence: no relevant article ingested since `silent_since`. Unique, so it alarms once."""

    __tablename__ = "silence_alarms"
    __table_args__ = (UniqueConstraint("zone", "silent_since"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    zone: Mapped[str] = mapped_column(String(64))
    silent_since: Mapped[datetime] = mapped_column(UTCDateTime)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.PENDING)  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
