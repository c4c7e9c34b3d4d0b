"""`dmzwatch feeds ...`: the feeds and their health (list, add, disable, enable, health, sync)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy import or_, select

from dmzwatch.config_files import ConfigError
from workers.cli_common import feeds_app, prepare_database, usage_error

if TYPE_CHECKING:
    from dmzwatch.feeds_config import FeedSpec


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


def _feed_spec(url: str, name: str, interval: int, general_news: bool) -> FeedSpec | str:
    """The validated spec, or what is wrong with it."""
    from urllib.parse import urlsplit

    from pydantic import ValidationError

    from dmzwatch.feeds_config import FeedSpec

    try:
        return FeedSpec.model_validate(
            {"name": name or (urlsplit(url).hostname or url), "url": url, "interval": interval,
             "general_news": general_news}
        )  # fmt: skip
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def _check_feed(url: str) -> str:
    """Fetch and parse the feed as a poll would; what it holds, or DmzwatchError saying why it is no feed."""
    from dmzwatch.errors import PermanentError, TransientError
    from dmzwatch.feeds import poll_feed
    from dmzwatch.http import get_http_client

    result = poll_feed(get_http_client(), url, etag=None, last_modified=None)
    if result.gone:
        raise PermanentError(f"{url} answered 410 Gone", url=url, status=410)
    if result.status in (429, 503):
        raise TransientError(f"{url} answered {result.status}: try again later", url=url, status=result.status)
    latest = result.entries[0].title if result.entries else None
    return f"{len(result.entries)} entries" + (f", latest: {latest}" if latest else "")


def _insert_feed(spec: FeedSpec) -> tuple[int, bool]:
    """(feed id, added): the existing feed's id when one already has this URL."""
    from dmzwatch.db.models import Feed
    from dmzwatch.db.session import session_scope

    with session_scope() as session:
        existing = session.scalar(select(Feed.id).where(Feed.url == str(spec.url)))
        if existing is not None:
            return int(existing), False
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
        return feed.id, True


_NO_CHECK_HELP = "save without fetching the feed first (its host is not reachable from here yet)"


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="feed URL (http or https)")],
    name: Annotated[str, typer.Option("--name", help="display name (default: the URL's host)")] = "",
    interval: Annotated[int, typer.Option("--interval", help="seconds between polls (30..86400)")] = 300,
    general_news: Annotated[
        bool, typer.Option("--general-news", help="broad feed: pre-filter entries before fetching")
    ] = False,
    check: Annotated[bool, typer.Option("--check/--no-check", help=_NO_CHECK_HELP)] = True,
) -> None:
    """Add a feed to the database (not to the feeds file: a later sync leaves it alone). The feed is fetched and
    parsed first: a URL that is not a feed is refused with the reason."""
    from dmzwatch.errors import DmzwatchError

    spec = _feed_spec(url, name, interval, general_news)
    if isinstance(spec, str):
        usage_error(f"invalid feed: {spec}")
    prepare_database()
    found = ""
    if check:
        try:
            found = _check_feed(str(spec.url))
        except DmzwatchError as exc:
            typer.echo(f"not added: {exc.reason} (--no-check adds it anyway)", err=True)
            raise typer.Exit(1) from exc
    feed_id, added = _insert_feed(spec)
    if not added:
        typer.echo(f"feed {feed_id} already has this URL", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"added feed {feed_id}: {spec.name} <{spec.url}>, polled every {spec.interval}s"
        + (f"; {found}" if found else "")
    )


@feeds_app.command("import")
def feeds_import(
    path: Annotated[Path, typer.Argument(help="an OPML file (exported by a feed reader)")],
    interval: Annotated[int, typer.Option("--interval", help="seconds between polls for each (30..86400)")] = 300,
    general_news: Annotated[bool, typer.Option("--general-news", help="pre-filter these feeds' entries")] = False,
    check: Annotated[bool, typer.Option("--check/--no-check", help="fetch each feed before adding it")] = False,
) -> None:
    """Add the feeds an OPML file lists (feeds already present are left as they are)."""
    from dmzwatch.errors import DmzwatchError
    from dmzwatch.opml import read_opml

    try:
        listed = read_opml(path)
    except ConfigError as exc:
        usage_error(str(exc))
    prepare_database()
    added = present = skipped = 0
    for item in listed:
        spec = _feed_spec(item.url, item.name, interval, general_news)
        if isinstance(spec, str):
            typer.echo(f"  skipped {item.url}: {spec}", err=True)
            skipped += 1
            continue
        if check:
            try:
                _check_feed(str(spec.url))
            except DmzwatchError as exc:
                typer.echo(f"  skipped {item.url}: {exc.reason}", err=True)
                skipped += 1
                continue
        feed_id, was_added = _insert_feed(spec)
        added += was_added
        present += not was_added
        if was_added:
            typer.echo(f"  added feed {feed_id}: {spec.name} <{spec.url}>")
    typer.echo(f"{path}: {len(listed)} feeds listed, {added} added, {present} already present, {skipped} skipped")
    if skipped:
        raise typer.Exit(1)


@feeds_app.command("export")
def feeds_export(
    output_format: Annotated[str, typer.Option("--format", help="opml")] = "opml",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write (default: stdout)")] = None,
) -> None:
    """Every feed (enabled or not) as OPML 2.0, for a feed reader or another dmzwatch."""
    from dmzwatch.db.models import Feed
    from dmzwatch.db.session import session_scope
    from dmzwatch.opml import OpmlFeed, render_opml

    if output_format != "opml":
        usage_error(f"--format {output_format!r}: only opml is supported")
    prepare_database(sync_feeds=False)
    with session_scope() as session:
        feeds = [
            OpmlFeed(name=name, url=url) for name, url in session.execute(select(Feed.name, Feed.url).order_by(Feed.id))
        ]
    document = render_opml(feeds)
    if output is None:
        typer.echo(document, nl=False)
        return
    output.write_text(document, encoding="utf-8")
    typer.echo(f"{len(feeds)} feeds written to {output}", err=True)


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
