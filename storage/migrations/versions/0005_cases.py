"""Cases: the resident's voice, listened to and brought to the team

Revision ID: 0005_cases
Revises: 0004_meetings
Create Date: 2026-11-23 01:25:00

A resident_case is one round of the loop for one resident (number 1, 2, ...), with its
stored step (1 listen, 2 in the team; 3 and 4 come from its decision) and, while open,
open_resident_id = resident_id under a unique constraint: one open case per resident.
case_answer holds the listener's answers (text or voice) by question key, case_moment
the attached micro-moments (removed with their note), case_perspective one perspective
per member.

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - AutoString below
from alembic import op

import storage.db  # noqa: F401 - storage.db.UTCDateTime below

# revision identifiers, used by Alembic.
revision: str = "0005_cases"
down_revision: str | Sequence[str] | None = "0004_meetings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(name: str, *, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, storage.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Cases: the resident's voice, listened to and brought to the team"""
    op.create_table(
        "resident_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("open_resident_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("listener_member_id", sa.Integer(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        _utc("created_at", nullable=False),
        _utc("in_team_at", nullable=True),
        _utc("closed_at", nullable=True),
        sa.Column("closed_by_member_id", sa.Integer(), nullable=True),
        sa.Column("close_reason", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_resident_case_team_id_team")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_resident_case_resident_id_resident")
        ),
        sa.ForeignKeyConstraint(
            ["open_resident_id"],
            ["resident.id"],
            name=op.f("fk_resident_case_open_resident_id_resident"),
        ),
        sa.ForeignKeyConstraint(
            ["listener_member_id"],
            ["member.id"],
            name=op.f("fk_resident_case_listener_member_id_member"),
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_member_id"],
            ["member.id"],
            name=op.f("fk_resident_case_closed_by_member_id_member"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_case")),
        sa.UniqueConstraint("open_resident_id", name=op.f("uq_resident_case_open_resident_id")),
        sa.UniqueConstraint("resident_id", "number", name="uq_resident_case_resident_number"),
    )
    with op.batch_alter_table("resident_case", schema=None) as batch_op:
        batch_op.create_index(
            "ix_resident_case_team_closed", ["team_id", "closed_at"], unique=False
        )

    op.create_table(
        "case_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("question", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("voice_file_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("voice_duration", sa.Integer(), nullable=True),
        _utc("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["resident_case.id"], name=op.f("fk_case_answer_case_id_resident_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_answer")),
        sa.UniqueConstraint("case_id", "question", name="uq_case_answer_case_question"),
    )
    with op.batch_alter_table("case_answer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_answer_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_moment",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["resident_case.id"], name=op.f("fk_case_moment_case_id_resident_case")
        ),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["note.id"],
            name=op.f("fk_case_moment_note_id_note"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", "note_id", name=op.f("pk_case_moment")),
    )

    op.create_table(
        "case_perspective",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("voice_file_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("voice_duration", sa.Integer(), nullable=True),
        _utc("created_at", nullable=False),
        _utc("updated_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["resident_case.id"],
            name=op.f("fk_case_perspective_case_id_resident_case"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_case_perspective_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_perspective")),
        sa.UniqueConstraint("case_id", "member_id", name="uq_case_perspective_case_member"),
    )
    with op.batch_alter_table("case_perspective", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_perspective_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    """Undoes: Cases: the resident's voice, listened to and brought to the team"""
    with op.batch_alter_table("case_perspective", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_perspective_case_id"))
    op.drop_table("case_perspective")
    op.drop_table("case_moment")
    with op.batch_alter_table("case_answer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_answer_case_id"))
    op.drop_table("case_answer")
    with op.batch_alter_table("resident_case", schema=None) as batch_op:
        batch_op.drop_index("ix_resident_case_team_closed")
    op.drop_table("resident_case")
