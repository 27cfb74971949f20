"""Meeting occurrences get the calendar file's SEQUENCE

Revision ID: 0005_meeting_sequence
Revises: 0004_meetings
Create Date: 2026-11-23 01:30:00.000000

meeting_occurrence.sequence starts at 0 and is raised by each move, so the .ics sent
for a moved meeting (same UID) replaces the event in the members' calendars.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005_meeting_sequence"
down_revision: str | Sequence[str] | None = "0004_meetings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Meeting occurrences get the calendar file's SEQUENCE"""
    with op.batch_alter_table("meeting_occurrence", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sequence", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )


def downgrade() -> None:
    """Undoes: Meeting occurrences get the calendar file's SEQUENCE"""
    with op.batch_alter_table("meeting_occurrence", schema=None) as batch_op:
        batch_op.drop_column("sequence")
