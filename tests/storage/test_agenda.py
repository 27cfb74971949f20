"""A meeting's agenda: for-team notes of the period since the team's previous meeting,
counts per resident and marker, the lead's points and removals, the fan-out of the
agenda and of the decisions, and the minutes.

Every test runs on SQLite and on PostgreSQL; times are passed, never waited for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from storage import agenda, crypto, meetings, prompts
from storage.agenda import AgendaEntry, AgendaProblem
from storage.cpr import CprNumberRefused
from storage.db import require_id as id_of
from storage.models import (
    AGENDA_POINT_MAX_LENGTH,
    MeetingOccurrence,
    Note,
    Prompt,
    Repetition,
    Resident,
    Role,
    Team,
)
from storage.notes import add_note
from tests.factories import make_member, make_resident, make_team

TZ = ZoneInfo("Europe/Copenhagen")
# Weekly on Tuesdays at 14:00 local (13:00 UTC in November): 10, 17 and 24 November 2026.
FIRST = date(2026, 11, 10)
CREATED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass
class Crew:
    team: Team
    lead_id: int
    staff_id: int
    left_id: int
    resident: Resident
    other: Resident
    occurrences: list[MeetingOccurrence]


def _crew(session: Session) -> Crew:
    """A team with a lead, a staff member, one who left, two residents and a weekly meeting."""
    team = make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    staff = make_member(session=session, team=team)
    left = make_member(session=session, team=team, active_membership=False)
    resident = make_resident(session=session, team=team, alias="Fru H., stue 12")
    other = make_resident(session=session, team=team, alias="Hr. B.")
    series = meetings.create_series(
        session=session,
        team_id=id_of(team),
        created_by_member_id=id_of(lead.member),
        first_date=FIRST,
        start_time=time(14, 0),
        duration_minutes=60,
        place="Mødelokalet",
        repetition=Repetition.WEEKLY,
    )
    occurrences = meetings.generate(
        session=session, series=series, tz=TZ, now=CREATED, horizon=timedelta(days=24)
    )
    session.commit()
    assert [o.starts_at for o in occurrences] == [
        datetime(2026, 11, day, 13, 0, tzinfo=UTC) for day in (10, 17, 24)
    ]
    return Crew(
        team,
        id_of(lead.member),
        id_of(staff.member),
        id_of(left.member),
        resident,
        other,
        occurrences,
    )


def _note(
    session: Session,
    crew: Crew,
    at: datetime,
    *,
    for_team: bool = True,
    resident: Resident | None = None,
    markers: tuple[str, ...] = (),
    team: Team | None = None,
) -> Note:
    return add_note(
        session=session,
        team=team or crew.team,
        resident=resident or crew.resident,
        author_member_id=crew.staff_id,
        tz=TZ,
        text="Hun smilede, da vi sang.",
        markers=markers,
        for_team=for_team,
        now=at,
    )


def _build(session: Session, crew: Crew, index: int) -> agenda.Agenda:
    return agenda.build_agenda(
        session=session,
        team_id=id_of(crew.team),
        occurrence_id=id_of(crew.occurrences[index]),
    )


def _utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def test_the_agenda_holds_for_team_notes_of_the_period_and_of_this_team_only(
    session: Session,
) -> None:
    crew = _crew(session)
    inside = _note(session, crew, _utc(12, 9))
    also_inside = _note(session, crew, _utc(17, 12, 59), resident=crew.other)
    _note(session, crew, _utc(13, 9), for_team=False)
    _note(session, crew, _utc(10, 12, 59))  # before the previous meeting started
    _note(session, crew, _utc(17, 13, 0))  # at this meeting's start: the next agenda's
    stranger_team = make_team(session=session)
    stranger_resident = make_resident(session=session, team=stranger_team)
    _note(session, crew, _utc(14, 9), team=stranger_team, resident=stranger_resident)
    session.commit()

    built = _build(session, crew, 1)

    assert built.since == _utc(10, 13) and built.until == _utc(17, 13)
    assert built.entries == [
        AgendaEntry("note", id_of(inside), id_of(crew.resident), _utc(12, 9)),
        AgendaEntry("note", id_of(also_inside), id_of(crew.other), _utc(17, 12, 59)),
    ]
    assert built.aliases[id_of(crew.resident)] == "Fru H., stue 12"
    assert built.notes[id_of(inside)].text == "Hun smilede, da vi sang."
    assert built.place == "Mødelokalet"
    assert built.starts_at == _utc(17, 13)


def test_without_a_previous_meeting_the_agenda_looks_back_30_days(session: Session) -> None:
    crew = _crew(session)
    recent = _note(session, crew, _utc(1, 9))
    _note(session, crew, datetime(2026, 10, 10, 12, 0, tzinfo=UTC))  # 31 days before
    session.commit()

    built = _build(session, crew, 0)

    assert built.since == _utc(10, 13) - timedelta(days=30)
    assert [entry.ref_id for entry in built.entries] == [id_of(recent)]


def test_a_cancelled_previous_meeting_does_not_bound_the_period(session: Session) -> None:
    crew = _crew(session)
    meetings.cancel_occurrence(session=session, occurrence_id=id_of(crew.occurrences[1]))
    before_cancelled = _note(session, crew, _utc(15, 9))
    session.commit()

    built = _build(session, crew, 2)

    assert built.since == _utc(10, 13)
    assert [entry.ref_id for entry in built.entries] == [id_of(before_cancelled)]


def test_notes_are_counted_per_resident_and_marker_in_the_period(session: Session) -> None:
    crew = _crew(session)
    _note(session, crew, _utc(11, 9), markers=("tryghed", "naervaer"), for_team=False)
    _note(session, crew, _utc(12, 9), markers=("tryghed",))
    _note(session, crew, _utc(12, 10))
    _note(session, crew, _utc(13, 9), resident=crew.other, markers=("respekt",))
    _note(session, crew, _utc(9, 9), markers=("respekt",))  # before the period
    session.commit()

    built = _build(session, crew, 1)

    resident, other = id_of(crew.resident), id_of(crew.other)
    assert built.counts == sorted(
        [(resident, "naervaer", 1), (resident, "tryghed", 2), (other, "respekt", 1)]
    )
    assert built.totals == {resident: 3, other: 1}
    assert set(built.aliases) == {resident, other}


def test_the_lead_adds_and_removes_points(session: Session) -> None:
    crew = _crew(session)
    occurrence_id = id_of(crew.occurrences[1])
    team_id = id_of(crew.team)
    point = agenda.add_point(
        session=session,
        team_id=team_id,
        occurrence_id=occurrence_id,
        text="  Ny   vagtplan  ",
        member_id=crew.lead_id,
    )
    session.commit()

    built = _build(session, crew, 1)
    assert built.points == {id_of(point): "Ny vagtplan"}
    assert [(e.kind, e.ref_id) for e in built.entries] == [("point", id_of(point))]
    assert _build(session, crew, 2).points == {}  # a point belongs to one meeting

    assert agenda.remove_entry(
        session=session,
        team_id=team_id,
        occurrence_id=occurrence_id,
        kind="point",
        ref_id=id_of(point),
    )
    session.commit()
    assert _build(session, crew, 1).entries == []
    assert not agenda.remove_entry(
        session=session,
        team_id=team_id,
        occurrence_id=occurrence_id,
        kind="point",
        ref_id=id_of(point),
    )


def test_a_point_with_a_cpr_number_too_long_or_empty_is_refused(session: Session) -> None:
    crew = _crew(session)
    arguments = {
        "session": session,
        "team_id": id_of(crew.team),
        "occurrence_id": id_of(crew.occurrences[0]),
        "member_id": crew.lead_id,
    }
    with pytest.raises(CprNumberRefused):
        agenda.add_point(text="Om 010190-1234", **arguments)  # type: ignore[arg-type]
    with pytest.raises(agenda.PointTooLong):
        agenda.add_point(text="x" * (AGENDA_POINT_MAX_LENGTH + 1), **arguments)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        agenda.add_point(text="   ", **arguments)  # type: ignore[arg-type]
    session.commit()
    assert _build(session, crew, 0).points == {}


def test_another_teams_meeting_is_refused(session: Session) -> None:
    crew = _crew(session)
    stranger = make_team(session=session)
    session.commit()
    occurrence_id = id_of(crew.occurrences[0])

    with pytest.raises(AgendaProblem):
        agenda.build_agenda(session=session, team_id=id_of(stranger), occurrence_id=occurrence_id)
    with pytest.raises(AgendaProblem):
        agenda.add_point(
            session=session,
            team_id=id_of(stranger),
            occurrence_id=occurrence_id,
            text="Hej",
            member_id=None,
        )
    with pytest.raises(AgendaProblem):
        agenda.remove_entry(
            session=session,
            team_id=id_of(stranger),
            occurrence_id=occurrence_id,
            kind="note",
            ref_id=1,
        )


def test_a_removed_note_leaves_this_agenda_only_and_is_kept(session: Session) -> None:
    crew = _crew(session)
    note = _note(session, crew, _utc(20, 9))
    kept = _note(session, crew, _utc(20, 10))
    session.commit()

    assert agenda.remove_entry(
        session=session,
        team_id=id_of(crew.team),
        occurrence_id=id_of(crew.occurrences[2]),
        kind="note",
        ref_id=id_of(note),
    )
    session.commit()

    assert [e.ref_id for e in _build(session, crew, 2).entries] == [id_of(kept)]
    assert session.get(Note, id_of(note)) is not None
    assert not agenda.remove_entry(
        session=session,
        team_id=id_of(crew.team),
        occurrence_id=id_of(crew.occurrences[2]),
        kind="note",
        ref_id=id_of(note),
    )


def test_sources_are_asked_in_order_and_a_lazy_source_is_imported_when_used(
    session: Session,
) -> None:
    crew = _crew(session)
    note = _note(session, crew, _utc(12, 9))
    session.commit()
    seen: list[tuple[int, datetime, datetime]] = []

    def cases(s: Session, team_id: int, since: datetime, until: datetime) -> list[AgendaEntry]:
        seen.append((team_id, since, until))
        return [AgendaEntry("case", 7, None, since), AgendaEntry("case", 8, None, since)]

    agenda.remove_entry(
        session=session,
        team_id=id_of(crew.team),
        occurrence_id=id_of(crew.occurrences[1]),
        kind="case",
        ref_id=8,
    )
    built = agenda.build_agenda(
        session=session,
        team_id=id_of(crew.team),
        occurrence_id=id_of(crew.occurrences[1]),
        sources=(agenda.lazy("storage.agenda", "note_entries"), cases),
    )

    assert [(e.kind, e.ref_id) for e in built.entries] == [("note", id_of(note)), ("case", 7)]
    assert seen == [(id_of(crew.team), _utc(10, 13), _utc(17, 13))]
    assert agenda.note_entries in agenda.SOURCES


def _keys(session: Session, kind: str) -> dict[str, Prompt]:
    rows = session.exec(select(Prompt).where(col(Prompt.kind) == kind)).all()
    return {row.dedupe_key: row for row in rows}


def test_sending_the_agenda_schedules_one_prompt_per_active_member_once(
    session: Session,
) -> None:
    crew = _crew(session)
    occurrence = crew.occurrences[1]
    now = _utc(15, 13)

    first = agenda.send_agenda(
        session=session, team_id=id_of(crew.team), occurrence_id=id_of(occurrence), now=now
    )
    second = agenda.send_agenda(
        session=session, team_id=id_of(crew.team), occurrence_id=id_of(occurrence), now=now
    )
    session.commit()

    assert (first.scheduled, first.total) == (2, 2)
    assert (second.scheduled, second.total) == (0, 2)
    stored = _keys(session, agenda.KIND_AGENDA)
    prefix = f"meeting:{id_of(occurrence)}:20261117T1300Z:agenda:member:"
    assert set(stored) == {f"{prefix}{crew.lead_id}", f"{prefix}{crew.staff_id}"}
    for prompt in stored.values():
        assert prompt.due_at == now and prompt.expires_at == occurrence.starts_at
        assert prompt.payload == {"occurrence_id": id_of(occurrence)}

    # Cancelling the meeting cancels them with its other prompts.
    meetings.cancel_occurrence(session=session, occurrence_id=id_of(occurrence))
    session.commit()
    assert _keys(session, agenda.KIND_AGENDA) == {}
    with pytest.raises(AgendaProblem):
        agenda.send_agenda(
            session=session, team_id=id_of(crew.team), occurrence_id=id_of(occurrence), now=now
        )


def test_a_started_meetings_agenda_is_not_sent(session: Session) -> None:
    crew = _crew(session)
    with pytest.raises(AgendaProblem):
        agenda.send_agenda(
            session=session,
            team_id=id_of(crew.team),
            occurrence_id=id_of(crew.occurrences[0]),
            now=_utc(10, 13),
        )


def test_minutes_are_stored_once_and_the_decisions_go_to_every_active_member(
    session: Session,
) -> None:
    crew = _crew(session)
    occurrence = crew.occurrences[0]
    now = _utc(10, 14, 5)

    minutes, fan_out = agenda.record_minutes(
        session=session,
        team_id=id_of(crew.team),
        occurrence_id=id_of(occurrence),
        member_id=crew.lead_id,
        discussed=[("note", 3), ("point", 4)],
        decision="  Vi synger med Fru H. hver formiddag.  ",
        now=now,
    )
    again, second = agenda.record_minutes(
        session=session,
        team_id=id_of(crew.team),
        occurrence_id=id_of(occurrence),
        member_id=crew.lead_id,
        discussed=[],
        decision="Noget andet",
        now=now,
    )
    session.commit()

    assert again.id == minutes.id
    stored = agenda.get_minutes(session=session, occurrence_id=id_of(occurrence))
    assert stored is not None
    assert agenda.discussed_of(stored) == [("note", 3), ("point", 4)]
    assert stored.decision == "Vi synger med Fru H. hver formiddag."
    assert (fan_out.scheduled, fan_out.total, second.scheduled) == (2, 2, 0)
    decisions = _keys(session, agenda.KIND_DECISIONS)
    prefix = f"meeting:{id_of(occurrence)}:20261110T1300Z:decisions:member:"
    assert set(decisions) == {f"{prefix}{crew.lead_id}", f"{prefix}{crew.staff_id}"}
    assert all(p.expires_at is None and p.due_at == now for p in decisions.values())


def test_a_decision_with_a_cpr_number_or_too_long_is_refused(session: Session) -> None:
    crew = _crew(session)
    arguments = {
        "session": session,
        "team_id": id_of(crew.team),
        "occurrence_id": id_of(crew.occurrences[0]),
        "member_id": crew.lead_id,
        "discussed": [],
        "now": _utc(10, 15),
    }
    with pytest.raises(CprNumberRefused):
        agenda.record_minutes(decision="Ring 010190-1234", **arguments)  # type: ignore[arg-type]
    with pytest.raises(agenda.DecisionTooLong):
        agenda.record_minutes(decision="x" * 1001, **arguments)  # type: ignore[arg-type]
    session.rollback()
    assert agenda.get_minutes(session=session, occurrence_id=id_of(crew.occurrences[0])) is None
    assert _keys(session, agenda.KIND_DECISIONS) == {}


def test_the_fan_out_is_under_the_meetings_cancel_prefix(session: Session) -> None:
    crew = _crew(session)
    occurrence = crew.occurrences[2]
    agenda.send_agenda(
        session=session, team_id=id_of(crew.team), occurrence_id=id_of(occurrence), now=CREATED
    )
    session.commit()

    removed = prompts.cancel(session=session, key_prefix=meetings.key_prefix(id_of(occurrence)))

    assert removed >= 2
    assert _keys(session, agenda.KIND_AGENDA) == {}


def test_points_and_decisions_are_encrypted_at_rest(session: Session) -> None:
    crew = _crew(session)
    occurrence_id = id_of(crew.occurrences[0])
    agenda.add_point(
        session=session,
        team_id=id_of(crew.team),
        occurrence_id=occurrence_id,
        text="Fru H. og sangen",
        member_id=crew.lead_id,
    )
    agenda.record_minutes(
        session=session,
        team_id=id_of(crew.team),
        occurrence_id=occurrence_id,
        member_id=crew.lead_id,
        discussed=[],
        decision="Vi synger med Fru H.",
        now=_utc(10, 15),
    )
    session.commit()

    raw = [
        *session.execute(text("SELECT text FROM agenda_point")).scalars(),
        *session.execute(text("SELECT decision FROM meeting_minutes")).scalars(),
    ]
    assert len(raw) == 2 and not any("Fru H." in value for value in raw)
    assert all(crypto.is_encrypted(value) for value in raw)
    assert _build(session, crew, 0).points.popitem()[1] == "Fru H. og sangen"
