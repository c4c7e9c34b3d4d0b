"""`dmzwatch status` on SQLite with nothing running: quick, says what is down, lists every failing feed on
--verbose and "+N more" otherwise, and never creates a database where none is."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from dmzwatch.db.migrate import upgrade
from dmzwatch.db.models import Feed
from dmzwatch.db.session import session_scope
from dmzwatch.settings import get_settings
from dmzwatch.stages import utcnow
from workers.cli import app

LONG_REASON = "connection refused by wire-{n}.example: " + "the server is down for maintenance " * 8 + "(end)"


def _status(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["status", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def test_status_without_a_database_says_where_it_looked_and_creates_nothing(cli_env: Path) -> None:
    code, out = _status()
    assert code == 1 and "NO DATABASE at" in out and str(cli_env / "var") in out
    assert not (cli_env / "var" / "dmzwatch.sqlite3").exists()


def test_status_lists_failing_feeds_and_says_the_embedded_broker_is_not_running(cli_env: Path) -> None:
    upgrade(get_settings().sqlalchemy_url)
    now = utcnow()
    with session_scope() as session:
        for n in range(8):
            session.add(
                Feed(
                    url=f"https://wire-{n}.example/rss",
                    name=f"Wire {n}",
                    consecutive_failures=4,
                    last_polled_at=now,
                    last_ok_at=now - timedelta(days=1),
                    last_error=LONG_REASON.format(n=n),
                    added_at=now - timedelta(days=2),
                )
            )
    code, out = _status()
    assert code == 0, out
    assert "broker not running: the embedded broker runs only while `dmzwatch run`" in out
    assert "workers    not asked (no broker)" in out
    assert out.count("    failing  Wire ") == 5 and "+3 more (`dmzwatch status --verbose`" in out
    assert "(end)" not in out and " …" in out  # cut at a word, and marked as cut
    code, out = _status("--verbose")
    assert out.count("    failing  Wire ") == 8 and out.count("(end)") == 8 and "more" not in out
