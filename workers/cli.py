"""The `dmzwatch` command line."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy import func, select

from dmzwatch.feeds_config import ConfigError
from dmzwatch.settings import Settings

app = typer.Typer(help="dmzwatch: conflict news in, incident alerts for the Idlib demilitarised zone out.")
db_app = typer.Typer(help="Database schema.")
feeds_app = typer.Typer(help="Feeds.")
app.add_typer(db_app, name="db")
app.add_typer(feeds_app, name="feeds")

log = logging.getLogger("dmzwatch")


def _settings() -> Settings:
    """The settings, or a clear message and exit status 2 when the environment is wrong."""
    from dmzwatch.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _prepare_database(sync_feeds: bool = True) -> None:
    """Migrate, then load config/feeds.yaml into the feeds table: what `run` and `poll-once` need first."""
    from dmzwatch.db.migrate import upgrade
    from dmzwatch.db.session import session_scope
    from dmzwatch.feeds_config import load_feeds_file
    from dmzwatch.feeds_config import sync_feeds as sync

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade()
    if sync_feeds:
        try:
            specs = load_feeds_file(settings.feeds_file)
        except ConfigError as exc:
            typer.echo(f"configuration error: {exc}", err=True)
            raise typer.Exit(2) from exc
        with session_scope() as session:
            added, updated = sync(session, specs)
        log.info("feeds: %d in %s (%d added, %d updated)", len(specs), settings.feeds_file, added, updated)


# --- running ---------------------------------------------------------------------------------------------------
@app.command()
def run(
    concurrency: Annotated[int | None, typer.Option(help="worker processes (default: CPUs)")] = None,
) -> None:
    """Always-on ingestion: worker and beat in one command, until Ctrl-C. Embedded Redis and SQLite by default."""
    from workers import processes

    settings = _settings()
    _setup_logging(settings.log_level)
    _prepare_database()
    with processes.broker(settings):
        args = processes.worker_args(
            settings, processes.ALL_QUEUES, beat=True, concurrency=concurrency, name="dmzwatch"
        )
        code = processes.run_foreground(settings, args)
    raise typer.Exit(code)


@app.command()
def worker(
    queues: Annotated[str, typer.Option("-Q", "--queues", help="comma-separated: feeds,fetch,nlp,alerts")] = "",
    concurrency: Annotated[int | None, typer.Option("-c", "--concurrency")] = None,
    name: Annotated[str, typer.Option("-n", "--name")] = "dmzwatch",
) -> None:
    """A Celery worker for some queues (deployment: one per queue class)."""
    from workers import processes

    settings = _settings()
    _setup_logging(settings.log_level)
    queue_list = queues or processes.ALL_QUEUES
    with processes.broker(settings):
        args = processes.worker_args(settings, queue_list, beat=False, concurrency=concurrency, name=name)
        raise typer.Exit(processes.run_foreground(settings, args))


@app.command()
def beat() -> None:
    """The scheduler. Run exactly one per deployment."""
    from workers import processes

    settings = _settings()
    _setup_logging(settings.log_level)
    schedule = str((settings.data_dir / "celerybeat-schedule").resolve())
    with processes.broker(settings):
        args = ["beat", "--loglevel", settings.log_level, "--schedule", schedule]
        raise typer.Exit(processes.run_foreground(settings, args))


@app.command()
def flower(
    port: Annotated[int, typer.Option()] = 5555,
    address: Annotated[str, typer.Option()] = "127.0.0.1",
) -> None:
    """Flower, the Celery dashboard, with basic auth from DMZWATCH_FLOWER_BASIC_AUTH."""
    from workers import processes

    settings = _settings()
    args = ["flower", f"--port={port}", f"--address={address}"]
    if settings.flower_basic_auth:
        args.append(f"--basic-auth={settings.flower_basic_auth}")
    elif address not in ("127.0.0.1", "localhost", "::1"):
        typer.echo("refusing to expose Flower without DMZWATCH_FLOWER_BASIC_AUTH", err=True)
        raise typer.Exit(2)
    with processes.broker(settings):
        raise typer.Exit(processes.run_foreground(settings, args))


@app.command("poll-once")
def poll_once(
    timeout: Annotated[float, typer.Option(help="give up waiting after this many seconds")] = 900.0,
    start_worker: Annotated[bool, typer.Option("--worker/--no-worker", help="run a worker for the pass")] = True,
) -> None:
    """One pass over due feeds, processed to the end (articles extracted, alerts sent or failed), then exit."""
    from dmzwatch import pipeline
    from dmzwatch.db.models import Alert, AlertStatus, Article, ArticleStatus, Feed
    from dmzwatch.db.session import session_scope
    from workers import processes

    settings = _settings()
    _setup_logging(settings.log_level)
    _prepare_database()
    started_at = pipeline.utcnow()
    open_statuses = [s.value for s in (ArticleStatus.NEW, ArticleStatus.FETCHED, ArticleStatus.CLEANED)]
    with processes.broker(settings):
        worker_process = None
        if start_worker:
            worker_process = processes.start(
                settings,
                processes.worker_args(
                    settings, processes.ALL_QUEUES, beat=False, concurrency=None, name="dmzwatch-poll-once"
                ),
            )
        try:
            from tasks.pipeline import poll_feed as poll_feed_task

            feed_ids = pipeline.claim_due_feeds(session_scope, now=started_at)
            for feed_id in feed_ids:
                poll_feed_task.delay(feed_id)
            log.info("poll-once: %d feeds due", len(feed_ids))
            deadline = time.monotonic() + timeout
            while True:
                with session_scope() as session:
                    unpolled = session.scalar(
                        select(func.count())
                        .select_from(Feed)
                        .where(
                            Feed.id.in_(feed_ids),
                            (Feed.last_polled_at.is_(None)) | (Feed.last_polled_at < started_at),
                        )
                    )
                    open_articles = session.scalar(
                        select(func.count())
                        .select_from(Article)
                        .where(Article.discovered_at >= started_at, Article.status.in_(open_statuses))
                    )
                    pending_alerts = session.scalar(
                        select(func.count())
                        .select_from(Alert)
                        .where(Alert.created_at >= started_at, Alert.status == AlertStatus.PENDING.value)
                    )
                if not (unpolled or open_articles or pending_alerts):
                    break
                if worker_process is not None and worker_process.poll() is not None:
                    typer.echo("poll-once: the worker exited early", err=True)
                    raise typer.Exit(1)
                if time.monotonic() > deadline:
                    typer.echo(
                        f"poll-once: timed out with {unpolled} feeds unpolled, {open_articles} articles open, "
                        f"{pending_alerts} alerts pending",
                        err=True,
                    )
                    raise typer.Exit(1)
                time.sleep(0.5)
            with session_scope() as session:
                by_status = dict(
                    session.execute(
                        select(Article.status, func.count())
                        .where(Article.discovered_at >= started_at)
                        .group_by(Article.status)
                    ).all()
                )
                alerts = dict(
                    session.execute(
                        select(Alert.status, func.count()).where(Alert.created_at >= started_at).group_by(Alert.status)
                    ).all()
                )
            typer.echo(f"poll-once: {len(feed_ids)} feeds polled; articles {by_status or {}}; alerts {alerts or {}}")
        finally:
            if worker_process is not None:
                processes.stop(worker_process)


# --- database and feeds ------------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply Alembic migrations."""
    from dmzwatch.db.migrate import current_revision, upgrade

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(revision=revision)
    typer.echo(f"database at revision {current_revision()}")


@feeds_app.command("sync")
def feeds_sync() -> None:
    """Load the feeds file into the database."""
    _prepare_database()
    typer.echo("feeds synced")


@feeds_app.command("list")
def feeds_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Feeds with their health."""
    from dmzwatch.db.models import Feed
    from dmzwatch.db.session import session_scope

    _prepare_database()
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


# --- reading results ----------------------------------------------------------------------------------------------
@app.command()
def incidents(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    zone_status: Annotated[str | None, typer.Option(help="only inside, edge or outside")] = None,
) -> None:
    """Incidents with their sources and versions."""
    from dmzwatch.db.models import Article, Incident, IncidentReport
    from dmzwatch.db.session import session_scope
    from dmzwatch.export import incident_record

    _prepare_database(sync_feeds=False)
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


if __name__ == "__main__":  # pragma: no cover
    app()
