"""The programme: a team's course of dialogue meetings, a site's leadership team

Revision ID: 0007_programme
Revises: 0006_merge
Create Date: 2026-12-06 19:09:42

course (a team's forløb: kick-off day, status; running_team_id keeps one running course
per team), course_meeting (dialogue meeting 1 to 3 of a course: the meeting occurrence
planned for it and what it should hold) and leadership_team (the team of a site whose
members are the site's leads).

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - the models' string columns
from alembic import op

import storage.db

# revision identifiers, used by Alembic.
revision: str = "0007_programme"
down_revision: str | Sequence[str] | None = "0006_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = storage.db.UTCDateTime
String = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    """The programme: courses, their dialogue meetings, leadership teams."""
    op.create_table(
        "course",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("running_team_id", sa.Integer(), nullable=True),
        sa.Column("kickoff_on", sa.Date(), nullable=False),
        sa.Column("status", String(length=10), nullable=False),
        sa.Column("started_by_member_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("ended_at", UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["running_team_id"], ["team.id"], name=op.f("fk_course_running_team_id_team")
        ),
        sa.ForeignKeyConstraint(
            ["started_by_member_id"],
            ["member.id"],
            name=op.f("fk_course_started_by_member_id_member"),
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_course_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course")),
        sa.UniqueConstraint("running_team_id", name=op.f("uq_course_running_team_id")),
    )
    with op.batch_alter_table("course", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_course_team_id"), ["team_id"], unique=False)

    op.create_table(
        "leadership_team",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("created_by_member_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_member_id"],
            ["member.id"],
            name=op.f("fk_leadership_team_created_by_member_id_member"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_leadership_team_site_id_site")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_leadership_team_team_id_team")
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_leadership_team")),
        sa.UniqueConstraint("team_id", name=op.f("uq_leadership_team_team_id")),
    )
    op.create_table(
        "course_meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=True),
        sa.Column("holds_case", sa.Boolean(), nullable=False),
        sa.Column("holds_dilemma", sa.Boolean(), nullable=False),
        sa.Column("trial", String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["course.id"], name=op.f("fk_course_meeting_course_id_course")
        ),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["meeting_occurrence.id"],
            name=op.f("fk_course_meeting_occurrence_id_meeting_occurrence"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_meeting")),
        sa.UniqueConstraint("course_id", "number", name="uq_course_meeting_course_number"),
        sa.UniqueConstraint("occurrence_id", name=op.f("uq_course_meeting_occurrence_id")),
    )
    with op.batch_alter_table("course_meeting", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_course_meeting_course_id"), ["course_id"], unique=False
        )


def downgrade() -> None:
    """Removes the programme's tables."""
    with op.batch_alter_table("course_meeting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_meeting_course_id"))
    op.drop_table("course_meeting")
    op.drop_table("leadership_team")
    with op.batch_alter_table("course", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_team_id"))
    op.drop_table("course")
