"""feeds: health figures (when added, failures in total, median gap between new items, why disabled)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 04:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        # When the feed entered the database: a feed that never gave an item is silent relative to this.
        batch.add_column(sa.Column("added_at", sa.DateTime(timezone=True), nullable=True))
        # Failed polls over the feed's life (consecutive_failures resets on success): a Prometheus counter.
        batch.add_column(sa.Column("failures_total", sa.Integer(), nullable=False, server_default="0"))
        # Median seconds between the feed's items, from its own history: what "longer than usual" means.
        batch.add_column(sa.Column("item_gap_median_s", sa.Float(), nullable=True))
        # Set when dmzwatch or an operator disabled the feed ("410 Gone", "operator"): the feeds file sync
        # leaves such a feed disabled instead of re-enabling it at the next start.
        batch.add_column(sa.Column("disabled_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("disabled_reason")
        batch.drop_column("item_gap_median_s")
        batch.drop_column("failures_total")
        batch.drop_column("added_at")
