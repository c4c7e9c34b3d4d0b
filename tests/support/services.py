"""Real services for integration tests: a fresh PostgreSQL database, a Redis db index, Celery subprocesses."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
import redis

REPO = Path(__file__).resolve().parent.parent.parent
POSTGRES_ADMIN_URL = os.environ.get("DMZWATCH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("DMZWATCH_TEST_REDIS", "redis://127.0.0.1:6379")


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the machine's PostgreSQL, dropped afterwards."""
    name = f"dmzwatch_it_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_redis_db() -> Iterator[str]:
    """A Redis database index nobody else in this run uses, flushed before and after."""
    index = 1 + secrets.randbelow(15)
    url = f"{REDIS_URL}/{index}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()


def dmzwatch(args: Sequence[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real CLI, as an operator would."""
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextmanager
def celery_process(args: Sequence[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery` process (worker or beat); warm shutdown on exit."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.celery_app:app", *args],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def wait_until(predicate: object, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return False
