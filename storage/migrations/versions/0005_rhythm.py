"""The team's rhythm: member preferences, absences and mutes, monthly focus

Revision ID: 0005_rhythm
Revises: 0004_meetings
Create Date: 2026-11-23 01:40:00

member_preference: per member and team, the shifts they usually work (empty: not set),
shift handover and end-of-shift nudge on/off. absence: a member away or muted, or a
team's day off (UTC start and end). monthly_focus: the team's focus per month.

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.db

# revision identifiers, used by Alembic.
revision: str = "0005_rhythm"
down_revision: str | Sequence[str] | None = "0004_meetings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """The team's rhythm: member preferences, absences and mutes, monthly focus"""
    op.create_table(
        "member_preference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("shifts", sa.String(length=40), server_default="", nullable=False),
        sa.Column("handover", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("end_nudge", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_member_preference_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_member_preference_team_id_team")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_preference")),
        sa.UniqueConstraint("member_id", "team_id", name="uq_member_preference_member_team"),
    )
    with op.batch_alter_table("member_preference", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_preference_team_id"), ["team_id"], unique=False
        )

    op.create_table(
        "absence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_member_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_member_id"],
            ["member.id"],
            name=op.f("fk_absence_created_by_member_id_member"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_absence_member_id_member")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_absence_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_absence")),
    )
    with op.batch_alter_table("absence", schema=None) as batch_op:
        batch_op.create_index("ix_absence_member_ends", ["member_id", "ends_at"], unique=False)
        batch_op.create_index("ix_absence_team_ends", ["team_id", "ends_at"], unique=False)

    op.create_table(
        "monthly_focus",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("set_by_member_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", storage.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_by_member_id"],
            ["member.id"],
            name=op.f("fk_monthly_focus_set_by_member_id_member"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_monthly_focus_team_id_team")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monthly_focus")),
        sa.UniqueConstraint("team_id", "month", name="uq_monthly_focus_team_month"),
    )


def downgrade() -> None:
    """Drops the rhythm tables."""
    op.drop_table("monthly_focus")
    with op.batch_alter_table("absence", schema=None) as batch_op:
        batch_op.drop_index("ix_absence_team_ends")
        batch_op.drop_index("ix_absence_member_ends")
    op.drop_table("absence")
    with op.batch_alter_table("member_preference", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_preference_team_id"))
    op.drop_table("member_preference")
