"""Engines and sessions: one engine per process, created on first use, never at import time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from dmzwatch.settings import Settings, get_settings

_engines: dict[tuple[int, str], Engine] = {}


def _configure_sqlite(engine: Engine) -> None:
    """Make SQLite safe for several worker processes.

    pysqlite's own transaction handling starts transactions lazily, so two processes can both read and then
    deadlock trying to write ("database is locked" at once, no waiting). Following SQLAlchemy's documented
    recipe we take over BEGIN and make every transaction BEGIN IMMEDIATE: writers queue on busy_timeout
    instead. WAL lets readers (the CLI, Flower-side status) proceed while a worker writes.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_recycle=1800,
        connect_args=postgres_connect_args(get_settings()) if url.startswith("postgresql") else {},
    )


def postgres_connect_args(settings: Settings) -> dict[str, Any]:
    """libpq options so that a server gone away fails the task in seconds (and the task retries) instead of
    hanging on a half-open socket until the task's hard time limit: a connect timeout, TCP keepalives with a
    user timeout for unacknowledged writes, and a statement timeout below the task's soft limit."""
    idle = settings.db_keepalives_idle_s
    interval, probes = 10, 3
    args: dict[str, Any] = {
        "connect_timeout": settings.db_connect_timeout_s,
        "keepalives": 1,
        "keepalives_idle": idle,
        "keepalives_interval": interval,
        "keepalives_count": probes,
        "tcp_user_timeout": (idle + interval * probes) * 1000,
    }
    if settings.db_statement_timeout_s > 0:
        args["options"] = f"-c statement_timeout={int(settings.db_statement_timeout_s * 1000)}"
    return args


def get_engine(url: str | None = None) -> Engine:
    """The engine for this process. Keyed by pid: a forked Celery child must not reuse its parent's sockets."""
    url = url or get_settings().sqlalchemy_url
    key = (os.getpid(), url)
    engine = _engines.get(key)
    if engine is None:
        engine = make_engine(url)
        _engines[key] = engine
    return engine


def dispose_engines() -> None:
    """Forget engines inherited from a parent process without closing the parent's connections."""
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    factory = sessionmaker(bind=get_engine(url), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
