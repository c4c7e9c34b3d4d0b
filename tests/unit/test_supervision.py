"""`dmzwatch run` / `worker` / `beat` supervise their Celery child: a child that dies is started again."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.support.services import REPO, wait_until
from workers.processes import with_maintenance

# A stand-in for the Celery child: the first run dies as a crashed worker would (status 1), later runs live.
CHILD = textwrap.dedent(
    """
    import pathlib, signal, sys, time
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # Celery's warm shutdown ends with status 0
    runs = pathlib.Path(sys.argv[1])
    runs.write_text(runs.read_text() + "x" if runs.exists() else "x")
    if len(runs.read_text()) == 1:
        sys.exit(1)
    while True:
        time.sleep(0.1)
    """
)
PARENT = textwrap.dedent(
    """
    import sys
    from workers import processes
    from dmzwatch.settings import Settings
    processes.celery_command = lambda args: [sys.executable, "-c", {child!r}, *args]
    sys.exit(processes.run_foreground(Settings(data_dir={data!r}), [{runs!r}]))
    """
)


def test_a_child_that_dies_is_started_again_and_stopped_cleanly(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    code = PARENT.format(child=CHILD, data=str(tmp_path / "var"), runs=str(runs))
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: runs.exists() and len(runs.read_text()) == 2, timeout=20)
        time.sleep(0.5)
        assert parent.poll() is None  # the second child lives; the parent keeps watching it
        parent.send_signal(signal.SIGTERM)
        _out, err = parent.communicate(timeout=40)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == 0, err
    assert "exited with status 1: starting it again" in err


def test_every_worker_consumes_the_maintenance_queue() -> None:
    assert with_maintenance("nlp") == "nlp,maintenance"
    assert with_maintenance("feeds, fetch") == "feeds,fetch,maintenance"
    assert with_maintenance("alerts,maintenance") == "alerts,maintenance"


def test_the_embedded_broker_is_started_again_after_it_was_killed(tmp_path: Path) -> None:
    import os

    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from dmzwatch.settings import Settings
    from workers.embedded import EmbeddedRedis

    with EmbeddedRedis(Settings(data_dir=tmp_path / "var")) as server:
        client = redis.Redis(unix_socket_path=str(server.socket_path), socket_timeout=2, retry=Retry(NoBackoff(), 0))
        client.rpush("alerts", "queued before the crash")
        time.sleep(1.2)  # AOF fsync every second
        assert server._server is not None
        os.kill(server._server.pid, signal.SIGKILL)  # the OOM killer
        assert wait_until(lambda: not _answers(client), timeout=10)
        server.keep_serving()
        assert _answers(client)
        assert client.lrange("alerts", 0, -1) == [b"queued before the crash"]  # from the AOF
        server.keep_serving()  # serving: nothing to do


def _answers(client: object) -> bool:
    import redis

    try:
        return bool(client.ping())  # type: ignore[attr-defined]
    except redis.RedisError:
        return False
