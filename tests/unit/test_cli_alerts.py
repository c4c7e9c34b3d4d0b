"""`dmzwatch alerts list|retry` through the real Typer app, on a fresh SQLite database and no broker running."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dmzwatch.db.migrate import upgrade
from dmzwatch.db.models import Alert
from dmzwatch.db.session import session_scope
from dmzwatch.settings import get_settings
from tests.unit.test_maintenance import NOW, _incident_and_alert
from workers.cli import app


@pytest.fixture
def failed_alert(cli_env: Path) -> Iterator[int]:
    upgrade(get_settings().sqlalchemy_url)
    alert_id = _incident_and_alert(session_scope, NOW - timedelta(hours=50), attempts=12)
    with session_scope() as session:
        row = session.get_one(Alert, alert_id)
        row.status, row.failures = "failed", 12
        row.last_error = "gave up after 12 failed tries over 48.0 h: hooks.example answered 503"
    yield alert_id


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["alerts", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_list_shows_failed_alerts_with_why_and_retry_makes_them_pending(failed_alert: int) -> None:
    code, out, _err = _cli("list", "--status", "failed")
    assert code == 0
    assert f"#{failed_alert} failed  slack" in out and "Kafr Nabl" in out and "12 failed" in out
    assert "answered 503" in out
    assert _cli("list", "--status", "failed", "--channel", "webhook-1")[1].startswith("no failed alerts for")
    assert _cli("list", "--status", "lost")[0] == 2

    assert _cli("retry")[0] == 2  # neither ids nor --all-failed
    code, out, _err = _cli("retry", "--all-failed")
    # No broker runs here: the row is due now, and the next maintenance pass sends it.
    assert code == 0 and f"#{failed_alert}" in out and "next maintenance pass" in out
    with session_scope() as session:
        row = session.get_one(Alert, failed_alert)
        assert (row.status, row.attempts, row.failures) == ("pending", 0, 0)
        assert row.retried_at is not None and row.next_attempt_at == row.retried_at
    assert _cli("retry", str(failed_alert))[0] == 1  # pending now: nothing to retry
    assert f"#{failed_alert} pending" in _cli("list")[1]
