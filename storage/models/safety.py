"""Psychological safety: the pulse (counts only, never who answered what) and the care
dilemmas members bring to the team."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from storage.crypto import EncryptedText
from storage.db import UTCDateTime
from storage.models.base import utc_column

# ---------------------------------------------------------------- pulse and dilemmas (issue 6)
# docs/privacy.md ("Pulse") explains why no table here can join a member to an answer.

DILEMMA_MAX_LENGTH = 1000


class PulseRepeat(StrEnum):
    """Whether a team's pulse repeats, and how often."""

    NONE = "none"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


# One psychological safety pulse of a team: open from opens_at until closes_at, or until
# closed_at when the lead closed it early. It holds no answers and no one who answered.
class Pulse(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    opens_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    closes_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    closed_at: datetime | None = utc_column(nullable=True)
    repeat: str = Field(default=PulseRepeat.NONE, max_length=10)
    # The invitations are scheduled (at opens_at, by the pulse.open prompt for a planned one).
    opened: bool = False
    # How many active members were invited when it opened.
    invited: int = 0
    shared_at: datetime | None = utc_column(nullable=True)
    created_at: datetime = utc_column()


# That a member answered a pulse (only to refuse a second answer and to remind the others):
# the local day, no time, and nothing about what they answered.
class PulseParticipation(SQLModel, table=True):
    __tablename__ = "pulse_participation"

    pulse_id: int = Field(foreign_key="pulse.id", primary_key=True)
    member_id: int = Field(foreign_key="member.id", primary_key=True)
    answered_on: date


# The answers of a pulse as counts: how many chose `value` (1-7, as given) for `item` (1-7).
# 49 rows per pulse, created when it opens and all updated by every completed answer, so
# neither rows, order nor times follow who answered when.
class PulseTally(SQLModel, table=True):
    __tablename__ = "pulse_tally"

    pulse_id: int = Field(foreign_key="pulse.id", primary_key=True)
    item: int = Field(primary_key=True)
    value: int = Field(primary_key=True)
    count: int = 0


# A site's own threshold for showing pulse results (default 5, never below 3).
class PulseSiteSetting(SQLModel, table=True):
    __tablename__ = "pulse_site_setting"

    site_id: int = Field(foreign_key="site.id", primary_key=True)
    threshold: int


# A care dilemma a member brings to the team's next meeting: text (at most 1,000
# characters) or a voice message. An anonymous one has no author stored at all, and its
# time is kept to the hour.
class Dilemma(SQLModel, table=True):
    __table_args__ = (Index("ix_dilemma_team_created", "team_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    author_member_id: int | None = Field(default=None, foreign_key="member.id")
    anonymous: bool = False
    # Encrypted at rest like note text (storage/crypto.py).
    text: str | None = Field(default=None, sa_type=EncryptedText)
    voice_file_id: str | None = Field(default=None, max_length=200)
    voice_duration: int | None = None
    created_at: datetime = utc_column()
    discussed_at: datetime | None = utc_column(nullable=True)
    # The team's trial action it led to (a decision id; no foreign key while the decisions'
    # migration is on another branch).
    decision_id: int | None = None
