"""Operations: `dmzwatch status` (one-screen health) and `dmzwatch metrics` (Prometheus endpoint)."""

from __future__ import annotations

import signal
import threading
from datetime import datetime, timedelta
from types import FrameType
from typing import Annotated

import typer

from workers.cli_common import app, load_settings

# A worker that does not answer a ping within this is reported as not answering; `status` stays quick.
_PING_TIMEOUT_S = 1.5
_BROKER_TIMEOUT_S = 1.0  # a broker that takes longer than this to answer is reported as unreachable
_REASON_CHARS = 160  # a failing feed's reason on the one-screen status (--verbose: all of it)
_LISTED_FEEDS = 5  # failing or silent feeds listed by name (--verbose: all)


def _missing_sqlite_file(url: str) -> str | None:
    """The SQLite file a URL names when that file does not exist (None for other databases or when it does)."""
    from pathlib import Path

    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    return None if path.exists() else str(path)


def _shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary, marked as cut."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def _counts(values: dict[str, int], order: tuple[str, ...] = ()) -> str:
    keys = [k for k in order if k in values] + sorted(k for k in values if k not in order)
    return "  ".join(f"{key} {values[key]}" for key in keys) or "none"


def _ping_workers() -> list[str] | None:
    """Names of the workers answering a broadcast ping, or None when the broker cannot be reached."""
    from kombu.exceptions import OperationalError as BrokerError

    from workers.celery_app import app as celery

    try:
        replies = celery.control.ping(timeout=_PING_TIMEOUT_S) or []
    except (BrokerError, OSError):
        return None
    return sorted(name for reply in replies for name in reply)


@app.command()
def status(
    ping: Annotated[bool, typer.Option("--ping/--no-ping", help="ask workers to answer (takes ~1.5 s)")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="every failing feed, with its full reason")] = False,
) -> None:
    """One-screen health: queues, workers, articles, stuck rows, feeds, incidents, alerts, zone silence.

    Exit status 1 when the database cannot be read, so it also serves as a health check.
    """
    import redis
    from sqlalchemy.exc import SQLAlchemyError

    from dmzwatch.db.session import session_scope
    from dmzwatch.logs import Redactor
    from dmzwatch.metrics import read_broker, read_snapshot, redis_client
    from dmzwatch.stages import utcnow
    from workers.celery_app import broker_url
    from workers.queues import Queue

    settings = load_settings()
    now = utcnow()
    redact = Redactor.from_settings(settings)
    lines = [f"dmzwatch status at {now:%Y-%m-%d %H:%M:%S} UTC"]
    lines.append(f"  data dir   {settings.data_dir.resolve()}")
    lines.append(f"  database   {redact(settings.sqlalchemy_url)}")
    lines.append(f"  broker     {redact(broker_url())}")
    missing = _missing_sqlite_file(settings.sqlalchemy_url)
    if missing is not None:
        # Do not create an empty database here: that is how a command run from the wrong directory goes wrong.
        lines.append(
            f"  NO DATABASE at {missing}: nothing has run with this data directory. Run from the deployment's "
            "directory, or set DMZWATCH_DATA_DIR (or DMZWATCH_DATABASE_URL) to the one `dmzwatch run` uses."
        )
        typer.echo("\n".join(lines))
        raise typer.Exit(1)

    client = redis_client(broker_url(), timeout_s=_BROKER_TIMEOUT_S)
    broker_up = True
    try:
        figures = read_broker(client, [queue.value for queue in Queue])
        queues = "  ".join(f"{name} {count}" for name, count in figures.queue_lengths.items())
        lines.append(f"  queues     {queues}  (unacked {figures.unacked})")
    except redis.RedisError as exc:
        broker_up = False
        if settings.embedded_broker:
            lines.append(
                "  queues     broker not running: the embedded broker runs only while `dmzwatch run` (or `worker`,"
                " `beat`) does; start it, or set DMZWATCH_BROKER_URL to a Redis server"
            )
        else:
            lines.append(f"  queues     BROKER UNREACHABLE: {redact(str(exc))}; is Redis up at DMZWATCH_BROKER_URL?")
    finally:
        client.close()
    if ping and broker_up:
        workers = _ping_workers()
        if workers is None:
            lines.append("  workers    broker unreachable")
        else:
            lines.append(f"  workers    {len(workers)} answering: {', '.join(workers) or 'NONE'}")
    elif ping:
        lines.append("  workers    not asked (no broker)")

    stuck_after = timedelta(seconds=settings.stuck_after_s)
    try:
        snap = read_snapshot(session_scope, now=now, stuck_after=stuck_after)
    except SQLAlchemyError as exc:
        lines.append(f"  DATABASE UNREADABLE: {redact(str(exc).splitlines()[0])}")
        typer.echo("\n".join(lines))
        raise typer.Exit(1) from exc

    order = ("new", "fetched", "cleaned", "extracted", "duplicate", "irrelevant", "failed")
    lines.append(f"  articles   {_counts(snap.articles_by_status, order)}")
    stuck_total = sum(snap.stuck_by_status.values())
    if stuck_total and snap.oldest_stuck is not None:
        oldest_id, oldest_status, oldest_at = snap.oldest_stuck
        lines.append(
            f"  stuck      {stuck_total} open past {settings.stuck_after_s / 60:.0f} min "
            f"({_counts(snap.stuck_by_status)}); oldest #{oldest_id} {oldest_status} since {_ago(oldest_at, now)}"
        )
    else:
        lines.append("  stuck      none")
    states = {state: len(snap.feeds_in(state)) for state in ("ok", "silent", "failing", "new", "disabled")}
    lines.append(f"  feeds      {_counts({k: v for k, v in states.items() if v})}")
    listed = None if verbose else _LISTED_FEEDS
    failing, silent = snap.feeds_in("failing"), snap.feeds_in("silent")
    for feed in failing[:listed]:
        reason = redact(feed.last_error or "")
        lines.append(
            f"    failing  {feed.name}: {feed.consecutive_failures} in a row, last ok {_ago(feed.last_ok_at, now)}; "
            f"{reason if verbose else _shorten(reason, _REASON_CHARS)}"
        )
    for feed in silent[:listed]:
        lines.append(f"    silent   {feed.name}: last new item {_ago(feed.last_new_item_at, now)}")
    hidden = sum(max(0, len(group) - _LISTED_FEEDS) for group in (failing, silent)) if not verbose else 0
    if hidden:
        lines.append(f"    +{hidden} more (`dmzwatch status --verbose` or `dmzwatch feeds health`)")
    lines.append(f"  incidents  {_counts(snap.incidents_by_zone_status, ('inside', 'edge', 'outside'))}")
    by_status: dict[str, int] = {}
    for (alert_status, _channel), count in snap.alerts_by_status_channel.items():
        by_status[alert_status] = by_status.get(alert_status, 0) + count
    lines.append(f"  alerts     {_counts(by_status, ('sent', 'pending', 'digest', 'failed', 'suppressed'))}")
    if snap.oldest_undelivered_alert_at is not None:
        lines.append(f"    oldest undelivered created {_ago(snap.oldest_undelivered_alert_at, now)}")
    if by_status.get("failed"):
        lines.append("    failed: `dmzwatch alerts list --status failed`, then `dmzwatch alerts retry --all-failed`")
    if snap.last_alert is not None:
        alert_id, channel, sent_at, latency = snap.last_alert
        after = f", {latency:.0f} s after publication" if latency is not None else ""
        lines.append(f"  last alert #{alert_id} to {channel} {_ago(sent_at, now)}{after}")
    else:
        lines.append("  last alert never")
    silence = f"alarm after {settings.zone_silence_h:g} h" if settings.zone_silence_h > 0 else "alarm off"
    lines.append(f"  zone news  last relevant article {_ago(snap.last_relevant_at, now)} ({silence})")
    typer.echo("\n".join(lines))


@app.command()
def metrics(
    port: Annotated[int | None, typer.Option(help="default: DMZWATCH_METRICS_PORT")] = None,
    address: Annotated[str, typer.Option()] = "127.0.0.1",
) -> None:
    """Serve Prometheus metrics on /metrics, read from the database and the broker at each scrape."""
    from prometheus_client import CollectorRegistry, start_http_server

    from dmzwatch.db.session import session_scope
    from dmzwatch.logs import configure_logging
    from dmzwatch.metrics import DmzwatchCollector, redis_client
    from dmzwatch.stages import utcnow
    from workers.celery_app import broker_url
    from workers.queues import Queue

    settings = load_settings()
    configure_logging(settings)
    registry = CollectorRegistry()
    registry.register(
        DmzwatchCollector(
            session_scope,
            redis_client(broker_url()),
            [queue.value for queue in Queue],
            stuck_after=timedelta(seconds=settings.stuck_after_s),
            clock=utcnow,
        )
    )
    listen_port = port if port is not None else settings.metrics_port
    server, thread = start_http_server(listen_port, addr=address, registry=registry)
    typer.echo(f"metrics on http://{address}:{listen_port}/metrics", err=True)
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    stop.wait()
    server.shutdown()
    thread.join(timeout=5)
