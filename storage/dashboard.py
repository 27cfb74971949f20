"""What the dashboard (``webapp``) reads that the chat does not: counts over time,
filtered lists and the consultant's aggregates. Every read of a team's rows takes the
team id, so one team's notes are never returned to another; the aggregates across teams
return counts only, never a note, a resident or a name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from storage.models import (
    Checkin,
    Decision,
    DecisionStatus,
    MeetingMinutes,
    MeetingOccurrence,
    MeetingSeries,
    Note,
    NoteMarker,
    OccurrenceStatus,
    Outcome,
    ResidentCase,
    TrialAction,
)

# What the dashboard lists at most at once (a page of the moments list).
PAGE = 30


def _bucket(column: object, bounds: Sequence[datetime]) -> object:
    """The index of the period ``[bounds[i], bounds[i + 1])`` a moment falls in."""
    return case(
        *((col(column) < bound, index) for index, bound in enumerate(bounds[1:])),
        else_=len(bounds) - 1,
    )


def marker_counts_by_period(
    *,
    session: Session,
    team_id: int,
    bounds: Sequence[datetime],
    resident_id: int | None = None,
) -> dict[str, list[int]]:
    """marker -> the number of the team's notes with it in each period between ``bounds``
    (UTC instants, oldest first: ``len(bounds) - 1`` periods), in one grouped query.
    ``""`` counts the notes of each period whatever their markers (each note once)."""
    periods = len(bounds) - 1
    if periods < 1:
        return {}
    bucket = _bucket(Note.created_at, bounds)
    where = [
        col(Note.team_id) == team_id,
        col(Note.created_at) >= bounds[0],
        col(Note.created_at) < bounds[-1],
    ]
    if resident_id is not None:
        where.append(col(Note.resident_id) == resident_id)
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * periods)
    marked = session.exec(
        select(bucket, NoteMarker.marker, func.count())  # type: ignore[call-overload]
        .join(NoteMarker, col(NoteMarker.note_id) == col(Note.id))
        .where(*where)
        .group_by(bucket, col(NoteMarker.marker))
    ).all()
    for index, marker, count in marked:
        counts[marker][int(index)] = int(count)
    every = session.exec(
        select(bucket, func.count()).where(*where).group_by(bucket)  # type: ignore[call-overload]
    ).all()
    totals = [0] * periods
    for index, count in every:
        totals[int(index)] = int(count)
    counts[""] = totals
    return dict(counts)


def filtered_notes(
    *,
    session: Session,
    team_id: int,
    resident_id: int | None = None,
    marker: str | None = None,
    before_id: int | None = None,
    limit: int = PAGE,
) -> list[Note]:
    """The team's notes newest first, of one resident and/or with one marker if given;
    ``before_id`` pages on (notes older than that one)."""
    query = select(Note).where(col(Note.team_id) == team_id)
    if resident_id is not None:
        query = query.where(col(Note.resident_id) == resident_id)
    if marker is not None:
        query = query.where(
            col(Note.id).in_(
                select(NoteMarker.note_id).where(
                    col(NoteMarker.team_id) == team_id, col(NoteMarker.marker) == marker
                )
            )
        )
    if before_id is not None:
        query = query.where(col(Note.id) < before_id)
    query = query.order_by(col(Note.id).desc()).limit(limit)
    return list(session.exec(query))


def checkins_by_day(*, session: Session, trial_action_id: int) -> dict[date, dict[str, int]]:
    """day -> answer -> how many members gave it, for one trial's check-ins (no names)."""
    rows = session.exec(
        select(col(Checkin.day), col(Checkin.answer), func.count())
        .where(col(Checkin.trial_action_id) == trial_action_id)
        .group_by(col(Checkin.day), col(Checkin.answer))
    ).all()
    found: dict[date, dict[str, int]] = defaultdict(dict)
    for day, answer, count in rows:
        found[day][answer] = int(count)
    return dict(sorted(found.items()))


def team_trials(
    *, session: Session, team_id: int, since: date
) -> list[tuple[Decision, TrialAction]]:
    """The team's trial actions that run now or ended on or after ``since``, newest first."""
    rows = session.exec(
        select(Decision, TrialAction)
        .join(TrialAction, col(TrialAction.decision_id) == col(Decision.id))
        .where(
            col(Decision.team_id) == team_id,
            col(Decision.status) != DecisionStatus.WITHDRAWN,
            (col(TrialAction.ends_on) >= since)
            | col(Decision.status).in_([DecisionStatus.TRYING, DecisionStatus.EVALUATING]),
        )
        .order_by(col(TrialAction.starts_on).desc(), col(TrialAction.id).desc())
    ).all()
    return [(decision, trial) for decision, trial in rows]


@dataclass
class TeamFigures:
    """One team's figures for the consultant: counts only."""

    team_id: int
    notes: int = 0
    residents_noted: int = 0
    cases_opened: int = 0
    cases_closed: int = 0
    open_cases: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    trials_running: int = 0
    meetings_with_minutes: int = 0


def team_figures(*, session: Session, since: datetime) -> dict[int, TeamFigures]:
    """team id -> its figures since ``since`` (open cases and running trials: now), for
    every team at once, in one grouped query per figure."""
    figures: dict[int, TeamFigures] = defaultdict(lambda: TeamFigures(team_id=0))

    def figure(team_id: int) -> TeamFigures:
        found = figures[team_id]
        found.team_id = team_id
        return found

    # The period's notes by time first (ix_note_created_team_resident), then grouped: read
    # as one statement, SQLite would scan every note in team order instead.
    period = (
        select(Note.team_id, Note.resident_id)
        .where(col(Note.created_at) >= since)
        .order_by(col(Note.created_at))
        .subquery()
    )
    for team_id, notes, residents in session.exec(
        select(
            period.c.team_id, func.count(), func.count(func.distinct(period.c.resident_id))
        ).group_by(period.c.team_id)
    ).all():
        figure(team_id).notes = int(notes)
        figure(team_id).residents_noted = int(residents)
    for team_id, opened in session.exec(
        select(ResidentCase.team_id, func.count())
        .where(col(ResidentCase.created_at) >= since)
        .group_by(col(ResidentCase.team_id))
    ).all():
        figure(team_id).cases_opened = int(opened)
    for team_id, closed in session.exec(
        select(ResidentCase.team_id, func.count())
        .where(col(ResidentCase.closed_at) >= since)
        .group_by(col(ResidentCase.team_id))
    ).all():
        figure(team_id).cases_closed = int(closed)
    for team_id, still_open in session.exec(
        select(ResidentCase.team_id, func.count())
        .where(col(ResidentCase.closed_at).is_(None))
        .group_by(col(ResidentCase.team_id))
    ).all():
        figure(team_id).open_cases = int(still_open)
    for team_id, outcome, count in session.exec(
        select(Decision.team_id, Decision.outcome, func.count())
        .where(
            col(Decision.outcome).in_([o.value for o in Outcome]),
            col(Decision.updated_at) >= since,
        )
        .group_by(col(Decision.team_id), col(Decision.outcome))
    ).all():
        figure(team_id).outcomes[str(outcome)] = int(count)
    for team_id, running in session.exec(
        select(Decision.team_id, func.count())
        .join(TrialAction, col(TrialAction.decision_id) == col(Decision.id))
        .where(col(Decision.status).in_([DecisionStatus.TRYING, DecisionStatus.EVALUATING]))
        .group_by(col(Decision.team_id))
    ).all():
        figure(team_id).trials_running = int(running)
    for team_id, held in session.exec(
        select(MeetingMinutes.team_id, func.count())
        .join(MeetingOccurrence, col(MeetingOccurrence.id) == col(MeetingMinutes.occurrence_id))
        .where(col(MeetingOccurrence.starts_at) >= since)
        .group_by(col(MeetingMinutes.team_id))
    ).all():
        figure(team_id).meetings_with_minutes = int(held)
    return dict(figures)


def meetings_around(
    *, session: Session, team_id: int, since: datetime, until: datetime
) -> list[tuple[MeetingOccurrence, MeetingSeries, MeetingMinutes | None]]:
    """The team's meetings not cancelled that start in ``[since, until)``, soonest first,
    each with its series and its minutes (None: not written yet)."""
    rows = session.exec(
        select(MeetingOccurrence, MeetingSeries, MeetingMinutes)
        .join(MeetingSeries, col(MeetingSeries.id) == col(MeetingOccurrence.series_id))
        .outerjoin(MeetingMinutes, col(MeetingMinutes.occurrence_id) == col(MeetingOccurrence.id))
        .where(
            col(MeetingSeries.team_id) == team_id,
            col(MeetingOccurrence.starts_at) >= since,
            col(MeetingOccurrence.starts_at) < until,
            col(MeetingOccurrence.status) != OccurrenceStatus.CANCELLED,
        )
        .order_by(col(MeetingOccurrence.starts_at), col(MeetingOccurrence.id))
    ).all()
    return [(occurrence, series, minutes) for occurrence, series, minutes in rows]
