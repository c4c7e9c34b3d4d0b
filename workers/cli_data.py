"""Reading results: incidents in the database, and extraction from plain-text files."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from workers.cli_common import app, prepare_database


@app.command()
def incidents(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    zone_status: Annotated[str | None, typer.Option(help="only inside, edge or outside")] = None,
) -> None:
    """Incidents with their sources and versions."""
    from dmzwatch.db.models import Article, Incident, IncidentReport
    from dmzwatch.db.session import session_scope
    from dmzwatch.export import incident_record

    prepare_database(sync_feeds=False)
    with session_scope() as session:
        query = select(Incident).order_by(Incident.id)
        if zone_status:
            query = query.where(Incident.zone_status == zone_status)
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
            record = incident_record(incident, reports)
            if as_json:
                typer.echo(json.dumps(record, ensure_ascii=False))
            else:
                killed = record["killed"] if record["killed"] is not None else "?"
                typer.echo(
                    f"#{record['id']} v{record['version']} {record['occurred_on'] or '????-??-??'} "
                    f"{record['sub_event_type']} at {record['place']} ({record['admin1']}) "
                    f"[{record['zone_status']}] killed {killed}, {len(record['sources'])} sources"
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
