"""Alembic environment: online migrations only, batch mode so SQLite can alter tables."""

from __future__ import annotations

from alembic import context

from dmzwatch.db.models import Base
from dmzwatch.db.session import make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "sqlalchemy.url is set by dmzwatch.db.migrate"

engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
