"""The dashboard's count of notes across teams (the consultant's overview) reads a
period of every team's notes: an index by time, covering the team and the resident.

Revision ID: 0007_dashboard
Revises: 0006_merge
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007_dashboard"
down_revision: str | Sequence[str] | None = "0006_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Adds note(created_at, team_id, resident_id)."""
    with op.batch_alter_table("note", schema=None) as batch_op:
        batch_op.create_index(
            "ix_note_created_team_resident", ["created_at", "team_id", "resident_id"], unique=False
        )


def downgrade() -> None:
    """Drops it."""
    with op.batch_alter_table("note", schema=None) as batch_op:
        batch_op.drop_index("ix_note_created_team_resident")
