"""The programme around a team's loop: a team's course (forløb) of three dialogue meetings,
and a site's leadership track.

**The course.** A lead starts a course for the team with a kick-off day; it has three
dialogue meetings (``CourseMeeting`` 1 to 3), each planned with the team's ordinary meeting
machinery (``storage/meetings.py``: the lead plans a meeting with /meeting's steps, and
that occurrence becomes the dialogue meeting) and each with a plan: whether it should hold
a resident case, a dilemma, and a trial action to agree or to evaluate. Progress is
computed, never stored (``progress``):

- a *case* or a *dilemma* is there when the meeting's agenda (``storage/agenda.py``) has an
  entry of that kind, or its minutes record one as discussed (a case leaves the agenda once
  the team moves it on to a decision);
- a trial action is *agreed* when one of the team's trial actions was planned, or the
  minutes started one, from the meeting's start until the next dialogue meeting's start;
  *evaluated* when one of the team's trials was evaluated in that window;
- a meeting is *held* when its minutes are written.

After the third meeting is held the course ends (``finish_if_held``) with a summary of
counts only (``summary``), and the team goes on with its ordinary reflection meetings.

**The leadership track.** A site's leadership team is an ordinary team of the site
(``LeadershipTeam`` marks it) whose members are the site's leads (``sync_leaders``), so it
proposes, votes, tries and evaluates with the loop's own machinery. It sees the site's
pulse pooled over the teams whose latest closed pulse reached the site's threshold
(``site_pulse``: the tallies added up, never a person's answers, never a team below the
threshold) and the teams' trial actions from their pulse debriefs (``pulse_trials``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session, col, select

from storage import agenda, directory
from storage import pulse as pulses
from storage.audit import record
from storage.db import require_id
from storage.models import (
    MEETINGS_PER_COURSE,
    Course,
    CourseMeeting,
    CourseStatus,
    Decision,
    DecisionOrigin,
    DecisionStatus,
    LeadershipTeam,
    MeetingOccurrence,
    MeetingSeries,
    Membership,
    OccurrenceStatus,
    Outcome,
    Pulse,
    Role,
    Team,
    TrialAction,
    TrialPlan,
)

logger = logging.getLogger(__name__)

# What each dialogue meeting holds unless the lead changes it: a case and a dilemma each
# time; the first agrees a trial action, the second and third evaluate it.
DEFAULT_TRIALS = {1: TrialPlan.AGREE, 2: TrialPlan.EVALUATE, 3: TrialPlan.EVALUATE}
# The minutes' entry kinds that count as a case, a dilemma, and a trial action started.
CASE_KIND = "case"
DILEMMA_KIND = "dilemma"
START_KIND = "start"


class ProgrammeError(ValueError):
    """Raised when a course or leadership step does not fit what is stored."""


# ------------------------------------------------------------------ the course


def running_course(*, session: Session, team_id: int) -> Course | None:
    """The team's running course, if any."""
    return session.exec(select(Course).where(col(Course.running_team_id) == team_id)).first()


def latest_course(*, session: Session, team_id: int) -> Course | None:
    """The team's most recent course (running or not)."""
    return session.exec(
        select(Course).where(col(Course.team_id) == team_id).order_by(col(Course.id).desc())
    ).first()


def get_team_course(*, session: Session, team_id: int, course_id: int) -> Course | None:
    """One course of the team; ``None`` for another team's (a forged button)."""
    course = session.get(Course, course_id)
    return course if course is not None and course.team_id == team_id else None


def start_course(
    *,
    session: Session,
    team_id: int,
    kickoff_on: date,
    started_by_member_id: int | None,
    now: datetime,
) -> Course:
    """Starts a course with its three dialogue meetings, not planned yet. Refuses a second
    running course of the team (``ProgrammeError``)."""
    if running_course(session=session, team_id=team_id) is not None:
        raise ProgrammeError("the team already has a running course")
    course = Course(
        team_id=team_id,
        running_team_id=team_id,
        kickoff_on=kickoff_on,
        status=CourseStatus.RUNNING,
        started_by_member_id=started_by_member_id,
        created_at=now,
    )
    session.add(course)
    session.flush()
    for number in range(1, MEETINGS_PER_COURSE + 1):
        session.add(
            CourseMeeting(
                course_id=require_id(course), number=number, trial=DEFAULT_TRIALS[number]
            )
        )
    session.flush()
    record(
        session=session,
        actor=f"member:{started_by_member_id}" if started_by_member_id else "admin",
        action="course.start",
        team_id=team_id,
        detail={"course_id": course.id},
    )
    logger.info("Course %s started in team %s", course.id, team_id)
    return course


def stop_course(
    *, session: Session, course: Course, now: datetime, by_member_id: int | None = None
) -> None:
    """Stops a running course before its end; what the team did stays, and the dialogue
    meetings already planned stay as ordinary meetings. Refuses a course that is not
    running (``ProgrammeError``)."""
    if course.status != CourseStatus.RUNNING:
        raise ProgrammeError("the course is not running")
    course.status = CourseStatus.STOPPED
    course.running_team_id = None
    course.ended_at = now
    session.add(course)
    session.flush()
    record(
        session=session,
        actor=f"member:{by_member_id}" if by_member_id else "admin",
        action="course.stop",
        team_id=course.team_id,
        detail={"course_id": course.id},
    )
    logger.info("Course %s stopped in team %s", course.id, course.team_id)


def course_meetings(*, session: Session, course_id: int) -> list[CourseMeeting]:
    """The course's dialogue meetings, 1 to 3."""
    return list(
        session.exec(
            select(CourseMeeting)
            .where(col(CourseMeeting.course_id) == course_id)
            .order_by(col(CourseMeeting.number))
        ).all()
    )


def course_meeting(*, session: Session, course_id: int, number: int) -> CourseMeeting | None:
    """Dialogue meeting ``number`` of the course."""
    return session.exec(
        select(CourseMeeting).where(
            col(CourseMeeting.course_id) == course_id, col(CourseMeeting.number) == number
        )
    ).first()


def set_plan(
    *,
    session: Session,
    meeting: CourseMeeting,
    holds_case: bool | None = None,
    holds_dilemma: bool | None = None,
    trial: TrialPlan | None = None,
) -> CourseMeeting:
    """Changes what a dialogue meeting should hold."""
    if holds_case is not None:
        meeting.holds_case = holds_case
    if holds_dilemma is not None:
        meeting.holds_dilemma = holds_dilemma
    if trial is not None:
        meeting.trial = TrialPlan(trial)
    session.add(meeting)
    session.flush()
    return meeting


def attach_occurrence(
    *, session: Session, team_id: int, course_id: int, number: int, occurrence_id: int
) -> CourseMeeting:
    """Makes one of the team's meetings dialogue meeting ``number`` of its running course.
    Refuses another team's meeting, a cancelled one, or one already a dialogue meeting."""
    course = get_team_course(session=session, team_id=team_id, course_id=course_id)
    if course is None or course.status != CourseStatus.RUNNING:
        raise ProgrammeError("no running course of the team")
    meeting = course_meeting(session=session, course_id=course_id, number=number)
    found = agenda.occurrence_of_team(
        session=session, team_id=team_id, occurrence_id=occurrence_id
    )
    if meeting is None or found is None or found[0].status == OccurrenceStatus.CANCELLED:
        raise ProgrammeError("not a meeting of the team")
    other = course_of_occurrence(session=session, occurrence_id=occurrence_id)
    if other is not None and other[1].id != meeting.id:
        raise ProgrammeError("the meeting is already a dialogue meeting")
    meeting.occurrence_id = occurrence_id
    session.add(meeting)
    session.flush()
    logger.info("Meeting %s is dialogue meeting %s of course %s", occurrence_id, number, course_id)
    return meeting


def course_of_occurrence(
    *, session: Session, occurrence_id: int
) -> tuple[Course, CourseMeeting] | None:
    """The course and dialogue meeting a meeting occurrence is, if any."""
    row = session.exec(
        select(Course, CourseMeeting)
        .join(CourseMeeting, col(CourseMeeting.course_id) == col(Course.id))
        .where(col(CourseMeeting.occurrence_id) == occurrence_id)
    ).first()
    return (row[0], row[1]) if row is not None else None


def free_meetings(
    *, session: Session, team_id: int, now: datetime, limit: int = 5
) -> list[MeetingOccurrence]:
    """The team's next meetings that are not a dialogue meeting of any course yet."""
    taken = select(CourseMeeting.occurrence_id).where(
        col(CourseMeeting.occurrence_id).is_not(None)
    )
    return list(
        session.exec(
            select(MeetingOccurrence)
            .join(MeetingSeries, col(MeetingSeries.id) == col(MeetingOccurrence.series_id))
            .where(
                col(MeetingSeries.team_id) == team_id,
                col(MeetingOccurrence.starts_at) > now,
                col(MeetingOccurrence.status) != OccurrenceStatus.CANCELLED,
                col(MeetingOccurrence.id).not_in(taken),
            )
            .order_by(col(MeetingOccurrence.starts_at))
            .limit(limit)
        ).all()
    )


# ------------------------------------------------------------------ progress


@dataclass(frozen=True)
class MeetingProgress:
    """One dialogue meeting as far as it got: what it should hold and what is there."""

    number: int
    occurrence_id: int | None
    starts_at: datetime | None
    cancelled: bool
    holds_case: bool
    holds_dilemma: bool
    trial: TrialPlan
    has_case: bool = False
    has_dilemma: bool = False
    trial_done: bool = False
    held: bool = False

    @property
    def planned(self) -> bool:
        """Whether a meeting (not cancelled) is planned for it."""
        return self.occurrence_id is not None and not self.cancelled

    @property
    def ready(self) -> list[str]:
        """What it should hold and has: "case", "dilemma", "trial"."""
        return [what for what, (wanted, there) in self._parts().items() if wanted and there]

    @property
    def missing(self) -> list[str]:
        """What it should hold and does not have yet: "case", "dilemma", "trial"."""
        return [what for what, (wanted, there) in self._parts().items() if wanted and not there]

    def _parts(self) -> dict[str, tuple[bool, bool]]:
        return {
            "case": (self.holds_case, self.has_case),
            "dilemma": (self.holds_dilemma, self.has_dilemma),
            "trial": (self.trial != TrialPlan.NONE, self.trial_done),
        }


@dataclass(frozen=True)
class CourseProgress:
    """A course's three dialogue meetings and where it stands."""

    course: Course
    meetings: list[MeetingProgress]

    @property
    def held(self) -> int:
        """How many dialogue meetings are held (minutes written)."""
        return sum(1 for meeting in self.meetings if meeting.held)

    @property
    def current(self) -> MeetingProgress | None:
        """The first dialogue meeting not held yet (None once all are)."""
        return next((meeting for meeting in self.meetings if not meeting.held), None)

    @property
    def complete(self) -> bool:
        """Whether all three dialogue meetings are held."""
        return self.held == len(self.meetings) == MEETINGS_PER_COURSE


def progress(*, session: Session, course: Course) -> CourseProgress:
    """Computes the course's progress from the meetings' agendas and minutes and the team's
    trial actions (see the module's docstring)."""
    rows = course_meetings(session=session, course_id=require_id(course))
    occurrences = {
        require_id(occurrence): occurrence
        for occurrence in session.exec(
            select(MeetingOccurrence).where(
                col(MeetingOccurrence.id).in_([row.occurrence_id for row in rows])
            )
        ).all()
    }
    starts = [
        occurrences[row.occurrence_id].starts_at
        if row.occurrence_id in occurrences
        and occurrences[row.occurrence_id].status != OccurrenceStatus.CANCELLED
        else None
        for row in rows
    ]
    result = []
    for index, row in enumerate(rows):
        occurrence = occurrences.get(row.occurrence_id) if row.occurrence_id else None
        base = MeetingProgress(
            number=row.number,
            occurrence_id=row.occurrence_id,
            starts_at=occurrence.starts_at if occurrence else None,
            cancelled=occurrence is not None and occurrence.status == OccurrenceStatus.CANCELLED,
            holds_case=row.holds_case,
            holds_dilemma=row.holds_dilemma,
            trial=TrialPlan(row.trial),
        )
        if occurrence is None or base.cancelled:
            result.append(base)
            continue
        until = next((start for start in starts[index + 1 :] if start is not None), None)
        result.append(_measured(session, course.team_id, base, occurrence, until))
    return CourseProgress(course=course, meetings=result)


def _measured(
    session: Session,
    team_id: int,
    base: MeetingProgress,
    occurrence: MeetingOccurrence,
    until: datetime | None,
) -> MeetingProgress:
    """What one planned dialogue meeting has: its agenda and minutes, the trials after it."""
    occurrence_id = require_id(occurrence)
    kinds = {
        entry.kind
        for entry in agenda.build_agenda(
            session=session, team_id=team_id, occurrence_id=occurrence_id
        ).entries
    }
    minutes = agenda.get_minutes(session=session, occurrence_id=occurrence_id)
    discussed = {kind for kind, _ref in agenda.discussed_of(minutes)} if minutes else set()
    kinds |= discussed
    since = occurrence.starts_at
    trial_done = False
    if base.trial == TrialPlan.AGREE:
        trial_done = START_KIND in discussed or _trials_planned(session, team_id, since, until)
    elif base.trial == TrialPlan.EVALUATE:
        trial_done = _trials_evaluated(session, team_id, since, until) > 0
    return MeetingProgress(
        number=base.number,
        occurrence_id=base.occurrence_id,
        starts_at=base.starts_at,
        cancelled=False,
        holds_case=base.holds_case,
        holds_dilemma=base.holds_dilemma,
        trial=base.trial,
        has_case=CASE_KIND in kinds,
        has_dilemma=DILEMMA_KIND in kinds,
        trial_done=trial_done,
        held=minutes is not None,
    )


def _trials_planned(
    session: Session, team_id: int, since: datetime, until: datetime | None
) -> bool:
    query = (
        select(TrialAction.id)
        .join(Decision, col(Decision.id) == col(TrialAction.decision_id))
        .where(col(Decision.team_id) == team_id, col(TrialAction.created_at) >= since)
    )
    if until is not None:
        query = query.where(col(TrialAction.created_at) < until)
    return session.exec(query.limit(1)).first() is not None


def _evaluated(
    session: Session, team_id: int, since: datetime, until: datetime | None
) -> list[str]:
    """The outcomes of the team's trials evaluated in [since, until)."""
    query = select(Decision.outcome).where(
        col(Decision.team_id) == team_id,
        col(Decision.status) == DecisionStatus.DONE,
        col(Decision.outcome).is_not(None),
        col(Decision.updated_at) >= since,
    )
    if until is not None:
        query = query.where(col(Decision.updated_at) < until)
    return [str(outcome) for outcome in session.exec(query).all()]


def _trials_evaluated(
    session: Session, team_id: int, since: datetime, until: datetime | None
) -> int:
    return len(_evaluated(session, team_id, since, until))


def finish_if_held(*, session: Session, course: Course, now: datetime) -> bool:
    """Ends a running course whose three dialogue meetings are held; True when it ended
    now. The team's ordinary reflection meetings go on as they are."""
    if course.status != CourseStatus.RUNNING:
        return False
    if not progress(session=session, course=course).complete:
        return False
    course.status = CourseStatus.ENDED
    course.running_team_id = None
    course.ended_at = now
    session.add(course)
    session.flush()
    logger.info("Course %s ended after its third dialogue meeting", course.id)
    return True


@dataclass(frozen=True)
class CourseSummary:
    """A course in counts only: meetings held, cases and dilemmas discussed, trial actions
    agreed and how the evaluated ones went."""

    meetings_held: int
    cases: int
    dilemmas: int
    trials_agreed: int
    outcomes: dict[str, int] = field(default_factory=dict)


def summary(*, session: Session, course: Course) -> CourseSummary:
    """The course's summary, counted over its dialogue meetings and from the first one's
    start to the course's end."""
    shown = progress(session=session, course=course)
    cases = dilemmas = 0
    for row in shown.meetings:
        if row.occurrence_id is None:
            continue
        minutes = agenda.get_minutes(session=session, occurrence_id=row.occurrence_id)
        for kind, _ref in agenda.discussed_of(minutes) if minutes else []:
            cases += kind == CASE_KIND
            dilemmas += kind == DILEMMA_KIND
    starts = [row.starts_at for row in shown.meetings if row.starts_at is not None]
    agreed = 0
    outcomes = {outcome.value: 0 for outcome in Outcome}
    if starts:
        since, until = min(starts), course.ended_at
        query = (
            select(TrialAction.id)
            .join(Decision, col(Decision.id) == col(TrialAction.decision_id))
            .where(col(Decision.team_id) == course.team_id, col(TrialAction.created_at) >= since)
        )
        if until is not None:
            query = query.where(col(TrialAction.created_at) <= until)
        agreed = len(session.exec(query).all())
        for outcome in _evaluated(session, course.team_id, since, until):
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return CourseSummary(
        meetings_held=shown.held,
        cases=cases,
        dilemmas=dilemmas,
        trials_agreed=agreed,
        outcomes=outcomes,
    )


# ------------------------------------------------------------------ the leadership track


def leadership_team(*, session: Session, site_id: int) -> Team | None:
    """The site's leadership team, if it has one."""
    row = session.get(LeadershipTeam, site_id)
    return session.get(Team, row.team_id) if row is not None else None


def is_leadership_team(*, session: Session, team_id: int) -> bool:
    """Whether the team is its site's leadership team."""
    return (
        session.exec(
            select(LeadershipTeam.site_id).where(col(LeadershipTeam.team_id) == team_id)
        ).first()
        is not None
    )


def site_teams(*, session: Session, site_id: int) -> list[Team]:
    """The site's teams, the leadership team left out, by name."""
    leadership = select(LeadershipTeam.team_id)
    return list(
        session.exec(
            select(Team)
            .where(col(Team.site_id) == site_id, col(Team.id).not_in(leadership))
            .order_by(col(Team.name))
        ).all()
    )


def form_leadership_team(
    *, session: Session, site_id: int, name: str, created_by_member_id: int | None, now: datetime
) -> Team:
    """Makes the site's leadership team (a team named ``name``) with the site's leads as
    its members; returns the existing one when the site has it already."""
    existing = leadership_team(session=session, site_id=site_id)
    if existing is not None:
        sync_leaders(session=session, site_id=site_id)
        return existing
    site = directory.get_site(session=session, site_id=site_id)
    if site is None:
        raise ProgrammeError("no such site")
    team = Team(site_id=site_id, name=name.strip(), created_at=now)
    session.add(team)
    session.flush()
    session.add(
        LeadershipTeam(
            site_id=site_id,
            team_id=require_id(team),
            created_by_member_id=created_by_member_id,
            created_at=now,
        )
    )
    session.flush()
    record(
        session=session,
        actor=f"member:{created_by_member_id}" if created_by_member_id else "admin",
        action="leadership.form",
        team_id=team.id,
        detail={"site_id": site_id},
    )
    sync_leaders(session=session, site_id=site_id)
    logger.info("Leadership team %s formed for site %s", team.id, site_id)
    return team


def site_lead_ids(*, session: Session, site_id: int) -> set[int]:
    """The members who lead one of the site's teams (the leadership team left out)."""
    team_ids = [require_id(team) for team in site_teams(session=session, site_id=site_id)]
    return set(
        session.exec(
            select(Membership.member_id).where(
                col(Membership.team_id).in_(team_ids),
                col(Membership.role) == Role.LEAD,
                col(Membership.active).is_(True),
            )
        ).all()
    )


def sync_leaders(*, session: Session, site_id: int) -> int:
    """Makes the leadership team's members the site's leads: every lead of a site team is
    an active lead there, and a member who leads none of them any more leaves it. Returns
    how many joined."""
    team = leadership_team(session=session, site_id=site_id)
    if team is None:
        return 0
    team_id = require_id(team)
    leads = site_lead_ids(session=session, site_id=site_id)
    joined = 0
    for member_id in sorted(leads):
        membership = directory.get_membership(
            session=session, member_id=member_id, team_id=team_id
        )
        if membership is None:
            membership = Membership(member_id=member_id, team_id=team_id, role=Role.LEAD)
            joined += 1
        elif not membership.active or membership.role != Role.LEAD:
            joined += not membership.active
            membership.active, membership.role, membership.left_at = True, Role.LEAD, None
        else:
            continue
        session.add(membership)
    for row in directory.team_members(session=session, team_id=team_id):
        if row.member.id not in leads:
            row.membership.active = False
            session.add(row.membership)
    session.flush()
    return joined


@dataclass(frozen=True)
class TeamPulse:
    """One site team's latest closed pulse as the leadership sees it: whether it was
    debriefed, and its score only when it reached the threshold."""

    team: Team
    pulse: Pulse | None
    answers: int
    score: float | None
    debriefed: bool


@dataclass(frozen=True)
class SitePulse:
    """The site's pulse pooled over the teams at or above the threshold."""

    threshold: int
    teams: list[TeamPulse]
    # The pooled teams' answers, their score and each statement's mean (None: no team).
    answers: int
    score: float | None
    items: dict[int, float]

    @property
    def debriefed(self) -> int:
        """How many teams pulsed and debriefed."""
        return sum(1 for row in self.teams if row.debriefed)

    @property
    def ready(self) -> bool:
        """Whether every team of the site pulsed and debriefed (and there is one)."""
        return bool(self.teams) and all(row.debriefed for row in self.teams)

    def weakest(self, count: int = 2) -> list[int]:
        """The pooled result's weakest statements."""
        return [item for item, _mean in sorted(self.items.items(), key=lambda p: p[1])][:count]


def _debriefed(session: Session, pulse: Pulse) -> bool:
    """A closed pulse is debriefed when its result was shared with the team or the team
    started a trial action from it."""
    if pulse.shared_at is not None:
        return True
    return (
        session.exec(
            select(Decision.id).where(
                col(Decision.origin) == DecisionOrigin.PULSE,
                col(Decision.origin_id) == require_id(pulse),
            )
        ).first()
        is not None
    )


def site_pulse(*, session: Session, site_id: int, now: datetime) -> SitePulse:
    """The site's teams' latest closed pulses and their pooled result: the tallies of the
    teams at or above the site's threshold added up (``storage.pulse``'s rules: a result
    only for a closed pulse with enough answers), never a team below it."""
    threshold = pulses.threshold_for_site(session=session, site_id=site_id)
    rows: list[TeamPulse] = []
    pooled: dict[tuple[int, int], int] = {}
    answers = 0
    for team in site_teams(session=session, site_id=site_id):
        latest = pulses.closed_pulses(session=session, team_id=require_id(team), now=now)
        if not latest:
            rows.append(TeamPulse(team=team, pulse=None, answers=0, score=None, debriefed=False))
            continue
        shown = pulses.result(session=session, pulse=latest[0], now=now)
        rows.append(
            TeamPulse(
                team=team,
                pulse=latest[0],
                answers=shown.answers,
                score=shown.score,
                debriefed=_debriefed(session, latest[0]),
            )
        )
        if shown.visible:
            answers += shown.answers
            counts = pulses.tally(session=session, pulse_id=require_id(latest[0]))
            for key, count in counts.items():
                pooled[key] = pooled.get(key, 0) + count
    stats = pulses.item_stats(pooled)
    return SitePulse(
        threshold=threshold,
        teams=rows,
        answers=answers,
        score=pulses.team_score(stats) if answers else None,
        items={item: mean for item, (mean, _spread) in stats.items()} if answers else {},
    )


@dataclass(frozen=True)
class TeamTrial:
    """A site team's trial action from its pulse debrief: the team, the decision's title
    and status, and the action being tried (once planned)."""

    team: Team
    decision: Decision
    action: str | None


def pulse_trials(*, session: Session, site_id: int) -> list[TeamTrial]:
    """The site's teams' trial actions from their pulse debriefs (not withdrawn), newest
    first."""
    teams = {require_id(team): team for team in site_teams(session=session, site_id=site_id)}
    rows = session.exec(
        select(Decision, TrialAction)
        .join(TrialAction, col(TrialAction.decision_id) == col(Decision.id), isouter=True)
        .where(
            col(Decision.team_id).in_(list(teams)),
            col(Decision.origin) == DecisionOrigin.PULSE,
            col(Decision.status) != DecisionStatus.WITHDRAWN,
        )
        .order_by(col(Decision.id).desc())
    ).all()
    return [
        TeamTrial(
            team=teams[decision.team_id], decision=decision, action=trial.action if trial else None
        )
        for decision, trial in rows
    ]


def leadership_decision(*, session: Session, team_id: int) -> Decision | None:
    """The leadership team's latest trial action round that was not withdrawn."""
    return session.exec(
        select(Decision)
        .where(
            col(Decision.team_id) == team_id,
            col(Decision.status) != DecisionStatus.WITHDRAWN,
        )
        .order_by(col(Decision.id).desc())
    ).first()
