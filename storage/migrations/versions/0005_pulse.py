"""Psychological safety pulse and dilemmas

Revision ID: 0005_pulse
Revises: 0004_meetings
Create Date: 2026-11-23 01:30:00.000000

pulse (a team's pulse: open and close times, repetition, how many were invited),
pulse_participation (pulse x member and the local day: only to refuse a second answer and
to remind), pulse_tally (per pulse, item and value the number who chose it: the answers,
with nothing leading to a member), pulse_site_setting (a site's result threshold), and
dilemma (a care dilemma for the next meeting; an anonymous one has no author).

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - the models' string columns
from alembic import op

import storage.db

# revision identifiers, used by Alembic.
revision: str = "0005_pulse"
down_revision: str | Sequence[str] | None = "0004_meetings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = storage.db.UTCDateTime


def upgrade() -> None:
    """Psychological safety pulse and dilemmas"""
    op.create_table(
        "pulse",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("opens_at", UTC(timezone=True), nullable=False),
        sa.Column("closes_at", UTC(timezone=True), nullable=False),
        sa.Column("closed_at", UTC(timezone=True), nullable=True),
        sa.Column("repeat", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("opened", sa.Boolean(), nullable=False),
        sa.Column("invited", sa.Integer(), nullable=False),
        sa.Column("shared_at", UTC(timezone=True), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_pulse_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pulse")),
    )
    with op.batch_alter_table("pulse", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pulse_team_id"), ["team_id"], unique=False)

    op.create_table(
        "pulse_participation",
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_pulse_participation_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulse.id"], name=op.f("fk_pulse_participation_pulse_id_pulse")
        ),
        sa.PrimaryKeyConstraint("pulse_id", "member_id", name=op.f("pk_pulse_participation")),
    )
    op.create_table(
        "pulse_tally",
        sa.Column("pulse_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pulse_id"], ["pulse.id"], name=op.f("fk_pulse_tally_pulse_id_pulse")
        ),
        sa.PrimaryKeyConstraint("pulse_id", "item", "value", name=op.f("pk_pulse_tally")),
    )
    op.create_table(
        "pulse_site_setting",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_pulse_site_setting_site_id_site")
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_pulse_site_setting")),
    )
    op.create_table(
        "dilemma",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("author_member_id", sa.Integer(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("voice_file_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("voice_duration", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("discussed_at", UTC(timezone=True), nullable=True),
        sa.Column("decision_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_member_id"], ["member.id"], name=op.f("fk_dilemma_author_member_id_member")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_dilemma_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dilemma")),
    )
    with op.batch_alter_table("dilemma", schema=None) as batch_op:
        batch_op.create_index("ix_dilemma_team_created", ["team_id", "created_at"], unique=False)


def downgrade() -> None:
    """Undoes: Psychological safety pulse and dilemmas"""
    with op.batch_alter_table("dilemma", schema=None) as batch_op:
        batch_op.drop_index("ix_dilemma_team_created")
    op.drop_table("dilemma")
    op.drop_table("pulse_site_setting")
    op.drop_table("pulse_tally")
    op.drop_table("pulse_participation")
    with op.batch_alter_table("pulse", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pulse_team_id"))
    op.drop_table("pulse")
