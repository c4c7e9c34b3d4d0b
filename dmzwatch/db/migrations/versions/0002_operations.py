"""operations: per-stage delivery attempts, alert re-queues, zone silence alarms

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 04:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        # Deliveries of the stage named by attempt_stage (the status the row had when they started): a poison
        # message that kills its worker is redelivered forever unless something counts and stops it.
        batch.add_column(sa.Column("stage_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("attempt_stage", sa.String(length=16), nullable=True))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("requeued_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "silence_alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("silent_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silence_alarms")),
        sa.UniqueConstraint("zone", "silent_since", name=op.f("uq_silence_alarms_zone_silent_since")),
    )


def downgrade() -> None:
    op.drop_table("silence_alarms")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("requeued_at")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("attempt_stage")
        batch.drop_column("stage_attempts")
