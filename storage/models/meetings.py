"""Reflection meetings: the series and its occurrences, each meeting's agenda points
and exclusions, and its minutes."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.crypto import EncryptedText
from storage.db import UTCDateTime
from storage.models.base import utc_column

PLACE_MAX_LENGTH = 80


class Repetition(StrEnum):
    """How a meeting series repeats (storage/meetings.py computes the dates)."""

    NONE = "none"
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


class OccurrenceStatus(StrEnum):
    """One meeting of a series: as the series says, moved on its own, or cancelled."""

    SCHEDULED = "scheduled"
    MOVED = "moved"
    CANCELLED = "cancelled"


# A team's reflection meeting and how it repeats. The time is wall-clock time in
# STEMME_TIMEZONE (14:00 stays 14:00 across daylight saving); the occurrences hold UTC.
class MeetingSeries(SQLModel, table=True):
    __tablename__ = "meeting_series"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    # The lead who scheduled it; they get the preparation reminder and the minutes prompt.
    created_by_member_id: int = Field(foreign_key="member.id")
    first_date: date
    start_time: time
    duration_minutes: int
    # Short free text ("Mødelokalet"), refused when it holds a CPR number.
    place: str = Field(default="", max_length=PLACE_MAX_LENGTH)
    repetition: str = Field(default=Repetition.NONE, max_length=10)
    # Days before a meeting the lead is reminded to prepare, at the meeting's local time.
    lead_prepare_days: int = 2
    cancelled: bool = False
    created_at: datetime = utc_column()


# One meeting of a series, by its number in the series (1, 2, ...): moving or cancelling
# it changes this row only, and generating the series again leaves it as it is.
class MeetingOccurrence(SQLModel, table=True):
    __tablename__ = "meeting_occurrence"
    __table_args__ = (
        UniqueConstraint("series_id", "number", name="uq_meeting_occurrence_series_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="meeting_series.id")
    number: int
    starts_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    ends_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    status: str = Field(default=OccurrenceStatus.SCHEDULED, max_length=10)
    # The calendar file's SEQUENCE: raised at each move, so phones replace the old event.
    sequence: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = utc_column()


# ------------------------------------------------------------------ agenda and minutes
# (storage/agenda.py; migration 0005_agenda)

AGENDA_POINT_MAX_LENGTH = 200


# A point the lead added by hand to one meeting's agenda (short free text, at most
# AGENDA_POINT_MAX_LENGTH characters, no CPR number; encrypted at rest like note text).
class AgendaPoint(SQLModel, table=True):
    __tablename__ = "agenda_point"

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="meeting_occurrence.id", index=True)
    team_id: int = Field(foreign_key="team.id")
    text: str = Field(sa_type=EncryptedText)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = utc_column()


# An entry the lead removed from one meeting's agenda (a note, a case, ...): the entry
# itself stays; only this meeting's agenda leaves it out.
class AgendaExclusion(SQLModel, table=True):
    __tablename__ = "agenda_exclusion"
    __table_args__ = (
        UniqueConstraint("occurrence_id", "kind", "ref_id", name="uq_agenda_exclusion_entry"),
    )

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="meeting_occurrence.id")
    kind: str = Field(max_length=20)
    ref_id: int
    created_at: datetime = utc_column()


# The minutes of one meeting: which agenda entries were discussed ([kind, ref_id] pairs,
# ids only) and what was decided (optional text, at most NOTE_MAX_LENGTH characters,
# encrypted at rest like note text).
class MeetingMinutes(SQLModel, table=True):
    __tablename__ = "meeting_minutes"
    __table_args__ = (UniqueConstraint("occurrence_id", name="uq_meeting_minutes_occurrence_id"),)

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="meeting_occurrence.id")
    team_id: int = Field(foreign_key="team.id", index=True)
    recorded_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    discussed: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    decision: str | None = Field(default=None, sa_type=EncryptedText)
    created_at: datetime = utc_column()
