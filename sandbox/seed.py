"""The sandbox's care home: Plejehjemmet Solgården with Team Rosen, seeded relative to now.

``seed_care_home`` writes one believable team through the storage functions the bot itself
uses (no SQL of its own): a lead and four staff on different shifts, six residents known by
alias, four weeks of micro-moments at the hours each shift works, a case at each step of the
loop (listening, in the team, deciding with an open vote, trying a trial action) and one
evaluated, two dilemmas, a monthly reflection meeting (the last one with minutes, the next
one 7 to 13 days ahead with its agenda), a pulse that closed last week with a result, the
month's focus, a Telegram group linked to the team, and a course (forløb) of dialogue
meetings whose first meeting was the last one and whose second is the next.
``find_care_home`` finds it again after a restart, so the sandbox seeds once and loses
nothing.

What happened in the past counts as sent (``prompts.settle_past``): the bot does not start
by sending weeks of old reminders. Only the last day's news is left for it to deliver when
it starts: the ballots of the open vote (to the members and the group) and the invitations
to add a perspective to the case that reached the team. Future prompts (check-ins, the vote's
deadline, the meeting's reminders) come when they are due. Members with shifts have quiet
hours: Line (evening) and Jonas (night) get non-meeting prompts when their shift starts.

Every text is Danish written for this purpose; staff have first names only, residents an
alias ("Fru H., stue 12"), and no text holds a CPR number (the storage functions refuse
one, and ``texts()`` lists them all for the test that checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from sandbox.seed_texts import (
    AGENDA_POINTS,
    CASE_H_ANSWERS,
    CASE_H_CHECKINS,
    CASE_H_PERSPECTIVES,
    CASE_H_PROPOSALS,
    CASE_H_SUMMARY,
    CASE_H_TITLE,
    CASE_H_TRIAL,
    CASE_L_ANSWERS,
    CASE_L_CHECKINS,
    CASE_L_PERSPECTIVES,
    CASE_L_PROPOSALS,
    CASE_L_SUMMARY,
    CASE_L_TITLE,
    CASE_L_TRIAL,
    CASE_M_ANSWERS,
    CASE_M_PERSPECTIVES,
    CASE_M_PROPOSALS,
    CASE_M_SUMMARY,
    CASE_M_TITLE,
    CASE_N_ANSWER,
    CASE_P_ANSWERS,
    CASE_P_PERSPECTIVE,
    CASE_P_SUMMARY,
    DILEMMA_ANONYMOUS,
    DILEMMA_NAMED,
    GROUP_TITLE,
    LEAD,
    MEETING_PLACE,
    MINUTES_DECISION,
    MOMENTS,
    MONTHLY_FOCUS,
    PULSE_ANSWERS,
    RESIDENTS,
    SITE_NAME,
    STAFF,
    STRANGER,
    TEAM_NAME,
    SeedPerson,
)
from storage import (
    agenda,
    cases,
    decisions,
    dilemmas,
    directory,
    group_chats,
    listening,
    meetings,
    programme,
    prompts,
    rhythm,
    trials,
    voting,
)
from storage import pulse as pulses
from storage.db import require_id
from storage.models import (
    CaseKind,
    CheckinAnswer,
    Expression,
    Member,
    Repetition,
    ResidentCase,
    Role,
    Shift,
    Site,
    SiteKind,
    Team,
)
from storage.notes import add_note
from storage.residents import add_resident, list_residents

GROUP_CHAT_ID = -1007001
# A small home: results are shown from four answers (the default is five).
PULSE_THRESHOLD = 4
MEETING_TIME = time(13, 30)
MEETING_MINUTES = 60


# ---------------------------------------------------------------- what the seed returns


@dataclass(frozen=True)
class Persona:
    """Someone the web chat can be: a Telegram user, and their place in Team Rosen (none
    for the stranger)."""

    key: str
    telegram_id: int
    first_name: str
    role: Role | None
    shifts: tuple[Shift, ...]
    language: str
    member_id: int | None


@dataclass(frozen=True)
class SeededResident:
    """One of the team's residents: the alias the team chose, and its id."""

    key: str
    alias: str
    resident_id: int


@dataclass(frozen=True)
class CareHome:
    """Everything the sandbox needs to know about the seeded home, by id."""

    site_id: int
    site_name: str
    team_id: int
    team_name: str
    lead: Persona
    staff: tuple[Persona, ...]
    # A Telegram user who is a member of nothing: what a newcomer without an invite sees.
    stranger: Persona
    group_chat_id: int
    group_title: str
    residents: tuple[SeededResident, ...]
    # One case at each step: 1 listening, 2 in the team, 3 deciding (the open vote),
    # 4 trying (the trial action), and one evaluated and closed (a kept approach).
    listening_case_id: int
    team_case_id: int
    deciding_case_id: int
    trying_case_id: int
    evaluated_case_id: int
    vote_decision_id: int
    trial_decision_id: int
    meeting_series_id: int
    # The next reflection meeting, 7 to 13 days after the seed's ``now``, with its agenda.
    meeting_occurrence_id: int
    # The pulse that closed the week before ``now``, with a visible result.
    pulse_id: int

    @property
    def members(self) -> tuple[Persona, ...]:
        """The lead and the staff, the lead first."""
        return (self.lead, *self.staff)

    @property
    def personas(self) -> tuple[Persona, ...]:
        """Every persona: the members, then the stranger."""
        return (*self.members, self.stranger)

    def resident(self, key: str) -> SeededResident:
        """One resident by its key ("H", "M", "P", "N", "L", "J")."""
        return next(resident for resident in self.residents if resident.key == key)


# ---------------------------------------------------------------- seeding


class _Clock:
    """Local wall-clock moments relative to the seed's ``now``, as UTC."""

    def __init__(self, now: datetime, tz: ZoneInfo) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.now = now.astimezone(UTC)
        self.tz = tz
        self.today = now.astimezone(tz).date()

    def day(self, days_ago: int) -> date:
        """The local date ``days_ago`` days before today (negative: ahead)."""
        return self.today - timedelta(days=days_ago)

    def at(self, days_ago: int, hhmm: str) -> datetime:
        """The local time ``hhmm`` on that date, in UTC."""
        hours, minutes = (int(part) for part in hhmm.split(":"))
        local = datetime.combine(self.day(days_ago), time(hours, minutes), tzinfo=self.tz)
        return local.astimezone(UTC)


class _Seeder:
    """Writes the home step by step; the members' and residents' ids by key."""

    def __init__(self, session: Session, clock: _Clock) -> None:
        self.session = session
        self.clock = clock
        self.member: dict[str, int] = {}
        self.resident: dict[str, int] = {}
        self.notes: dict[str, list[tuple[int, datetime]]] = {}

    # ------------------------------------------------------------ the directory

    def directory(self) -> tuple[Site, Team]:
        session, clock = self.session, self.clock
        site = directory.add_site(session=session, name=SITE_NAME, kind=SiteKind.CARE_HOME)
        team = directory.add_team(session=session, site=site, name=TEAM_NAME)
        pulses.set_site_threshold(
            session=session, site_id=require_id(site), threshold=PULSE_THRESHOLD
        )
        joined = clock.at(35, "09:00")
        for role, people in ((Role.LEAD, (LEAD,)), (Role.STAFF, STAFF)):
            invite = directory.create_invite(
                session=session, team=team, role=role, max_uses=len(people), now=joined
            )
            for person in people:
                member = directory.redeem_invite(
                    session=session,
                    code=invite.code,
                    telegram_id=person.telegram_id,
                    name=person.first_name,
                    language=person.language,
                    now=joined,
                ).member
                self.member[person.key] = require_id(member)
        team_id = require_id(team)
        for person in (LEAD, *STAFF):
            rhythm.set_preference(
                session=session,
                member_id=self.member[person.key],
                team_id=team_id,
                shifts=[shift.value for shift in person.shifts],
                now=joined,
            )
        group_chats.link_group(
            session=session,
            team_id=team_id,
            chat_id=GROUP_CHAT_ID,
            by_member_id=self.member["mette"],
            now=clock.at(34, "10:00"),
        )
        for key, alias in RESIDENTS:
            self._add_resident(team_id, key, alias)
        rhythm.set_focus(
            session=session,
            team_id=team_id,
            month=clock.today.replace(day=1),
            text=MONTHLY_FOCUS,
            member_id=self.member["mette"],
        )
        return site, team

    def _add_resident(self, team_id: int, key: str, alias: str) -> None:
        resident = add_resident(
            session=self.session,
            team_id=team_id,
            alias=alias,
            actor_member_id=self.member["mette"],
        )
        self.resident[key] = require_id(resident)

    # ------------------------------------------------------------ the moments

    def moments(self, team: Team) -> None:
        session, clock = self.session, self.clock
        for days_ago, hhmm, author, key, text, markers, nonverbal, for_team in MOMENTS:
            moment = clock.at(days_ago, hhmm)
            resident = list_residents(session=session, team_id=require_id(team))
            note = add_note(
                session=session,
                team=team,
                resident=next(r for r in resident if r.id == self.resident[key]),
                author_member_id=self.member[author],
                tz=clock.tz,
                text=text,
                markers=markers,
                expression=Expression.NONVERBAL if nonverbal else Expression.VERBAL,
                for_team=for_team,
                now=moment,
            )
            self.notes.setdefault(key, []).append((require_id(note), moment))

    # ------------------------------------------------------------ the loop

    def listen(
        self,
        team_id: int,
        key: str,
        listener: str,
        kind: CaseKind,
        started: datetime,
        answers: tuple[tuple[str, str], ...],
    ) -> ResidentCase:
        """Step 1: the listener opens the case, answers, and attaches the resident's moments
        written before it started."""
        case = listening.start_case(
            session=self.session,
            team_id=team_id,
            resident_id=self.resident[key],
            listener_member_id=self.member[listener],
            kind=kind,
            now=started,
        )
        for position, (question, text) in enumerate(answers):
            listening.save_answer(
                session=self.session,
                case=case,
                member_id=self.member[listener],
                question=question,
                position=position,
                text=text,
            )
        for note_id, written in self.notes.get(key, []):
            if written < started:
                listening.set_moment(
                    session=self.session, case=case, note_id=note_id, attached=True
                )
        return case

    def to_team(
        self,
        case: ResidentCase,
        listener: str,
        summary: str,
        at: datetime,
        perspectives: tuple[tuple[str, datetime, str], ...],
    ) -> None:
        """Step 2: the listener brings it to the team; colleagues add their perspectives."""
        listening.bring_to_team(
            session=self.session,
            case=case,
            member_id=self.member[listener],
            summary=summary,
            now=at,
            tz=self.clock.tz.key,
        )
        for author, written, text in perspectives:
            listening.save_perspective(
                session=self.session,
                case=case,
                member_id=self.member[author],
                text=text,
                now=written,
            )

    def decide(
        self,
        case: ResidentCase,
        title: str,
        at: datetime,
        proposals: tuple[tuple[str, datetime, str], ...],
    ) -> int:
        """Step 3: the lead takes the case to a decision; members propose."""
        decision = cases.go_to_decision(
            session=self.session, case=case, member_id=self.member["mette"], title=title
        )
        decision.created_at = decision.updated_at = at
        decision_id = require_id(decision)
        for author, written, text in proposals:
            decisions.add_proposal(
                session=self.session,
                decision_id=decision_id,
                author_member_id=self.member[author],
                text=text,
                now=written,
            )
        return decision_id

    def vote(
        self,
        decision_id: int,
        opens: datetime,
        closes: datetime,
        ballots: tuple[tuple[str, int, datetime], ...],
    ) -> None:
        """The vote opens; members vote for a proposal by its position."""
        tz = self.clock.tz
        voting.open_vote(
            session=self.session, decision_id=decision_id, closes_at=closes, now=opens, tz=tz
        )
        proposals = decisions.proposals_of(session=self.session, decision_id=decision_id)
        for voter, position, at in ballots:
            voting.cast_vote(
                session=self.session,
                decision_id=decision_id,
                member_id=self.member[voter],
                proposal_id=require_id(proposals[position]),
                now=at,
            )

    def trial(
        self,
        decision_id: int,
        closed: datetime,
        started: datetime,
        fields: tuple[str, str, str],
        days: tuple[int, int],
        follow_up: str,
        checkins: tuple[tuple[int, str, CheckinAnswer, str | None], ...],
    ) -> None:
        """Step 4: the vote closes, the lead starts the chosen action as a trial; members
        answer its check-ins (``days``: the trial's first and last day, as days ago)."""
        session, clock = self.session, self.clock
        voting.close_vote(session=session, decision_id=decision_id, now=closed, tz=clock.tz)
        aim, measure, action = fields
        trial = trials.start_trial(
            session=session,
            decision_id=decision_id,
            aim=aim,
            measure=measure,
            action=action,
            starts_on=clock.day(days[0]),
            ends_on=clock.day(days[1]),
            follow_up_member_id=self.member[follow_up],
            checkin_every_days=3,
            by_member_id=self.member["mette"],
            now=started,
            tz=clock.tz,
        )
        expected = set(
            trials.checkin_days(starts_on=trial.starts_on, ends_on=trial.ends_on, every_days=3)
        )
        for days_ago, author, answer, note in checkins:
            day = clock.day(days_ago)
            assert day in expected, "a check-in answers one of the trial's check-in days"
            checkin = trials.record_checkin(
                session=session,
                decision_id=decision_id,
                member_id=self.member[author],
                day=day,
                answer=answer,
                now=clock.at(days_ago, "13:40"),
            )
            if note:
                trials.add_checkin_note(
                    session=session,
                    checkin_id=require_id(checkin),
                    member_id=self.member[author],
                    note=note,
                )


def _people(
    texts: tuple[tuple[str, int, str, str], ...], clock: _Clock
) -> tuple[tuple[str, datetime, str], ...]:
    """(author, days ago, time, text) as (author, moment, text)."""
    return tuple((author, clock.at(days, hhmm), text) for author, days, hhmm, text in texts)


def _meeting_day(clock: _Clock) -> date:
    """The next meeting's date: a weekday 7 to 13 days ahead, a Tuesday when it can be, on
    a day of the month that every month has (the series repeats monthly)."""
    ahead = [clock.day(-offset) for offset in range(7, 14)]
    fitting = [day for day in ahead if day.weekday() < 5 and day.day <= 28]
    return next((day for day in fitting if day.weekday() == 1), fitting[0])


def seed_care_home(*, session: Session, now: datetime, tz: ZoneInfo) -> CareHome:
    """Seeds Plejehjemmet Solgården with Team Rosen as it is at ``now`` (see the module's
    docstring for what is in it) and returns its ids. Writes through the storage functions
    only and flushes; the caller commits. Seeding a database that has the home already
    fails on the site's unique name: ask ``find_care_home`` first."""
    clock = _Clock(now, tz)
    seeder = _Seeder(session, clock)
    site, team = seeder.directory()
    team_id = require_id(team)
    seeder.moments(team)
    mette = seeder.member["mette"]

    # The monthly reflection meeting: the last one with minutes, the next one ahead.
    next_day = _meeting_day(clock)
    first_day = next_day.replace(month=next_day.month - 1 or 12)
    if next_day.month == 1:
        first_day = first_day.replace(year=next_day.year - 1)
    series = meetings.create_series(
        session=session,
        team_id=team_id,
        created_by_member_id=mette,
        first_date=first_day,
        start_time=MEETING_TIME,
        duration_minutes=MEETING_MINUTES,
        place=MEETING_PLACE,
        repetition=Repetition.MONTHLY,
    )
    planned = clock.at(33, "12:00")
    meetings.generate(session=session, series=series, tz=tz, now=planned)

    # Fru L.: the whole loop, evaluated weeks ago; the team kept the approach.
    case_l = seeder.listen(
        team_id, "L", "jonas", CaseKind.OBSERVATION, clock.at(26, "03:00"), CASE_L_ANSWERS
    )
    seeder.to_team(
        case_l,
        "jonas",
        CASE_L_SUMMARY,
        clock.at(25, "06:30"),
        _people(CASE_L_PERSPECTIVES, clock),
    )
    decision_l = seeder.decide(
        case_l,
        CASE_L_TITLE,
        clock.at(24, "12:00"),
        tuple((author, clock.at(24, "13:00"), text) for author, text in CASE_L_PROPOSALS),
    )
    seeder.vote(
        decision_l,
        clock.at(23, "09:00"),
        clock.at(21, "09:00"),
        (
            ("mette", 0, clock.at(23, "09:30")),
            ("ahmed", 0, clock.at(23, "10:15")),
            ("line", 1, clock.at(23, "16:40")),
            ("jonas", 0, clock.at(22, "00:30")),
            ("sofie", 2, clock.at(22, "12:05")),
        ),
    )
    seeder.trial(
        decision_l,
        clock.at(21, "09:00"),
        clock.at(21, "10:00"),
        CASE_L_TRIAL,
        (21, 7),
        "jonas",
        CASE_L_CHECKINS,
    )
    trials.evaluate(
        session=session,
        decision_id=decision_l,
        outcome="keep",
        by_member_id=mette,
        now=clock.at(6, "09:30"),
    )
    cases.settle(session=session, case=case_l)

    # The minutes of the last meeting: the entries on its agenda were discussed.
    last = next(
        occurrence
        for occurrence in meetings.occurrences(session=session, series_id=require_id(series))
        if occurrence.starts_at < clock.now
    )
    last_agenda = agenda.build_agenda(
        session=session, team_id=team_id, occurrence_id=require_id(last)
    )
    agenda.record_minutes(
        session=session,
        team_id=team_id,
        occurrence_id=require_id(last),
        member_id=mette,
        discussed=[(entry.kind, entry.ref_id) for entry in last_agenda.entries],
        decision=MINUTES_DECISION,
        now=last.ends_at,
    )

    # Fru H.: the trial action is under way, with check-ins so far.
    case_h = seeder.listen(
        team_id, "H", "line", CaseKind.CONVERSATION, clock.at(19, "17:00"), CASE_H_ANSWERS
    )
    seeder.to_team(
        case_h,
        "line",
        CASE_H_SUMMARY,
        clock.at(18, "21:00"),
        _people(CASE_H_PERSPECTIVES, clock),
    )
    decision_h = seeder.decide(
        case_h,
        CASE_H_TITLE,
        clock.at(14, "13:45"),
        tuple(
            (author, clock.at(14 - (index == 2), "14:30"), text)
            for index, (author, text) in enumerate(CASE_H_PROPOSALS)
        ),
    )
    seeder.vote(
        decision_h,
        clock.at(13, "12:00"),
        clock.at(10, "12:00"),
        (
            ("mette", 0, clock.at(13, "12:20")),
            ("ahmed", 1, clock.at(13, "13:05")),
            ("line", 0, clock.at(13, "17:30")),
            ("jonas", 0, clock.at(12, "02:15")),
            ("sofie", 0, clock.at(11, "10:40")),
        ),
    )
    seeder.trial(
        decision_h,
        clock.at(10, "12:00"),
        clock.at(8, "14:00"),
        CASE_H_TRIAL,
        (7, -7),
        "line",
        CASE_H_CHECKINS,
    )

    # Hr. M.: in the team since last week, the proposals are in.
    case_m = seeder.listen(
        team_id, "M", "ahmed", CaseKind.CONVERSATION, clock.at(12, "10:00"), CASE_M_ANSWERS
    )
    seeder.to_team(
        case_m,
        "ahmed",
        CASE_M_SUMMARY,
        clock.at(11, "14:00"),
        _people(CASE_M_PERSPECTIVES, clock),
    )
    decision_m = seeder.decide(
        case_m, CASE_M_TITLE, clock.at(5, "13:40"), _people(CASE_M_PROPOSALS, clock)
    )

    # The pulse: open for a week from 13 days ago, four answers, closed six days ago.
    pulse = pulses.start_pulse(
        session=session, team_id=team_id, lead_member_id=mette, now=clock.at(13, "09:00"), tz=tz
    )
    for author, days_ago, hhmm, values in PULSE_ANSWERS:
        pulses.record_answers(
            session=session,
            pulse=pulse,
            member_id=seeder.member[author],
            values=values,
            now=clock.at(days_ago, hhmm),
            tz=tz,
        )

    dilemmas.add_dilemma(
        session=session,
        team_id=team_id,
        author_member_id=seeder.member["line"],
        anonymous=False,
        text=DILEMMA_NAMED,
        now=clock.at(9, "20:30"),
    )
    dilemmas.add_dilemma(
        session=session,
        team_id=team_id,
        author_member_id=seeder.member["sofie"],
        anonymous=True,
        text=DILEMMA_ANONYMOUS,
        now=clock.at(3, "21:00"),
    )

    # Everything so far is the past: the bot sent it then.
    prompts.settle_past(session=session, team_id=team_id, until=clock.now)

    # The last day's news, left for the bot to deliver when it starts.
    case_p = seeder.listen(
        team_id, "P", "sofie", CaseKind.CONVERSATION, clock.at(4, "13:00"), CASE_P_ANSWERS
    )
    seeder.to_team(
        case_p,
        "sofie",
        CASE_P_SUMMARY,
        clock.at(1, "10:30"),
        (("line", clock.at(1, "21:00"), CASE_P_PERSPECTIVE),),
    )
    case_n = seeder.listen(
        team_id, "N", "mette", CaseKind.CONVERSATION, clock.at(1, "10:15"), (CASE_N_ANSWER,)
    )
    seeder.vote(
        decision_m,
        clock.at(1, "14:00"),
        clock.at(-2, "14:00"),
        (("ahmed", 0, clock.at(1, "14:30")), ("sofie", 1, clock.at(1, "18:05"))),
    )

    # The next meeting: its prompts from now on, and the lead's own points.
    meetings.generate(session=session, series=series, tz=tz, now=clock.now)
    upcoming = next(
        occurrence
        for occurrence in meetings.occurrences(session=session, series_id=require_id(series))
        if occurrence.starts_at > clock.now
    )
    for text in AGENDA_POINTS:
        agenda.add_point(
            session=session,
            team_id=team_id,
            occurrence_id=require_id(upcoming),
            text=text,
            member_id=mette,
        )
    # The programme: the team's course of dialogue meetings had its kick-off a week
    # before the last meeting, which was dialogue meeting 1; the next one is meeting 2.
    course = programme.start_course(
        session=session,
        team_id=team_id,
        kickoff_on=last.starts_at.astimezone(tz).date() - timedelta(days=7),
        started_by_member_id=mette,
        now=planned,
    )
    for number, occurrence in ((1, last), (2, upcoming)):
        programme.attach_occurrence(
            session=session,
            team_id=team_id,
            course_id=require_id(course),
            number=number,
            occurrence_id=require_id(occurrence),
        )
    session.flush()
    del case_n
    home = find_care_home(session=session)
    assert home is not None
    return home


# ---------------------------------------------------------------- finding it again


def find_care_home(*, session: Session) -> CareHome | None:
    """The seeded home when the database has it (a restarted sandbox), else None."""
    try:
        site = directory.find_site(session=session, ref=SITE_NAME)
    except directory.NotFound:
        return None
    team = next(
        (t for t in directory.list_teams(session=session, site=site) if t.name == TEAM_NAME),
        None,
    )
    if team is None:
        return None
    team_id = require_id(team)
    members = {
        person.key: directory.get_member_by_telegram_id(
            session=session, telegram_id=person.telegram_id
        )
        for person in (LEAD, *STAFF)
    }
    residents = {
        resident.alias: require_id(resident)
        for resident in list_residents(session=session, team_id=team_id, include_inactive=True)
    }
    seeded = tuple(
        SeededResident(key=key, alias=alias, resident_id=residents[alias])
        for key, alias in RESIDENTS
        if alias in residents
    )
    by_key = {resident.key: resident.resident_id for resident in seeded}

    def first_case(key: str) -> int:
        found = cases.resident_cases(session=session, team_id=team_id, resident_id=by_key[key])
        return require_id(found[0])

    def decision_of(case_id: int) -> int:
        decision = cases.latest_decision(session=session, case_id=case_id)
        assert decision is not None, "the seeded case has its decision"
        return require_id(decision)

    series = meetings.active_series(session=session, team_id=team_id)[0]
    occurrence = meetings.occurrences(session=session, series_id=require_id(series))[1]
    link = group_chats.team_chat(session=session, team_id=team_id)
    pulse = pulses.closed_pulses(session=session, team_id=team_id, now=_far_future())[-1]
    deciding, trying = first_case("M"), first_case("H")
    return CareHome(
        site_id=require_id(site),
        site_name=site.name,
        team_id=team_id,
        team_name=team.name,
        lead=_persona(LEAD, members["mette"]),
        staff=tuple(_persona(person, members[person.key]) for person in STAFF),
        stranger=_persona(STRANGER, None),
        group_chat_id=link.chat_id if link is not None else GROUP_CHAT_ID,
        group_title=GROUP_TITLE,
        residents=seeded,
        listening_case_id=first_case("N"),
        team_case_id=first_case("P"),
        deciding_case_id=deciding,
        trying_case_id=trying,
        evaluated_case_id=first_case("L"),
        vote_decision_id=decision_of(deciding),
        trial_decision_id=decision_of(trying),
        meeting_series_id=require_id(series),
        meeting_occurrence_id=require_id(occurrence),
        pulse_id=require_id(pulse),
    )


def _persona(person: SeedPerson, member: Member | None) -> Persona:
    return Persona(
        key=person.key,
        telegram_id=person.telegram_id,
        first_name=person.first_name,
        role=person.role,
        shifts=person.shifts,
        language=person.language,
        member_id=require_id(member) if member is not None else None,
    )


def _far_future() -> datetime:
    """A moment after every pulse closed: the seeded one is the team's first."""
    return datetime(9999, 1, 1, tzinfo=UTC)
