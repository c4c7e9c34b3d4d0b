"""The operator's feeds file (config/feeds.yaml), validated with clear errors, and its sync into the DB."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from dmzwatch.config_files import ConfigError, read_yaml_file
from dmzwatch.db.models import Feed


class FeedSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    url: HttpUrl
    interval: int = Field(default=300, ge=30, le=86_400, description="seconds between polls")
    enabled: bool = True
    general_news: bool = False  # a general feed: drop entries that cannot be about north-west Syria early


class FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feeds: list[FeedSpec]


def load_feeds_file(path: Path) -> list[FeedSpec]:
    raw = read_yaml_file(path, what="feeds file", setting="DMZWATCH_FEEDS_FILE")
    try:
        specs = FeedsFile.model_validate(raw if raw is not None else {"feeds": []}).feeds
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise ConfigError(f"{path}: {problems}") from exc
    seen: set[str] = set()
    for spec in specs:
        if str(spec.url) in seen:
            raise ConfigError(f"{path}: feed {spec.url} is listed twice")
        seen.add(str(spec.url))
    return specs


def sync_feeds(session: Session, specs: list[FeedSpec]) -> tuple[int, int]:
    """Upsert feeds by URL: (added, updated). Feeds not in the file are left as they are (the CLI may own them).

    A feed that dmzwatch (410 Gone) or an operator (`dmzwatch feeds disable`) disabled stays disabled: the file
    saying ``enabled: true`` is no reason to poll a dead feed again at every start (`feeds enable` undoes it)."""
    added = updated = 0
    for spec in specs:
        url = str(spec.url)
        feed = session.scalar(select(Feed).where(Feed.url == url))
        if feed is not None and feed.disabled_reason and spec.enabled:
            spec = spec.model_copy(update={"enabled": False})
        if feed is None:
            session.add(
                Feed(
                    url=url,
                    name=spec.name,
                    enabled=spec.enabled,
                    general_news=spec.general_news,
                    poll_interval_s=spec.interval,
                    consecutive_failures=0,
                    items_seen=0,
                    added_at=datetime.now(UTC),
                )
            )
            added += 1
        elif (feed.name, feed.poll_interval_s, feed.enabled, feed.general_news) != (
            spec.name,
            spec.interval,
            spec.enabled,
            spec.general_news,
        ):
            feed.name, feed.poll_interval_s = spec.name, spec.interval
            feed.enabled, feed.general_news = spec.enabled, spec.general_news
            updated += 1
    return added, updated
