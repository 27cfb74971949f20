"""The sandbox's care home, as a person trying stemme would find it: who is there, what they
noted, where each case stands, the open vote, the trial under way, next week's meeting with
its agenda, the course of dialogue meetings and the pulse with a result. Seeded once: a
restart finds it again.

Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from sandbox.seed import CareHome, find_care_home, seed_care_home
from sandbox.seed_texts import texts
from storage import agenda, cases, decisions, directory, meetings, programme, trials, voting
from storage import pulse as pulses
from storage.cpr import contains_cpr
from storage.db import session_scope, utcnow
from storage.models import DecisionStatus, Note, Resident, Role, Site
from storage.notes import count_notes

TZ = ZoneInfo("Europe/Copenhagen")


def _seed(engine: Engine) -> CareHome:
    with session_scope(engine) as session:
        return seed_care_home(session=session, now=utcnow(), tz=TZ)


def test_the_team_has_a_lead_and_four_staff_on_different_shifts(engine: Engine) -> None:
    home = _seed(engine)
    with Session(engine) as session:
        members = directory.team_members(session=session, team_id=home.team_id)
    roles = Counter(member.membership.role for member in members)
    assert roles == {Role.LEAD: 1, Role.STAFF: 4}
    assert home.site_name == "Plejehjemmet Solgården" and home.team_name == "Team Rosen"
    assert {shift for persona in home.staff for shift in persona.shifts} >= {
        "day",
        "evening",
        "night",
    }
    assert home.stranger.member_id is None
    assert home.stranger.telegram_id not in {member.member.telegram_id for member in members}


def test_six_residents_by_alias_with_weeks_of_moments(engine: Engine) -> None:
    home = _seed(engine)
    now = utcnow()
    with Session(engine) as session:
        residents = session.exec(select(Resident).where(Resident.team_id == home.team_id)).all()
        notes = session.exec(select(Note).where(Note.team_id == home.team_id)).all()
        total = count_notes(session=session, team_id=home.team_id)
    assert len(residents) == 6 and len(home.residents) == 6
    assert total == len(notes) >= 20
    assert {note.resident_id for note in notes} == {resident.id for resident in residents}
    ages = [now - note.created_at for note in notes]
    assert max(ages) > timedelta(days=20) and min(ages) < timedelta(days=4)
    assert all(age > timedelta(0) for age in ages)  # nothing noted in the future


def test_one_case_at_each_step_of_the_loop(engine: Engine) -> None:
    home = _seed(engine)
    expected = {
        home.listening_case_id: cases.CaseStep.LISTEN,
        home.team_case_id: cases.CaseStep.TEAM,
        home.deciding_case_id: cases.CaseStep.DECIDING,
        home.trying_case_id: cases.CaseStep.TRYING,
        home.evaluated_case_id: cases.CaseStep.EVALUATED,
    }
    with Session(engine) as session:
        steps = {}
        for case_id in expected:
            case = cases.get_team_case(session=session, team_id=home.team_id, case_id=case_id)
            assert case is not None
            steps[case_id] = cases.case_step(session=session, case=case)
    assert steps == expected


def test_an_open_vote_and_a_trial_under_way(engine: Engine) -> None:
    home = _seed(engine)
    now = utcnow()
    with Session(engine) as session:
        vote = decisions.get_team_decision(
            session=session, team_id=home.team_id, decision_id=home.vote_decision_id
        )
        trial_decision = decisions.get_team_decision(
            session=session, team_id=home.team_id, decision_id=home.trial_decision_id
        )
        assert vote is not None and trial_decision is not None
        assert vote.status == DecisionStatus.VOTING and voting.vote_is_open(vote, now)
        assert len(decisions.proposals_of(session=session, decision_id=vote.id or 0)) >= 2
        assert not voting.all_voted(session=session, decision_id=vote.id or 0)
        assert trial_decision.status == DecisionStatus.TRYING
        trial = trials.get_trial(session=session, decision_id=trial_decision.id or 0)
        assert trial is not None
        assert trial.starts_on < now.astimezone(TZ).date() < trial.ends_on
        summary = trials.checkin_summary(session=session, decision_id=trial_decision.id or 0)
    assert summary is not None


def test_next_weeks_meeting_has_an_agenda(engine: Engine) -> None:
    home = _seed(engine)
    now = utcnow()
    with Session(engine) as session:
        occurrence = meetings.get_occurrence(
            session=session, occurrence_id=home.meeting_occurrence_id
        )
        assert occurrence is not None
        assert timedelta(days=6) < occurrence.starts_at - now < timedelta(days=14)
        built = agenda.build_agenda(
            session=session, team_id=home.team_id, occurrence_id=home.meeting_occurrence_id
        )
    kinds = Counter(entry.kind for entry in built.entries)
    assert len(built.entries) >= 4 and len(kinds) >= 3


def test_a_course_runs_with_the_last_meeting_held_and_the_next_one_as_meeting_two(
    engine: Engine,
) -> None:
    home = _seed(engine)
    with Session(engine) as session:
        course = programme.running_course(session=session, team_id=home.team_id)
        assert course is not None
        shown = programme.progress(session=session, course=course)
    first, second, third = shown.meetings
    assert first.held and first.starts_at is not None and first.starts_at < utcnow()
    assert course.kickoff_on < first.starts_at.astimezone(TZ).date()
    assert not second.held and second.occurrence_id == home.meeting_occurrence_id
    assert third.occurrence_id is None
    assert shown.held == 1 and shown.current is second


def test_the_closed_pulse_has_a_result(engine: Engine) -> None:
    home = _seed(engine)
    now = utcnow()
    with Session(engine) as session:
        pulse = pulses.get_team_pulse(
            session=session, team_id=home.team_id, pulse_id=home.pulse_id
        )
        assert pulse is not None
        shown = pulses.result(session=session, pulse=pulse, now=now)
    assert shown.visible and shown.score is not None
    assert shown.answers >= shown.threshold
    assert 1.0 <= shown.score <= 7.0


def test_no_seeded_text_holds_a_cpr_number() -> None:
    written = list(texts())
    assert len(written) > 50
    assert [text for text in written if contains_cpr(text)] == []


def test_a_restart_finds_the_seed_instead_of_seeding_again(engine: Engine) -> None:
    home = _seed(engine)
    with session_scope(engine) as session:
        found = find_care_home(session=session)
    with Session(engine) as session:
        sites = session.exec(select(Site)).all()
    assert found == home
    assert len(sites) == 1


def test_an_empty_database_has_no_care_home(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert find_care_home(session=session) is None
