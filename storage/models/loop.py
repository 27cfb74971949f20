"""The loop of *Borgerens stemme*: a resident's case (listening, the team's perspectives)
and the decisions it leads to (proposals, the vote, the trial action, check-ins), with the
team's linked group chat."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.crypto import EncryptedText
from storage.models.base import utc_column

# ------------------------------------------------------------------ cases: the resident's voice
# (storage/cases.py, listening.py; migration 0005_cases). Steps 1 (listen) and 2 (in the
# team) are stored here; steps 3 (deciding) and 4 (trying) are derived from the case's latest
# decision.


class CaseKind(StrEnum):
    """How the listener collected the resident's perspective."""

    CONVERSATION = "conversation"
    OBSERVATION = "observation"


class CaseCloseReason(StrEnum):
    """Why a case was closed."""

    # The trial action was evaluated (keep or drop): the loop is done.
    EVALUATED = "evaluated"
    # The team talked it through and needs no trial action.
    SETTLED = "settled"
    # The resident moved, died or is no longer the team's.
    RESIDENT_LEFT = "resident_left"
    OTHER = "other"


# One round of the loop for one resident: the listener's answers, the team's perspectives,
# and (through the decision with origin "case") the trial action. A resident has at most
# one open case; starting again after the evaluation is a new case with the next number.
class ResidentCase(SQLModel, table=True):
    __tablename__ = "resident_case"
    __table_args__ = (
        UniqueConstraint("resident_id", "number", name="uq_resident_case_resident_number"),
        Index("ix_resident_case_team_closed", "team_id", "closed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    resident_id: int = Field(foreign_key="resident.id")
    # The resident while the case is open, NULL once it is closed: the unique constraint
    # allows one open case per resident on SQLite and PostgreSQL alike (NULLs never clash).
    open_resident_id: int | None = Field(default=None, foreign_key="resident.id", unique=True)
    # 1 for the resident's first case, 2 for the next round, ...
    number: int = 1
    kind: str = Field(default=CaseKind.CONVERSATION, max_length=20)
    listener_member_id: int | None = Field(default=None, foreign_key="member.id")
    # The stored step: 1 listen, 2 in the team (3 and 4 come from the decision).
    step: int = 1
    # The resident's perspective in short (at most NOTE_MAX_LENGTH characters), or none.
    summary: str | None = Field(default=None, sa_type=EncryptedText)
    created_at: datetime = utc_column()
    in_team_at: datetime | None = utc_column(nullable=True)
    closed_at: datetime | None = utc_column(nullable=True)
    closed_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    close_reason: str | None = Field(default=None, max_length=20)
    close_note: str | None = Field(default=None, sa_type=EncryptedText)


# One answer of the listener to one question of the bank: text or a voice message.
class CaseAnswer(SQLModel, table=True):
    __tablename__ = "case_answer"
    __table_args__ = (
        UniqueConstraint("case_id", "question", name="uq_case_answer_case_question"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="resident_case.id", index=True)
    # The question's stable key in the bank ("conversation.day"), never its text.
    question: str = Field(max_length=40)
    position: int = 0
    text: str | None = Field(default=None, sa_type=EncryptedText)
    voice_file_id: str | None = Field(default=None, max_length=200)
    voice_duration: int | None = None
    created_at: datetime = utc_column()


# A micro-moment of the same resident attached to a case by the listener.
class CaseMoment(SQLModel, table=True):
    __tablename__ = "case_moment"

    case_id: int = Field(foreign_key="resident_case.id", primary_key=True)
    # Deleting the note (its author within 24 hours, or a lead) detaches it from the case.
    note_id: int = Field(foreign_key="note.id", primary_key=True, ondelete="CASCADE")


# One member's perspective on a case (perspektivskifte): text or voice, one per member,
# changed only by its author.
class CasePerspective(SQLModel, table=True):
    __tablename__ = "case_perspective"
    __table_args__ = (
        UniqueConstraint("case_id", "member_id", name="uq_case_perspective_case_member"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="resident_case.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    text: str | None = Field(default=None, sa_type=EncryptedText)
    voice_file_id: str | None = Field(default=None, max_length=200)
    voice_duration: int | None = None
    created_at: datetime = utc_column()
    updated_at: datetime | None = utc_column(nullable=True)


# ------------------------------------------------------------------ decisions: proposal, vote,
# trial action, check-ins, and the team's linked group chat
# (storage/decisions.py, voting.py, trials.py, group_chats.py; migration 0005_decisions)

PROPOSAL_MAX_LENGTH = 500
CHECKIN_NOTE_MAX_LENGTH = 500
DECISION_TITLE_MAX_LENGTH = 120


class DecisionStatus(StrEnum):
    """Where a round of deciding and trying is: proposals, vote, tie, planning the trial,
    trying it, evaluating, and finished (done) or withdrawn."""

    PROPOSING = "proposing"
    VOTING = "voting"
    # The vote closed with a tie: the lead chooses among the tied proposals.
    TIE = "tie"
    # The vote chose a proposal: the lead fills in the trial action.
    PLANNING = "planning"
    TRYING = "trying"
    EVALUATING = "evaluating"
    DONE = "done"
    WITHDRAWN = "withdrawn"


class DecisionOrigin(StrEnum):
    """What a decision is about: a resident's case, the pulse, a dilemma, or the team."""

    CASE = "case"
    PULSE = "pulse"
    DILEMMA = "dilemma"
    TEAM = "team"


class Outcome(StrEnum):
    """How the team evaluated a trial action."""

    KEEP = "keep"
    ADJUST = "adjust"
    DROP = "drop"


class CheckinAnswer(StrEnum):
    """A member's answer to a check-in: tried and it helped, tried and it did not, or not
    relevant today."""

    HELPED = "helped"
    NOT_HELPED = "not_helped"
    NOT_RELEVANT = "not_relevant"


# One round of deciding and trying for a team: proposals, a vote, a trial action and its
# evaluation. resident_id None is a team action; origin_id points into the origin's own
# table (a case, a pulse, a dilemma) without a foreign key.
class Decision(SQLModel, table=True):
    __table_args__ = (
        Index("ix_decision_team_status", "team_id", "status"),
        Index("ix_decision_origin", "origin", "origin_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    resident_id: int | None = Field(default=None, foreign_key="resident.id", index=True)
    origin: str = Field(default=DecisionOrigin.TEAM, max_length=10)
    origin_id: int | None = None
    iteration: int = 1
    title: str = Field(max_length=DECISION_TITLE_MAX_LENGTH)
    status: str = Field(default=DecisionStatus.PROPOSING, max_length=12)
    # When the vote opens by itself (None: when the lead opens it) and when it closes.
    opens_at: datetime | None = utc_column(nullable=True)
    closes_at: datetime | None = utc_column(nullable=True)
    closed_at: datetime | None = utc_column(nullable=True)
    # No foreign key: proposal refers to decision already (no cycle between the tables).
    chosen_proposal_id: int | None = None
    outcome: str | None = Field(default=None, max_length=10)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    # The group message that carries the vote's buttons, to edit its count.
    group_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    group_message_id: int | None = None
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()


# A proposed trial action (what we do differently, concretely), at most 500 characters.
class Proposal(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    author_member_id: int | None = Field(default=None, foreign_key="member.id")
    text: str = Field(sa_type=EncryptedText)
    created_at: datetime = utc_column()


# One member's vote in one decision: changing it updates this row, never adds one.
class Vote(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("decision_id", "member_id", name="uq_vote_decision_member"),
    )

    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id")
    member_id: int = Field(foreign_key="member.id", index=True)
    proposal_id: int = Field(foreign_key="proposal.id")
    voted_at: datetime = utc_column()
    updated_at: datetime = utc_column()


# The chosen action as a trial (the Model for Improvement's questions): what we want to
# achieve, how we will know, what we do, from when to when, who follows up, how often
# members are asked whether they tried it.
class TrialAction(SQLModel, table=True):
    __tablename__ = "trial_action"

    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", unique=True)
    aim: str = Field(sa_type=EncryptedText)
    measure: str = Field(sa_type=EncryptedText)
    action: str = Field(sa_type=EncryptedText)
    starts_on: date
    ends_on: date
    follow_up_member_id: int | None = Field(default=None, foreign_key="member.id")
    checkin_every_days: int = 3
    created_at: datetime = utc_column()


# A member's answer to the check-in of one day of a trial (answering again replaces it).
class Checkin(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("trial_action_id", "member_id", "day", name="uq_checkin_member_day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    trial_action_id: int = Field(foreign_key="trial_action.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    # The check-in's day in STEMME_TIMEZONE.
    day: date
    answer: str = Field(max_length=12)
    note: str | None = Field(default=None, sa_type=EncryptedText)
    answered_at: datetime = utc_column()


# A Telegram group linked to a team by its lead (/link): votes are also posted there.
# One group per team and one team per group; a migration to a supergroup replaces chat_id.
class TeamChat(SQLModel, table=True):
    __tablename__ = "team_chat"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", unique=True)
    chat_id: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    linked_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    linked_at: datetime = utc_column()
