"""Micro-moments: storing, editing and reading a team's notes about its residents.

Every read takes the team id, so one team's notes are never returned to another.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, bindparam, delete, func
from sqlmodel import Session, col, select

from storage.cpr import refuse_cpr
from storage.db import require_id, utcnow
from storage.models import (
    NOTE_MAX_LENGTH,
    Expression,
    Marker,
    Note,
    NoteMarker,
    Resident,
    Shift,
    Team,
)

MAX_MARKERS = 3
EDIT_WINDOW = timedelta(hours=24)


class NoteTooLong(ValueError):
    """Raised when a note's text is longer than ``NOTE_MAX_LENGTH``."""


class NoteLocked(PermissionError):
    """Raised when a note can no longer be changed by this member."""


def shift_at(team: Team, moment: datetime, tz: ZoneInfo) -> Shift:
    """Returns the team's shift at a moment, by local wall-clock time."""
    local = moment.astimezone(tz)
    minute = local.hour * 60 + local.minute
    if team.day_starts_at <= minute < team.evening_starts_at:
        return Shift.DAY
    if team.evening_starts_at <= minute < team.night_starts_at:
        return Shift.EVENING
    return Shift.NIGHT


def set_shift_pattern(*, session: Session, team: Team, day: int, evening: int, night: int) -> None:
    """Sets the team's shift starts (minutes after midnight, day < evening < night)."""
    if not 0 <= day < evening < night < 24 * 60:
        raise ValueError("shift starts must be increasing within one day")
    team.day_starts_at, team.evening_starts_at, team.night_starts_at = day, evening, night
    session.add(team)


def set_chat_hygiene(*, session: Session, team: Team, enabled: bool) -> None:
    """Turns deleting messages after a saved note on or off for the team."""
    team.chat_hygiene = enabled
    session.add(team)


def clean_text(text: str) -> str:
    """Trims a note's text; refuses CPR numbers and texts over ``NOTE_MAX_LENGTH``."""
    text = refuse_cpr(text).strip()
    if not text:
        raise ValueError("a note's text cannot be empty")
    if len(text) > NOTE_MAX_LENGTH:
        raise NoteTooLong(len(text))
    return text


def add_note(
    *,
    session: Session,
    team: Team,
    resident: Resident,
    author_member_id: int,
    tz: ZoneInfo,
    text: str | None = None,
    voice_file_id: str | None = None,
    voice_duration: int | None = None,
    markers: Sequence[str] = (),
    expression: Expression = Expression.VERBAL,
    for_team: bool = False,
    now: datetime | None = None,
) -> Note:
    """Stores a micro-moment (text or voice) with its shift and markers."""
    if resident.team_id != team.id or not resident.active:
        raise LookupError("resident is not an active resident of the team")
    if (text is None) == (voice_file_id is None):
        raise ValueError("a note is either text or a voice message")
    chosen = _markers(markers)
    now = now or utcnow()
    note = Note(
        team_id=require_id(team),
        resident_id=require_id(resident),
        author_member_id=author_member_id,
        created_at=now,
        shift=shift_at(team, now, tz),
        expression=expression,
        text=clean_text(text) if text is not None else None,
        voice_file_id=voice_file_id,
        voice_duration=voice_duration,
        for_team=for_team,
    )
    session.add(note)
    session.flush()
    _write_markers(session, note, chosen, replace=False)
    return note


def _markers(markers: Sequence[str]) -> list[Marker]:
    chosen = list(dict.fromkeys(Marker(marker) for marker in markers))
    if len(chosen) > MAX_MARKERS:
        raise ValueError(f"at most {MAX_MARKERS} markers")
    return chosen


def _write_markers(
    session: Session, note: Note, markers: Sequence[Marker], *, replace: bool = True
) -> None:
    """Stores the note's markers; ``replace`` first removes those it had (an edit)."""
    if replace:
        session.execute(delete(NoteMarker).where(col(NoteMarker.note_id) == note.id))
    for marker in markers:
        session.add(
            NoteMarker(
                note_id=require_id(note),
                marker=marker,
                team_id=note.team_id,
                resident_id=note.resident_id,
            )
        )
    session.flush()


def get_team_note(*, session: Session, team_id: int, note_id: int) -> Note | None:
    """Returns the note only if it belongs to the team."""
    note = session.get(Note, note_id)
    if note is None or note.team_id != team_id:
        return None
    return note


def markers_of(*, session: Session, note_ids: Sequence[int]) -> dict[int, list[str]]:
    """Returns each note's markers, in the order of the ``Marker`` enum."""
    if not note_ids:
        return {}
    order = {marker.value: index for index, marker in enumerate(Marker)}
    found: dict[int, list[str]] = {note_id: [] for note_id in note_ids}
    rows = session.exec(
        select(NoteMarker.note_id, NoteMarker.marker).where(col(NoteMarker.note_id).in_(note_ids))
    ).all()
    for note_id, marker in rows:
        found[note_id].append(marker)
    for markers in found.values():
        markers.sort(key=lambda marker: order.get(marker, len(order)))
    return found


def can_edit(note: Note, *, member_id: int, now: datetime | None = None) -> bool:
    """True while the author may still change the note (24 hours after writing it)."""
    return note.author_member_id == member_id and (now or utcnow()) - note.created_at < EDIT_WINDOW


def edit_note(
    *,
    session: Session,
    note: Note,
    member_id: int,
    text: str | None = None,
    markers: Sequence[str] | None = None,
    now: datetime | None = None,
) -> Note:
    """Changes the text and/or markers of the member's own note within 24 hours."""
    now = now or utcnow()
    if not can_edit(note, member_id=member_id, now=now):
        raise NoteLocked(note.id)
    # Check everything before changing anything, so a refused edit leaves the note as it was.
    chosen = _markers(markers) if markers is not None else None
    if text is not None:
        if note.text is None:
            raise ValueError("a voice note has no text to edit")
        note.text = clean_text(text)
    if chosen is not None:
        _write_markers(session, note, chosen)
    note.edited_at = now
    session.add(note)
    session.flush()
    return note


def delete_note(
    *,
    session: Session,
    note: Note,
    member_id: int,
    is_lead: bool,
    now: datetime | None = None,
) -> None:
    """Deletes a note: its author within 24 hours, or a lead of the team at any time."""
    if not is_lead and not can_edit(note, member_id=member_id, now=now):
        raise NoteLocked(note.id)
    session.execute(delete(NoteMarker).where(col(NoteMarker.note_id) == note.id))
    session.delete(note)
    session.flush()


def recent_notes(
    *,
    session: Session,
    team_id: int,
    resident_id: int | None = None,
    offset: int = 0,
    limit: int = 5,
) -> list[Note]:
    """Returns the team's notes newest first (of one resident, if given), one page."""
    query = select(Note).where(Note.team_id == team_id)
    if resident_id is not None:
        query = query.where(Note.resident_id == resident_id)
    query = query.order_by(col(Note.created_at).desc(), col(Note.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)))


def count_notes(*, session: Session, team_id: int, resident_id: int | None = None) -> int:
    """Counts the team's notes (of one resident, if given)."""
    query = select(func.count()).select_from(Note).where(Note.team_id == team_id)
    if resident_id is not None:
        query = query.where(Note.resident_id == resident_id)
    return session.exec(query).one()


# Built once: every note starts with this query.
_LATEST = func.max(Note.created_at)
_RECENTLY_NOTED = (
    select(Note.resident_id, _LATEST)
    .where(
        Note.team_id == bindparam("team_id"),
        Note.author_member_id == bindparam("author_member_id"),
    )
    .group_by(col(Note.resident_id))
    .order_by(_LATEST.desc())
    .limit(bindparam("limit", type_=Integer))
)


def recently_noted_resident_ids(
    *, session: Session, team_id: int, author_member_id: int, limit: int = 5
) -> list[int]:
    """Returns the residents this member noted most recently, newest first."""
    rows = session.exec(
        _RECENTLY_NOTED,
        params={"team_id": team_id, "author_member_id": author_member_id, "limit": limit},
    ).all()
    return [resident_id for resident_id, _latest in rows]


@dataclass(frozen=True)
class ResidentCard:
    """What matters to one resident: marker counts and the latest notes per marker."""

    resident: Resident
    total: int
    counts: list[tuple[str, int]]
    latest: dict[str, list[Note]]
    unmarked: list[Note]


def marker_counts(*, session: Session, team_id: int, resident_id: int) -> list[tuple[str, int]]:
    """How often each quality-compass marker was noted about a resident, most often first
    (labels and counts only: no note is read)."""
    counts = Counter(
        dict(
            session.exec(
                select(NoteMarker.marker, func.count())
                .where(NoteMarker.team_id == team_id, NoteMarker.resident_id == resident_id)
                .group_by(col(NoteMarker.marker))
            ).all()
        )
    )
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def resident_card(
    *, session: Session, team_id: int, resident: Resident, per_marker: int = 2, scan: int = 60
) -> ResidentCard:
    """Builds the resident card: markers by how often they were noted, with examples."""
    if resident.team_id != team_id:
        raise LookupError("resident belongs to another team")
    counts = marker_counts(session=session, team_id=team_id, resident_id=require_id(resident))
    notes = recent_notes(session=session, team_id=team_id, resident_id=resident.id, limit=scan)
    markers = markers_of(session=session, note_ids=[require_id(note) for note in notes])
    latest: dict[str, list[Note]] = {}
    unmarked: list[Note] = []
    for note in notes:
        note_markers = markers.get(require_id(note), [])
        if not note_markers and len(unmarked) < per_marker:
            unmarked.append(note)
        for marker in note_markers:
            bucket = latest.setdefault(marker, [])
            if len(bucket) < per_marker:
                bucket.append(note)
    return ResidentCard(
        resident=resident,
        total=count_notes(session=session, team_id=team_id, resident_id=resident.id),
        counts=counts,
        latest=latest,
        unmarked=unmarked,
    )
