"""`dmzwatch feeds ...`: the feeds and their health (list, add, disable, enable, health, sync)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy import or_, select

from workers.cli_common import feeds_app, prepare_database


@feeds_app.command("sync")
def feeds_sync() -> None:
    """Load the feeds file into the database."""
    prepare_database()
    typer.echo("feeds synced")


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _since(now: datetime, when: datetime | None) -> str:
    return _ago((now - when).total_seconds() if when else None)


@feeds_app.command("list")
def feeds_list(as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False) -> None:
    """Feeds with their state, failures, items seen and last success."""
    from dmzwatch.db.session import session_scope
    from dmzwatch.feed_health import collect_feed_health

    prepare_database()
    now = datetime.now(UTC)
    with session_scope() as session:
        health = collect_feed_health(session, now=now)
    for item in health:
        if as_json:
            typer.echo(json.dumps(item.as_dict()))
            continue
        failures = f"{item.consecutive_failures} fail" if item.consecutive_failures else ""
        last_ok = f"{_since(now, item.last_ok_at)} ago" if item.last_ok_at else "never"
        typer.echo(
            f"{item.id:>4}  {item.state:<8} {failures:<7} {item.items_seen:>6} items  "
            f"last ok {last_ok:>11}  {item.name}  <{item.url}>"
        )


@feeds_app.command("health")
def feeds_health(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="exit 1 when a feed is failing or silent")] = False,
) -> None:
    """Which feeds are failing or silent (no new item for longer than their own usual gap), and why."""
    from dmzwatch.db.session import session_scope
    from dmzwatch.feed_health import FEED_STATES, collect_feed_health

    prepare_database()
    now = datetime.now(UTC)
    with session_scope() as session:
        health = collect_feed_health(session, now=now)
    if as_json:
        for item in health:
            typer.echo(json.dumps(item.as_dict()))
    else:
        counts = {state: sum(1 for item in health if item.state == state) for state in FEED_STATES}
        typer.echo("feeds: " + ", ".join(f"{count} {state}" for state, count in counts.items()))
        typer.echo(
            f"{'id':>4}  {'state':<8} {'fails':>5} {'total':>5} {'items':>6}  {'last ok':>8} {'new item':>8} "
            f"{'usual gap':>9} {'silent at':>9}  name / last error"
        )
        for item in health:
            gap = _ago(item.item_gap_median_s) if item.item_gap_median_s is not None else "-"
            typer.echo(
                f"{item.id:>4}  {item.state:<8} {item.consecutive_failures:>5} {item.failures_total:>5} "
                f"{item.items_seen:>6}  {_since(now, item.last_ok_at):>8} {_since(now, item.last_new_item_at):>8} "
                f"{gap:>9} {_ago(item.silent_after_s):>9}  {item.name}"
            )
            detail = item.last_error if item.state != "disabled" else (item.disabled_reason or item.last_error)
            if item.state in ("failing", "disabled") and detail:
                typer.echo(f"{'':>6}{detail}")
            elif item.state == "silent":
                quiet, limit = _ago(item.quiet_for_s), _ago(item.silent_after_s)
                typer.echo(f"{'':>6}no new item for {quiet} (silent after {limit})")
    if strict and not any(item.state != "disabled" for item in health):
        typer.echo("no enabled feed: a monitor watching nothing is not healthy", err=True)
        raise typer.Exit(1)
    if strict and any(item.state in ("failing", "silent") for item in health):
        raise typer.Exit(1)


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="feed URL (http or https)")],
    name: Annotated[str, typer.Option("--name", help="display name (default: the URL's host)")] = "",
    interval: Annotated[int, typer.Option("--interval", help="seconds between polls (30..86400)")] = 300,
    general_news: Annotated[
        bool, typer.Option("--general-news", help="broad feed: pre-filter entries before fetching")
    ] = False,
) -> None:
    """Add a feed to the database (not to the feeds file: a later sync leaves it alone)."""
    from urllib.parse import urlsplit

    from pydantic import ValidationError

    from dmzwatch.db.models import Feed
    from dmzwatch.db.session import session_scope
    from dmzwatch.feeds_config import FeedSpec

    try:
        spec = FeedSpec.model_validate(
            {"name": name or (urlsplit(url).hostname or url), "url": url, "interval": interval,
             "general_news": general_news}
        )  # fmt: skip
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        typer.echo(f"invalid feed: {problems}", err=True)
        raise typer.Exit(2) from exc
    prepare_database()
    with session_scope() as session:
        existing = session.scalar(select(Feed).where(Feed.url == str(spec.url)))
        if existing is not None:
            typer.echo(f"feed {existing.id} already has this URL: {existing.name}", err=True)
            raise typer.Exit(1)
        feed = Feed(
            url=str(spec.url),
            name=spec.name,
            enabled=True,
            general_news=spec.general_news,
            poll_interval_s=spec.interval,
            consecutive_failures=0,
            items_seen=0,
            failures_total=0,
            added_at=datetime.now(UTC),
        )
        session.add(feed)
        session.flush()
        typer.echo(f"added feed {feed.id}: {feed.name} <{feed.url}>, polled every {feed.poll_interval_s}s")


def _set_enabled(ref: str, enabled: bool) -> None:
    from dmzwatch.db.models import Feed
    from dmzwatch.db.session import session_scope

    prepare_database()
    with session_scope() as session:
        condition = or_(Feed.url == ref, Feed.id == int(ref)) if ref.isdigit() else Feed.url == ref
        feed = session.scalar(select(Feed).where(condition))
        if feed is None:
            typer.echo(f"no feed with id or URL {ref!r} (see `dmzwatch feeds list`)", err=True)
            raise typer.Exit(1)
        feed.enabled = enabled
        if enabled:
            # Back in service now, with a clean slate: no inherited backoff or failure streak.
            feed.disabled_reason, feed.next_poll_at, feed.consecutive_failures = None, None, 0
        else:
            feed.disabled_reason = "disabled by an operator"
        state = "enabled" if enabled else "disabled (stays disabled across feeds-file syncs)"
        typer.echo(f"feed {feed.id} {state}: {feed.name} <{feed.url}>")


@feeds_app.command("disable")
def feeds_disable(ref: Annotated[str, typer.Argument(help="feed id or URL")]) -> None:
    """Stop polling a feed. It stays disabled even if the feeds file lists it, until `feeds enable`."""
    _set_enabled(ref, False)


@feeds_app.command("enable")
def feeds_enable(ref: Annotated[str, typer.Argument(help="feed id or URL")]) -> None:
    """Poll a disabled feed again (also one dmzwatch disabled after a 410 Gone), from the next beat tick."""
    _set_enabled(ref, True)
