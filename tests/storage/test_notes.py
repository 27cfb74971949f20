"""Micro-moments: shift by local wall-clock time, storing, editing, deleting and reading notes.

Every test runs on SQLite and on PostgreSQL; time is passed as ``now=``, never waited for.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.cpr import CprNumberRefused
from storage.models import NOTE_MAX_LENGTH, Expression, Note, NoteMarker, Resident, Role, Shift
from storage.models import Team as TeamRow
from storage.notes import (
    NoteLocked,
    NoteTooLong,
    add_note,
    count_notes,
    delete_note,
    edit_note,
    get_team_note,
    markers_of,
    recent_notes,
    recently_noted_resident_ids,
    resident_card,
    set_shift_pattern,
)
from tests.factories import id_of, make_member, make_membership, make_resident, make_team

CPH = ZoneInfo("Europe/Copenhagen")
# A Monday in May: 10:00 summer time in Copenhagen, a day shift.
MONDAY = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
VOICE_ID = "AwACAgQAAxkBAAIBZ2Zm-voice"


def note_id(note: Note) -> int:
    """Returns the id of a stored note."""
    assert note.id is not None, "add the note first"
    return note.id


def write(
    session: Session,
    *,
    team: TeamRow,
    resident: Resident,
    author_id: int,
    at: datetime = MONDAY,
    text: str = "Hun smilede, da vi sang morgensangen.",
    markers: Sequence[str] = (),
) -> Note:
    """Adds a text note at ``at`` with the given markers."""
    return add_note(
        session=session,
        team=team,
        resident=resident,
        author_member_id=author_id,
        tz=CPH,
        text=text,
        markers=markers,
        now=at,
    )


def stored_notes(session: Session) -> list[Note]:
    """Returns every note in the database, whichever team it belongs to."""
    return list(session.exec(select(Note)))


def stored_markers(session: Session, note_id: int) -> list[str]:
    """Returns the marker rows of one note, whichever order they were written in."""
    rows = session.exec(select(NoteMarker.marker).where(col(NoteMarker.note_id) == note_id))
    return sorted(rows)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A moment in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- the shift: local wall-clock time against the team's pattern (07, 15, 23) ---

SHIFT_CASES = [
    # An ordinary summer day (CEST, UTC+2).
    pytest.param(utc(2026, 5, 4, 4, 59), Shift.NIGHT, id="summer-06:59-night"),
    pytest.param(utc(2026, 5, 4, 5, 0), Shift.DAY, id="summer-07:00-day"),
    pytest.param(utc(2026, 5, 4, 12, 59), Shift.DAY, id="summer-14:59-day"),
    pytest.param(utc(2026, 5, 4, 13, 0), Shift.EVENING, id="summer-15:00-evening"),
    pytest.param(utc(2026, 5, 4, 20, 59), Shift.EVENING, id="summer-22:59-evening"),
    pytest.param(utc(2026, 5, 4, 21, 0), Shift.NIGHT, id="summer-23:00-night"),
    pytest.param(utc(2026, 5, 4, 22, 30), Shift.NIGHT, id="summer-00:30-night"),
    # An ordinary winter day (CET, UTC+1).
    pytest.param(utc(2026, 1, 12, 5, 59), Shift.NIGHT, id="winter-06:59-night"),
    pytest.param(utc(2026, 1, 12, 6, 0), Shift.DAY, id="winter-07:00-day"),
    pytest.param(utc(2026, 1, 12, 13, 59), Shift.DAY, id="winter-14:59-day"),
    pytest.param(utc(2026, 1, 12, 14, 0), Shift.EVENING, id="winter-15:00-evening"),
    pytest.param(utc(2026, 1, 12, 21, 59), Shift.EVENING, id="winter-22:59-evening"),
    pytest.param(utc(2026, 1, 12, 22, 0), Shift.NIGHT, id="winter-23:00-night"),
    # 28 March, the day before summer time: still CET.
    pytest.param(utc(2026, 3, 28, 5, 59), Shift.NIGHT, id="mar28-06:59-CET-night"),
    pytest.param(utc(2026, 3, 28, 6, 0), Shift.DAY, id="mar28-07:00-CET-day"),
    # 29 March: clocks go from 02:00 CET to 03:00 CEST; the morning is already summer time.
    pytest.param(utc(2026, 3, 29, 0, 30), Shift.NIGHT, id="mar29-01:30-CET-night"),
    pytest.param(utc(2026, 3, 29, 1, 30), Shift.NIGHT, id="mar29-03:30-CEST-night"),
    pytest.param(utc(2026, 3, 29, 4, 59), Shift.NIGHT, id="mar29-06:59-CEST-night"),
    pytest.param(utc(2026, 3, 29, 5, 0), Shift.DAY, id="mar29-07:00-CEST-day"),
    pytest.param(utc(2026, 3, 29, 5, 30), Shift.DAY, id="mar29-07:30-CEST-day"),
    pytest.param(utc(2026, 3, 29, 12, 59), Shift.DAY, id="mar29-14:59-CEST-day"),
    pytest.param(utc(2026, 3, 29, 13, 0), Shift.EVENING, id="mar29-15:00-CEST-evening"),
    pytest.param(utc(2026, 3, 29, 20, 59), Shift.EVENING, id="mar29-22:59-CEST-evening"),
    pytest.param(utc(2026, 3, 29, 21, 0), Shift.NIGHT, id="mar29-23:00-CEST-night"),
    # 24 October, the day before winter time: still CEST.
    pytest.param(utc(2026, 10, 24, 4, 59), Shift.NIGHT, id="oct24-06:59-CEST-night"),
    pytest.param(utc(2026, 10, 24, 5, 0), Shift.DAY, id="oct24-07:00-CEST-day"),
    # 25 October: clocks go from 03:00 CEST back to 02:00 CET; the morning is winter time.
    pytest.param(utc(2026, 10, 25, 0, 30), Shift.NIGHT, id="oct25-02:30-CEST-night"),
    pytest.param(utc(2026, 10, 25, 1, 30), Shift.NIGHT, id="oct25-02:30-CET-night"),
    pytest.param(utc(2026, 10, 25, 5, 30), Shift.NIGHT, id="oct25-06:30-CET-night"),
    pytest.param(utc(2026, 10, 25, 5, 59), Shift.NIGHT, id="oct25-06:59-CET-night"),
    pytest.param(utc(2026, 10, 25, 6, 0), Shift.DAY, id="oct25-07:00-CET-day"),
    pytest.param(utc(2026, 10, 25, 6, 30), Shift.DAY, id="oct25-07:30-CET-day"),
    pytest.param(utc(2026, 10, 25, 13, 30), Shift.DAY, id="oct25-14:30-CET-day"),
    pytest.param(utc(2026, 10, 25, 13, 59), Shift.DAY, id="oct25-14:59-CET-day"),
    pytest.param(utc(2026, 10, 25, 14, 0), Shift.EVENING, id="oct25-15:00-CET-evening"),
    pytest.param(utc(2026, 10, 25, 21, 30), Shift.EVENING, id="oct25-22:30-CET-evening"),
    pytest.param(utc(2026, 10, 25, 21, 59), Shift.EVENING, id="oct25-22:59-CET-evening"),
    pytest.param(utc(2026, 10, 25, 22, 0), Shift.NIGHT, id="oct25-23:00-CET-night"),
]


@pytest.mark.parametrize(("moment", "expected"), SHIFT_CASES)
def test_a_note_gets_the_shift_of_the_local_wall_clock(
    session: Session, engine: Engine, moment: datetime, expected: Shift
) -> None:
    team = make_team(session=session)
    author = make_member(session=session, team=team)
    resident = make_resident(session=session, team=team)

    note = write(session, team=team, resident=resident, author_id=id_of(author.member), at=moment)
    session.commit()

    with Session(engine) as fresh:
        stored = fresh.get(Note, note_id(note))
        assert stored is not None
        assert (stored.shift, stored.created_at) == (expected, moment)


def test_a_changed_shift_pattern_decides_the_shift_of_new_notes(
    session: Session, engine: Engine
) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    resident = make_resident(session=session, team=team)
    # 06:30 local time in summer: night by the default pattern.
    early = utc(2026, 6, 1, 4, 30)
    before = write(session, team=team, resident=resident, author_id=author_id, at=early)

    set_shift_pattern(session=session, team=team, day=6 * 60, evening=14 * 60, night=22 * 60)
    session.commit()

    with Session(engine) as fresh:
        reloaded = fresh.get(TeamRow, id_of(team))
        assert reloaded is not None
        same_resident = fresh.get(Resident, id_of(resident))
        assert same_resident is not None
        shifts = [
            write(
                fresh, team=reloaded, resident=same_resident, author_id=author_id, at=moment
            ).shift
            for moment in (
                early,  # 06:30
                utc(2026, 6, 1, 12, 30),  # 14:30
                utc(2026, 6, 1, 20, 30),  # 22:30
            )
        ]
        fresh.commit()
        old = fresh.get(Note, note_id(before))
        assert old is not None
        assert old.shift == Shift.NIGHT  # notes already written keep their shift
    assert shifts == [Shift.DAY, Shift.EVENING, Shift.NIGHT]


@pytest.mark.parametrize(
    ("day", "evening", "night"),
    [
        pytest.param(15 * 60, 7 * 60, 23 * 60, id="day-after-evening"),
        pytest.param(7 * 60, 7 * 60, 23 * 60, id="day-equals-evening"),
        pytest.param(7 * 60, 23 * 60, 15 * 60, id="night-before-evening"),
        pytest.param(-60, 15 * 60, 23 * 60, id="negative"),
        pytest.param(7 * 60, 15 * 60, 24 * 60, id="past-midnight"),
    ],
)
def test_an_invalid_shift_pattern_is_refused_and_the_old_one_kept(
    session: Session, engine: Engine, day: int, evening: int, night: int
) -> None:
    team = make_team(session=session)
    session.commit()

    with pytest.raises(ValueError):
        set_shift_pattern(session=session, team=team, day=day, evening=evening, night=night)
    session.commit()

    with Session(engine) as fresh:
        stored = fresh.get(TeamRow, id_of(team))
        assert stored is not None
        assert (stored.day_starts_at, stored.evening_starts_at, stored.night_starts_at) == (
            7 * 60,
            15 * 60,
            23 * 60,
        )


# --- adding a note ---


def test_a_text_note_is_stored_with_everything_the_team_needs(
    session: Session, engine: Engine
) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    resident = make_resident(session=session, team=team)
    evening = utc(2026, 5, 4, 17, 45)  # 19:45 local

    note = add_note(
        session=session,
        team=team,
        resident=resident,
        author_member_id=author_id,
        tz=CPH,
        text="  Han ville selv vælge skjorte i dag.  ",
        markers=["selvbestemmelse", "respekt", "selvbestemmelse"],
        expression=Expression.NONVERBAL,
        for_team=True,
        now=evening,
    )
    session.commit()

    with Session(engine) as fresh:
        stored = fresh.get(Note, note_id(note))
        assert stored is not None
        assert stored.team_id == team.id
        assert stored.resident_id == resident.id
        assert stored.author_member_id == author_id
        assert stored.created_at == evening
        assert stored.created_at.utcoffset() == timedelta(0)
        assert stored.edited_at is None
        assert stored.shift == Shift.EVENING
        assert stored.expression == Expression.NONVERBAL
        assert stored.text == "Han ville selv vælge skjorte i dag."
        assert (stored.voice_file_id, stored.voice_duration) == (None, None)
        assert stored.for_team is True
        assert stored_markers(fresh, note_id(note)) == ["respekt", "selvbestemmelse"]


def test_a_voice_note_is_stored_by_file_id_and_duration(session: Session, engine: Engine) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    resident = make_resident(session=session, team=team)

    note = add_note(
        session=session,
        team=team,
        resident=resident,
        author_member_id=author_id,
        tz=CPH,
        voice_file_id=VOICE_ID,
        voice_duration=17,
        markers=["tryghed"],
        now=MONDAY,
    )
    session.commit()

    with Session(engine) as fresh:
        stored = fresh.get(Note, note_id(note))
        assert stored is not None
        assert (stored.text, stored.voice_file_id, stored.voice_duration) == (None, VOICE_ID, 17)
        assert (stored.shift, stored.expression, stored.for_team) == (
            Shift.DAY,
            Expression.VERBAL,
            False,
        )
        assert markers_of(session=fresh, note_ids=[note_id(note)]) == {note_id(note): ["tryghed"]}


def test_three_markers_are_allowed_and_four_are_refused(session: Session) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    resident = make_resident(session=session, team=team)

    three = write(
        session,
        team=team,
        resident=resident,
        author_id=author_id,
        markers=["tryghed", "naervaer", "respekt"],
    )
    with pytest.raises(ValueError):
        write(
            session,
            team=team,
            resident=resident,
            author_id=author_id,
            markers=["tryghed", "naervaer", "respekt", "sundhed"],
        )

    assert [note.id for note in stored_notes(session)] == [three.id]
    assert stored_markers(session, note_id(three)) == ["naervaer", "respekt", "tryghed"]


def test_an_unknown_marker_is_refused(session: Session) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    resident = make_resident(session=session, team=team)

    with pytest.raises(ValueError):
        write(session, team=team, resident=resident, author_id=author_id, markers=["glæde"])
    assert stored_notes(session) == []


def test_a_text_of_1000_characters_is_kept_and_longer_is_refused(session: Session) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    resident = make_resident(session=session, team=team)

    longest = write(
        session, team=team, resident=resident, author_id=author_id, text="å" * NOTE_MAX_LENGTH
    )
    with pytest.raises(NoteTooLong):
        write(
            session,
            team=team,
            resident=resident,
            author_id=author_id,
            text="å" * (NOTE_MAX_LENGTH + 1),
        )

    assert [note.text for note in stored_notes(session)] == [longest.text]
    assert longest.text is not None and len(longest.text) == NOTE_MAX_LENGTH


def test_a_text_with_a_cpr_number_is_refused_and_nothing_is_stored(
    session: Session, engine: Engine
) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    resident = make_resident(session=session, team=team)

    with pytest.raises(CprNumberRefused):
        write(
            session,
            team=team,
            resident=resident,
            author_id=author_id,
            text="Fru H. (010190-1234) var glad for besøget.",
            markers=["tryghed"],
        )
    session.commit()

    with Session(engine) as fresh:
        assert stored_notes(fresh) == []
        assert list(fresh.exec(select(NoteMarker))) == []


def test_a_resident_of_another_team_is_refused(session: Session) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    elsewhere = make_resident(session=session, team=make_team(session=session))

    with pytest.raises(LookupError):
        write(session, team=team, resident=elsewhere, author_id=author_id)
    assert stored_notes(session) == []


def test_an_inactive_resident_is_refused(session: Session) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    moved_out = make_resident(session=session, team=team, active=False)

    with pytest.raises(LookupError):
        write(session, team=team, resident=moved_out, author_id=author_id)
    assert stored_notes(session) == []


@pytest.mark.parametrize(
    ("text", "voice_file_id"),
    [pytest.param(None, None, id="neither"), pytest.param("Hun sang med.", VOICE_ID, id="both")],
)
def test_a_note_is_either_text_or_voice(
    session: Session, text: str | None, voice_file_id: str | None
) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    resident = make_resident(session=session, team=team)

    with pytest.raises(ValueError):
        add_note(
            session=session,
            team=team,
            resident=resident,
            author_member_id=author_id,
            tz=CPH,
            text=text,
            voice_file_id=voice_file_id,
            voice_duration=5,
            now=MONDAY,
        )
    assert stored_notes(session) == []


def test_a_note_is_found_only_by_its_own_team(session: Session) -> None:
    team = make_team(session=session)
    other = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    note = write(
        session, team=team, resident=make_resident(session=session, team=team), author_id=author_id
    )

    assert get_team_note(session=session, team_id=id_of(team), note_id=note_id(note)) is note
    assert get_team_note(session=session, team_id=id_of(other), note_id=note_id(note)) is None
    assert get_team_note(session=session, team_id=id_of(team), note_id=note_id(note) + 1) is None


# --- editing and deleting ---


def test_the_author_may_change_text_and_markers_within_24_hours(
    session: Session, engine: Engine
) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    resident = make_resident(session=session, team=team)
    note = write(
        session, team=team, resident=resident, author_id=author_id, markers=["tryghed", "respekt"]
    )
    later = MONDAY + timedelta(hours=23, minutes=59)

    edit_note(
        session=session,
        note=note,
        member_id=author_id,
        text=" Hun sang hele første vers med. ",
        markers=["hverdagsliv"],
        now=later,
    )
    session.commit()

    with Session(engine) as fresh:
        stored = fresh.get(Note, note_id(note))
        assert stored is not None
        assert stored.text == "Hun sang hele første vers med."
        assert (stored.created_at, stored.edited_at) == (MONDAY, later)
        assert stored_markers(fresh, note_id(note)) == ["hverdagsliv"]


def test_after_24_hours_the_note_is_locked_for_its_author(
    session: Session, engine: Engine
) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    resident = make_resident(session=session, team=team)
    note = write(session, team=team, resident=resident, author_id=author_id, text="Første udgave.")
    session.commit()

    with pytest.raises(NoteLocked):
        edit_note(
            session=session,
            note=note,
            member_id=author_id,
            text="Anden udgave.",
            now=MONDAY + timedelta(hours=24),
        )
    session.commit()

    with Session(engine) as fresh:
        stored = fresh.get(Note, note_id(note))
        assert stored is not None
        assert (stored.text, stored.edited_at) == ("Første udgave.", None)


def test_another_member_cannot_edit_the_note(session: Session) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    colleague_id = id_of(make_member(session=session, team=team).member)
    note = write(
        session,
        team=team,
        resident=make_resident(session=session, team=team),
        author_id=author_id,
        markers=["tryghed"],
    )

    with pytest.raises(NoteLocked):
        edit_note(
            session=session,
            note=note,
            member_id=colleague_id,
            markers=["sundhed"],
            now=MONDAY + timedelta(minutes=5),
        )
    assert note.edited_at is None
    assert stored_markers(session, note_id(note)) == ["tryghed"]


def test_a_refused_edit_changes_nothing(session: Session, engine: Engine) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    note = write(
        session,
        team=team,
        resident=make_resident(session=session, team=team),
        author_id=author_id,
        text="Første udgave.",
        markers=["tryghed"],
    )
    session.commit()

    with pytest.raises(ValueError):
        edit_note(
            session=session,
            note=note,
            member_id=author_id,
            text="Anden udgave.",
            markers=["tryghed", "naervaer", "respekt", "sundhed"],
            now=MONDAY + timedelta(minutes=1),
        )
    session.commit()  # whatever the caller does next, the refused edit left no trace

    with Session(engine) as fresh:
        stored = fresh.get(Note, note_id(note))
        assert stored is not None
        assert (stored.text, stored.edited_at) == ("Første udgave.", None)
        assert stored_markers(fresh, note_id(note)) == ["tryghed"]


def test_a_voice_note_has_no_text_to_edit(session: Session) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    note = add_note(
        session=session,
        team=team,
        resident=make_resident(session=session, team=team),
        author_member_id=author_id,
        tz=CPH,
        voice_file_id=VOICE_ID,
        voice_duration=9,
        now=MONDAY,
    )

    with pytest.raises(ValueError):
        edit_note(
            session=session,
            note=note,
            member_id=author_id,
            text="Skrevet bagefter.",
            now=MONDAY + timedelta(minutes=1),
        )
    assert (note.text, note.voice_file_id, note.edited_at) == (None, VOICE_ID, None)


def test_the_author_may_delete_within_24_hours(session: Session, engine: Engine) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    note = write(
        session,
        team=team,
        resident=make_resident(session=session, team=team),
        author_id=author_id,
        markers=["tryghed", "naervaer"],
    )
    session.commit()

    delete_note(
        session=session,
        note=note,
        member_id=author_id,
        is_lead=False,
        now=MONDAY + timedelta(hours=23, minutes=59),
    )
    session.commit()

    with Session(engine) as fresh:
        assert fresh.get(Note, note_id(note)) is None
        assert list(fresh.exec(select(NoteMarker))) == []


def test_after_24_hours_the_author_cannot_delete(session: Session, engine: Engine) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    note = write(
        session,
        team=team,
        resident=make_resident(session=session, team=team),
        author_id=author_id,
        markers=["tryghed"],
    )
    session.commit()

    with pytest.raises(NoteLocked):
        delete_note(
            session=session,
            note=note,
            member_id=author_id,
            is_lead=False,
            now=MONDAY + timedelta(hours=24),
        )
    session.commit()

    with Session(engine) as fresh:
        assert fresh.get(Note, note_id(note)) is not None
        assert stored_markers(fresh, note_id(note)) == ["tryghed"]


def test_another_staff_member_cannot_delete(session: Session) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    colleague_id = id_of(make_member(session=session, team=team).member)
    note = write(
        session,
        team=team,
        resident=make_resident(session=session, team=team),
        author_id=author_id,
    )

    with pytest.raises(NoteLocked):
        delete_note(
            session=session,
            note=note,
            member_id=colleague_id,
            is_lead=False,
            now=MONDAY + timedelta(minutes=1),
        )
    assert [row.id for row in stored_notes(session)] == [note.id]


def test_a_lead_may_delete_any_note_at_any_time(session: Session, engine: Engine) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    lead_id = id_of(make_member(session=session, team=team, role=Role.LEAD).member)
    resident = make_resident(session=session, team=team)
    note = write(session, team=team, resident=resident, author_id=author_id, markers=["respekt"])
    kept = write(session, team=team, resident=resident, author_id=author_id, markers=["tryghed"])
    session.commit()

    delete_note(
        session=session,
        note=note,
        member_id=lead_id,
        is_lead=True,
        now=MONDAY + timedelta(days=90),
    )
    session.commit()

    with Session(engine) as fresh:
        assert [row.id for row in stored_notes(fresh)] == [kept.id]
        assert [(row.note_id, row.marker) for row in fresh.exec(select(NoteMarker))] == [
            (note_id(kept), "tryghed")
        ]


# --- reading ---


def test_recent_notes_are_newest_first_in_pages_and_by_resident(session: Session) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    anna = make_resident(session=session, team=team, alias="Anna")
    bo = make_resident(session=session, team=team, alias="Bo")
    # Written out of order, so the order read back comes from the time, not the id.
    minutes = [3, 0, 6, 1, 5, 2, 4]
    by_minute = {
        minute: write(
            session,
            team=team,
            resident=anna if minute % 2 == 0 else bo,
            author_id=author_id,
            at=MONDAY + timedelta(minutes=minute),
        )
        for minute in minutes
    }
    # Another team's newer notes never show up.
    other = make_team(session=session)
    outsider_id = id_of(make_member(session=session, team=other).member)
    write(
        session,
        team=other,
        resident=make_resident(session=session, team=other),
        author_id=outsider_id,
        at=MONDAY + timedelta(hours=1),
    )
    session.commit()

    def page(offset: int, limit: int, resident: Resident | None = None) -> list[int]:
        notes = recent_notes(
            session=session,
            team_id=id_of(team),
            resident_id=resident.id if resident else None,
            offset=offset,
            limit=limit,
        )
        return [note_id(note) for note in notes]

    def ids(*minutes: int) -> list[int]:
        return [note_id(by_minute[minute]) for minute in minutes]

    assert page(0, 3) == ids(6, 5, 4)
    assert page(3, 3) == ids(3, 2, 1)
    assert page(6, 3) == ids(0)
    assert page(9, 3) == []
    assert page(0, 10, anna) == ids(6, 4, 2, 0)
    assert page(1, 2, bo) == ids(3, 1)
    assert count_notes(session=session, team_id=id_of(team)) == 7
    assert count_notes(session=session, team_id=id_of(team), resident_id=id_of(anna)) == 4
    assert count_notes(session=session, team_id=id_of(other)) == 1


def test_another_teams_resident_yields_no_notes(session: Session) -> None:
    team = make_team(session=session)
    other = make_team(session=session)
    outsider_id = id_of(make_member(session=session, team=other).member)
    their_resident = make_resident(session=session, team=other)
    write(session, team=other, resident=their_resident, author_id=outsider_id)

    assert (
        recent_notes(session=session, team_id=id_of(team), resident_id=id_of(their_resident)) == []
    )
    assert (
        count_notes(session=session, team_id=id_of(team), resident_id=id_of(their_resident)) == 0
    )


def test_the_members_own_recently_noted_residents_come_first(session: Session) -> None:
    team = make_team(session=session)
    me = make_member(session=session, team=team).member
    colleague_id = id_of(make_member(session=session, team=team).member)
    anna, bo, carl, dorte = (
        make_resident(session=session, team=team, alias=alias)
        for alias in ("Anna", "Bo", "Carl", "Dorte")
    )

    def mine(resident: Resident, minutes: int) -> None:
        at = MONDAY + timedelta(minutes=minutes)
        write(session, team=team, resident=resident, author_id=id_of(me), at=at)

    mine(anna, 0)
    mine(bo, 10)
    mine(anna, 20)
    mine(carl, 5)
    # A colleague's note, even the newest, says nothing about what I noted.
    write(
        session,
        team=team,
        resident=dorte,
        author_id=colleague_id,
        at=MONDAY + timedelta(hours=1),
    )
    # My notes in my other team do not count here.
    other = make_team(session=session)
    make_membership(session=session, member=me, team=other)
    write(
        session,
        team=other,
        resident=make_resident(session=session, team=other),
        author_id=id_of(me),
        at=MONDAY + timedelta(hours=2),
    )
    session.commit()

    recent = recently_noted_resident_ids(
        session=session, team_id=id_of(team), author_member_id=id_of(me)
    )
    first_two = recently_noted_resident_ids(
        session=session, team_id=id_of(team), author_member_id=id_of(me), limit=2
    )

    assert recent == [id_of(anna), id_of(bo), id_of(carl)]
    assert first_two == [id_of(anna), id_of(bo)]


def test_the_resident_card_counts_markers_and_shows_the_latest_notes(
    session: Session, engine: Engine
) -> None:
    team = make_team(session=session)
    author_id = id_of(make_member(session=session, team=team).member)
    fru_h = make_resident(session=session, team=team, alias="Fru H.")
    written = [
        write(
            session,
            team=team,
            resident=fru_h,
            author_id=author_id,
            at=MONDAY + timedelta(hours=hour),
            markers=markers,
        )
        for hour, markers in enumerate(
            [
                ["tryghed", "respekt"],  # 0
                ["tryghed"],  # 1
                [],  # 2
                ["hjemlighed", "tryghed"],  # 3
                ["respekt", "sundhed"],  # 4
                [],  # 5
                [],  # 6
            ]
        )
    ]
    # Notes about another resident, and another team's notes, are not on this card.
    write(
        session,
        team=team,
        resident=make_resident(session=session, team=team),
        author_id=author_id,
        at=MONDAY + timedelta(days=1),
        markers=["tryghed", "hjemlighed"],
    )
    other = make_team(session=session)
    write(
        session,
        team=other,
        resident=make_resident(session=session, team=other),
        author_id=id_of(make_member(session=session, team=other).member),
        at=MONDAY + timedelta(days=1),
        markers=["tryghed"],
    )
    session.commit()

    with Session(engine) as fresh:
        card = resident_card(session=fresh, team_id=id_of(team), resident=fru_h, per_marker=2)

    def ids(notes: list[Note]) -> list[int]:
        return [note_id(note) for note in notes]

    def hours(*indexes: int) -> list[int]:
        return [note_id(written[index]) for index in indexes]

    assert card.resident.id == fru_h.id
    assert card.total == 7
    assert card.counts == [("tryghed", 3), ("respekt", 2), ("hjemlighed", 1), ("sundhed", 1)]
    assert {marker: ids(notes) for marker, notes in card.latest.items()} == {
        "tryghed": hours(3, 1),
        "respekt": hours(4, 0),
        "hjemlighed": hours(3),
        "sundhed": hours(4),
    }
    assert ids(card.unmarked) == hours(6, 5)


def test_a_resident_card_without_notes_is_empty(session: Session) -> None:
    team = make_team(session=session)
    resident = make_resident(session=session, team=team)

    card = resident_card(session=session, team_id=id_of(team), resident=resident)

    assert (card.total, card.counts, card.latest, card.unmarked) == (0, [], {}, [])


def test_another_teams_resident_has_no_card_here(session: Session) -> None:
    team = make_team(session=session)
    other = make_team(session=session)
    theirs = make_resident(session=session, team=other)
    write(
        session,
        team=other,
        resident=theirs,
        author_id=id_of(make_member(session=session, team=other).member),
        markers=["tryghed"],
    )

    with pytest.raises(LookupError):
        resident_card(session=session, team_id=id_of(team), resident=theirs)


def test_an_empty_text_is_not_a_note(session: Session) -> None:
    team = make_team(session=session)
    member = make_member(session=session, team=team).member
    resident = make_resident(session=session, team=team)
    with pytest.raises(ValueError):
        add_note(
            session=session,
            team=team,
            resident=resident,
            author_member_id=id_of(member),
            tz=ZoneInfo("Europe/Copenhagen"),
            text="   ",
        )
