"""One line of history again: the eight 0005 revisions, written side by side, merged

Revision ID: 0006_merge
Revises: 0005_agenda, 0005_cases, 0005_decisions, 0005_meeting_sequence, 0005_privacy,
    0005_pulse, 0005_rhythm, 0005_updates
Create Date: 2026-11-23 02:52:00

The meeting agenda, cases, decisions, meeting sequence numbers, privacy, pulse, rhythm
and processed-update revisions were written in parallel from 0004_meetings; none touches
another's tables, so they apply in any order. This revision joins them; it changes
nothing itself.

"""

from collections.abc import Sequence

# revision identifiers, used by Alembic.
revision: str = "0006_merge"
down_revision: str | Sequence[str] | None = (
    "0005_agenda",
    "0005_cases",
    "0005_decisions",
    "0005_meeting_sequence",
    "0005_privacy",
    "0005_pulse",
    "0005_rhythm",
    "0005_updates",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to do: the merged revisions did the work."""


def downgrade() -> None:
    """Nothing to undo here."""
