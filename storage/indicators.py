"""Indicators over time (pejlemærker): per team and calendar month, what the team did with
stemme, computed from what is already stored. ``stemme report`` publishes them
(``flows/programme/report.py``); this module counts, exactly, and decides nothing about
what may be shown.

A month is a calendar month in the site's time zone (Europe/Copenhagen): a note written
at 00:30 on 1 April Copenhagen time (22:30 UTC on 31 March) counts in April. Each figure
is counted in the month of one moment:

- ``moments``, ``residents_noted``: the note was written;
- ``cases[step]``: the case reached the step for the first time: *listen* (the case
  began), *team* (the listener finished), *decide* (its first decision began), *try* (its
  first trial action was planned), *evaluated* (the team first evaluated a trial action);
- ``step_days[step]``: the case left the step (the median of the days spent in it);
- ``trials_started``: the trial action's first day;
- ``trials_kept`` / ``trials_adjusted`` / ``trials_dropped``: the team evaluated it;
- ``meetings_held``, ``meetings_with_minutes``: the meeting began (not cancelled, begun);
- ``dilemmas_brought`` / ``dilemmas_discussed``: the dilemma was written / discussed;
- ``pulse``: the pulse closed (the month's last closed pulse).

The pulse's score is only there when the pulse had at least the site's threshold of
answers (``storage.pulse``'s rule); otherwise ``pulse_status`` says why and no number is
given. No figure names a member or a resident, and no note's text is read.

Every query reads one column or two for the teams and the period, once, and the months
are counted in Python, so the boundaries are the time zone's and not the database's.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.db import require_id
from storage.models import (
    Decision,
    DecisionOrigin,
    DecisionStatus,
    Dilemma,
    MeetingMinutes,
    MeetingOccurrence,
    MeetingSeries,
    Note,
    OccurrenceStatus,
    Outcome,
    Pulse,
    ResidentCase,
    Team,
    TrialAction,
)
from storage.pulse import (
    answer_count,
    ends_at,
    is_closed,
    item_stats,
    tally,
    team_score,
    threshold_for_site,
)

# The steps of a case, in order; a case's time in a step ends when it reaches the next.
STEPS = ("listen", "team", "decide", "try", "evaluated")
# At most this many months in one report (three years).
MAX_MONTHS = 36

PULSE_NONE = "none"
PULSE_BELOW_THRESHOLD = "below_threshold"
PULSE_SHOWN = "shown"


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM``; ValueError for anything else."""
        year_text, _, month_text = text.strip().partition("-")
        if len(year_text) != 4 or len(month_text) != 2:
            raise ValueError(text)
        month = cls(int(year_text), int(month_text))
        if not 1 <= month.month <= 12 or month.year < 2000:
            raise ValueError(text)
        return month

    @classmethod
    def of(cls, moment: datetime, tz: ZoneInfo) -> Month:
        """The month a UTC moment falls in, in the time zone."""
        local = moment.astimezone(tz)
        return cls(local.year, local.month)

    @classmethod
    def of_day(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def months_until(self, last: Month) -> int:
        """How many months from this one to ``last``, both included (0 if ``last`` is
        before this one)."""
        return max((last.year - self.year) * 12 + last.month - self.month + 1, 0)

    def starts_at(self, tz: ZoneInfo) -> datetime:
        """Local midnight of the first day, as an aware datetime (compare with UTC ones)."""
        return datetime.combine(date(self.year, self.month, 1), time(0), tzinfo=tz)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def months_between(first: Month, last: Month) -> list[Month]:
    """Every month from ``first`` to ``last``, both included."""
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = month.next()
    return months


@dataclass
class TeamMonth:
    """One team's figures for one month (exact counts; see the module's table)."""

    month: Month
    moments: int = 0
    residents_noted: int = 0
    cases: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STEPS, 0))
    # Step -> the days each case that left the step this month spent in it.
    step_durations: dict[str, list[float]] = field(
        default_factory=lambda: {step: [] for step in STEPS[:-1]}
    )
    trials_started: int = 0
    trials_kept: int = 0
    trials_adjusted: int = 0
    trials_dropped: int = 0
    meetings_held: int = 0
    meetings_with_minutes: int = 0
    dilemmas_brought: int = 0
    dilemmas_discussed: int = 0
    pulse_status: str = PULSE_NONE
    pulse_score: float | None = None
    # The tally of the month's pulse when it is shown, so a site can pool its teams'.
    pulse_tally: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def step_days(self) -> dict[str, float | None]:
        """Step -> the median days in it of the cases that left it this month."""
        return {step: median_days(days) for step, days in self.step_durations.items()}


def median_days(days: list[float]) -> float | None:
    """The median of durations in days, to one decimal (None for none)."""
    return round(statistics.median(days), 1) if days else None


# The figures of one team in one month, or None for a month outside the period.
Cell = Callable[[int, Month], "TeamMonth | None"]


@dataclass
class TeamIndicators:
    """One team's months, oldest first."""

    team: Team
    months: list[TeamMonth]


def team_indicators(
    *,
    session: Session,
    teams: list[Team],
    first: Month,
    last: Month,
    tz: ZoneInfo,
    now: datetime,
) -> list[TeamIndicators]:
    """Every team's figures for every month from ``first`` to ``last`` (in ``teams``'
    order). Months after ``now`` are counted like any other (and are empty)."""
    if last < first:
        raise ValueError("the last month is before the first")
    if first.months_until(last) > MAX_MONTHS:
        raise ValueError(f"at most {MAX_MONTHS} months")
    months = months_between(first, last)
    team_ids = [require_id(team) for team in teams]
    start = first.starts_at(tz)
    end = last.next().starts_at(tz)
    grid: dict[int, dict[Month, TeamMonth]] = {
        team_id: {month: TeamMonth(month=month) for month in months} for team_id in team_ids
    }

    def cell(team_id: int, month: Month) -> TeamMonth | None:
        return grid[team_id].get(month)

    if team_ids:
        _count_notes(session, team_ids, start, end, tz, cell)
        _count_cases(session, team_ids, tz, cell)
        _count_trials(session, team_ids, start, end, tz, cell)
        _count_meetings(session, team_ids, start, end, tz, now, cell)
        _count_dilemmas(session, team_ids, start, end, tz, cell)
        _count_pulses(session, teams, start, end, tz, now, cell)
    return [
        TeamIndicators(team=team, months=[grid[require_id(team)][month] for month in months])
        for team in teams
    ]


def _count_notes(
    session: Session, team_ids: list[int], start: datetime, end: datetime, tz: ZoneInfo, cell: Cell
) -> None:
    residents: dict[tuple[int, Month], set[int]] = defaultdict(set)
    rows = session.exec(
        select(Note.team_id, Note.resident_id, Note.created_at).where(
            col(Note.team_id).in_(team_ids),
            col(Note.created_at) >= start,
            col(Note.created_at) < end,
        )
    )
    for team_id, resident_id, created_at in rows:
        month = Month.of(created_at, tz)
        figures = cell(team_id, month)
        if figures is None:
            continue
        figures.moments += 1
        residents[(team_id, month)].add(resident_id)
    for (team_id, month), noted in residents.items():
        figures = cell(team_id, month)
        if figures is not None:
            figures.residents_noted = len(noted)


def _count_cases(session: Session, team_ids: list[int], tz: ZoneInfo, cell: Cell) -> None:
    """Every case of the teams (a case's later steps may fall in the period even when it
    began before it), with the first time it reached each step."""
    cases = session.exec(
        select(
            ResidentCase.id,
            ResidentCase.team_id,
            ResidentCase.created_at,
            ResidentCase.in_team_at,
        ).where(col(ResidentCase.team_id).in_(team_ids))
    ).all()
    of_case = (col(Decision.origin) == DecisionOrigin.CASE, col(Decision.team_id).in_(team_ids))
    decided = dict(
        session.exec(
            select(Decision.origin_id, func.min(Decision.created_at))
            .where(*of_case)
            .group_by(col(Decision.origin_id))
        ).all()
    )
    tried = dict(
        session.exec(
            select(Decision.origin_id, func.min(TrialAction.created_at))
            .join(TrialAction, col(TrialAction.decision_id) == col(Decision.id))
            .where(*of_case)
            .group_by(col(Decision.origin_id))
        ).all()
    )
    evaluated = dict(
        session.exec(
            select(Decision.origin_id, func.min(Decision.updated_at))
            .where(
                *of_case,
                col(Decision.status) == DecisionStatus.DONE,
                col(Decision.outcome).is_not(None),
            )
            .group_by(col(Decision.origin_id))
        ).all()
    )
    for case_id, team_id, created_at, in_team_at in cases:
        reached = [created_at, in_team_at]
        reached += [found.get(case_id) for found in (decided, tried, evaluated)]
        for index, step in enumerate(STEPS):
            moment = reached[index]
            if moment is None:
                break
            figures = cell(team_id, Month.of(moment, tz))
            if figures is not None:
                figures.cases[step] += 1
            if index > 0:
                entered = reached[index - 1]
                if figures is not None and entered is not None:
                    seconds = max((moment - entered).total_seconds(), 0.0)
                    figures.step_durations[STEPS[index - 1]].append(seconds / 86400)


def _count_trials(
    session: Session, team_ids: list[int], start: datetime, end: datetime, tz: ZoneInfo, cell: Cell
) -> None:
    started = session.exec(
        select(Decision.team_id, col(TrialAction.starts_on))
        .join(TrialAction, col(TrialAction.decision_id) == col(Decision.id))
        .where(
            col(Decision.team_id).in_(team_ids),
            col(TrialAction.starts_on) >= start.date(),
            col(TrialAction.starts_on) < end.date(),
        )
    )
    for team_id, starts_on in started:
        figures = cell(team_id, Month.of_day(starts_on))
        if figures is not None:
            figures.trials_started += 1
    evaluated = session.exec(
        select(Decision.team_id, Decision.outcome, Decision.updated_at)
        .join(TrialAction, col(TrialAction.decision_id) == col(Decision.id))
        .where(
            col(Decision.team_id).in_(team_ids),
            col(Decision.status) == DecisionStatus.DONE,
            col(Decision.outcome).is_not(None),
            col(Decision.updated_at) >= start,
            col(Decision.updated_at) < end,
        )
    )
    for team_id, outcome, updated_at in evaluated:
        figures = cell(team_id, Month.of(updated_at, tz))
        if figures is None:
            continue
        if outcome == Outcome.KEEP:
            figures.trials_kept += 1
        elif outcome == Outcome.ADJUST:
            figures.trials_adjusted += 1
        elif outcome == Outcome.DROP:
            figures.trials_dropped += 1


def _count_meetings(
    session: Session,
    team_ids: list[int],
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    now: datetime,
    cell: Cell,
) -> None:
    with_minutes = (
        select(MeetingMinutes.occurrence_id)
        .where(col(MeetingMinutes.team_id).in_(team_ids))
        .scalar_subquery()
    )
    rows = session.exec(
        select(
            MeetingSeries.team_id,
            MeetingOccurrence.starts_at,
            col(MeetingOccurrence.id).in_(with_minutes),
        )
        .join(MeetingSeries, col(MeetingSeries.id) == col(MeetingOccurrence.series_id))
        .where(
            col(MeetingSeries.team_id).in_(team_ids),
            col(MeetingOccurrence.status) != OccurrenceStatus.CANCELLED,
            col(MeetingOccurrence.starts_at) >= start,
            col(MeetingOccurrence.starts_at) < min(end, now),
        )
    )
    for team_id, starts_at, minuted in rows:
        figures = cell(team_id, Month.of(starts_at, tz))
        if figures is None:
            continue
        figures.meetings_held += 1
        if minuted:
            figures.meetings_with_minutes += 1


def _count_dilemmas(
    session: Session, team_ids: list[int], start: datetime, end: datetime, tz: ZoneInfo, cell: Cell
) -> None:
    rows = session.exec(
        select(Dilemma.team_id, Dilemma.created_at, Dilemma.discussed_at).where(
            col(Dilemma.team_id).in_(team_ids)
        )
    )
    for team_id, created_at, discussed_at in rows:
        if start <= created_at < end:
            figures = cell(team_id, Month.of(created_at, tz))
            if figures is not None:
                figures.dilemmas_brought += 1
        if discussed_at is not None and start <= discussed_at < end:
            figures = cell(team_id, Month.of(discussed_at, tz))
            if figures is not None:
                figures.dilemmas_discussed += 1


def _count_pulses(
    session: Session,
    teams: list[Team],
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    now: datetime,
    cell: Cell,
) -> None:
    thresholds = {
        site_id: threshold_for_site(session=session, site_id=site_id)
        for site_id in {team.site_id for team in teams}
    }
    site_of = {require_id(team): team.site_id for team in teams}
    latest: dict[tuple[int, Month], Pulse] = {}
    pulses = session.exec(
        select(Pulse).where(
            col(Pulse.team_id).in_(list(site_of)),
            col(Pulse.opened).is_(True),
            col(Pulse.opens_at) < end,
        )
    )
    for pulse in pulses:
        if not is_closed(pulse, now):
            continue
        closed = ends_at(pulse)
        if not start <= closed < end:
            continue
        key = (pulse.team_id, Month.of(closed, tz))
        known = latest.get(key)
        if known is None or (ends_at(known), known.id or 0) < (closed, pulse.id or 0):
            latest[key] = pulse
    for (team_id, month), pulse in latest.items():
        figures = cell(team_id, month)
        if figures is None:
            continue
        pulse_id = require_id(pulse)
        if answer_count(session=session, pulse_id=pulse_id) < thresholds[site_of[team_id]]:
            figures.pulse_status = PULSE_BELOW_THRESHOLD
            continue
        counts = tally(session=session, pulse_id=pulse_id)
        score = team_score(item_stats(counts))
        if score is None:
            figures.pulse_status = PULSE_BELOW_THRESHOLD
            continue
        figures.pulse_status = PULSE_SHOWN
        figures.pulse_score = round(score, 2)
        figures.pulse_tally = counts


def pooled_score(tallies: Iterable[dict[tuple[int, int], int]]) -> float | None:
    """The score of several shown pulses together: their tallies added up (never a
    person's answers), as the leadership team's view pools its teams."""
    total: dict[tuple[int, int], int] = defaultdict(int)
    for counts in tallies:
        for key, count in counts.items():
            total[key] += count
    if not total:
        return None
    score = team_score(item_stats(dict(total)))
    return None if score is None else round(score, 2)
