"""Articles that failed: list them with the stage and the reason, send them through again."""

from __future__ import annotations

from typing import Annotated

import typer

from workers.cli_common import app, load_settings, parse_since, publish, setup_logging, usage_error

articles_app = typer.Typer(help="Articles that failed: list, retry.")
app.add_typer(articles_app, name="articles")


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
        usage_error(f"--status {status!r}: only failed articles are listed (`dmzwatch status` counts the rest)")
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
        usage_error("name article ids or --all-failed")
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
