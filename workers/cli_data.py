"""Reading results: incidents in the database, and extraction from plain-text files."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select

from workers.cli_common import app, load_settings, parse_since, prepare_database


def _incident_records(
    zone_status: str | None, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Every incident (optionally of one zone status, changed within [since, until)) as its stable JSON record,
    sources included."""
    from dmzwatch.db.models import Article, Feed, Incident, IncidentReport
    from dmzwatch.db.session import session_scope
    from dmzwatch.export import incident_record

    prepare_database(sync_feeds=False)
    records = []
    with session_scope() as session:
        feed_names = {int(i): str(n) for i, n in session.execute(select(Feed.id, Feed.name))}
        query = select(Incident).order_by(Incident.id)
        if zone_status:
            query = query.where(Incident.zone_status == zone_status)
        if since is not None:
            query = query.where(Incident.updated_at >= since)
        if until is not None:
            query = query.where(Incident.updated_at < until)
        for incident in session.scalars(query).all():
            reports = [
                (report, article)
                for report, article in session.execute(
                    select(IncidentReport, Article)
                    .join(Article, Article.id == IncidentReport.article_id)
                    .where(IncidentReport.incident_id == incident.id)
                    .order_by(IncidentReport.id)
                ).all()
            ]
            records.append(incident_record(incident, reports, feed_names))
    return records


_ZONE_STATUS_HELP = "only inside, edge or outside"
# Incremental exports: pass the largest `timestamp` of the previous file.
_SINCE_HELP = "only incidents changed since: a span (24h, 7d), a Unix timestamp (incremental) or a date"


def _check_zone_status(zone_status: str | None) -> None:
    if zone_status is not None and zone_status not in ("inside", "edge", "outside"):
        typer.echo(f"--zone-status: expected inside, edge or outside, got {zone_status!r}", err=True)
        raise typer.Exit(2)


@app.command()
def incidents(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    zone_status: Annotated[str | None, typer.Option(help=_ZONE_STATUS_HELP)] = None,
) -> None:
    """Incidents with their sources and versions."""
    _check_zone_status(zone_status)
    for record in _incident_records(zone_status):
        if as_json:
            typer.echo(json.dumps(record, ensure_ascii=False))
            continue
        killed = record["killed"] if record["killed"] is not None else "?"
        if record["killed_min"] is not None and record["killed_min"] != record["killed_max"]:
            killed = f"{killed} ({record['killed_min']}-{record['killed_max']})"
        typer.echo(
            f"#{record['id']} v{record['version']} {record['occurred_on'] or '????-??-??'} "
            f"{record['sub_event_type']} at {record['place']} ({record['admin1']}) "
            f"[{record['zone_status']}] killed {killed}, {len(record['sources'])} sources"
        )
        for source in record["sources"]:
            toll = f" killed {source['killed']}" if source["killed"] is not None else ""
            typer.echo(f"    {source['published_at'] or 'undated'} {source['outlet']}{toll} {source['url']}")


class ExportFormat(StrEnum):
    CSV = "csv"
    GEOJSON = "geojson"


@app.command()
def export(
    export_format: Annotated[ExportFormat, typer.Option("--format", help="csv (ACLED-style columns) or geojson")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write; default stdout")] = None,
    zone_status: Annotated[str | None, typer.Option(help=_ZONE_STATUS_HELP)] = None,
    since: Annotated[str | None, typer.Option(help=_SINCE_HELP)] = None,
    until: Annotated[str | None, typer.Option(help="changed before this (same forms as --since)")] = None,
) -> None:
    """Export incidents as CSV (ACLED's columns and order, then ours) or GeoJSON (a FeatureCollection)."""
    from dmzwatch.export import write_csv, write_geojson
    from dmzwatch.stages import utcnow

    _check_zone_status(zone_status)
    now = utcnow()
    records = _incident_records(zone_status, parse_since(since, now), parse_since(until, now))
    writer = write_csv if export_format is ExportFormat.CSV else write_geojson
    if output is None:
        writer(records, sys.stdout)
        return
    # Write beside the target and rename: a reader never sees a half-written export.
    partial = output.with_name(output.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        count = writer(records, handle)
    partial.replace(output)
    typer.echo(f"{count} incidents written to {output}", err=True)


@app.command()
def channels() -> None:
    """Check config/alerts.yaml and list the alert channels configured here and what each receives."""
    from dmzwatch.alerts.channels import configured_channels
    from dmzwatch.alerts.routing import load_alerts_file
    from dmzwatch.feeds_config import ConfigError
    from dmzwatch.geo import load_zones
    from dmzwatch.http import get_http_client

    settings = load_settings()
    try:
        routing = load_alerts_file(settings.alerts_file, load_zones().zone_names)
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc
    configured = list(configured_channels(settings, get_http_client()))
    typer.echo(f"routing: {settings.alerts_file}" + (" (no routes: default)" if routing.routes is None else ""))
    for name in configured:
        statuses = [
            s
            for s in ("inside", "edge", "outside")
            if routing.channels_for([name], s, (), alert_on_edge=settings.alert_on_edge)
        ]
        typer.echo(f"  {name}: {', '.join(statuses) or 'nothing routed to it'}")
    for name in sorted(routing.named_channels() - set(configured)):
        typer.echo(f"  {name}: routed but not configured in the environment (skipped)")
    if not configured:
        typer.echo(
            "  no channel configured: set DMZWATCH_SLACK_WEBHOOK_URL, DMZWATCH_SLACK_BOT_TOKEN or DMZWATCH_WEBHOOK_URLS"
        )


@app.command()
def extract(
    files: Annotated[list[Path], typer.Argument(help="plain-text article files", exists=True, dir_okay=False)],
    published: Annotated[str | None, typer.Option(help="publication time, ISO 8601, for relative dates")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Extract incidents from plain-text articles: one JSON object per incident per line."""
    from datetime import UTC

    from dmzwatch.export import event_record
    from dmzwatch.geo import load_zones
    from dmzwatch.nlp.extract import get_extractor

    published_at = None
    if published:
        try:
            published_at = datetime.fromisoformat(published)
        except ValueError as exc:
            typer.echo(f"--published: not an ISO 8601 time: {published!r}", err=True)
            raise typer.Exit(2) from exc
        if published_at.tzinfo is None:
            published_at = published_at.replace(tzinfo=UTC)
    extractor = get_extractor()
    zones = load_zones()
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for event in extractor.extract(text, published_at):
            zone = None
            if event.resolution is not None:
                zone = zones.classify_resolution(event.resolution)
            record = {"file": str(path), **event_record(event, zone)}
            if as_json:
                typer.echo(json.dumps(record, ensure_ascii=False))
            else:
                typer.echo(
                    f"{path.name}: {record['sub_event_type']} at {record['place']} -> {record['place_id']} "
                    f"[{record['zone_status']}] killed={record['killed']} injured={record['injured']}"
                )
