"""Decisions: proposals, votes, trial actions, check-ins, linked group chats

Revision ID: 0005_decisions
Revises: 0004_meetings
Create Date: 2026-11-23 01:40:00.000000

A decision is one round of deciding and trying for a team (about a resident, or the
team itself): proposals (at most 500 characters), one vote per member (unique per
decision and member, changed by an UPDATE), the chosen trial action with the Model for
Improvement's fields, the members' check-ins (one per member and day), and team_chat,
the Telegram group a team's lead linked with /link.

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401 - the models' string columns
from alembic import op

import storage.db

# revision identifiers, used by Alembic.
revision: str = "0005_decisions"
down_revision: str | Sequence[str] | None = "0004_meetings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = storage.db.UTCDateTime


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    """Decisions: proposals, votes, trial actions, check-ins, linked group chats"""
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("origin", _string(10), nullable=False),
        sa.Column("origin_id", sa.Integer(), nullable=True),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("title", _string(120), nullable=False),
        sa.Column("status", _string(12), nullable=False),
        sa.Column("opens_at", UTC(timezone=True), nullable=True),
        sa.Column("closes_at", UTC(timezone=True), nullable=True),
        sa.Column("closed_at", UTC(timezone=True), nullable=True),
        sa.Column("chosen_proposal_id", sa.Integer(), nullable=True),
        sa.Column("outcome", _string(10), nullable=True),
        sa.Column("created_by_member_id", sa.Integer(), nullable=True),
        sa.Column("group_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("group_message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_member_id"],
            ["member.id"],
            name=op.f("fk_decision_created_by_member_id_member"),
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_decision_resident_id_resident")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_decision_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
    )
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.create_index("ix_decision_origin", ["origin", "origin_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_decision_resident_id"), ["resident_id"], unique=False)
        batch_op.create_index("ix_decision_team_status", ["team_id", "status"], unique=False)

    op.create_table(
        "proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("author_member_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_member_id"], ["member.id"], name=op.f("fk_proposal_author_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decision.id"], name=op.f("fk_proposal_decision_id_decision")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal")),
    )
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proposal_decision_id"), ["decision_id"], unique=False)

    op.create_table(
        "vote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("voted_at", UTC(timezone=True), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decision.id"], name=op.f("fk_vote_decision_id_decision")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_vote_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposal.id"], name=op.f("fk_vote_proposal_id_proposal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vote")),
        sa.UniqueConstraint("decision_id", "member_id", name="uq_vote_decision_member"),
    )
    with op.batch_alter_table("vote", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vote_member_id"), ["member_id"], unique=False)

    op.create_table(
        "trial_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("aim", sa.Text(), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("follow_up_member_id", sa.Integer(), nullable=True),
        sa.Column("checkin_every_days", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decision.id"], name=op.f("fk_trial_action_decision_id_decision")
        ),
        sa.ForeignKeyConstraint(
            ["follow_up_member_id"],
            ["member.id"],
            name=op.f("fk_trial_action_follow_up_member_id_member"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trial_action")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_trial_action_decision_id")),
    )

    op.create_table(
        "checkin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_action_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("answer", _string(12), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("answered_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_checkin_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["trial_action_id"],
            ["trial_action.id"],
            name=op.f("fk_checkin_trial_action_id_trial_action"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin")),
        sa.UniqueConstraint("trial_action_id", "member_id", "day", name="uq_checkin_member_day"),
    )
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_checkin_trial_action_id"), ["trial_action_id"], unique=False
        )

    op.create_table(
        "team_chat",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("linked_by_member_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["linked_by_member_id"],
            ["member.id"],
            name=op.f("fk_team_chat_linked_by_member_id_member"),
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_team_chat_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_chat")),
        sa.UniqueConstraint("chat_id", name=op.f("uq_team_chat_chat_id")),
        sa.UniqueConstraint("team_id", name=op.f("uq_team_chat_team_id")),
    )


def downgrade() -> None:
    """Removes the decision tables."""
    op.drop_table("team_chat")
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkin_trial_action_id"))
    op.drop_table("checkin")
    op.drop_table("trial_action")
    with op.batch_alter_table("vote", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vote_member_id"))
    op.drop_table("vote")
    with op.batch_alter_table("proposal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proposal_decision_id"))
    op.drop_table("proposal")
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_index("ix_decision_team_status")
        batch_op.drop_index(batch_op.f("ix_decision_resident_id"))
        batch_op.drop_index("ix_decision_origin")
    op.drop_table("decision")
