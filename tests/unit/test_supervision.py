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
