"""PostgreSQL connections fail fast instead of hanging: the engine's libpq options reach the server."""

from __future__ import annotations

import socket
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from dmzwatch.db.session import make_engine
from dmzwatch.settings import get_settings

pytestmark = pytest.mark.integration


def _engine(url: str, monkeypatch: pytest.MonkeyPatch, **env: str):  # type: ignore[no-untyped-def]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def test_statement_timeout_is_set_on_every_connection(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(postgres_url, monkeypatch, DMZWATCH_DB_STATEMENT_TIMEOUT_S="1")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1s"
            with pytest.raises(OperationalError, match="statement timeout"):
                conn.execute(text("SELECT pg_sleep(3)"))  # a hung statement ends; the task would retry
    finally:
        engine.dispose()
        get_settings.cache_clear()


def test_a_server_that_never_answers_fails_within_the_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # A loopback socket that takes the TCP connection and never says a word: a hung server, a half-open path.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        engine = _engine(f"postgresql://dmzwatch@127.0.0.1:{port}/x", monkeypatch, DMZWATCH_DB_CONNECT_TIMEOUT_S="2")
        started = time.monotonic()
        try:
            with pytest.raises(OperationalError, match="timeout"):
                engine.connect()
        finally:
            engine.dispose()
            get_settings.cache_clear()
    assert time.monotonic() - started < 10  # libpq's minimum is 2 s; without a timeout it waits for ever
