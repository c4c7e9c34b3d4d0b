"""Fault tests' own servers and fault injection.

Private servers: the machine's Redis and PostgreSQL are shared with every other test run on it, so a test that
restarts or stops a server starts its own (a redis-server with AOF on a free port; a PostgreSQL cluster made
by initdb in a temporary directory) and only ever touches that one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from tests.support.services import REPO, free_port, redis_answers

PG_BIN = Path(os.environ.get("DMZWATCH_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready within {timeout:.0f} s")


# --- Redis ------------------------------------------------------------------------------------------------------
@dataclass
class PrivateRedis:
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    persistent: bool = True  # False: nothing on disk, as the machine's Redis and many hosted ones run

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _ping(self) -> bool:
        return redis_answers(redis.Redis(port=self.port, socket_timeout=0.5))

    def start(self) -> None:
        # AOF on, fsync every second, no RDB snapshots: the deployment's settings (docker-compose.yml).
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        args += ["--save", "", "--daemonize", "no"]
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        _wait(self._ping, 10, "private redis")

    def stop(self) -> None:
        """A graceful shutdown (SIGTERM, as `docker compose restart` or systemd sends): AOF is flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None

    def kill(self) -> None:
        """SIGKILL (an OOM kill, a crashed host): no shutdown, at most the last second of AOF is lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process = None


@contextmanager
def private_redis(directory: Path, *, persistent: bool = True) -> Iterator[PrivateRedis]:
    directory.mkdir(parents=True, exist_ok=True)
    server = PrivateRedis(directory, free_port(), persistent=persistent)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait()


# --- PostgreSQL ---------------------------------------------------------------------------------------------------
def _as_postgres_user(args: Sequence[str]) -> list[str]:
    """initdb and postgres refuse to run as root; CI runs as root, so run them as the `postgres` OS user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return list(args)


@dataclass
class PrivatePostgres:
    data_dir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), *args]
        subprocess.run(_as_postgres_user(command), check=True, capture_output=True, timeout=60)

    def _ready(self) -> bool:
        try:
            with psycopg.connect(self.url, connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.data_dir / "server.log"), "-w", "start")
        _wait(self._ready, 30, "private postgresql")

    def stop(self) -> None:
        """Fast shutdown: open connections are cut, as in a database restart or failover."""
        self._ctl("-m", "fast", "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    # Not under pytest's tmp_path: that is private to root, and the server runs as `postgres`.
    base = Path(tempfile.mkdtemp(prefix="dmzwatch-pg-"))
    data_dir = base / "data"
    try:
        if os.geteuid() == 0:
            shutil.chown(base, "postgres", "postgres")
        initdb = [str(PG_BIN / "initdb"), "-D", str(data_dir), "-A", "trust", "-U", "postgres", "--no-sync"]
        subprocess.run(_as_postgres_user(initdb), check=True, capture_output=True, timeout=120)
        server = PrivatePostgres(data_dir, free_port())
        server.start()
        try:
            yield server
        finally:
            subprocess.run(
                _as_postgres_user([str(PG_BIN / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "stop"]),
                capture_output=True,
                timeout=60,
                check=False,
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- Celery workers in their own process group (so a test can SIGKILL all of it) ------------------------------
FAULT_APP = "tests.support.fault_app:app"


@contextmanager
def worker_group(
    args: Sequence[str], env: dict[str, str], log_path: Path, app: str = FAULT_APP
) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery worker` (main process and pool children in a new session); stopped warm on exit."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, *args],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            # Pool children outlive a killed parent only briefly; make sure none is left behind.
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker's main process and every pool child at once (an OOM kill, a host crash)."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


class SupervisedWorker:
    """A worker restarted whenever it exits, as the deployment's supervisor does (compose `restart:
    unless-stopped`, systemd `Restart=always`). `restarts` counts how often that was needed."""

    def __init__(self, args: Sequence[str], env: dict[str, str], log_path: Path, app: str = FAULT_APP) -> None:
        self.args, self.env, self.log_path, self.app = list(args), env, log_path, app
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", self.app, *self.args],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def supervise(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            self.restarts += 1
            self.start()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@contextmanager
def supervised_worker(args: Sequence[str], env: dict[str, str], log_path: Path) -> Iterator[SupervisedWorker]:
    worker = SupervisedWorker(args, env, log_path)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
