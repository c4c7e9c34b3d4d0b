"""Running: the embedded all-in-one, workers, beat, Flower, one-shot passes, migrations."""

from __future__ import annotations

import logging
import time
from typing import Annotated

import typer
from sqlalchemy import func, select

from workers.cli_common import announce, app, db_app, load_settings, prepare_database, setup_logging

log = logging.getLogger("dmzwatch")


@app.command()
def run(
    concurrency: Annotated[int | None, typer.Option(help="worker processes (default: CPUs)")] = None,
) -> None:
    """Always-on ingestion: worker and beat in one command, until Ctrl-C. Embedded Redis and SQLite by default."""
    from workers import processes

    settings = load_settings()
    setup_logging(settings)
    announce(settings, "dmzwatch run")
    prepare_database(require_feeds=True)
    with processes.broker(settings) as keep_broker:
        args = processes.worker_args(
            settings, processes.ALL_QUEUES, beat=True, concurrency=concurrency, name="dmzwatch"
        )
        code = processes.run_foreground(settings, args, keep_broker)
    raise typer.Exit(code)


@app.command()
def worker(
    queues: Annotated[str, typer.Option("-Q", "--queues", help="comma-separated: feeds,fetch,nlp,alerts")] = "",
    concurrency: Annotated[int | None, typer.Option("-c", "--concurrency")] = None,
    name: Annotated[str, typer.Option("-n", "--name")] = "dmzwatch",
) -> None:
    """A Celery worker for some queues (deployment: one per queue class)."""
    from workers import processes

    settings = load_settings()
    setup_logging(settings)
    announce(settings, "dmzwatch worker")
    queue_list = queues or processes.ALL_QUEUES
    with processes.broker(settings) as keep_broker:
        args = processes.worker_args(settings, queue_list, beat=False, concurrency=concurrency, name=name)
        raise typer.Exit(processes.run_foreground(settings, args, keep_broker))


@app.command()
def beat() -> None:
    """The scheduler. Run exactly one per deployment."""
    from workers import processes

    settings = load_settings()
    setup_logging(settings)
    announce(settings, "dmzwatch beat")
    schedule = str((settings.data_dir / "celerybeat-schedule").resolve())
    with processes.broker(settings) as keep_broker:
        args = ["beat", "--loglevel", settings.log_level, "--schedule", schedule]
        raise typer.Exit(processes.run_foreground(settings, args, keep_broker))


@app.command()
def flower(
    port: Annotated[int, typer.Option()] = 5555,
    address: Annotated[str, typer.Option()] = "127.0.0.1",
) -> None:
    """Flower, the Celery dashboard, with basic auth from DMZWATCH_FLOWER_BASIC_AUTH."""
    from workers import processes

    settings = load_settings()
    args = ["flower", f"--port={port}", f"--address={address}"]
    if settings.flower_basic_auth:
        args.append(f"--basic-auth={settings.flower_basic_auth}")
    elif address not in ("127.0.0.1", "localhost", "::1"):
        typer.echo("refusing to expose Flower without DMZWATCH_FLOWER_BASIC_AUTH", err=True)
        raise typer.Exit(2)
    with processes.broker(settings):
        raise typer.Exit(processes.run_foreground(settings, args))


# What an article still open at the end of a pass is waiting for, by its status.
_WAITING_FOR = {
    "new": "its page (a slow or busy host, or a retry scheduled later)",
    "fetched": "cleaning",
    "cleaned": "extraction",
}


@app.command("poll-once")
def poll_once(
    timeout: Annotated[
        float,
        typer.Option(help="the pass ends after this many seconds; work still open is listed and left to the next"),
    ] = 180.0,
    start_worker: Annotated[bool, typer.Option("--worker/--no-worker", help="run a worker for the pass")] = True,
) -> None:
    """One pass over due feeds, processed to the end (articles extracted, alerts sent or failed), then exit.

    Bounded: work still open at --timeout (a slow host, a retry scheduled later) is listed and left to the next
    pass. Exit 0 when the pass ran, whatever happened to single articles (the summary lists failures and why);
    non-zero only when the pass itself could not run (the worker died, the database or broker is unreachable)."""
    from dmzwatch.db.models import Alert, AlertStatus, Article, ArticleStatus, Feed
    from dmzwatch.db.session import session_scope
    from dmzwatch.stages import utcnow
    from dmzwatch.stages.feeds import claim_due_feeds
    from workers import processes

    settings = load_settings()
    setup_logging(settings)
    announce(settings, "dmzwatch poll-once")
    prepare_database(require_feeds=True)
    started_at = utcnow()
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
            from tasks.pipeline import deliver_digest as deliver_digest_task
            from tasks.pipeline import poll_feed as poll_feed_task

            flushed: set[str] = set()

            feed_ids = claim_due_feeds(session_scope, now=started_at)
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
                        .where(
                            Alert.created_at >= started_at,
                            # A digest row is still to be sent: folded into its channel's next digest. A pending
                            # alert its channel already failed is retried for hours (a channel outage): the pass
                            # does not wait for it; the next pass or `dmzwatch run` carries it on.
                            Alert.status.in_([AlertStatus.PENDING.value, AlertStatus.DIGEST.value]),
                            Alert.failures == 0,
                        )
                    )
                    waiting_digests = set(
                        session.scalars(
                            select(Alert.channel).where(
                                Alert.created_at >= started_at, Alert.status == AlertStatus.DIGEST.value
                            )
                        )
                    )
                if not (unpolled or open_articles or pending_alerts):
                    break
                if not (unpolled or open_articles) and waiting_digests - flushed:
                    # Nothing else will come in this pass: send the folded alerts now, not at the window's end.
                    for channel in sorted(waiting_digests - flushed):
                        deliver_digest_task.delay(channel)
                    flushed |= waiting_digests
                if worker_process is not None and worker_process.poll() is not None:
                    typer.echo("poll-once: the worker exited early", err=True)
                    raise typer.Exit(1)
                if time.monotonic() > deadline:
                    with session_scope() as session:
                        left = session.execute(
                            select(Article.id, Article.status, Article.url)
                            .where(Article.discovered_at >= started_at, Article.status.in_(open_statuses))
                            .order_by(Article.id)
                        ).all()
                    typer.echo(
                        f"poll-once: the pass reached its {timeout:.0f} s limit; left to the next pass: "
                        f"{unpolled} feeds not polled, {len(left)} articles, {pending_alerts} alerts",
                        err=True,
                    )
                    for article_id, status, url in left:
                        typer.echo(f"  deferred #{article_id} {url}: waiting for {_WAITING_FOR[status]}", err=True)
                    break
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
                failed = session.execute(
                    select(Article.id, Article.url, Article.error)
                    .where(Article.discovered_at >= started_at, Article.status == ArticleStatus.FAILED.value)
                    .order_by(Article.id)
                ).all()
            typer.echo(f"poll-once: {len(feed_ids)} feeds due; articles {by_status or {}}; alerts {alerts or {}}")
            for article_id, url, error in failed:
                typer.echo(f"  failed #{article_id} {url}: {error}")
        finally:
            if worker_process is not None:
                processes.stop(worker_process)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply Alembic migrations."""
    from dmzwatch.db.migrate import current_revision, upgrade

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(revision=revision)
    typer.echo(f"database at revision {current_revision()}")
