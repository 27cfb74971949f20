"""Processed updates: a redelivered Telegram update is processed once

Revision ID: 0005_updates
Revises: 0004_meetings
Create Date: 2026-11-23 01:30:00.000000

processed_update holds the id of every update the router processed, written in the
same transaction as the step it caused (storage/updates.py), and when.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.db

# revision identifiers, used by Alembic.
revision: str = "0005_updates"
down_revision: str | Sequence[str] | None = "0004_meetings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Processed updates: a redelivered Telegram update is processed once"""
    op.create_table(
        "processed_update",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("processed_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_processed_update")),
    )
    with op.batch_alter_table("processed_update", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_processed_update_processed_at"), ["processed_at"], unique=False
        )


def downgrade() -> None:
    """Drops the processed updates."""
    with op.batch_alter_table("processed_update", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processed_update_processed_at"))
    op.drop_table("processed_update")
