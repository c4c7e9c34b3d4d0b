"""The `dmzwatch` CLI run as a user runs it (a subprocess), for the gold-set tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> str:
    """``dmzwatch <args>``'s standard output; fails the test with the CLI's stderr on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, "-m", "workers.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def run_eval(gold: Path, texts: Path, *extra: str) -> dict[str, Any]:
    """``dmzwatch eval ... --json``: the summary and per-article details."""
    out: dict[str, Any] = json.loads(run_cli("eval", str(gold), "--texts", str(texts), *extra, "--json"))
    return out
