"""Engines and sessions: one engine per process, created on first use, never at import time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from dmzwatch.settings import get_settings

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
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_recycle=1800)


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
