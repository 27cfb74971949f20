"""A decision's trial action: planning it, the members' check-ins, the team's evaluation,
and the approaches the resident card shows.

The chosen proposal (``storage.voting``) becomes a trial action with the Model for
Improvement's fields; members get ``trial.checkin`` prompts every few days during the
trial and the lead a ``trial.evaluate`` prompt at its end. Evaluating it ends the decision;
"adjust" starts the next iteration (``storage.decisions``).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from storage import prompts
from storage.agenda import AgendaEntry
from storage.cpr import refuse_cpr
from storage.db import require_id, utcnow
from storage.decisions import (
    DecisionError,
    ProposalTooLong,
    active_member_ids,
    add_proposal,
    is_eligible,
    key_prefix,
    locked_decision,
    prompt_payload,
    schedule_now,
    start_decision,
)
from storage.models import (
    CHECKIN_NOTE_MAX_LENGTH,
    PROPOSAL_MAX_LENGTH,
    Checkin,
    CheckinAnswer,
    Decision,
    DecisionStatus,
    Outcome,
    TrialAction,
)

logger = logging.getLogger(__name__)

# Prompt kinds (docs/scheduling.md has their late policy).
KIND_TRIAL_STARTED = "trial.started"
KIND_CHECKIN = "trial.checkin"
KIND_EVALUATE = "trial.evaluate"

DEFAULT_TRIAL_DAYS = 14
DEFAULT_CHECKIN_EVERY_DAYS = 3
MAX_CHECKIN_EVERY_DAYS = 14
MAX_TRIAL_DAYS = 90
FIELD_MAX_LENGTH = 500
# Check-ins go out at this local time on their day (the day shift's quieter hour) and
# expire at the end of that day; the evaluation goes to the lead the morning after the end.
CHECKIN_LOCAL_TIME = time(13, 0)
EVALUATE_LOCAL_TIME = time(9, 0)


@dataclass(frozen=True)
class CheckinSummary:
    """The check-ins of a trial: answers counted, how many members answered, and the notes."""

    helped: int = 0
    not_helped: int = 0
    not_relevant: int = 0
    members: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Every answer given."""
        return self.helped + self.not_helped + self.not_relevant


@dataclass(frozen=True)
class Approach:
    """A trial action with its decision, as the resident card shows it."""

    decision: Decision
    trial: TrialAction


@dataclass(frozen=True)
class Approaches:
    """How the team meets a resident (or works as a team) now: the trial actions being
    tried, and the standing approaches the team kept."""

    current: list[Approach]
    kept: list[Approach]


# ------------------------------------------------------------------ the trial action


def get_trial(*, session: Session, decision_id: int) -> TrialAction | None:
    """The decision's trial action, if it has one."""
    return session.exec(
        select(TrialAction).where(col(TrialAction.decision_id) == decision_id)
    ).first()


def checkin_days(*, starts_on: date, ends_on: date, every_days: int) -> list[date]:
    """The days members are asked: every ``every_days`` days after the start, up to the end."""
    days = []
    day = starts_on + timedelta(days=every_days)
    while day <= ends_on:
        days.append(day)
        day += timedelta(days=every_days)
    return days


def start_trial(
    *,
    session: Session,
    decision_id: int,
    aim: str,
    measure: str,
    action: str,
    starts_on: date,
    ends_on: date,
    follow_up_member_id: int | None,
    checkin_every_days: int,
    by_member_id: int,
    now: datetime,
    tz: ZoneInfo,
) -> TrialAction:
    """Starts the chosen action as a trial: stores its fields, tells every active member,
    and schedules the check-ins (one per member per check-in day, at 13:00 local, expiring
    at the end of that day) and the evaluation to ``by_member_id`` the morning after the end.
    """
    fields = {}
    for name, value in (("aim", aim), ("measure", measure), ("action", action)):
        cleaned = refuse_cpr(value).strip()
        if not cleaned:
            raise ValueError(f"the trial action needs its {name}")
        if len(cleaned) > FIELD_MAX_LENGTH:
            raise ProposalTooLong(name)
        fields[name] = cleaned
    if not 1 <= checkin_every_days <= MAX_CHECKIN_EVERY_DAYS:
        raise ValueError("check-ins every 1 to 14 days")
    if not starts_on <= ends_on <= starts_on + timedelta(days=MAX_TRIAL_DAYS):
        raise ValueError("a trial ends after it starts, within 90 days")
    decision = locked_decision(session, decision_id)
    if decision.status != DecisionStatus.PLANNING:
        raise DecisionError("only a chosen action can become a trial")
    if follow_up_member_id is not None and not is_eligible(
        session=session, team_id=decision.team_id, member_id=follow_up_member_id
    ):
        raise DecisionError("the follow-up member is not in the team")
    trial = TrialAction(
        decision_id=decision_id,
        starts_on=starts_on,
        ends_on=ends_on,
        follow_up_member_id=follow_up_member_id,
        checkin_every_days=checkin_every_days,
        created_at=now,
        aim=fields["aim"],
        measure=fields["measure"],
        action=fields["action"],
    )
    session.add(trial)
    decision.status = DecisionStatus.TRYING
    decision.updated_at = now
    session.add(decision)
    session.flush()
    base = key_prefix(decision_id)
    members = active_member_ids(session=session, team_id=decision.team_id)
    for member_id in members:
        schedule_now(
            session,
            decision,
            KIND_TRIAL_STARTED,
            f"{base}started:member:{member_id}",
            member_id,
            now,
            tz,
        )
    for day in checkin_days(starts_on=starts_on, ends_on=ends_on, every_days=checkin_every_days):
        due = _at_local(day, CHECKIN_LOCAL_TIME, tz)
        end_of_day = _at_local(day + timedelta(days=1), time(0, 0), tz)
        if end_of_day <= now:
            continue
        for member_id in members:
            prompts.schedule(
                session=session,
                kind=KIND_CHECKIN,
                team_id=decision.team_id,
                member_id=member_id,
                dedupe_key=f"{base}checkin:{day.isoformat()}:member:{member_id}",
                due_at=max(due, now),
                expires_at=end_of_day,
                payload=prompt_payload(decision_id, tz, day=day.isoformat()),
            )
    prompts.schedule(
        session=session,
        kind=KIND_EVALUATE,
        team_id=decision.team_id,
        member_id=by_member_id,
        dedupe_key=f"{base}evaluate",
        due_at=max(_at_local(ends_on + timedelta(days=1), EVALUATE_LOCAL_TIME, tz), now),
        payload=prompt_payload(decision_id, tz),
    )
    logger.info("Decision %s: trial action %s started", decision_id, trial.id)
    return trial


def _at_local(day: date, moment: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=tz).astimezone(UTC)


def record_checkin(
    *,
    session: Session,
    decision_id: int,
    member_id: int,
    day: date,
    answer: str,
    now: datetime,
) -> Checkin:
    """Stores the member's answer for the check-in day (a second answer replaces the first);
    only active members of the team, while the trial is being tried or evaluated."""
    answer = CheckinAnswer(answer).value
    decision = locked_decision(session, decision_id)
    if decision.status not in (DecisionStatus.TRYING, DecisionStatus.EVALUATING):
        raise DecisionError("the trial is over")
    if not is_eligible(session=session, team_id=decision.team_id, member_id=member_id):
        raise DecisionError("not a member of the team")
    trial = get_trial(session=session, decision_id=decision_id)
    assert trial is not None  # trying implies a trial action
    checkin = session.exec(
        select(Checkin).where(
            col(Checkin.trial_action_id) == trial.id,
            col(Checkin.member_id) == member_id,
            col(Checkin.day) == day,
        )
    ).first()
    if checkin is None:
        checkin = Checkin(
            trial_action_id=require_id(trial),
            member_id=member_id,
            day=day,
            answer=answer,
            answered_at=now,
        )
    else:
        checkin.answer = answer
        checkin.answered_at = now
    session.add(checkin)
    session.flush()
    return checkin


def get_checkin(*, session: Session, checkin_id: int, member_id: int) -> Checkin | None:
    """The member's own check-in (another member's id finds nothing)."""
    checkin = session.get(Checkin, checkin_id)
    if checkin is None or checkin.member_id != member_id:
        return None
    return checkin


def add_checkin_note(
    *, session: Session, checkin_id: int, member_id: int, note: str
) -> Checkin | None:
    """Adds the member's optional note (at most 500 characters, no CPR) to their check-in."""
    cleaned = refuse_cpr(note).strip()
    if len(cleaned) > CHECKIN_NOTE_MAX_LENGTH:
        raise ProposalTooLong(str(len(cleaned)))
    checkin = session.get(Checkin, checkin_id)
    if checkin is None or checkin.member_id != member_id:
        return None
    checkin.note = cleaned or None
    session.add(checkin)
    session.flush()
    return checkin


def checkin_summary(*, session: Session, decision_id: int) -> CheckinSummary:
    """Counts the trial's check-in answers and lists their notes, oldest first (no names)."""
    trial = get_trial(session=session, decision_id=decision_id)
    if trial is None:
        return CheckinSummary()
    rows = session.exec(
        select(Checkin)
        .where(col(Checkin.trial_action_id) == trial.id)
        .order_by(col(Checkin.day), col(Checkin.id))
    ).all()
    answers = Counter(row.answer for row in rows)
    return CheckinSummary(
        helped=answers[CheckinAnswer.HELPED],
        not_helped=answers[CheckinAnswer.NOT_HELPED],
        not_relevant=answers[CheckinAnswer.NOT_RELEVANT],
        members=len({row.member_id for row in rows}),
        notes=[row.note for row in rows if row.note],
    )


def begin_evaluation(*, session: Session, decision_id: int, now: datetime) -> Decision:
    """Moves a trial that reached its end to "evaluating" (the evaluation prompt does)."""
    decision = locked_decision(session, decision_id)
    if decision.status == DecisionStatus.TRYING:
        decision.status = DecisionStatus.EVALUATING
        decision.updated_at = now
        session.add(decision)
    return decision


def evaluate(
    *,
    session: Session,
    decision_id: int,
    outcome: str,
    by_member_id: int,
    adjusted_action: str | None = None,
    now: datetime | None = None,
) -> Decision | None:
    """Records the team's evaluation and ends the decision ("done"); its remaining
    check-ins are cancelled. "keep" makes the trial action a standing approach; "adjust"
    returns the NEW decision (iteration + 1, same origin and resident, at "proposing")
    whose first proposal is ``adjusted_action`` (or the old action); otherwise None."""
    outcome = Outcome(outcome).value
    moment = now or utcnow()
    decision = locked_decision(session, decision_id)
    if decision.status not in (DecisionStatus.TRYING, DecisionStatus.EVALUATING):
        raise DecisionError("only a trial can be evaluated")
    trial = get_trial(session=session, decision_id=decision_id)
    assert trial is not None
    first_proposal = None
    if outcome == Outcome.ADJUST:
        first_proposal = refuse_cpr(adjusted_action or trial.action).strip()
        if len(first_proposal) > PROPOSAL_MAX_LENGTH:
            raise ProposalTooLong(str(len(first_proposal)))
    decision.status = DecisionStatus.DONE
    decision.outcome = outcome
    decision.updated_at = moment
    session.add(decision)
    base = key_prefix(decision_id)
    prompts.cancel(session=session, key_prefix=f"{base}checkin:")
    prompts.cancel(session=session, key_prefix=f"{base}evaluate")
    logger.info("Decision %s evaluated: %s", decision_id, outcome)
    if first_proposal is None:
        return None
    successor = start_decision(
        session=session,
        team_id=decision.team_id,
        resident_id=decision.resident_id,
        origin=decision.origin,
        origin_id=decision.origin_id,
        title=decision.title,
        created_by_member_id=by_member_id,
        iteration=decision.iteration + 1,
        now=moment,
    )
    add_proposal(
        session=session,
        decision_id=require_id(successor),
        author_member_id=by_member_id,
        text=first_proposal or trial.action,
        now=moment,
    )
    return successor


# ------------------------------------------------------------------ what the card shows


def approaches_for_resident(*, session: Session, team_id: int, resident_id: int) -> Approaches:
    """The trial actions the team is trying with the resident now, and the ones it kept
    (newest first)."""
    return _approaches(session, team_id, resident_id)


def approaches_for_team(*, session: Session, team_id: int) -> Approaches:
    """The team's own trial actions (not about one resident): being tried, and kept."""
    return _approaches(session, team_id, None)


def _approaches(session: Session, team_id: int, resident_id: int | None) -> Approaches:
    about = (
        col(Decision.resident_id).is_(None)
        if resident_id is None
        else col(Decision.resident_id) == resident_id
    )
    rows = session.exec(
        select(Decision, TrialAction)
        .join(TrialAction, col(TrialAction.decision_id) == col(Decision.id))
        .where(
            col(Decision.team_id) == team_id,
            about,
            col(Decision.status).in_(
                [DecisionStatus.TRYING, DecisionStatus.EVALUATING, DecisionStatus.DONE]
            ),
        )
        .order_by(col(Decision.updated_at).desc(), col(Decision.id).desc())
    ).all()
    current = [Approach(decision=d, trial=t) for d, t in rows if d.status != DecisionStatus.DONE]
    kept = [Approach(decision=d, trial=t) for d, t in rows if d.outcome == Outcome.KEEP]
    return Approaches(current=current, kept=kept)


# ------------------------------------------------------------------ agenda source


def agenda_trials_due(
    session: Session, team_id: int, since: datetime, until: datetime
) -> list[AgendaEntry]:
    """Agenda source "trial": trial actions being tried or waiting for their evaluation."""
    rows = session.exec(
        select(Decision, TrialAction)
        .join(TrialAction, col(TrialAction.decision_id) == col(Decision.id))
        .where(
            col(Decision.team_id) == team_id,
            col(TrialAction.created_at) < until,
            col(Decision.status).in_([DecisionStatus.TRYING, DecisionStatus.EVALUATING]),
        )
        .order_by(col(Decision.id))
    ).all()
    return [
        AgendaEntry(
            kind="trial",
            ref_id=require_id(d),
            resident_id=d.resident_id,
            created_at=t.created_at,
        )
        for d, t in rows
    ]
