"""The article task wrapper: soft time limits and the delivery limit end in `failed` with a reason."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from dmzwatch.db.migrate import upgrade
from dmzwatch.db.models import Article
from dmzwatch.db.session import session_scope
from dmzwatch.settings import get_settings

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def article_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("DMZWATCH_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DMZWATCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("DMZWATCH_MAX_STAGE_ATTEMPTS", "2")
    get_settings.cache_clear()
    upgrade()
    with session_scope() as session:
        article = Article(
            url="https://example.org/a",
            canonical_url="https://example.org/a",
            status="cleaned",
            discovered_at=NOW,
            updated_at=NOW,
            attempts=0,
        )
        session.add(article)
        session.flush()
        new_id = article.id
    yield new_id
    get_settings.cache_clear()


def _row(article_id: int) -> Article:
    with session_scope() as session:
        row = session.get_one(Article, article_id)
        session.expunge(row)
        return row


def _task() -> Any:
    return SimpleNamespace(request=SimpleNamespace(retries=0))


def test_soft_time_limit_fails_the_row_with_a_reason(article_id: int) -> None:
    from tasks.pipeline import _run_article_stage

    def too_slow() -> None:
        raise SoftTimeLimitExceeded()

    assert _run_article_stage(_task(), article_id, "extract", too_slow) is None
    row = _row(article_id)
    assert (row.status, row.error) == ("failed", "extract: exceeded the soft time limit")


def test_deliveries_past_the_limit_are_refused_without_running_the_stage(article_id: int) -> None:
    from tasks.pipeline import _run_article_stage

    calls: list[int] = []
    for _ in range(2):  # two deliveries that "crash" before finishing: the stage ran, the row did not move
        _run_article_stage(_task(), article_id, "extract", lambda: calls.append(1))
    assert _run_article_stage(_task(), article_id, "extract", lambda: calls.append(1)) is None
    assert len(calls) == 2
    row = _row(article_id)
    assert row.status == "failed" and (row.error or "").startswith("extract: gave up after 2 deliveries")


def test_a_busy_host_waits_in_a_fresh_message_without_spending_retries_or_deliveries(article_id: int) -> None:
    """Regression: task.retry(max_retries=None) means "the task default" (3), so the fourth politeness wait
    escaped as an unexpected error and left the row stuck. Waits must never touch the retry machinery."""
    from dmzwatch.politeness import HostBusyError
    from tasks.pipeline import _run_article_stage

    queued: list[tuple[tuple[int, ...], float]] = []

    def never_retry(**_kwargs: Any) -> None:
        raise AssertionError("a politeness wait must not use task.retry")

    task = SimpleNamespace(
        request=SimpleNamespace(retries=0),
        retry=never_retry,
        apply_async=lambda args, countdown: queued.append((args, countdown)),
    )

    def busy() -> None:
        raise HostBusyError("host busy: example.org was contacted less than 1 s ago", retry_after_s=0.5)

    for _ in range(5):  # more waits than any retry budget and than DMZWATCH_MAX_STAGE_ATTEMPTS (2 here)
        assert _run_article_stage(task, article_id, "extract", busy) is None
    row = _row(article_id)
    assert row.status == "cleaned" and row.error is None  # still waiting its turn, not failed
    assert row.stage_attempts == 0  # every wait released its counted delivery
    assert [args for args, _ in queued] == [(article_id,)] * 5
    assert all(0.5 <= countdown <= 1.5 for _, countdown in queued)
