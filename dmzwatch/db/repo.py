"""Repository functions: small idempotent writes shared by the stages."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dmzwatch.db.models import Article, ArticleStatus, Lock


def insert_ignore(
    session: Session, model: type[Any], values: dict[str, Any], conflict: list[str] | None = None
) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING; returns the new primary key, or None when the row existed.

    With no conflict target, any unique constraint of the table counts (both backends support that form).
    """
    dialect = session.get_bind().dialect.name
    table = model.__table__
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict or None)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict or None)
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database dialect {dialect}")
    result = session.execute(stmt.returning(table.c.id))
    row = result.first()
    return None if row is None else int(row[0])


def advance_article(
    session: Session, article_id: int, expected: ArticleStatus, new: ArticleStatus, **values: Any
) -> bool:
    """Move an article forward only if it is still where we found it (a redelivered task finds it moved)."""
    result = session.execute(
        update(Article)
        .where(Article.id == article_id, Article.status == expected.value)
        .values(status=new.value, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def fail_article(session: Session, article_id: int, reason: str, now: datetime) -> bool:
    """Mark an open article failed with a reason; final rows are left alone."""
    result = session.execute(
        update(Article)
        .where(
            Article.id == article_id,
            Article.status.in_([ArticleStatus.NEW.value, ArticleStatus.FETCHED.value, ArticleStatus.CLEANED.value]),
        )
        .values(status=ArticleStatus.FAILED.value, error=reason[:2000], updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def acquire_lock(session: Session, name: str) -> None:
    """Hold a named lock until the transaction ends.

    PostgreSQL: a row lock (SELECT ... FOR UPDATE) on a row created on first use. SQLite: every transaction
    already holds the single write lock (BEGIN IMMEDIATE), so nothing more is needed.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    _ensure_lock_row(session, name)
    session.execute(select(Lock.name).where(Lock.name == name).with_for_update())


def _ensure_lock_row(session: Session, name: str) -> None:
    stmt = postgresql.insert(Lock).values(name=name).on_conflict_do_nothing(index_elements=["name"])
    session.execute(stmt)


def compress(text: str) -> bytes:
    return zlib.compress(text.encode("utf-8"), 6)


def decompress(blob: bytes | None) -> str | None:
    return None if blob is None else zlib.decompress(blob).decode("utf-8")
