"""Meeting agenda and minutes: the lead's points, removed entries, minutes

Revision ID: 0005_agenda
Revises: 0004_meetings
Create Date: 2026-11-23 01:45:00

agenda_point holds a point the lead added to one meeting's agenda; agenda_exclusion an
entry (note, case, ...) removed from one meeting's agenda without deleting it;
meeting_minutes what one meeting discussed (ids only) and decided. The point's and the
decision's text are encrypted at rest (storage/crypto.py), so their columns are TEXT.

The agenda's note query uses note's existing (team_id, created_at) index; the counts
join note_marker by its primary key (note_id, marker).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - autogenerate renders sqlmodel.sql.sqltypes.AutoString
from alembic import op

import storage.db  # noqa: F401 - autogenerate renders storage.db.UTCDateTime

# revision identifiers, used by Alembic.
revision: str = "0005_agenda"
down_revision: str | Sequence[str] | None = "0004_meetings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Meeting agenda and minutes: the lead's points, removed entries, minutes"""
    op.create_table(
        "agenda_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        # Encrypted at rest (storage.crypto.EncryptedText): the column holds the token.
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by_member_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_member_id"],
            ["member.id"],
            name=op.f("fk_agenda_point_created_by_member_id_member"),
        ),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["meeting_occurrence.id"],
            name=op.f("fk_agenda_point_occurrence_id_meeting_occurrence"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_agenda_point_team_id_team")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agenda_point")),
    )
    with op.batch_alter_table("agenda_point", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agenda_point_occurrence_id"), ["occurrence_id"], unique=False
        )

    op.create_table(
        "agenda_exclusion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("ref_id", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["meeting_occurrence.id"],
            name=op.f("fk_agenda_exclusion_occurrence_id_meeting_occurrence"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agenda_exclusion")),
        sa.UniqueConstraint("occurrence_id", "kind", "ref_id", name="uq_agenda_exclusion_entry"),
    )

    op.create_table(
        "meeting_minutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by_member_id", sa.Integer(), nullable=True),
        sa.Column("discussed", sa.JSON(), nullable=False),
        # Encrypted at rest (storage.crypto.EncryptedText).
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("created_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["meeting_occurrence.id"],
            name=op.f("fk_meeting_minutes_occurrence_id_meeting_occurrence"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_member_id"],
            ["member.id"],
            name=op.f("fk_meeting_minutes_recorded_by_member_id_member"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_meeting_minutes_team_id_team")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_minutes")),
        sa.UniqueConstraint("occurrence_id", name="uq_meeting_minutes_occurrence_id"),
    )
    with op.batch_alter_table("meeting_minutes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_minutes_team_id"), ["team_id"], unique=False)


def downgrade() -> None:
    """Undoes: Meeting agenda and minutes"""
    with op.batch_alter_table("meeting_minutes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_minutes_team_id"))
    op.drop_table("meeting_minutes")
    op.drop_table("agenda_exclusion")
    with op.batch_alter_table("agenda_point", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agenda_point_occurrence_id"))
    op.drop_table("agenda_point")
