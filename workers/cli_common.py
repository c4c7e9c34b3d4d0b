"""Shared by the CLI command modules: the Typer apps, settings loading, logging, database preparation."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NoReturn

import typer
from pydantic import ValidationError

from dmzwatch.feeds_config import ConfigError
from dmzwatch.settings import Settings

app = typer.Typer()
db_app = typer.Typer(help="Database schema.")
feeds_app = typer.Typer(help="Feeds.")
app.add_typer(db_app, name="db")
app.add_typer(feeds_app, name="feeds")

log = logging.getLogger("dmzwatch")


def config_error(lines: list[str]) -> NoReturn:
    """Say what is wrong with the configuration, one line each, and exit with status 2 (no traceback)."""
    typer.echo("configuration error:" if len(lines) > 1 else f"configuration error: {lines[0]}", err=True)
    if len(lines) > 1:
        for line in lines:
            typer.echo(f"  {line}", err=True)
    raise typer.Exit(2)


def usage_error(message: str) -> NoReturn:
    """A command's own arguments are wrong (not the configuration): say how, exit with status 2."""
    typer.echo(message, err=True)
    raise typer.Exit(2)


@app.callback()
def check_configuration() -> None:
    """dmzwatch: conflict news in, incident alerts for the Idlib demilitarised zone out.

    Every command starts here: the whole environment is checked once, before any command touches a database,
    a broker or Celery (whose app reads the settings on import), so a bad value is one clear message.
    """
    if any(arg in ("--help", "-h") for arg in sys.argv[1:]):
        return  # help needs no configuration
    from dmzwatch.settings import configuration_problems

    problems = configuration_problems()
    if problems:
        config_error(problems)


def load_settings() -> Settings:
    """The settings, or a clear message and exit status 2 when the environment is wrong."""
    from dmzwatch.settings import describe_errors, get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        config_error(describe_errors(exc, os.environ))


def setup_logging(settings: Settings) -> None:
    """The CLI process logs like the workers: configured format, secrets redacted."""
    from dmzwatch.logs import configure_logging

    configure_logging(settings)


def announce(settings: Settings, command: str) -> None:
    """Say which data directory, database and broker a long-running command uses: a command started from
    another directory would otherwise quietly work on a new, empty ./var."""
    from workers.embedded import embedded_broker_url

    broker = settings.broker_url or f"{embedded_broker_url(settings)} (embedded)"
    log.info(
        "%s: data dir %s, database %s, broker %s", command, settings.data_dir.resolve(), settings.sqlalchemy_url, broker
    )


def prepare_database(sync_feeds: bool = True, require_feeds: bool = False) -> None:
    """Migrate, then load config/feeds.yaml into the feeds table: what `run` and `poll-once` need first.

    ``require_feeds``: a monitor watching nothing looks healthy, so with no enabled feed at all (none in the
    file, none added) it is a configuration error."""
    from dmzwatch.db.migrate import upgrade
    from dmzwatch.db.session import session_scope
    from dmzwatch.feeds_config import load_feeds_file
    from dmzwatch.feeds_config import sync_feeds as sync

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade()
    if sync_feeds:
        try:
            specs = load_feeds_file(settings.feeds_file)
        except ConfigError as exc:
            config_error([str(exc)])
        with session_scope() as session:
            added, updated = sync(session, specs)
        log.info("feeds: %d in %s (%d added, %d updated)", len(specs), settings.feeds_file, added, updated)
    if require_feeds and not enabled_feed_count():
        config_error(
            [
                f"no feed to watch: {settings.feeds_file} lists none and none was added with `dmzwatch feeds add`; "
                "for example add '- {name: Levant Wire, url: https://wire.example/rss, interval: 300}' under 'feeds:'"
            ]
        )


def enabled_feed_count() -> int:
    from sqlalchemy import func, select

    from dmzwatch.db.models import Feed
    from dmzwatch.db.session import session_scope

    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(Feed).where(Feed.enabled.is_(True))) or 0)


def publish(send: Callable[[], object]) -> bool:
    """Run ``send`` (which publishes Celery messages) if the broker answers; False when it cannot be reached.

    Checked first with a one-second ping: Celery's publisher would try to connect for seconds."""
    import redis
    from kombu.exceptions import OperationalError

    from dmzwatch.metrics import redis_client
    from workers.celery_app import broker_url

    client = redis_client(broker_url(), timeout_s=1.0)
    try:
        client.ping()
    except redis.RedisError:
        return False
    finally:
        client.close()
    try:
        send()
    except (OperationalError, OSError):
        return False
    return True


_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhd])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400}


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """'24h', '30m', '7d' back from now, a Unix timestamp (an export's `timestamp` column), or an ISO date/time
    (UTC when no zone is given)."""
    if not value:
        return None
    if value.strip().isdigit():
        return datetime.fromtimestamp(int(value.strip()), tz=now.tzinfo)
    span = _SPAN.match(value.strip())
    if span:
        return now - timedelta(seconds=float(span.group(1)) * _UNIT_S[span.group(2)])
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        usage_error(f"{value!r}: use a span like 24h, 30m, 7d, a Unix timestamp or a date like 2026-11-30")
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)
