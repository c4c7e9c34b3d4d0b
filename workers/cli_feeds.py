"""`dmzwatch feeds ...`: the feeds and their health."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy import select

from workers.cli_common import feeds_app, prepare_database


@feeds_app.command("sync")
def feeds_sync() -> None:
    """Load the feeds file into the database."""
    prepare_database()
    typer.echo("feeds synced")


@feeds_app.command("list")
def feeds_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Feeds with their health."""
    from dmzwatch.db.models import Feed
    from dmzwatch.db.session import session_scope

    prepare_database()
    with session_scope() as session:
        feeds = session.scalars(select(Feed).order_by(Feed.id)).all()
        for feed in feeds:
            row = {
                "id": feed.id,
                "name": feed.name,
                "url": feed.url,
                "enabled": feed.enabled,
                "interval_s": feed.poll_interval_s,
                "last_ok_at": _iso(feed.last_ok_at),
                "next_poll_at": _iso(feed.next_poll_at),
                "failures": feed.consecutive_failures,
                "last_status": feed.last_status,
                "last_error": feed.last_error,
                "items_seen": feed.items_seen,
            }
            if as_json:
                typer.echo(json.dumps(row))
            else:
                state = "ok" if not feed.consecutive_failures else f"{feed.consecutive_failures} failures"
                if not feed.enabled:
                    state = "disabled"
                typer.echo(f"{feed.id:>4}  {state:<12} {feed.items_seen:>6} items  {feed.name}  <{feed.url}>")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
