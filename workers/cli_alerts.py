"""Alerts that did not go out: list them, send them again."""

from __future__ import annotations

from typing import Annotated

import typer

from workers.cli_common import app, load_settings, publish, setup_logging, usage_error

alerts_app = typer.Typer(help="Alerts not delivered: list, retry.")
app.add_typer(alerts_app, name="alerts")

_STATUSES = ("pending", "failed", "digest")


@alerts_app.command("list")
def list_alerts(
    status: Annotated[
        list[str] | None, typer.Option("--status", help="pending, failed or digest; repeat for several")
    ] = None,
    channel: Annotated[str | None, typer.Option(help="only this channel, e.g. slack or webhook-1")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
) -> None:
    """Alerts not delivered (default: pending and failed), oldest first, with why."""
    from dmzwatch.db.session import session_scope
    from dmzwatch.maintenance import list_alerts as undelivered
    from dmzwatch.stages import utcnow

    statuses = status or ["pending", "failed"]
    unknown = sorted(set(statuses) - set(_STATUSES))
    if unknown:
        usage_error(f"unknown status {', '.join(unknown)}: use {', '.join(_STATUSES)}")
    load_settings()
    rows = undelivered(session_scope, statuses=statuses, channel=channel, limit=limit)
    if not rows:
        typer.echo(f"no {' or '.join(statuses)} alerts" + (f" for {channel}" if channel else ""))
        return
    now = utcnow()
    for row in rows:
        age_min = (now - row.created_at).total_seconds() / 60
        due = ""
        if row.status == "pending" and row.next_attempt_at is not None:
            due = f"; next try in {max(0.0, (row.next_attempt_at - now).total_seconds()):.0f} s"
        typer.echo(
            f"#{row.id} {row.status:<7} {row.channel:<10} incident {row.incident_id} v{row.version} ({row.kind}) "
            f"{row.place_name or '?'}, created {age_min:.0f} min ago, {row.attempts} tries, "
            f"{row.failures} failed{due}"
        )
        if row.last_error:
            typer.echo(f"    {row.last_error[:300]}")
    if len(rows) == limit:
        typer.echo(f"(first {limit}; --limit for more)")


@alerts_app.command()
def retry(
    alert_ids: Annotated[list[int] | None, typer.Argument(help="alert ids (see `dmzwatch alerts list`)")] = None,
    all_failed: Annotated[bool, typer.Option("--all-failed", help="every failed alert")] = False,
    channel: Annotated[str | None, typer.Option(help="only alerts of this channel")] = None,
) -> None:
    """Send failed alerts again, fresh from now. Sent and pending alerts are left alone."""
    from dmzwatch.db.session import session_scope
    from dmzwatch.maintenance import retry_alerts
    from dmzwatch.stages import utcnow

    if not alert_ids and not all_failed:
        usage_error("name alert ids or --all-failed")
    settings = load_settings()
    setup_logging(settings)
    chosen = retry_alerts(session_scope, now=utcnow(), ids=alert_ids or (), all_failed=all_failed, channel=channel)
    if not chosen:
        typer.echo("no failed alert matched")
        raise typer.Exit(1)
    queued = _enqueue(chosen)
    how = "queued" if queued else "will be sent by the next maintenance pass (broker unreachable now)"
    typer.echo(f"{len(chosen)} alerts pending again ({', '.join(f'#{i}' for i in chosen)}): {how}")


def _enqueue(alert_ids: list[int]) -> bool:
    """Send a delivery message per alert; False when the broker cannot be reached (the rows are due anyway)."""
    from tasks.pipeline import deliver_alert

    return publish(lambda: [deliver_alert.apply_async((alert_id,), retry=False) for alert_id in alert_ids])
