"""The programme in storage, on SQLite and PostgreSQL: a course's progress is computed from
the meetings' agendas and minutes and the team's trial actions at every stage, the course
ends once its third meeting is held, and the leadership team sees the site's pulse only
from teams at or above the threshold."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from storage import (
    agenda,
    cases,
    decisions,
    dilemmas,
    directory,
    listening,
    meetings,
    programme,
    trials,
)
from storage import pulse as pulses
from storage.db import require_id
from storage.models import (
    CaseKind,
    CourseStatus,
    DecisionStatus,
    MeetingOccurrence,
    Pulse,
    Repetition,
    Role,
    Team,
    TrialPlan,
)
from tests.factories import id_of, make_member, make_resident, make_site, make_team

TZ = ZoneInfo("Europe/Copenhagen")
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday


def _weekly(session: Session, team: Team, lead_id: int) -> list[MeetingOccurrence]:
    """A weekly meeting on Wednesdays at 14:00 from T0's week, generated from T0."""
    series = meetings.create_series(
        session=session,
        team_id=id_of(team),
        created_by_member_id=lead_id,
        first_date=date(2026, 3, 4),
        start_time=time(14, 0),
        duration_minutes=60,
        repetition=Repetition.WEEKLY,
    )
    return meetings.generate(session=session, series=series, tz=TZ, now=T0)


def _trial(session: Session, team: Team, lead_id: int, now: datetime) -> int:
    """A team trial action planned at ``now`` (the vote is taken as done)."""
    decision = decisions.start_decision(
        session=session,
        team_id=id_of(team),
        resident_id=None,
        origin="team",
        origin_id=None,
        title="Fælles morgenrutine",
        created_by_member_id=lead_id,
        now=now,
    )
    decision.status = DecisionStatus.PLANNING
    session.add(decision)
    trials.start_trial(
        session=session,
        decision_id=require_id(decision),
        aim="Ro om morgenen",
        measure="Vi tæller på mødet",
        action="Vi banker på og venter",
        starts_on=now.date(),
        ends_on=now.date() + timedelta(days=7),
        follow_up_member_id=lead_id,
        checkin_every_days=3,
        by_member_id=lead_id,
        now=now,
        tz=TZ,
    )
    return require_id(decision)


def _minutes(
    session: Session, team: Team, occurrence: MeetingOccurrence, *kinds: tuple[str, int]
) -> None:
    agenda.record_minutes(
        session=session,
        team_id=id_of(team),
        occurrence_id=require_id(occurrence),
        member_id=None,
        discussed=list(kinds),
        decision=None,
        now=occurrence.ends_at,
    )


def test_a_courses_progress_follows_its_meetings_agendas_minutes_and_trials(
    session: Session,
) -> None:
    lead = make_member(session=session, role=Role.LEAD)
    lead_id = id_of(lead.member)
    team = session.get(Team, lead.membership.team_id)
    assert team is not None
    resident = make_resident(session=session, team=team, alias="Fru H., stue 12")
    course = programme.start_course(
        session=session,
        team_id=id_of(team),
        kickoff_on=date(2026, 3, 2),
        started_by_member_id=lead_id,
        now=T0,
    )
    with pytest.raises(programme.ProgrammeError):
        programme.start_course(
            session=session,
            team_id=id_of(team),
            kickoff_on=date(2026, 3, 2),
            started_by_member_id=lead_id,
            now=T0,
        )

    shown = programme.progress(session=session, course=course)
    assert [row.number for row in shown.meetings] == [1, 2, 3]
    assert [row.trial for row in shown.meetings] == [
        TrialPlan.AGREE,
        TrialPlan.EVALUATE,
        TrialPlan.EVALUATE,
    ]
    assert not any(row.planned for row in shown.meetings)
    assert shown.current is not None and shown.current.number == 1 and shown.held == 0

    first, second, third, *_rest = _weekly(session, team, lead_id)
    for number, occurrence in enumerate((first, second, third), start=1):
        programme.attach_occurrence(
            session=session,
            team_id=id_of(team),
            course_id=require_id(course),
            number=number,
            occurrence_id=require_id(occurrence),
        )
    # Nothing for the team yet: every part of meeting 1 is missing.
    one = programme.progress(session=session, course=course).meetings[0]
    assert one.planned and one.ready == [] and one.missing == ["case", "dilemma", "trial"]

    # A case reaches the team and a dilemma is brought before the first meeting.
    case = listening.start_case(
        session=session,
        team_id=id_of(team),
        resident_id=id_of(resident),
        listener_member_id=lead_id,
        kind=CaseKind.CONVERSATION,
        now=T0,
    )
    listening.bring_to_team(
        session=session, case=case, member_id=lead_id, summary="Hun vil synge", now=T0
    )
    dilemma = dilemmas.add_dilemma(
        session=session,
        team_id=id_of(team),
        author_member_id=lead_id,
        anonymous=False,
        text="Bad om aftenen eller om morgenen?",
        now=T0,
    )
    # A trial planned before the meeting is not the meeting's.
    _trial(session, team, lead_id, T0 + timedelta(hours=1))
    one = programme.progress(session=session, course=course).meetings[0]
    assert one.ready == ["case", "dilemma"] and one.missing == ["trial"] and not one.held

    # At the meeting: a trial action is agreed and the minutes are written.
    decision_id = _trial(session, team, lead_id, first.starts_at + timedelta(minutes=30))
    listening_decision = programme.progress(session=session, course=course).meetings[0]
    assert listening_decision.missing == [] and not listening_decision.held
    _minutes(session, team, first, ("case", require_id(case)), ("dilemma", require_id(dilemma)))
    dilemmas.mark_discussed(session=session, dilemma=dilemma, now=first.ends_at)
    # The case moves on to a decision: it leaves the agenda, the minutes still hold it.
    cases.go_to_decision(session=session, case=case, member_id=lead_id, title="Sang")
    shown = programme.progress(session=session, course=course)
    one, two, _three = shown.meetings
    assert one.held and one.missing == []
    assert shown.current is not None and shown.current.number == 2 and shown.held == 1
    assert not two.has_case and two.has_dilemma  # discussed after meeting 2's period began
    assert two.missing == ["case", "trial"]

    # Meeting 2 evaluates the trial; its minutes are written.
    trials.evaluate(
        session=session,
        decision_id=decision_id,
        outcome="keep",
        by_member_id=lead_id,
        now=second.starts_at + timedelta(minutes=20),
    )
    two = programme.progress(session=session, course=course).meetings[1]
    assert two.ready == ["dilemma", "trial"] and two.missing == ["case"]
    _minutes(session, team, second)
    assert not programme.finish_if_held(session=session, course=course, now=second.ends_at)

    # Meeting 3 held without a trial planned for it: the course ends.
    programme.set_plan(
        session=session,
        meeting=programme.course_meetings(session=session, course_id=require_id(course))[2],
        trial=TrialPlan.NONE,
        holds_dilemma=False,
    )
    three = programme.progress(session=session, course=course).meetings[2]
    assert three.missing == ["case"] and three.ready == []
    _minutes(session, team, third)
    assert programme.finish_if_held(session=session, course=course, now=third.ends_at)
    assert course.status == CourseStatus.ENDED
    assert programme.running_course(session=session, team_id=id_of(team)) is None
    summary = programme.summary(session=session, course=course)
    assert (summary.meetings_held, summary.cases, summary.dilemmas) == (3, 1, 1)
    assert summary.trials_agreed == 1
    assert summary.outcomes == {"keep": 1, "adjust": 0, "drop": 0}
    # A new course can start for the team now.
    programme.start_course(
        session=session,
        team_id=id_of(team),
        kickoff_on=date(2026, 4, 1),
        started_by_member_id=lead_id,
        now=third.ends_at,
    )


def test_another_teams_or_a_taken_meeting_is_refused(session: Session) -> None:
    lead = make_member(session=session, role=Role.LEAD)
    team = session.get(Team, lead.membership.team_id)
    other = make_member(session=session, role=Role.LEAD)
    other_team = session.get(Team, other.membership.team_id)
    assert team is not None and other_team is not None
    course = programme.start_course(
        session=session,
        team_id=id_of(team),
        kickoff_on=date(2026, 3, 2),
        started_by_member_id=id_of(lead.member),
        now=T0,
    )
    theirs = _weekly(session, other_team, id_of(other.member))[0]
    ours = _weekly(session, team, id_of(lead.member))
    with pytest.raises(programme.ProgrammeError):
        programme.attach_occurrence(
            session=session,
            team_id=id_of(team),
            course_id=require_id(course),
            number=1,
            occurrence_id=require_id(theirs),
        )
    programme.attach_occurrence(
        session=session,
        team_id=id_of(team),
        course_id=require_id(course),
        number=1,
        occurrence_id=require_id(ours[0]),
    )
    with pytest.raises(programme.ProgrammeError):
        programme.attach_occurrence(
            session=session,
            team_id=id_of(team),
            course_id=require_id(course),
            number=2,
            occurrence_id=require_id(ours[0]),
        )
    free = programme.free_meetings(session=session, team_id=id_of(team), now=T0)
    assert require_id(ours[0]) not in [require_id(row) for row in free]
    assert [require_id(row) for row in free][:2] == [require_id(ours[1]), require_id(ours[2])]


def test_the_leadership_team_holds_the_sites_leads_and_pools_only_visible_pulses(
    session: Session,
) -> None:
    site = make_site(session=session)
    teams = [make_team(session=session, site=site, name=name) for name in ("Syd", "Nord", "Øst")]
    leads = [make_member(session=session, team=team, role=Role.LEAD) for team in teams]
    staff = [make_member(session=session, team=teams[0]) for _ in range(5)]
    leadership = programme.form_leadership_team(
        session=session,
        site_id=id_of(site),
        name="Lederteamet",
        created_by_member_id=id_of(leads[0].member),
        now=T0,
    )
    assert programme.is_leadership_team(session=session, team_id=id_of(leadership))
    assert [team.name for team in programme.site_teams(session=session, site_id=id_of(site))] == [
        "Nord",
        "Syd",
        "Øst",
    ]
    members = {row.member.id: row.membership.role for row in _members(session, leadership)}
    assert members == {id_of(lead.member): Role.LEAD for lead in leads}
    assert staff[0].member.id not in members

    # Syd: six answers (visible); Nord: two answers (below the threshold); Øst: none.
    syd_pulse = _pulse(session, teams[0], leads[0], [leads[0], *staff], [5, 6, 2, 6, 2, 5, 6])
    nord_pulse = _pulse(session, teams[1], leads[1], [leads[1]], [1, 1, 7, 1, 7, 1, 1])
    now = T0 + timedelta(days=10)
    shown = programme.site_pulse(session=session, site_id=id_of(site), now=now)
    assert [(row.team.name, row.answers, row.debriefed) for row in shown.teams] == [
        ("Nord", 1, False),
        ("Syd", 6, False),
        ("Øst", 0, False),
    ]
    assert shown.answers == 6 and not shown.ready
    syd_score = pulses.result(session=session, pulse=syd_pulse, now=now).score
    assert shown.score == pytest.approx(syd_score)
    assert shown.items[1] == pytest.approx(8 - 5) and shown.weakest(1) == [1]
    assert shown.teams[0].score is None  # Nord's one answer is never shown

    # Debriefs: Syd shares its result, Nord starts a trial action from its pulse.
    pulses.share(
        session=session, pulse=syd_pulse, sharer_member_id=id_of(leads[0].member), now=now, tz=TZ
    )
    decisions.start_decision(
        session=session,
        team_id=id_of(teams[1]),
        resident_id=None,
        origin="pulse",
        origin_id=require_id(nord_pulse),
        title="Psykologisk tryghed",
        created_by_member_id=id_of(leads[1].member),
    )
    shown = programme.site_pulse(session=session, site_id=id_of(site), now=now)
    assert shown.debriefed == 2 and not shown.ready  # Øst has not pulsed
    trials_ = programme.pulse_trials(session=session, site_id=id_of(site))
    assert [(row.team.name, row.decision.title, row.action) for row in trials_] == [
        ("Nord", "Psykologisk tryghed", None)
    ]

    # A lead who leaves every site team leaves the leadership team too; a new lead joins.
    leads[2].membership.active = False
    session.add(leads[2].membership)
    newcomer = make_member(session=session, team=teams[2], role=Role.LEAD)
    assert programme.sync_leaders(session=session, site_id=id_of(site)) == 1
    assert {row.member.id for row in _members(session, leadership)} == {
        id_of(leads[0].member),
        id_of(leads[1].member),
        id_of(newcomer.member),
    }


def _members(session: Session, team: Team) -> list[directory.TeamMember]:
    return directory.team_members(session=session, team_id=id_of(team))


def _pulse(
    session: Session,
    team: Team,
    lead: directory.TeamMember,
    answering: list[directory.TeamMember],
    values: list[int],
) -> Pulse:
    pulse = pulses.start_pulse(
        session=session, team_id=id_of(team), lead_member_id=id_of(lead.member), now=T0, tz=TZ
    )
    for member in answering:
        pulses.record_answers(
            session=session,
            pulse=pulse,
            member_id=id_of(member.member),
            values=values,
            now=T0,
            tz=TZ,
        )
    pulses.close_pulse(session=session, pulse=pulse, now=T0 + timedelta(days=1), tz=TZ)
    return pulse
