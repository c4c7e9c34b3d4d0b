"""`dmzwatch eval` on the project's own gold set (tests/fixtures/gold): the thresholds of issue 3.

The 47 articles and their labels were written by hand for this project (tests/fixtures/gold/README.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
GOLD = REPO / "tests" / "fixtures" / "gold"


def _eval(gold: Path, texts: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", "eval", str(gold), "--texts", str(texts), *extra],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def scores() -> dict[str, Any]:
    result = _eval(GOLD / "gold.jsonl", GOLD / "texts", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_gold_set_is_big_and_varied_enough(scores: dict[str, Any]) -> None:
    summary = scores["summary"]
    assert summary["articles"] >= 40
    assert summary["relevance"]["tn"] >= 5  # articles with no incident at all (aggregates, other countries, ...)
    assert summary["incidents"]["tp"] + summary["incidents"]["fn"] >= 40


def test_issue_thresholds(scores: dict[str, Any]) -> None:
    s = scores["summary"]
    assert s["incidents"]["f1"] >= 0.85, scores["articles"]
    assert s["type_accuracy"]["rate"] >= 0.85
    assert s["killed_exact"]["rate"] >= 0.9
    assert s["zone_agreement"]["rate"] >= 0.95
    assert s["not_incident_events"] == 0


def test_human_summary_prints_every_figure() -> None:
    result = _eval(GOLD / "gold.jsonl", GOLD / "texts")
    assert result.returncode == 0, result.stderr
    for label in (
        "F1",
        "type accuracy",
        "killed exact",
        "injured exact",
        "zone agreement",
        "perpetrator accuracy",
        "article relevance",
        "incidents from not_incidents statements",
    ):
        assert label in result.stdout


def test_a_broken_gold_file_is_an_error_not_a_score(tmp_path: Path) -> None:
    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"seed": "missing.txt", "incidents": []}\n', encoding="utf-8")
    result = _eval(bad, tmp_path)
    assert result.returncode == 2
    assert "missing.txt" in result.stderr
    bad.write_text("{not json\n", encoding="utf-8")
    result = _eval(bad, tmp_path)
    assert result.returncode == 2 and "line 1" in result.stderr
