"""alerts: transient failures kept apart from crashed deliveries, the next retry's time, operator retries

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        # Sends the channel refused for now (5xx, 429, timeout): attempts - failures = deliveries that crashed.
        batch.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))
        # When this alert's channel first failed it: how long the channel has been failing (operator alarm).
        batch.add_column(sa.Column("first_failure_at", sa.DateTime(timezone=True), nullable=True))
        # When the next delivery is due: a retry whose message was lost is re-sent from here.
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        # When an operator sent it again (`dmzwatch alerts retry`): freshness counts from here.
        batch.add_column(sa.Column("retried_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("retried_at")
        batch.drop_column("next_attempt_at")
        batch.drop_column("first_failure_at")
        batch.drop_column("failures")
