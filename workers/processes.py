"""Starting and stopping Celery processes from the CLI, with the embedded broker when no broker is configured."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

from dmzwatch.settings import Settings
from workers.embedded import EmbeddedRedis
from workers.queues import Queue

log = logging.getLogger(__name__)

ALL_QUEUES = ",".join(queue.value for queue in Queue)
_STOP_GRACE_S = 30.0  # a warm shutdown lets running tasks finish; NLP tasks take seconds, not minutes


@contextmanager
def broker(settings: Settings) -> Iterator[Callable[[], None]]:
    """Make sure the configured broker is reachable: start the embedded server when none is configured.

    Yields a check to call now and then: it restarts the embedded server if it died (a no-op otherwise)."""
    if not settings.embedded_broker:
        yield lambda: None
        return
    with EmbeddedRedis(settings) as server:
        yield server.keep_serving


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    # Children must agree with us on the data dir even if they start in another working directory.
    env["DMZWATCH_DATA_DIR"] = str(settings.data_dir.resolve())
    return env


def celery_command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "workers.celery_app:app", *args]


def with_maintenance(queues: str) -> str:
    """The queues plus the maintenance queue: every worker runs self-healing, so it never depends on one class."""
    names = [q.strip() for q in queues.split(",") if q.strip()]
    return ",".join([*names, Queue.MAINTENANCE.value] if Queue.MAINTENANCE.value not in names else names)


def worker_args(settings: Settings, queues: str, *, beat: bool, concurrency: int | None, name: str) -> list[str]:
    args = ["worker", "-Q", with_maintenance(queues), "-n", f"{name}@%h", "--loglevel", settings.log_level, "-E"]
    workers = concurrency or settings.worker_concurrency
    if workers:
        args += ["--concurrency", str(workers)]
    if beat:
        args += ["-B", "--schedule", str((settings.data_dir / "celerybeat-schedule").resolve())]
    return args


def start(settings: Settings, args: Sequence[str]) -> subprocess.Popen[bytes]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Celery prints its banner on stdout; cron mails whatever reaches stdout. Everything goes to stderr.
    return subprocess.Popen(celery_command(args), env=child_env(settings), stdout=sys.stderr)


def stop(process: subprocess.Popen[bytes], grace_s: float = _STOP_GRACE_S, *, signalled: bool = False) -> int:
    """Warm shutdown (SIGTERM: finish running tasks), then cold if it does not come down in time.

    ``signalled``: the child already got its SIGTERM. A second one while it shuts down would not hurry it
    (Celery finishes its tasks either way) but can land after Python restored the default handler, killing it."""
    if process.poll() is None:
        if not signalled:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.warning("celery did not stop within %.0f s: killing it", grace_s)
            process.kill()
            process.wait()
    return process.returncode if process.returncode is not None else 0


# A child that dies is started again after this long, doubling while it keeps dying, up to the cap; one that
# ran this long before dying was healthy, and the wait starts over.
_RESTART_DELAY_S = (1.0, 60.0)
_HEALTHY_AFTER_S = 120.0
_BROKER_CHECK_S = 5.0  # how often a supervisor checks that the embedded broker still answers


def run_foreground(settings: Settings, args: Sequence[str], keep_broker: Callable[[], None] = lambda: None) -> int:
    """Run a Celery process until we are told to stop (Ctrl-C, SIGTERM), then stop it cleanly.

    Supervised: a child that exits on its own (an OOM kill, a crash while the broker restarts) is started
    again with backoff, as compose's `restart: unless-stopped` and systemd's `Restart=always` do for their
    services; redelivery and the maintenance re-queue bring back the work it held. A child that exits with
    status 2 (Celery's usage error) or 64-78 (sysexits: configuration) is not restarted: that would loop.
    """
    stopping = False
    process = start(settings, args)

    def _forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if process.poll() is None:
            # Ctrl-C in a terminal already reached the child (same process group); SIGTERM from a supervisor
            # did not, so forward it.
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, _forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    delay = _RESTART_DELAY_S[0]
    started_at = checked_broker_at = time.monotonic()
    try:
        while True:
            time.sleep(0.2)
            if stopping:
                return stop(process, signalled=True)
            if time.monotonic() - checked_broker_at >= _BROKER_CHECK_S:
                keep_broker()
                checked_broker_at = time.monotonic()
            code = process.poll()
            if code is None:
                continue
            if code == 0 or code == 2 or 64 <= code <= 78:
                return code
            if time.monotonic() - started_at >= _HEALTHY_AFTER_S:
                delay = _RESTART_DELAY_S[0]
            log.error("%s exited with status %s: starting it again in %.0f s", args[0], code, delay)
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and not stopping:
                time.sleep(0.2)
            if stopping:
                return code
            process = start(settings, args)
            started_at = time.monotonic()
            delay = min(_RESTART_DELAY_S[1], delay * 2)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop(process)
