"""The team's rhythm: members' preferences, absences and days off, the monthly focus."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

from storage.db import UTCDateTime
from storage.models.base import utc_column

# ------------------------------------------------------------------ rhythm: preferences,
# absences, monthly focus (storage/rhythm.py; migration 0005_rhythm)

FOCUS_MAX_LENGTH = 200


class AbsenceKind(StrEnum):
    """Why prompts pause: a member is away, a member muted them, or a team day off."""

    AWAY = "away"
    MUTE = "mute"
    TEAM_OFF = "team_off"


# One member's wishes in one team (a temp in two teams sets them per team). ``shifts``
# is a comma list of the shifts they usually work ("day,evening"); empty means not set:
# no quiet hours until they choose.
class MemberPreference(SQLModel, table=True):
    __tablename__ = "member_preference"
    __table_args__ = (
        UniqueConstraint("member_id", "team_id", name="uq_member_preference_member_team"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id")
    team_id: int = Field(foreign_key="team.id", index=True)
    shifts: str = Field(default="", max_length=40, sa_column_kwargs={"server_default": ""})
    handover: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    end_nudge: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    updated_at: datetime = utc_column()


# A time without prompts: a member away or muted (member_id set, team_id empty: it holds
# in every team) or a team's day off (team_id set, member_id empty). UTC; a day off runs
# from local midnight to local midnight.
class Absence(SQLModel, table=True):
    __table_args__ = (
        Index("ix_absence_member_ends", "member_id", "ends_at"),
        Index("ix_absence_team_ends", "team_id", "ends_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=10)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    team_id: int | None = Field(default=None, foreign_key="team.id")
    starts_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    ends_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = utc_column()


# The team's focus for one month (årshjul), set by a lead: short text, no CPR number.
# ``month`` is the month's first day.
class MonthlyFocus(SQLModel, table=True):
    __tablename__ = "monthly_focus"
    __table_args__ = (UniqueConstraint("team_id", "month", name="uq_monthly_focus_team_month"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    month: date
    text: str = Field(max_length=FOCUS_MAX_LENGTH)
    set_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    updated_at: datetime = utc_column()
