"""Shared by the CLI command modules: the Typer apps, settings loading, logging, database preparation."""

from __future__ import annotations

import logging

import typer
from pydantic import ValidationError

from dmzwatch.feeds_config import ConfigError
from dmzwatch.settings import Settings

app = typer.Typer(help="dmzwatch: conflict news in, incident alerts for the Idlib demilitarised zone out.")
db_app = typer.Typer(help="Database schema.")
feeds_app = typer.Typer(help="Feeds.")
app.add_typer(db_app, name="db")
app.add_typer(feeds_app, name="feeds")

log = logging.getLogger("dmzwatch")


def load_settings() -> Settings:
    """The settings, or a clear message and exit status 2 when the environment is wrong."""
    from dmzwatch.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc


def setup_logging(settings: Settings) -> None:
    """The CLI process logs like the workers: configured format, secrets redacted."""
    from dmzwatch.logs import configure_logging

    configure_logging(settings)


def prepare_database(sync_feeds: bool = True) -> None:
    """Migrate, then load config/feeds.yaml into the feeds table: what `run` and `poll-once` need first."""
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
            typer.echo(f"configuration error: {exc}", err=True)
            raise typer.Exit(2) from exc
        with session_scope() as session:
            added, updated = sync(session, specs)
        log.info("feeds: %d in %s (%d added, %d updated)", len(specs), settings.feeds_file, added, updated)
