"""The tables. Each class is one table; the comment above it says what a row is.

Every timestamp is stored in UTC (``UTCDateTime``); Telegram ids are 64-bit.
Residents are known only by an alias the team chooses, never by CPR number.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlmodel import Field, SQLModel

from storage.crypto import EncryptedJSON, EncryptedText
from storage.db import UTCDateTime, utcnow

ALIAS_MAX_LENGTH = 60
NAME_MAX_LENGTH = 120
NOTE_MAX_LENGTH = 1000
PLACE_MAX_LENGTH = 80
DEFAULT_RETENTION_DAYS = 180
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
    # Days after which a micro-moment's text (or voice) is removed; its markers, counts and
    # the agreed approaches stay. None keeps the text until it is erased by hand.
    retention_days: int | None = Field(
        default=DEFAULT_RETENTION_DAYS,
        sa_column_kwargs={"server_default": str(DEFAULT_RETENTION_DAYS)},
    )
    # When a member is erased: False keeps their notes for the team without their name,
    # True erases the notes too.
    erase_authored_notes: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa_false()}
    )


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
    # Encrypted: a draft note's text waits here until it is saved.
    data: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(EncryptedJSON, nullable=False)
    )
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
    # Encrypted at rest (storage/crypto.py).
    text: str | None = Field(default=None, sa_type=EncryptedText)
    voice_file_id: str | None = Field(default=None, max_length=200)
    voice_duration: int | None = None
    # Set when the retention policy removed the text or voice; the markers stay.
    redacted_at: datetime | None = _utc_column(nullable=True)
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
    # The calendar file's SEQUENCE: raised at each move, so phones replace the old event.
    sequence: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = _utc_column()


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
    created_at: datetime = _utc_column()


# ------------------------------------------------------------------ cases: the resident's voice
# (storage/cases.py; migration 0005_cases). Steps 1 (listen) and 2 (in the team) are stored
# here; steps 3 (deciding) and 4 (trying) are derived from the case's latest decision.


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
    created_at: datetime = _utc_column()
    in_team_at: datetime | None = _utc_column(nullable=True)
    closed_at: datetime | None = _utc_column(nullable=True)
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
    created_at: datetime = _utc_column()


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
    created_at: datetime = _utc_column()
    updated_at: datetime | None = _utc_column(nullable=True)


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
    updated_at: datetime = _utc_column()


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
    created_at: datetime = _utc_column()


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
    updated_at: datetime = _utc_column()


# ------------------------------------------------------------------ decisions: proposal, vote,
# trial action, check-ins, and the team's linked group chat
# (storage/decisions.py; migration 0005_decisions)

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
    opens_at: datetime | None = _utc_column(nullable=True)
    closes_at: datetime | None = _utc_column(nullable=True)
    closed_at: datetime | None = _utc_column(nullable=True)
    # No foreign key: proposal refers to decision already (no cycle between the tables).
    chosen_proposal_id: int | None = None
    outcome: str | None = Field(default=None, max_length=10)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    # The group message that carries the vote's buttons, to edit its count.
    group_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    group_message_id: int | None = None
    created_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()


# A proposed trial action (what we do differently, concretely), at most 500 characters.
class Proposal(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id", index=True)
    author_member_id: int | None = Field(default=None, foreign_key="member.id")
    text: str = Field(sa_type=EncryptedText)
    created_at: datetime = _utc_column()


# One member's vote in one decision: changing it updates this row, never adds one.
class Vote(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("decision_id", "member_id", name="uq_vote_decision_member"),
    )

    id: int | None = Field(default=None, primary_key=True)
    decision_id: int = Field(foreign_key="decision.id")
    member_id: int = Field(foreign_key="member.id", index=True)
    proposal_id: int = Field(foreign_key="proposal.id")
    voted_at: datetime = _utc_column()
    updated_at: datetime = _utc_column()


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
    created_at: datetime = _utc_column()


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
    answered_at: datetime = _utc_column()


# A Telegram group linked to a team by its lead (/link): votes are also posted there.
# One group per team and one team per group; a migration to a supergroup replaces chat_id.
class TeamChat(SQLModel, table=True):
    __tablename__ = "team_chat"

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", unique=True)
    chat_id: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    linked_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    linked_at: datetime = _utc_column()


# ---------------------------------------------------------------- received updates (webhook)


# A Telegram update that was processed, recorded in the same transaction as the step it
# caused (storage/updates.py): a redelivered update (a webhook that did not get 200, a
# getUpdates batch fetched again after a crash) is recognised and skipped. Purged after
# two days; Telegram keeps an undelivered update for 24 hours.
class ProcessedUpdate(SQLModel, table=True):
    __tablename__ = "processed_update"

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    processed_at: datetime = _utc_column(index=True)


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
    closed_at: datetime | None = _utc_column(nullable=True)
    repeat: str = Field(default=PulseRepeat.NONE, max_length=10)
    # The invitations are scheduled (at opens_at, by the pulse.open prompt for a planned one).
    opened: bool = False
    # How many active members were invited when it opened.
    invited: int = 0
    shared_at: datetime | None = _utc_column(nullable=True)
    created_at: datetime = _utc_column()


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
    created_at: datetime = _utc_column()
    discussed_at: datetime | None = _utc_column(nullable=True)
    # The team's trial action it led to (a decision id; no foreign key while the decisions'
    # migration is on another branch).
    decision_id: int | None = None
