"""Cases on SQLite and PostgreSQL: one open case per resident (also in a race), the
listener's answers, moments and summary, invitations once per member, perspectives,
steps derived from the decision, moving back, closing, and the agenda source."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage import agenda, cases, listening
from storage.cases import (
    CaseAlreadyOpen,
    CaseClosed,
    CaseStep,
    NotAllowed,
    ResidentInactive,
    TextTooLong,
    WrongStep,
)
from storage.cpr import CprNumberRefused
from storage.db import require_id, utcnow
from storage.meetings import create_series, generate
from storage.models import (
    CaseCloseReason,
    CaseKind,
    Decision,
    DecisionStatus,
    Note,
    Outcome,
    Prompt,
    Repetition,
    Resident,
    ResidentCase,
    Role,
    Team,
    TrialAction,
)
from storage.notes import add_note, delete_note
from tests.factories import make_member, make_resident, make_team

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
COPENHAGEN_TZ = ZoneInfo("Europe/Copenhagen")


def _team(session: Session) -> tuple[int, int, int, list[int], int]:
    """A team with a lead, a listener and two more staff, and a resident."""
    team = make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    listener = make_member(session=session, team=team)
    others = [make_member(session=session, team=team) for _ in range(2)]
    resident = make_resident(session=session, team=team, alias="Fru H., stue 12")
    return (
        require_id(team),
        require_id(lead.member),
        require_id(listener.member),
        [require_id(o.member) for o in others],
        require_id(resident),
    )


def _start(session: Session, team_id: int, resident_id: int, listener: int) -> ResidentCase:
    return listening.start_case(
        session=session,
        team_id=team_id,
        resident_id=resident_id,
        listener_member_id=listener,
        kind=CaseKind.CONVERSATION,
        now=NOW,
    )


def _decision(session: Session, case: ResidentCase, status: str, **fields: Any) -> Decision:
    decision = Decision(
        team_id=case.team_id,
        resident_id=case.resident_id,
        origin="case",
        origin_id=case.id,
        title="Fru H.",
        status=status,
        **fields,
    )
    session.add(decision)
    session.flush()
    return decision


def test_a_resident_has_one_open_case_and_others_can_have_theirs(session: Session) -> None:
    team_id, lead, listener, _others, resident_id = _team(session)
    other_resident = require_id(
        make_resident(session=session, team=session.get_one(Team, team_id))
    )
    case = _start(session, team_id, resident_id, listener)

    with pytest.raises(CaseAlreadyOpen) as refused:
        _start(session, team_id, resident_id, lead)
    second = _start(session, team_id, other_resident, lead)
    session.commit()

    assert refused.value.case.id == case.id
    assert (case.number, case.step, case.open_resident_id) == (1, CaseStep.LISTEN, resident_id)
    assert second.resident_id == other_resident
    stored = session.exec(select(ResidentCase)).all()
    assert len(stored) == 2


def test_two_members_opening_a_case_at_once_get_one_case(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(engine, expire_on_commit=False) as setup:
        team_id, lead, listener, _others, resident_id = _team(setup)
        setup.commit()
    first = Session(engine, expire_on_commit=False)
    # The first member's case is inserted but not committed yet.
    won = _start(first, team_id, resident_id, listener)
    checked = threading.Event()

    def check_before_the_commit(*, session: Session, resident_id: int) -> None:
        """The second member's check, as it runs before the first commit: no open case."""
        checked.set()

    monkeypatch.setattr(listening, "open_case_of_resident", check_before_the_commit)
    outcome: list[object] = []

    def second_member() -> None:
        with Session(engine, expire_on_commit=False) as second:
            try:
                # The insert waits for the first transaction and then hits the constraint.
                outcome.append(_start(second, team_id, resident_id, lead))
                second.commit()
            except CaseAlreadyOpen as error:
                outcome.append(error)

    racer = threading.Thread(target=second_member)
    racer.start()
    assert checked.wait(timeout=10)
    racer.join(timeout=0.3)  # it waits for the first transaction's lock
    first.commit()
    racer.join(timeout=10)
    first.close()

    assert len(outcome) == 1 and isinstance(outcome[0], CaseAlreadyOpen)
    assert outcome[0].case.id == won.id
    with Session(engine) as check:
        assert len(check.exec(select(ResidentCase)).all()) == 1


def test_an_inactive_resident_gets_no_new_case_but_keeps_the_open_one(session: Session) -> None:
    team_id, lead, listener, _others, resident_id = _team(session)
    case = _start(session, team_id, resident_id, listener)
    resident = session.get_one(Resident, resident_id)
    resident.active = False
    session.add(resident)
    session.flush()

    with pytest.raises(ResidentInactive):
        listening.bring_to_team(session=session, case=case, member_id=listener, summary=None)
    cases.close_case(
        session=session, case=case, member_id=lead, reason=CaseCloseReason.RESIDENT_LEFT
    )
    with pytest.raises(ResidentInactive):
        _start(session, team_id, resident_id, listener)

    assert cases.get_team_case(session=session, team_id=team_id, case_id=require_id(case)) is case
    assert case.close_reason == CaseCloseReason.RESIDENT_LEFT


def test_answers_are_text_or_voice_kept_by_question_and_checked(session: Session) -> None:
    team_id, lead, listener, _others, resident_id = _team(session)
    case = _start(session, team_id, resident_id, listener)

    listening.save_answer(
        session=session,
        case=case,
        member_id=listener,
        question="conversation.day",
        position=1,
        text="  At få kaffe i ro  ",
    )
    listening.save_answer(
        session=session,
        case=case,
        member_id=listener,
        question="conversation.matters",
        position=0,
        voice_file_id="voice-1",
        voice_duration=12,
    )
    # Answering the same question again replaces the answer.
    listening.save_answer(
        session=session,
        case=case,
        member_id=listener,
        question="conversation.day",
        position=1,
        text="Når hun får kaffe i ro.",
    )
    with pytest.raises(NotAllowed):
        listening.save_answer(
            session=session, case=case, member_id=lead, question="x", position=2, text="Nej"
        )
    with pytest.raises(TextTooLong):
        listening.save_answer(
            session=session,
            case=case,
            member_id=listener,
            question="y",
            position=2,
            text="a" * 1001,
        )
    with pytest.raises(CprNumberRefused):
        listening.save_answer(
            session=session,
            case=case,
            member_id=listener,
            question="y",
            position=2,
            text="Hun har CPR 010203-1234",
        )

    answers = cases.answers_of(session=session, case_id=require_id(case))
    assert [(a.question, a.text, a.voice_file_id, a.voice_duration) for a in answers] == [
        ("conversation.matters", None, "voice-1", 12),
        ("conversation.day", "Når hun får kaffe i ro.", None, None),
    ]


def test_only_the_residents_own_moments_can_be_attached(session: Session) -> None:
    team_id, lead, listener, _others, resident_id = _team(session)
    team = session.get_one(Team, team_id)
    resident = session.get_one(Resident, resident_id)
    other = make_resident(session=session, team=team)
    mine = add_note(
        session=session,
        team=team,
        resident=resident,
        author_member_id=listener,
        tz=COPENHAGEN_TZ,
        text="Hun smilede ved kaffen.",
    )
    foreign = add_note(
        session=session,
        team=team,
        resident=other,
        author_member_id=listener,
        tz=COPENHAGEN_TZ,
        text="Han sang.",
    )
    case = _start(session, team_id, resident_id, listener)

    assert listening.set_moment(
        session=session, case=case, note_id=require_id(mine), attached=True
    )
    assert not listening.set_moment(
        session=session, case=case, note_id=require_id(foreign), attached=True
    )
    assert [n.id for n in cases.case_moments(session=session, case_id=require_id(case))] == [
        mine.id
    ]
    assert [
        n.id
        for n in cases.resident_moments(session=session, team_id=team_id, resident_id=resident_id)
    ] == [mine.id]

    # Deleting the note (its author, or a lead) detaches it instead of failing.
    delete_note(session=session, note=mine, member_id=lead, is_lead=True)
    session.commit()
    assert cases.case_moments(session=session, case_id=require_id(case)) == []
    assert session.get(Note, require_id(foreign)) is not None


def test_bringing_it_to_the_team_invites_every_other_member_once(session: Session) -> None:
    team_id, lead, listener, others, resident_id = _team(session)
    series = create_series(
        session=session,
        team_id=team_id,
        created_by_member_id=lead,
        first_date=date(2026, 11, 26),
        start_time=time(14, 0),
        duration_minutes=60,
        repetition=Repetition.NONE,
    )
    generate(session=session, series=series, tz=COPENHAGEN_TZ, now=NOW)
    case = _start(session, team_id, resident_id, listener)
    with pytest.raises(NotAllowed):
        listening.bring_to_team(session=session, case=case, member_id=lead, summary=None)

    invitations = listening.bring_to_team(
        session=session,
        case=case,
        member_id=listener,
        summary=" Kaffe i ro betyder meget. ",
        now=NOW,
    )
    again = listening.invite_perspectives(session=session, case=case, now=NOW + timedelta(hours=1))
    session.commit()

    assert case.step == CaseStep.TEAM and case.in_team_at == NOW
    assert case.summary == "Kaffe i ro betyder meget."
    assert sorted(p.member_id or 0 for p in invitations) == sorted([lead, *others])
    assert [p.id for p in again] == [p.id for p in invitations]
    stored = session.exec(select(Prompt).where(Prompt.kind == cases.KIND_PERSPECTIVE)).all()
    assert len(stored) == 3
    meeting = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)  # 14:00 in Copenhagen
    assert {(p.due_at, p.expires_at, p.payload["case_id"]) for p in stored} == {
        (NOW, meeting, case.id)
    }
    assert {p.dedupe_key for p in stored} == {
        f"case:{case.id}:perspective:member:{member}" for member in [lead, *others]
    }
    with pytest.raises(WrongStep):
        listening.bring_to_team(session=session, case=case, member_id=listener, summary=None)


def test_perspectives_one_per_member_changed_by_their_author(session: Session) -> None:
    team_id, lead, listener, others, resident_id = _team(session)
    case = _start(session, team_id, resident_id, listener)
    listening.bring_to_team(session=session, case=case, member_id=listener, summary=None, now=NOW)
    case_id = require_id(case)
    assert cases.waiting_for_perspectives(session=session, case=case) == sorted([lead, *others])

    listening.save_perspective(
        session=session, case=case, member_id=others[0], text="Hun er træt om morgenen.", now=NOW
    )
    listening.save_perspective(
        session=session,
        case=case,
        member_id=others[1],
        voice_file_id="v-2",
        voice_duration=20,
        now=NOW + timedelta(minutes=1),
    )
    listening.save_perspective(
        session=session,
        case=case,
        member_id=others[0],
        text="Hun er træt før kl. 9.",
        now=NOW + timedelta(minutes=2),
    )
    session.commit()

    shown = cases.perspectives_of(session=session, case_id=case_id)
    assert [(p.member_id, p.text, p.voice_file_id, m.id if m else None) for p, m in shown] == [
        (others[0], "Hun er træt før kl. 9.", None, others[0]),
        (others[1], None, "v-2", others[1]),
    ]
    assert shown[0][0].updated_at == NOW + timedelta(minutes=2)
    assert cases.waiting_for_perspectives(session=session, case=case) == [lead]


def test_steps_three_and_four_come_from_the_latest_decision(session: Session) -> None:
    team_id, lead, listener, _others, resident_id = _team(session)
    case = _start(session, team_id, resident_id, listener)
    listening.bring_to_team(session=session, case=case, member_id=listener, summary=None, now=NOW)
    assert cases.case_step(session=session, case=case) == CaseStep.TEAM

    decision = _decision(session, case, DecisionStatus.VOTING)
    assert cases.case_step(session=session, case=case) == CaseStep.DECIDING
    decision.status = DecisionStatus.TRYING
    session.add(decision)
    session.flush()
    trial = TrialAction(
        decision_id=require_id(decision),
        aim="Rolig morgen",
        measure="Hun smiler",
        action="Kaffe først",
        starts_on=date(2026, 11, 1),
        ends_on=date(2026, 11, 15),
    )
    session.add(trial)
    session.flush()
    assert cases.case_step(session=session, case=case) == CaseStep.TRYING
    [line] = cases.open_cases(session=session, team_id=team_id, today=date(2026, 11, 23), now=NOW)
    assert (line.step, line.trial_ends_on, line.overdue) == (
        CaseStep.TRYING,
        date(2026, 11, 15),
        True,
    )

    decision.status, decision.outcome = DecisionStatus.DONE, Outcome.ADJUST
    session.add(decision)
    session.flush()
    assert cases.case_step(session=session, case=case) == CaseStep.DECIDING
    _decision(session, case, DecisionStatus.PROPOSING, iteration=2)
    assert cases.case_step(session=session, case=case) == CaseStep.DECIDING

    latest = cases.latest_decision(session=session, case_id=require_id(case))
    assert latest is not None and latest.iteration == 2
    latest.status, latest.outcome = DecisionStatus.DONE, Outcome.KEEP
    session.add(latest)
    session.flush()
    # Evaluated: the case closes when next looked at, and the resident can start again.
    assert cases.open_cases(session=session, team_id=team_id, today=date(2026, 11, 23)) == []
    assert case.closed_at is not None and case.close_reason == CaseCloseReason.EVALUATED
    again = _start(session, team_id, resident_id, lead)
    assert again.number == 2


def test_open_cases_say_what_they_wait_for_and_what_is_late(session: Session) -> None:
    team_id, lead, listener, others, resident_id = _team(session)
    team = session.get_one(Team, team_id)
    late_resident = require_id(make_resident(session=session, team=team, alias="Hr. B"))
    listening_case = _start(session, team_id, resident_id, listener)
    stalled = listening.start_case(
        session=session,
        team_id=team_id,
        resident_id=late_resident,
        listener_member_id=lead,
        kind=CaseKind.OBSERVATION,
        now=NOW - timedelta(days=20),
    )
    listening.bring_to_team(
        session=session, case=stalled, member_id=lead, summary=None, now=NOW - timedelta(days=15)
    )
    listening.save_perspective(
        session=session, case=stalled, member_id=others[0], text="Han vil gå selv."
    )

    lines = cases.open_cases(session=session, team_id=team_id, today=date(2026, 11, 23), now=NOW)

    assert [(line.alias, line.step, line.overdue) for line in lines] == [
        ("Hr. B", CaseStep.TEAM, True),
        ("Fru H., stue 12", CaseStep.LISTEN, False),
    ]
    assert lines[0].waiting_for == sorted([listener, others[1]])
    assert lines[1].listener is not None and lines[1].listener.id == listener
    assert listening_case.id == lines[1].case.id


def test_moving_back_and_closing(session: Session) -> None:
    team_id, lead, listener, others, resident_id = _team(session)
    case = _start(session, team_id, resident_id, listener)
    with pytest.raises(WrongStep):
        cases.move_back(session=session, case=case, member_id=lead)
    listening.bring_to_team(
        session=session, case=case, member_id=listener, summary=None, now=utcnow()
    )
    session.commit()

    # 2 -> 1: pending invitations are cancelled, listening can go on.
    assert cases.move_back(session=session, case=case, member_id=lead) == CaseStep.LISTEN
    assert cases.invited_member_ids(session=session, case_id=require_id(case)) == []
    listening.bring_to_team(
        session=session, case=case, member_id=listener, summary="Igen", now=utcnow()
    )
    assert cases.invited_member_ids(session=session, case_id=require_id(case)) == sorted(
        [lead, *others]
    )

    cases.close_case(
        session=session,
        case=case,
        member_id=lead,
        reason=CaseCloseReason.SETTLED,
        note="Vi talte om det på mødet.",
    )
    session.commit()
    assert case.open_resident_id is None and case.close_note == "Vi talte om det på mødet."
    assert cases.invited_member_ids(session=session, case_id=require_id(case)) == []
    assert cases.case_step(session=session, case=case) == CaseStep.EVALUATED
    with pytest.raises(CaseClosed):
        listening.save_perspective(session=session, case=case, member_id=lead, text="For sent")
    with pytest.raises(CaseClosed):
        cases.close_case(session=session, case=case, member_id=lead, reason=CaseCloseReason.OTHER)
    assert _start(session, team_id, resident_id, listener).number == 2


def test_cases_waiting_for_the_team_are_on_every_agenda_until_decided(session: Session) -> None:
    team_id, lead, listener, _others, resident_id = _team(session)
    team = session.get_one(Team, team_id)
    still_listening = require_id(make_resident(session=session, team=team))
    case = _start(session, team_id, resident_id, listener)
    listening.bring_to_team(session=session, case=case, member_id=listener, summary=None, now=NOW)
    _start(session, team_id, still_listening, lead)
    since, until = NOW - timedelta(days=30), NOW + timedelta(days=3)

    entries = cases.agenda_entries(session, team_id, since, until)
    later = cases.agenda_entries(session, team_id, NOW + timedelta(days=1), until)
    before = cases.agenda_entries(session, team_id, since, NOW)
    other_team = cases.agenda_entries(
        session, require_id(make_team(session=session)), since, until
    )
    _decision(session, case, DecisionStatus.PROPOSING)
    deciding = cases.agenda_entries(session, team_id, since, until)

    assert entries == [
        agenda.AgendaEntry(
            kind="case", ref_id=require_id(case), resident_id=resident_id, created_at=NOW
        )
    ]
    assert later == entries
    assert before == [] and other_team == [] and deciding == []


def test_the_lead_takes_a_case_to_a_decision_and_back(session: Session) -> None:
    team_id, lead, listener, _others, resident_id = _team(session)
    case = _start(session, team_id, resident_id, listener)
    with pytest.raises(WrongStep):
        cases.go_to_decision(session=session, case=case, member_id=lead, title="Fru H.")
    listening.bring_to_team(session=session, case=case, member_id=listener, summary=None, now=NOW)

    first = cases.go_to_decision(session=session, case=case, member_id=lead, title="Fru H.")
    with pytest.raises(WrongStep):
        cases.go_to_decision(session=session, case=case, member_id=lead, title="Fru H.")
    assert (first.origin, first.origin_id, first.resident_id, first.iteration) == (
        "case",
        case.id,
        resident_id,
        1,
    )
    assert cases.case_step(session=session, case=case) == CaseStep.DECIDING

    assert cases.move_back(session=session, case=case, member_id=lead) == CaseStep.TEAM
    assert first.status == DecisionStatus.WITHDRAWN
    assert cases.case_step(session=session, case=case) == CaseStep.TEAM

    second = cases.go_to_decision(session=session, case=case, member_id=lead, title="Fru H.")
    # The withdrawn round was no cycle of trying: the new one keeps its number.
    assert second.iteration == 1 and second.status == DecisionStatus.PROPOSING
    cases.close_case(session=session, case=case, member_id=lead, reason=CaseCloseReason.OTHER)
    session.commit()
    assert second.status == DecisionStatus.WITHDRAWN
    assert cases.case_step(session=session, case=case) == CaseStep.EVALUATED


def test_another_teams_case_answers_and_perspectives_are_not_found(session: Session) -> None:
    team_id, lead, listener, others, resident_id = _team(session)
    case = _start(session, team_id, resident_id, listener)
    answer = listening.save_answer(
        session=session,
        case=case,
        member_id=listener,
        question="conversation.matters",
        position=0,
        voice_file_id="v-1",
        voice_duration=3,
    )
    listening.bring_to_team(session=session, case=case, member_id=listener, summary=None, tz="UTC")
    perspective = listening.save_perspective(
        session=session, case=case, member_id=lead, text="Ro."
    )
    elsewhere = require_id(make_team(session=session))

    assert (
        cases.get_team_case(session=session, team_id=elsewhere, case_id=require_id(case)) is None
    )
    assert (
        cases.get_team_answer(session=session, team_id=elsewhere, answer_id=require_id(answer))
        is None
    )
    assert (
        cases.get_team_perspective(
            session=session, team_id=elsewhere, perspective_id=require_id(perspective)
        )
        is None
    )
    assert cases.get_team_answer(session=session, team_id=team_id, answer_id=require_id(answer))
    outsider = make_member(session=session, team=session.get_one(Team, elsewhere))
    with pytest.raises(NotAllowed):
        listening.save_perspective(
            session=session, case=case, member_id=require_id(outsider.member), text="Nej"
        )
    assert {p.payload["tz"] for p in session.exec(select(Prompt))} == {"UTC"}
    assert others


def test_a_residents_cases_are_listed_by_number_closed_ones_too(session: Session) -> None:
    team_id, lead, listener, _others, resident_id = _team(session)
    first = _start(session, team_id, resident_id, listener)
    cases.close_case(session=session, case=first, member_id=lead, reason=CaseCloseReason.SETTLED)
    second = _start(session, team_id, resident_id, listener)
    other_team = make_team(session=session)
    session.commit()

    listed = cases.resident_cases(session=session, team_id=team_id, resident_id=resident_id)
    assert [(case.id, case.number) for case in listed] == [(first.id, 1), (second.id, 2)]
    assert (
        cases.resident_cases(
            session=session, team_id=require_id(other_team), resident_id=resident_id
        )
        == []
    )
