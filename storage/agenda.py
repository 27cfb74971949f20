"""A reflection meeting's agenda, built from what the team did since the last meeting,
and the meeting's minutes.

The agenda of an occurrence covers the period from the previous occurrence's start of
the same team (or 30 days) to this occurrence's start. Its entries are structured, never
pre-translated: an ``AgendaEntry(kind, ref_id, resident_id, created_at)`` per item, which
the flow renders in the reader's language. Each kind comes from a *source*, a function
``(session, team_id, since, until) -> list[AgendaEntry]``; ``build_agenda`` asks every
function in ``SOURCES`` in order.

Adding a source (cases, votes, trial actions, dilemmas) is one line in ``SOURCES``:
``lazy("storage.cases", "agenda_entries")`` imports ``storage.cases.agenda_entries`` on
first use (so the modules may import this one without a cycle). The function takes the
four arguments positionally and returns entries of its own kind, e.g. ``"case"``.

The lead adds points of their own (``add_point``) and removes any entry from one
meeting's agenda (``remove_entry``): a stored exclusion, so the note itself is kept.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import cast as sql_cast
from sqlalchemy import func, literal, null, union_all
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from storage import directory, prompts
from storage.cpr import refuse_cpr
from storage.db import UTCDateTime, require_id
from storage.meetings import key_prefix
from storage.models import (
    AGENDA_POINT_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    AgendaExclusion,
    AgendaPoint,
    MeetingMinutes,
    MeetingOccurrence,
    MeetingSeries,
    Note,
    NoteMarker,
    OccurrenceStatus,
    Resident,
)

logger = logging.getLogger(__name__)

# Without a previous meeting, the agenda looks this far back.
DEFAULT_PERIOD = timedelta(days=30)

KIND_NOTE = "note"
KIND_POINT = "point"
KIND_AGENDA = "meeting.agenda"
KIND_DECISIONS = "meeting.decisions"


@dataclass(frozen=True)
class AgendaEntry:
    """One item on an agenda: what kind, which row, about which resident, since when."""

    kind: str
    ref_id: int
    resident_id: int | None
    created_at: datetime


# (session, team_id, since, until) -> the entries of one kind in [since, until).
AgendaSource = Callable[[Session, int, datetime, datetime], list[AgendaEntry]]


@dataclass(frozen=True)
class NoteBrief:
    """What the agenda shows of a note: its text or its voice message's length."""

    text: str | None
    voice_duration: int | None


@dataclass(frozen=True)
class Agenda:
    """One meeting's agenda: the entries (removed ones left out, the lead's points last),
    the notes per resident and marker in the period, and what rendering needs."""

    occurrence_id: int
    team_id: int
    since: datetime
    until: datetime
    starts_at: datetime
    ends_at: datetime
    place: str
    entries: list[AgendaEntry]
    # (resident_id, marker, number of notes) in the period, by resident then marker.
    counts: list[tuple[int, str, int]]
    # resident_id -> number of notes in the period (marked or not).
    totals: dict[int, int] = field(default_factory=dict)
    # point id -> the lead's text.
    points: dict[int, str] = field(default_factory=dict)
    # note id -> text or voice length, for the note entries.
    notes: dict[int, NoteBrief] = field(default_factory=dict)
    # resident id -> alias, for every resident the entries and counts name.
    aliases: dict[int, str] = field(default_factory=dict)


class AgendaProblem(LookupError):
    """Raised when an occurrence does not exist or is not the given team's."""


class PointTooLong(ValueError):
    """Raised when a point is longer than ``AGENDA_POINT_MAX_LENGTH``."""


class DecisionTooLong(ValueError):
    """Raised when a decision note is longer than ``NOTE_MAX_LENGTH``."""


def lazy(module: str, name: str) -> AgendaSource:
    """A source that imports ``module.name`` when first called (no import cycle)."""
    found: list[AgendaSource] = []

    def source(
        session: Session, team_id: int, since: datetime, until: datetime
    ) -> list[AgendaEntry]:
        if not found:
            found.append(cast(AgendaSource, getattr(importlib.import_module(module), name)))
        return found[0](session, team_id, since, until)

    source.__name__ = f"{module}.{name}"
    return source


def note_entries(
    session: Session, team_id: int, since: datetime, until: datetime
) -> list[AgendaEntry]:
    """Micro-moments the team's members took to the team in [since, until)."""
    rows = session.exec(
        select(Note.id, Note.resident_id, Note.created_at)
        .where(
            col(Note.team_id) == team_id,
            col(Note.created_at) >= since,
            col(Note.created_at) < until,
            col(Note.for_team).is_(True),
        )
        .order_by(col(Note.created_at), col(Note.id))
    ).all()
    return [
        AgendaEntry(kind=KIND_NOTE, ref_id=note_id, resident_id=resident_id, created_at=at)
        for note_id, resident_id, at in rows
        if note_id is not None
    ]


# Every source of agenda entries, asked in this order; the lead's points come last.
# Neighbours add theirs here, one line each: lazy("storage.<module>", "<function>").
SOURCES: tuple[AgendaSource, ...] = (
    note_entries,
    lazy("storage.cases", "agenda_entries"),
    lazy("storage.voting", "agenda_votes"),
    lazy("storage.trials", "agenda_trials_due"),
    lazy("storage.dilemmas", "agenda_dilemmas"),
)


def occurrence_of_team(
    *, session: Session, team_id: int, occurrence_id: int
) -> tuple[MeetingOccurrence, MeetingSeries] | None:
    """The occurrence and its series when it belongs to ``team_id``, else None."""
    row = session.exec(
        select(MeetingOccurrence, MeetingSeries)
        .join(MeetingSeries, col(MeetingSeries.id) == col(MeetingOccurrence.series_id))
        .where(col(MeetingOccurrence.id) == occurrence_id, col(MeetingSeries.team_id) == team_id)
    ).first()
    return (row[0], row[1]) if row is not None else None


def next_occurrence(*, session: Session, team_id: int, now: datetime) -> MeetingOccurrence | None:
    """The team's next meeting that has not started and is not cancelled (for /agenda)."""
    return session.exec(
        select(MeetingOccurrence)
        .join(MeetingSeries, col(MeetingSeries.id) == col(MeetingOccurrence.series_id))
        .where(
            col(MeetingSeries.team_id) == team_id,
            col(MeetingOccurrence.starts_at) > now,
            col(MeetingOccurrence.status) != OccurrenceStatus.CANCELLED,
        )
        .order_by(col(MeetingOccurrence.starts_at))
        .limit(1)
    ).first()


def build_agenda(
    *,
    session: Session,
    team_id: int,
    occurrence_id: int,
    sources: Sequence[AgendaSource] | None = None,
) -> Agenda:
    """The agenda of one of the team's meetings (``AgendaProblem`` if it is not theirs).

    Round trips are few (the agenda is built for every reminder): the meeting and its
    period in one statement, the lead's points and removals in one, every note of the
    period with its markers in one (the counts, the aliases and the ``note`` entries come
    from it instead of a query of ``note_entries``), the texts of the notes shown in one,
    and one per other source."""
    meeting = _meeting(session, team_id, occurrence_id)
    if meeting is None:
        raise AgendaProblem(f"no meeting {occurrence_id} in team {team_id}")
    starts_at, ends_at, place, previous = meeting
    since, until = (previous or starts_at - DEFAULT_PERIOD), starts_at
    points, excluded = _lead_changes(session, occurrence_id)
    notes = _period_notes(session, team_id, since, until)
    entries: list[AgendaEntry] = []
    for source in SOURCES if sources is None else sources:
        found = notes.entries if source is note_entries else source(session, team_id, since, until)
        entries.extend(entry for entry in found if (entry.kind, entry.ref_id) not in excluded)
    entries.extend(
        AgendaEntry(kind=KIND_POINT, ref_id=point_id, resident_id=None, created_at=at)
        for point_id, (_text, at) in points.items()
    )
    aliases = dict(notes.aliases)
    missing = {
        entry.resident_id
        for entry in entries
        if entry.resident_id is not None and entry.resident_id not in aliases
    }
    aliases.update(_aliases(session, team_id, missing))
    note_ids = [entry.ref_id for entry in entries if entry.kind == KIND_NOTE]
    return Agenda(
        occurrence_id=occurrence_id,
        team_id=team_id,
        since=since,
        until=until,
        starts_at=starts_at,
        ends_at=ends_at,
        place=place,
        entries=entries,
        counts=notes.counts,
        totals=notes.totals,
        points={point_id: text for point_id, (text, _at) in points.items()},
        notes=_note_briefs(session, team_id, note_ids),
        aliases=aliases,
    )


@dataclass(frozen=True)
class _PeriodNotes:
    """What the agenda takes from the period's notes: the for-team entries, the counts
    per resident and marker, the notes per resident, and those residents' aliases."""

    entries: list[AgendaEntry]
    counts: list[tuple[int, str, int]]
    totals: dict[int, int]
    aliases: dict[int, str]


def _period_notes(
    session: Session, team_id: int, since: datetime, until: datetime
) -> _PeriodNotes:
    """Every note of the team in [since, until), one row per marker (or one without)."""
    rows = session.execute(
        sa_select(
            col(Note.id),
            col(Note.resident_id),
            col(Note.created_at),
            col(Note.for_team),
            col(Resident.alias),
            col(NoteMarker.marker),
        )
        .join(Resident, col(Resident.id) == col(Note.resident_id))
        .outerjoin(NoteMarker, col(NoteMarker.note_id) == col(Note.id))
        .where(
            col(Note.team_id) == team_id,
            col(Note.created_at) >= since,
            col(Note.created_at) < until,
        )
    ).all()
    seen: set[int] = set()
    entries: list[AgendaEntry] = []
    markers: dict[tuple[int, str], int] = {}
    totals: dict[int, int] = {}
    aliases: dict[int, str] = {}
    for note_id, resident_id, created_at, for_team, alias, marker in rows:
        if note_id is None:
            continue
        if marker is not None:
            markers[(resident_id, marker)] = markers.get((resident_id, marker), 0) + 1
        if note_id in seen:
            continue
        seen.add(note_id)
        totals[resident_id] = totals.get(resident_id, 0) + 1
        aliases[resident_id] = alias
        if for_team:
            entries.append(AgendaEntry(KIND_NOTE, note_id, resident_id, created_at))
    entries.sort(key=lambda entry: (entry.created_at, entry.ref_id))
    counts = sorted((resident_id, marker, n) for (resident_id, marker), n in markers.items())
    return _PeriodNotes(entries=entries, counts=counts, totals=totals, aliases=aliases)


def _lead_changes(
    session: Session, occurrence_id: int
) -> tuple[dict[int, tuple[str, datetime]], set[tuple[str, int]]]:
    """The lead's points (id -> text and time, in order) and removed entries of one
    meeting, in one statement."""
    point_rows = select(
        literal("point"),
        col(AgendaPoint.id),
        col(AgendaPoint.text),
        col(AgendaPoint.created_at),
    ).where(col(AgendaPoint.occurrence_id) == occurrence_id)
    removed_rows = select(
        literal("removed"),
        col(AgendaExclusion.ref_id),
        col(AgendaExclusion.kind),
        sql_cast(null(), UTCDateTime),
    ).where(col(AgendaExclusion.occurrence_id) == occurrence_id)
    points: list[tuple[int, str, datetime]] = []
    excluded: set[tuple[str, int]] = set()
    for what, ref_id, value, at in session.execute(union_all(point_rows, removed_rows)):
        if what == "point":
            points.append((int(ref_id), str(value), at))
        else:
            excluded.add((str(value), int(ref_id)))
    points.sort(key=lambda row: (row[2], row[0]))
    return {point_id: (text, at) for point_id, text, at in points}, excluded


def _meeting(
    session: Session, team_id: int, occurrence_id: int
) -> tuple[datetime, datetime, str, datetime | None] | None:
    """Start, end and place of one of the team's meetings, and the start of the team's
    previous meeting that was not cancelled (None: none), in one statement."""
    earlier = aliased(MeetingOccurrence)
    earlier_series = aliased(MeetingSeries)
    previous = (
        sa_select(func.max(col(earlier.starts_at)))
        .join(earlier_series, col(earlier_series.id) == col(earlier.series_id))
        .where(
            col(earlier_series.team_id) == team_id,
            col(earlier.starts_at) < col(MeetingOccurrence.starts_at),
            col(earlier.status) != OccurrenceStatus.CANCELLED,
            col(earlier.id) != col(MeetingOccurrence.id),
        )
        .correlate(MeetingOccurrence)
        .scalar_subquery()
    )
    row = session.execute(
        sa_select(
            col(MeetingOccurrence.starts_at),
            col(MeetingOccurrence.ends_at),
            col(MeetingSeries.place),
            previous,
        )
        .join(MeetingSeries, col(MeetingSeries.id) == col(MeetingOccurrence.series_id))
        .where(col(MeetingOccurrence.id) == occurrence_id, col(MeetingSeries.team_id) == team_id)
    ).first()
    if row is None:
        return None
    return row[0], row[1], row[2], row[3]


def _note_briefs(session: Session, team_id: int, note_ids: list[int]) -> dict[int, NoteBrief]:
    if not note_ids:
        return {}
    rows = session.exec(
        select(Note.id, Note.text, Note.voice_duration).where(
            col(Note.team_id) == team_id, col(Note.id).in_(note_ids)
        )
    ).all()
    return {
        note_id: NoteBrief(text=text, voice_duration=duration)
        for note_id, text, duration in rows
        if note_id is not None
    }


def _aliases(session: Session, team_id: int, resident_ids: set[int]) -> dict[int, str]:
    if not resident_ids:
        return {}
    rows = session.exec(
        select(Resident.id, Resident.alias).where(
            col(Resident.team_id) == team_id, col(Resident.id).in_(sorted(resident_ids))
        )
    ).all()
    return {resident_id: alias for resident_id, alias in rows if resident_id is not None}


# ------------------------------------------------------------------ the lead's changes


def add_point(
    *, session: Session, team_id: int, occurrence_id: int, text: str, member_id: int | None
) -> AgendaPoint:
    """Adds the lead's own point to one meeting's agenda. Refuses a CPR number
    (``CprNumberRefused``), empty text (``ValueError``) and long text (``PointTooLong``)."""
    if occurrence_of_team(session=session, team_id=team_id, occurrence_id=occurrence_id) is None:
        raise AgendaProblem(f"no meeting {occurrence_id} in team {team_id}")
    text = refuse_cpr(" ".join(text.split()))
    if not text:
        raise ValueError("a point needs some text")
    if len(text) > AGENDA_POINT_MAX_LENGTH:
        raise PointTooLong(f"a point has at most {AGENDA_POINT_MAX_LENGTH} characters")
    point = AgendaPoint(
        occurrence_id=occurrence_id, team_id=team_id, text=text, created_by_member_id=member_id
    )
    session.add(point)
    session.flush()
    logger.info("Agenda point %s added to meeting %s", point.id, occurrence_id)
    return point


def remove_entry(
    *, session: Session, team_id: int, occurrence_id: int, kind: str, ref_id: int
) -> bool:
    """Removes an entry from one meeting's agenda: the lead's point is deleted, any other
    entry is excluded from this meeting only (the note itself stays). False when there
    was nothing to remove."""
    if occurrence_of_team(session=session, team_id=team_id, occurrence_id=occurrence_id) is None:
        raise AgendaProblem(f"no meeting {occurrence_id} in team {team_id}")
    if kind == KIND_POINT:
        point = session.exec(
            select(AgendaPoint).where(
                col(AgendaPoint.id) == ref_id,
                col(AgendaPoint.occurrence_id) == occurrence_id,
                col(AgendaPoint.team_id) == team_id,
            )
        ).first()
        if point is None:
            return False
        session.delete(point)
        session.flush()
        return True
    exists = session.exec(
        select(AgendaExclusion.id).where(
            col(AgendaExclusion.occurrence_id) == occurrence_id,
            col(AgendaExclusion.kind) == kind,
            col(AgendaExclusion.ref_id) == ref_id,
        )
    ).first()
    if exists is not None:
        return False
    session.add(AgendaExclusion(occurrence_id=occurrence_id, kind=kind, ref_id=ref_id))
    session.flush()
    logger.info("Agenda entry %s %s removed from meeting %s", kind, ref_id, occurrence_id)
    return True


# ------------------------------------------------------------------ fan-out to the team


def _key_start(occurrence: MeetingOccurrence) -> str:
    return (
        f"{key_prefix(require_id(occurrence))}{occurrence.starts_at.astimezone(UTC):%Y%m%dT%H%MZ}:"
    )


def agenda_key(occurrence: MeetingOccurrence, member_id: int) -> str:
    """The prompt key of one member's copy of the agenda."""
    return f"{_key_start(occurrence)}agenda:member:{member_id}"


def decisions_key(occurrence: MeetingOccurrence, member_id: int) -> str:
    """The prompt key of one member's copy of the decisions."""
    return f"{_key_start(occurrence)}decisions:member:{member_id}"


@dataclass(frozen=True)
class FanOut:
    """How many members a fan-out reached: new prompts now, and all of them."""

    scheduled: int
    total: int


def send_agenda(*, session: Session, team_id: int, occurrence_id: int, now: datetime) -> FanOut:
    """Schedules the agenda for every active member, due now and useful until the
    meeting starts; a second call schedules nothing new (idempotent keys)."""
    occurrence = _team_occurrence(session, team_id, occurrence_id)
    if occurrence.status == OccurrenceStatus.CANCELLED:
        raise AgendaProblem(f"meeting {occurrence_id} is cancelled")
    if occurrence.starts_at <= now:
        raise AgendaProblem(f"meeting {occurrence_id} has started")
    return _fan_out(
        session,
        team_id,
        occurrence,
        kind=KIND_AGENDA,
        key=agenda_key,
        now=now,
        expires_at=occurrence.starts_at,
    )


def _fan_out(
    session: Session,
    team_id: int,
    occurrence: MeetingOccurrence,
    *,
    kind: str,
    key: Callable[[MeetingOccurrence, int], str],
    now: datetime,
    expires_at: datetime | None,
) -> FanOut:
    members = directory.team_members(session=session, team_id=team_id)
    scheduled = 0
    for row in members:
        member_id = require_id(row.member)
        dedupe_key = key(occurrence, member_id)
        if prompts.get_by_key(session=session, dedupe_key=dedupe_key) is not None:
            continue
        prompts.schedule(
            session=session,
            kind=kind,
            team_id=team_id,
            member_id=member_id,
            dedupe_key=dedupe_key,
            due_at=now,
            expires_at=expires_at,
            payload={"occurrence_id": require_id(occurrence)},
        )
        scheduled += 1
    logger.info(
        "Meeting %s: %s prompts %s scheduled for %s members",
        occurrence.id,
        scheduled,
        kind,
        len(members),
    )
    return FanOut(scheduled=scheduled, total=len(members))


def _team_occurrence(session: Session, team_id: int, occurrence_id: int) -> MeetingOccurrence:
    found = occurrence_of_team(session=session, team_id=team_id, occurrence_id=occurrence_id)
    if found is None:
        raise AgendaProblem(f"no meeting {occurrence_id} in team {team_id}")
    return found[0]


# ------------------------------------------------------------------ minutes


def get_minutes(*, session: Session, occurrence_id: int) -> MeetingMinutes | None:
    """The minutes recorded for one meeting, if any."""
    return session.exec(
        select(MeetingMinutes).where(col(MeetingMinutes.occurrence_id) == occurrence_id)
    ).first()


def record_minutes(
    *,
    session: Session,
    team_id: int,
    occurrence_id: int,
    member_id: int | None,
    discussed: Sequence[tuple[str, int]],
    decision: str | None,
    now: datetime,
) -> tuple[MeetingMinutes, FanOut]:
    """Stores the minutes (once per meeting: a second call returns the first) and
    schedules the decisions for every active member, due now, without expiry."""
    occurrence = _team_occurrence(session, team_id, occurrence_id)
    minutes = get_minutes(session=session, occurrence_id=occurrence_id)
    if minutes is None:
        decision = refuse_cpr(decision.strip()) if decision else None
        if decision and len(decision) > NOTE_MAX_LENGTH:
            raise DecisionTooLong(f"a decision note has at most {NOTE_MAX_LENGTH} characters")
        minutes = MeetingMinutes(
            occurrence_id=occurrence_id,
            team_id=team_id,
            recorded_by_member_id=member_id,
            discussed=[[kind, int(ref_id)] for kind, ref_id in discussed],
            decision=decision or None,
            created_at=now,
        )
        session.add(minutes)
        session.flush()
        logger.info("Minutes %s recorded for meeting %s", minutes.id, occurrence_id)
    fan_out = _fan_out(
        session,
        team_id,
        occurrence,
        kind=KIND_DECISIONS,
        key=decisions_key,
        now=now,
        expires_at=None,
    )
    return minutes, fan_out


def discussed_of(minutes: MeetingMinutes) -> list[tuple[str, int]]:
    """The minutes' discussed entries as (kind, ref_id) pairs."""
    pairs: list[Any] = list(minutes.discussed or [])
    return [(str(kind), int(ref_id)) for kind, ref_id in pairs]
