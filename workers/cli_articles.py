"""Articles that failed: list them with the stage and the reason, send them through again."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

import typer

from workers.cli_common import app, config_error, load_settings, publish, setup_logging

articles_app = typer.Typer(help="Articles that failed: list, retry.")
app.add_typer(articles_app, name="articles")

_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhd])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400}


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """'24h', '30m', '7d' back from now, or an ISO date/time (UTC when no zone is given)."""
    if not value:
        return None
    span = _SPAN.match(value.strip())
    if span:
        return now - timedelta(seconds=float(span.group(1)) * _UNIT_S[span.group(2)])
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        config_error([f"--since {value!r}: use a span like 24h, 30m, 7d or a date like 2026-11-30"])
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)


@articles_app.command("list")
def list_articles(
    status: Annotated[str, typer.Option("--status", help="only `failed` is listed here")] = "failed",
    since: Annotated[str | None, typer.Option(help="failed within this span (24h, 7d) or since a date")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
) -> None:
    """Failed articles, newest first: the stage they failed in and why."""
    from dmzwatch.db.session import session_scope
    from dmzwatch.maintenance import list_failed_articles
    from dmzwatch.stages import utcnow

    if status != "failed":
        config_error([f"--status {status!r}: only failed articles are listed (`dmzwatch status` counts the rest)"])
    load_settings()
    now = utcnow()
    rows = list_failed_articles(session_scope, since=parse_since(since, now), limit=limit)
    if not rows:
        typer.echo("no failed articles" + (f" since {since}" if since else ""))
        return
    for row in rows:
        ago = (now - row.failed_at).total_seconds() / 3600
        typer.echo(f"#{row.id} {row.stage:<7} {ago:.1f} h ago  {row.url}")
        typer.echo(f"    {(row.error or 'no reason recorded')[:400]}")
    if len(rows) == limit:
        typer.echo(f"(first {limit}; --limit for more)")


@articles_app.command()
def retry(
    article_ids: Annotated[list[int] | None, typer.Argument(help="article ids (see `dmzwatch articles list`)")] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="every failed article")] = False,
    since: Annotated[str | None, typer.Option(help="with --all-failed: only those failed within this span")] = None,
) -> None:
    """Send failed articles through their failed stage again (after a fix, an outage, a gazetteer update)."""
    from dmzwatch.db.session import session_scope
    from dmzwatch.maintenance import retry_articles
    from dmzwatch.stages import utcnow

    if not article_ids and not all_failed:
        config_error(["name article ids or --all-failed"])
    settings = load_settings()
    setup_logging(settings)
    now = utcnow()
    plan = retry_articles(
        session_scope, now=now, ids=article_ids or (), all_failed=all_failed, since=parse_since(since, now)
    )
    if not plan:
        typer.echo("no failed article matched")
        raise typer.Exit(1)

    def send() -> None:
        from tasks.maintenance import STAGE_TASKS

        for stage, ids in plan.items():
            for article_id in ids:
                STAGE_TASKS[stage].apply_async((article_id,), retry=False)

    queued = publish(send)
    count = sum(len(ids) for ids in plan.values())
    how = (
        "queued" if queued else "will be picked up by the maintenance pass once a worker runs (broker unreachable now)"
    )
    typer.echo(f"{count} articles back in the pipeline ({', '.join(f'{k} {len(v)}' for k, v in plan.items())}): {how}")
