"""The pipeline stages: id in, work, ids of the next stage's rows out. No Celery here.

Each stage reads what it needs in one short transaction, does the slow part (HTTP, trafilatura, spaCy) with no
transaction open, and writes its result in a second short transaction guarded by the row's status: a
redelivered message, or a second worker holding the same id, finds the row already moved and does nothing.
SQLite takes its single write lock at BEGIN, so holding a transaction across an HTTP fetch would stall
every other worker.

Modules: `feeds` (schedule, poll), `articles` (fetch, clean, dedup), `incidents` (extract, merge, alert
decisions), `alerts` (delivery).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

SessionScope = Callable[[], AbstractContextManager[Session]]


def utcnow() -> datetime:
    return datetime.now(UTC)


def outlet_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.") or "unknown"


_article_log = logging.getLogger("dmzwatch.articles")


def log_article(article_id: int, outcome: str, detail: str = "", *, level: int = logging.INFO) -> None:
    """One line per thing that happened to an article (fetched, irrelevant, duplicate, failed...), with its id
    as a field: what an operator reads, in text or JSON logs, instead of Celery's per-task chatter."""
    _article_log.log(
        level,
        "article %s %s%s",
        article_id,
        outcome,
        f": {detail}" if detail else "",
        extra={"article_id": article_id, "outcome": outcome},
    )
