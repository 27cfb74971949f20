"""The tables. Each class is one table; the comment above it says what a row is.

Every timestamp is stored in UTC (``UTCDateTime``); Telegram ids are 64-bit.
Residents are known only by an alias the team chooses, never by CPR number.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint
from sqlalchemy import true as sa_true
from sqlmodel import Field, SQLModel

from storage.db import UTCDateTime, utcnow

ALIAS_MAX_LENGTH = 60
NAME_MAX_LENGTH = 120
NOTE_MAX_LENGTH = 1000
PLACE_MAX_LENGTH = 80
DEFAULT_DAY_START = 7 * 60
DEFAULT_EVENING_START = 15 * 60
DEFAULT_NIGHT_START = 23 * 60

# Every constraint gets a predictable name, the same on SQLite and PostgreSQL, so a
# migration can drop or alter it by name (SQLite's batch mode cannot address unnamed ones).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Role(StrEnum):
    """A member's role in one team."""

    STAFF = "staff"
    LEAD = "lead"


class Shift(StrEnum):
    """The shift (vagtlag) a note was written in, derived from the team's pattern."""

    DAY = "day"
    EVENING = "evening"
    NIGHT = "night"


class Expression(StrEnum):
    """How the resident showed what mattered."""

    VERBAL = "verbal"
    NONVERBAL = "nonverbal"


class Marker(StrEnum):
    """The quality compass markers a micro-moment can be tagged with (at most three)."""

    SAFETY = "tryghed"
    PRESENCE = "naervaer"
    RESPECT = "respekt"
    SELF_DETERMINATION = "selvbestemmelse"
    HOMELINESS = "hjemlighed"
    EVERYDAY_LIFE = "hverdagsliv"
    PROFESSIONALISM = "professionalisme"
    HEALTH = "sundhed"
    SELF_RELIANCE = "selvhjulpenhed"
    CONTINUITY = "kontinuitet"
    COHERENCE = "sammenhaeng"


class SiteKind(StrEnum):
    """What kind of place a site is."""

    CARE_HOME = "care_home"
    HOME_CARE = "home_care"


def _utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_type=UTCDateTime,
        nullable=nullable,
        index=index,
    )


# A care home or a home-care district; administrators create them from the CLI.
class Site(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX_LENGTH, unique=True)
    kind: str = Field(default=SiteKind.CARE_HOME, max_length=20)
    created_at: datetime = _utc_column()


# A fixed team (fast team) around a fixed group of residents, within one site.
class Team(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_team_site_name"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    name: str = Field(max_length=NAME_MAX_LENGTH)
    created_at: datetime = _utc_column()
    # The team's shift pattern, as minutes after local midnight (default 07, 15, 23).
    day_starts_at: int = Field(
        default=DEFAULT_DAY_START, sa_column_kwargs={"server_default": str(DEFAULT_DAY_START)}
    )
    evening_starts_at: int = Field(
        default=DEFAULT_EVENING_START,
        sa_column_kwargs={"server_default": str(DEFAULT_EVENING_START)},
    )
    night_starts_at: int = Field(
        default=DEFAULT_NIGHT_START, sa_column_kwargs={"server_default": str(DEFAULT_NIGHT_START)}
    )
    # Delete the member's messages and the bot's prompts after a note is saved.
    chat_hygiene: bool = Field(default=True, sa_column_kwargs={"server_default": sa_true()})


# A person using the bot (staff, lead or both), known by their Telegram id.
class Member(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    name: str = Field(max_length=NAME_MAX_LENGTH)
    language: str = Field(default="da", max_length=8)
    active: bool = True
    # The team the member currently works in; members of several teams switch it.
    current_team_id: int | None = Field(default=None, foreign_key="team.id")
    created_at: datetime = _utc_column()


# A member's place in one team, with the role they have there.
class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("member_id", "team_id", name="uq_membership"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    role: str = Field(default=Role.STAFF, max_length=10)
    active: bool = True
    joined_at: datetime = _utc_column()
    left_at: datetime | None = _utc_column(nullable=True)


# An invitation code that lets someone join one team with one role.
class Invite(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    role: str = Field(default=Role.STAFF, max_length=10)
    max_uses: int = 1
    uses: int = 0
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    revoked: bool = False
    created_at: datetime = _utc_column()


# A resident the team cares for, known only by the alias the team chose.
class Resident(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("team_id", "alias", name="uq_resident_team_alias"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    alias: str = Field(max_length=ALIAS_MAX_LENGTH)
    active: bool = True
    created_at: datetime = _utc_column()


# One administrative action: who did what to which team. Never holds note text.
class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # "cli", "member:<id>" or "system".
    actor: str = Field(max_length=40)
    action: str = Field(max_length=60)
    team_id: int | None = Field(default=None, foreign_key="team.id")
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# Where one user is in a conversation flow, committed at every step so a restart
# or another worker process continues exactly there.
class Conversation(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("telegram_id", "chat_id", name="uq_conversation_user_chat"),
    )

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    flow: str = Field(max_length=40)
    state: str = Field(max_length=60)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _utc_column()


# A micro-moment: what mattered to a resident, noted by a member of the team.
# Either text (at most NOTE_MAX_LENGTH characters) or a voice message by file id.
class Note(SQLModel, table=True):
    __table_args__ = (
        Index("ix_note_team_created", "team_id", "created_at"),
        Index("ix_note_team_resident_created", "team_id", "resident_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    resident_id: int = Field(foreign_key="resident.id")
    # None once the author is erased and the site keeps their notes anonymously.
    author_member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    created_at: datetime = _utc_column()
    edited_at: datetime | None = _utc_column(nullable=True)
    shift: str = Field(max_length=10)
    expression: str = Field(default=Expression.VERBAL, max_length=10)
    text: str | None = Field(default=None, sa_type=Text)
    voice_file_id: str | None = Field(default=None, max_length=200)
    voice_duration: int | None = None
    # "Take it to the team": the note goes on the next reflection meeting's agenda.
    for_team: bool = False


# One quality compass marker on one note; team and resident are repeated so the
# resident card counts markers from this table alone.
class NoteMarker(SQLModel, table=True):
    __tablename__ = "note_marker"
    __table_args__ = (Index("ix_note_marker_team_resident", "team_id", "resident_id", "marker"),)

    note_id: int = Field(foreign_key="note.id", primary_key=True)
    marker: str = Field(max_length=20, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    resident_id: int = Field(foreign_key="resident.id")


class PromptStatus(StrEnum):
    """Where a timed prompt is in its life: waiting, being sent by a worker, or done."""

    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    # Its time passed while nobody could send it and it is no longer useful (expires_at).
    DROPPED = "dropped"
    FAILED = "failed"
    # The member has blocked the bot.
    UNREACHABLE = "unreachable"


# One timed message to one member (or, with member_id None, to the team), stored so
# it survives a restart and is sent once by whichever worker claims it first. The
# payload holds ids only, never note text; docs/scheduling.md explains the life cycle.
class Prompt(SQLModel, table=True):
    __table_args__ = (
        # The dispatcher's scan: due pending rows, and claimed rows whose lease ran out.
        Index("ix_prompt_status_due", "status", "due_at"),
        Index("ix_prompt_member_status", "member_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=60)
    team_id: int = Field(foreign_key="team.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # After this the prompt is useless (a reminder for a meeting that began): dropped, not sent.
    expires_at: datetime | None = _utc_column(nullable=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=PromptStatus.PENDING, max_length=12)
    claimed_by: str | None = Field(default=None, max_length=80)
    claimed_at: datetime | None = _utc_column(nullable=True)
    sent_at: datetime | None = _utc_column(nullable=True)
    attempts: int = 0
    # The error's type only (never its message, which may quote the text sent).
    last_error: str | None = Field(default=None, max_length=80)
    # Scheduling the same prompt twice is a no-op: "meeting:12:2026-11-24T13:00:hour_before:7".
    dedupe_key: str = Field(max_length=200, unique=True)
    created_at: datetime = _utc_column()


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
    created_at: datetime = _utc_column()


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
    created_at: datetime = _utc_column()


# ------------------------------------------------------------------ agenda and minutes
# (storage/agenda.py; migration 0005_agenda)

AGENDA_POINT_MAX_LENGTH = 200


# A point the lead added by hand to one meeting's agenda (short free text, no CPR number).
class AgendaPoint(SQLModel, table=True):
    __tablename__ = "agenda_point"

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="meeting_occurrence.id", index=True)
    team_id: int = Field(foreign_key="team.id")
    text: str = Field(max_length=AGENDA_POINT_MAX_LENGTH)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = _utc_column()


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
    created_at: datetime = _utc_column()


# The minutes of one meeting: which agenda entries were discussed ([kind, ref_id] pairs,
# ids only) and what was decided (optional text, at most NOTE_MAX_LENGTH characters).
class MeetingMinutes(SQLModel, table=True):
    __tablename__ = "meeting_minutes"
    __table_args__ = (UniqueConstraint("occurrence_id", name="uq_meeting_minutes_occurrence_id"),)

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="meeting_occurrence.id")
    team_id: int = Field(foreign_key="team.id", index=True)
    recorded_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    discussed: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    decision: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _utc_column()
