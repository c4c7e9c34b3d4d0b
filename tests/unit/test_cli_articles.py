"""`dmzwatch articles list|retry` through the real Typer app, on a fresh SQLite database and no broker running."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from dmzwatch.db.migrate import upgrade
from dmzwatch.db.models import Article
from dmzwatch.db.session import session_scope
from dmzwatch.settings import get_settings
from dmzwatch.stages import utcnow
from tests.unit.test_maintenance import _article
from workers.cli import app
from workers.cli_common import parse_since


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["articles", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def test_failed_articles_are_listed_with_stage_and_reason_then_sent_back_where_they_failed(cli_env: Path) -> None:
    upgrade(get_settings().sqlalchemy_url)
    now = utcnow()
    fetch_failed = _article(session_scope, "gone", "failed", now - timedelta(hours=2))
    extract_failed = _article(session_scope, "poison", "failed", now - timedelta(minutes=5))
    old_failure = _article(session_scope, "old", "failed", now - timedelta(days=3))
    with session_scope() as session:
        session.get_one(Article, fetch_failed).error = "fetch: https://example.org/gone answered 404 Not Found"
        poison = session.get_one(Article, extract_failed)
        poison.error, poison.attempt_stage = "extract: gave up after 10 deliveries that did not finish", "cleaned"
        poison.raw_html, poison.text = b"x", "A strike on Kafr Nabl killed three."
        session.get_one(Article, old_failure).error = "clean: no text"  # never fetched: fetch again

    code, out = _cli("list", "--since", "24h")
    assert code == 0
    assert f"#{extract_failed} extract" in out and "gave up after 10 deliveries" in out
    assert f"#{fetch_failed} fetch" in out and "404 Not Found" in out
    assert f"#{old_failure} " not in out  # failed three days ago
    assert out.index(f"#{extract_failed} ") < out.index(f"#{fetch_failed} ")  # newest first
    assert _cli("list", "--since", "yesterday-ish")[0] == 2

    code, out = _cli("retry", "--all-failed")
    assert code == 0 and "3 articles back in the pipeline" in out and "maintenance pass" in out
    with session_scope() as session:
        statuses = {
            i: (session.get_one(Article, i).status, session.get_one(Article, i).error)
            for i in (fetch_failed, extract_failed, old_failure)
        }
    assert statuses == {fetch_failed: ("new", None), extract_failed: ("cleaned", None), old_failure: ("new", None)}
    assert _cli("list")[1].startswith("no failed articles")
    assert _cli("retry", str(fetch_failed))[0] == 1  # not failed any more


def test_since_accepts_spans_and_dates() -> None:
    now = datetime.fromisoformat("2026-12-02T12:00:00+00:00")
    assert parse_since("36h", now) == now - timedelta(hours=36)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("2026-11-30", now) == datetime.fromisoformat("2026-11-30T00:00:00+00:00")
    assert parse_since("1764676800", now) == datetime.fromisoformat("2025-12-02T12:00:00+00:00")
    assert parse_since(None, now) is None
