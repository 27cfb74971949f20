"""Joins the two revisions written in parallel from 0006_merge: the dashboard's note index
(0007_dashboard) and the programme's tables (0007_programme). Neither touches the other's
tables; this revision changes nothing itself.

Revision ID: 0008_merge
Revises: 0007_dashboard, 0007_programme
"""

from collections.abc import Sequence

# revision identifiers, used by Alembic.
revision: str = "0008_merge"
down_revision: str | Sequence[str] | None = ("0007_dashboard", "0007_programme")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to do: the merged revisions did the work."""


def downgrade() -> None:
    """Nothing to undo here."""
