"""Starting and stopping Celery processes from the CLI, with the embedded broker when no broker is configured."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from dmzwatch.settings import Settings
from workers.embedded import EmbeddedRedis
from workers.queues import Queue

log = logging.getLogger(__name__)

ALL_QUEUES = ",".join(queue.value for queue in Queue)
_STOP_GRACE_S = 30.0  # a warm shutdown lets running tasks finish; NLP tasks take seconds, not minutes


@contextmanager
def broker(settings: Settings) -> Iterator[None]:
    """Make sure the configured broker is reachable: start the embedded server when none is configured."""
    if not settings.embedded_broker:
        yield
        return
    with EmbeddedRedis(settings):
        yield


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    # Children must agree with us on the data dir even if they start in another working directory.
    env["DMZWATCH_DATA_DIR"] = str(settings.data_dir.resolve())
    return env


def celery_command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers.celery_app:app", *args]


def worker_args(settings: Settings, queues: str, *, beat: bool, concurrency: int | None, name: str) -> list[str]:
    args = ["worker", "-Q", queues, "-n", f"{name}@%h", "--loglevel", settings.log_level, "-E"]
    workers = concurrency or settings.worker_concurrency
    if workers:
        args += ["--concurrency", str(workers)]
    if beat:
        args += ["-B", "--schedule", str((settings.data_dir / "celerybeat-schedule").resolve())]
    return args


def start(settings: Settings, args: Sequence[str]) -> subprocess.Popen[bytes]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(celery_command(args), env=child_env(settings))


def stop(process: subprocess.Popen[bytes], grace_s: float = _STOP_GRACE_S) -> int:
    """Warm shutdown (SIGTERM: finish running tasks), then cold if it does not come down in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.warning("celery did not stop within %.0f s: killing it", grace_s)
            process.kill()
            process.wait()
    return process.returncode if process.returncode is not None else 0


def run_foreground(settings: Settings, args: Sequence[str]) -> int:
    """Run a Celery process until it exits or we are told to stop (Ctrl-C, SIGTERM); stop it cleanly."""
    process = start(settings, args)
    stopping = False

    def _forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if process.poll() is None:
            # Ctrl-C in a terminal already reached the child (same process group); SIGTERM from a supervisor
            # did not, so forward it.
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, _forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while process.poll() is None:
            time.sleep(0.2)
            if stopping:
                return stop(process)
        return process.returncode
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop(process)
