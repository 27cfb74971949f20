"""Cases: one round of *Borgerens stemme* for one resident, and every query about them.

A case goes through four steps and is then evaluated:

1. **listen**: a member collects the resident's perspective (answers to the question
   bank, text or voice; attached micro-moments; a short summary). The case row exists
   from the moment the listener chooses the resident, so nothing typed is lost and the
   team sees that someone is listening.
2. **in the team**: when the listener finishes, the case goes on the next meeting's
   agenda and every other active member is invited once to add their perspective.
3. **deciding** and 4. **trying** are *derived* from the case's latest decision
   (``decision.origin = "case"``, ``origin_id`` = the case): proposing, voting, a tie
   or planning the trial is step 3; trying and evaluating are step 4; done with
   *keep* or *drop* is evaluated (the case is then closed by ``settle``); done with
   *adjust* is step 3 again (the next iteration of the decision).

A resident has at most one open case: ``open_resident_id`` holds the resident while the
case is open and NULL once it is closed, under a unique constraint, so two members
starting a case for the same resident at the same moment get one case and one
``CaseAlreadyOpen`` on SQLite and PostgreSQL alike.

This module holds the case's steps, refusals and reading (``/cases``, the case view, the
overview), the checks every step shares, the lead's actions and the meeting's agenda;
the writing of steps 1 and 2 (listening, the perspectives) is in ``storage.listening``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import IntEnum

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage import decisions, directory, prompts
from storage.agenda import AgendaEntry
from storage.audit import record
from storage.cpr import refuse_cpr
from storage.db import require_id, utcnow
from storage.models import (
    NOTE_MAX_LENGTH,
    CaseAnswer,
    CaseCloseReason,
    CaseMoment,
    CasePerspective,
    Decision,
    DecisionStatus,
    MeetingOccurrence,
    MeetingSeries,
    Member,
    Note,
    OccurrenceStatus,
    Outcome,
    Prompt,
    Resident,
    ResidentCase,
    TrialAction,
)

logger = logging.getLogger(__name__)

KIND_PERSPECTIVE = "case.perspective"
AGENDA_KIND = "case"
DECISION_ORIGIN = "case"
QUESTION_KEY_MAX_LENGTH = 40
# How many of the resident's newest micro-moments the listener can attach.
MOMENT_CHOICES = 8
# Overdue: listening unfinished this long, or in the team this long without deciding.
LISTEN_OVERDUE = timedelta(days=7)
TEAM_OVERDUE = timedelta(days=14)

_DECIDING = {
    DecisionStatus.PROPOSING,
    DecisionStatus.VOTING,
    DecisionStatus.TIE,
    DecisionStatus.PLANNING,
}
_TRYING = {DecisionStatus.TRYING, DecisionStatus.EVALUATING}


class CaseStep(IntEnum):
    """Where a case is; 3 and 4 come from its decision."""

    LISTEN = 1
    TEAM = 2
    DECIDING = 3
    TRYING = 4
    EVALUATED = 5


class CaseProblem(ValueError):
    """Base of the refusals below: the flow tells the member and nothing is stored."""


class CaseAlreadyOpen(CaseProblem):
    """Raised when the resident already has an open case (``case`` is that case)."""

    def __init__(self, case: ResidentCase) -> None:
        super().__init__(case.id)
        self.case = case


class ResidentInactive(CaseProblem):
    """Raised when the resident is not an active resident of the team."""


class CaseClosed(CaseProblem):
    """Raised when acting on a case that is closed."""


class WrongStep(CaseProblem):
    """Raised when a case is not at the step the action needs (a stale button)."""


class NotAllowed(CaseProblem):
    """Raised when the member may not do this (not the listener, not an active member)."""


class TextTooLong(CaseProblem):
    """Raised when an answer, summary or perspective is over ``NOTE_MAX_LENGTH``."""

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length


# ------------------------------------------------------------------ reading


def get_team_case(*, session: Session, team_id: int, case_id: int) -> ResidentCase | None:
    """Returns the case only if it belongs to the team: the check every button goes through."""
    case = session.get(ResidentCase, case_id)
    if case is None or case.team_id != team_id:
        return None
    return case


def open_case_of_resident(*, session: Session, resident_id: int) -> ResidentCase | None:
    """Returns the resident's open case, after closing it if its decision was evaluated."""
    case = session.exec(
        select(ResidentCase).where(col(ResidentCase.open_resident_id) == resident_id)
    ).first()
    if case is not None and settle(session=session, case=case):
        return None
    return case


def resident_cases(*, session: Session, team_id: int, resident_id: int) -> list[ResidentCase]:
    """The team's cases of one resident, open and closed, by number (first round first)."""
    return list(
        session.exec(
            select(ResidentCase)
            .where(
                col(ResidentCase.team_id) == team_id,
                col(ResidentCase.resident_id) == resident_id,
            )
            .order_by(col(ResidentCase.number))
        ).all()
    )


def latest_decision(*, session: Session, case_id: int) -> Decision | None:
    """The case's newest decision (highest iteration, then newest), withdrawn ones too."""
    return decisions.latest_decision(session=session, origin=DECISION_ORIGIN, origin_id=case_id)


def derive_step(case: ResidentCase, decision: Decision | None) -> CaseStep:
    """The case's step from its stored step and its latest decision."""
    if decision is None or decision.status == DecisionStatus.WITHDRAWN:
        return CaseStep(min(max(case.step, 1), 2))
    if decision.status in _DECIDING:
        return CaseStep.DECIDING
    if decision.status in _TRYING:
        return CaseStep.TRYING
    if decision.status == DecisionStatus.DONE:
        if decision.outcome == Outcome.ADJUST:
            return CaseStep.DECIDING  # the next iteration is being set up
        return CaseStep.EVALUATED
    return CaseStep.DECIDING


def case_step(*, session: Session, case: ResidentCase) -> CaseStep:
    """Where the case is now (EVALUATED for a closed case)."""
    if case.closed_at is not None:
        return CaseStep.EVALUATED
    return derive_step(case, latest_decision(session=session, case_id=require_id(case)))


def answers_of(*, session: Session, case_id: int) -> list[CaseAnswer]:
    """The listener's answers, in the order of the questions."""
    return list(
        session.exec(
            select(CaseAnswer)
            .where(col(CaseAnswer.case_id) == case_id)
            .order_by(col(CaseAnswer.position), col(CaseAnswer.id))
        )
    )


def get_team_answer(*, session: Session, team_id: int, answer_id: int) -> CaseAnswer | None:
    """Returns an answer only if its case belongs to the team."""
    answer = session.get(CaseAnswer, answer_id)
    if answer is None:
        return None
    case = session.get(ResidentCase, answer.case_id)
    return answer if case is not None and case.team_id == team_id else None


def resident_moments(
    *, session: Session, team_id: int, resident_id: int, limit: int = MOMENT_CHOICES
) -> list[Note]:
    """The resident's newest micro-moments in the team, to choose from."""
    return list(
        session.exec(
            select(Note)
            .where(col(Note.team_id) == team_id, col(Note.resident_id) == resident_id)
            .order_by(col(Note.created_at).desc(), col(Note.id).desc())
            .limit(limit)
        )
    )


def case_moments(*, session: Session, case_id: int) -> list[Note]:
    """The micro-moments attached to the case, oldest first."""
    return list(
        session.exec(
            select(Note)
            .join(CaseMoment, col(CaseMoment.note_id) == col(Note.id))
            .where(col(CaseMoment.case_id) == case_id)
            .order_by(col(Note.created_at), col(Note.id))
        )
    )


def perspectives_of(
    *, session: Session, case_id: int
) -> list[tuple[CasePerspective, Member | None]]:
    """Every perspective on the case with its author, in the order they were added."""
    rows = session.exec(
        select(CasePerspective, Member)
        .join(Member, col(Member.id) == col(CasePerspective.member_id), isouter=True)
        .where(col(CasePerspective.case_id) == case_id)
        .order_by(col(CasePerspective.created_at), col(CasePerspective.id))
    ).all()
    return [(perspective, member) for perspective, member in rows]


def count_perspectives(*, session: Session, case_id: int) -> int:
    """How many members added their perspective to the case."""
    return session.exec(
        select(func.count())
        .select_from(CasePerspective)
        .where(col(CasePerspective.case_id) == case_id)
    ).one()


def get_perspective(*, session: Session, case_id: int, member_id: int) -> CasePerspective | None:
    """The member's own perspective on the case, if they added one."""
    return session.exec(
        select(CasePerspective).where(
            col(CasePerspective.case_id) == case_id, col(CasePerspective.member_id) == member_id
        )
    ).first()


def get_team_perspective(
    *, session: Session, team_id: int, perspective_id: int
) -> CasePerspective | None:
    """Returns a perspective only if its case belongs to the team."""
    perspective = session.get(CasePerspective, perspective_id)
    if perspective is None:
        return None
    case = session.get(ResidentCase, perspective.case_id)
    return perspective if case is not None and case.team_id == team_id else None


def invitation_key(case_id: int, member_id: int) -> str:
    """The dedupe key of one member's invitation: a second invitation is impossible."""
    return f"{invitation_prefix(case_id)}{member_id}"


def invitation_prefix(case_id: int) -> str:
    """The key prefix of every invitation of one case."""
    return f"case:{case_id}:perspective:member:"


def invited_member_ids(*, session: Session, case_id: int) -> list[int]:
    """The members invited to add their perspective (scheduled or sent, not cancelled)."""
    rows = session.exec(
        select(Prompt.member_id).where(
            col(Prompt.kind) == KIND_PERSPECTIVE,
            col(Prompt.dedupe_key).startswith(invitation_prefix(case_id), autoescape=True),
        )
    ).all()
    return sorted(member_id for member_id in rows if member_id is not None)


def waiting_for_perspectives(*, session: Session, case: ResidentCase) -> list[int]:
    """Invited members still active in the team who have not added their perspective."""
    case_id = require_id(case)
    invited = set(invited_member_ids(session=session, case_id=case_id))
    active = {
        row.member.id for row in directory.team_members(session=session, team_id=case.team_id)
    }
    given = set(
        session.exec(
            select(CasePerspective.member_id).where(col(CasePerspective.case_id) == case_id)
        ).all()
    )
    return sorted(member_id for member_id in invited & active - given if member_id is not None)


def next_meeting_start(*, session: Session, team_id: int, after: datetime) -> datetime | None:
    """The start of the team's next meeting after ``after`` that is not cancelled."""
    return session.exec(
        select(func.min(MeetingOccurrence.starts_at))
        .join(MeetingSeries, col(MeetingSeries.id) == col(MeetingOccurrence.series_id))
        .where(
            col(MeetingSeries.team_id) == team_id,
            col(MeetingOccurrence.starts_at) > after,
            col(MeetingOccurrence.status) != OccurrenceStatus.CANCELLED,
        )
    ).one()


@dataclass(frozen=True)
class CaseOverview:
    """One line of /cases: the case, its resident, step, what it waits for, what is late."""

    case: ResidentCase
    alias: str
    resident_active: bool
    step: CaseStep
    decision: Decision | None
    # Step 1: the listener; step 2: members invited who have not answered yet.
    listener: Member | None
    waiting_for: list[int]
    trial_ends_on: date | None
    overdue: bool


def open_cases(
    *, session: Session, team_id: int, today: date, now: datetime | None = None
) -> list[CaseOverview]:
    """The team's open cases, oldest first, each with its step and what it waits for.

    ``today`` is the local date (a trial ending yesterday is overdue). Cases whose
    decision was evaluated are closed on the way (``settle``) and left out.
    """
    now = now or utcnow()
    rows = session.exec(
        select(ResidentCase, Resident)
        .join(Resident, col(Resident.id) == col(ResidentCase.resident_id))
        .where(col(ResidentCase.team_id) == team_id, col(ResidentCase.closed_at).is_(None))
        .order_by(col(ResidentCase.created_at), col(ResidentCase.id))
    ).all()
    result = []
    for case, resident in rows:
        decision = latest_decision(session=session, case_id=require_id(case))
        step = derive_step(case, decision)
        if step == CaseStep.EVALUATED:
            settle(session=session, case=case)
            continue
        result.append(_overview(session, case, resident, step, decision, today, now))
    return result


def overview_of(
    *, session: Session, case: ResidentCase, today: date, now: datetime | None = None
) -> CaseOverview:
    """The /cases line of one case (open or closed)."""
    resident = session.get(Resident, case.resident_id)
    assert resident is not None
    decision = latest_decision(session=session, case_id=require_id(case))
    step = CaseStep.EVALUATED if case.closed_at is not None else derive_step(case, decision)
    return _overview(session, case, resident, step, decision, today, now or utcnow())


def _overview(
    session: Session,
    case: ResidentCase,
    resident: Resident,
    step: CaseStep,
    decision: Decision | None,
    today: date,
    now: datetime,
) -> CaseOverview:
    listener = session.get(Member, case.listener_member_id) if case.listener_member_id else None
    waiting = waiting_for_perspectives(session=session, case=case) if step == CaseStep.TEAM else []
    trial = None
    if decision is not None and step == CaseStep.TRYING:
        trial = session.exec(
            select(TrialAction).where(col(TrialAction.decision_id) == decision.id)
        ).first()
    trial_ends_on = trial.ends_on if trial is not None else None
    overdue = (
        (step == CaseStep.LISTEN and now - case.created_at > LISTEN_OVERDUE)
        or (
            step == CaseStep.TEAM
            and case.in_team_at is not None
            and now - case.in_team_at > TEAM_OVERDUE
        )
        or (step == CaseStep.TRYING and trial_ends_on is not None and trial_ends_on < today)
    )
    return CaseOverview(
        case=case,
        alias=resident.alias,
        resident_active=resident.active,
        step=step,
        decision=decision,
        listener=listener,
        waiting_for=waiting,
        trial_ends_on=trial_ends_on,
        overdue=overdue,
    )


# ------------------------------------------------------------------ checks the steps share


def clean_text(text: str) -> str:
    """Trims free text; refuses CPR numbers, empty text and text over ``NOTE_MAX_LENGTH``."""
    text = refuse_cpr(text).strip()
    if not text:
        raise ValueError("empty text")
    if len(text) > NOTE_MAX_LENGTH:
        raise TextTooLong(len(text))
    return text


def require_open(case: ResidentCase, step: CaseStep | None = None) -> None:
    """Refuses a closed case (``CaseClosed``), or one not at ``step`` (``WrongStep``)."""
    if case.closed_at is not None:
        raise CaseClosed(case.id)
    if step is not None and case.step != step:
        raise WrongStep(case.id)


# ------------------------------------------------------------------ the lead's actions


def go_to_decision(
    *, session: Session, case: ResidentCase, member_id: int, title: str
) -> Decision:
    """Moves a case from step 2 to step 3: starts its decision (the next iteration)."""
    require_open(case)
    if case_step(session=session, case=case) != CaseStep.TEAM:
        raise WrongStep(case.id)
    previous = latest_decision(session=session, case_id=require_id(case))
    decision = decisions.start_decision(
        session=session,
        team_id=case.team_id,
        resident_id=case.resident_id,
        origin=DECISION_ORIGIN,
        origin_id=require_id(case),
        title=title,
        created_by_member_id=member_id,
        # A withdrawn round was no cycle of trying: the next one keeps its number.
        iteration=_next_iteration(previous),
    )
    record(
        session=session,
        actor=f"member:{member_id}",
        action="case.decide",
        team_id=case.team_id,
        detail={"case_id": case.id, "decision_id": decision.id},
    )
    return decision


def _next_iteration(previous: Decision | None) -> int:
    if previous is None:
        return 1
    if previous.status == DecisionStatus.WITHDRAWN:
        return previous.iteration
    return previous.iteration + 1


def move_back(*, session: Session, case: ResidentCase, member_id: int) -> CaseStep:
    """Moves an open case back one step: 3 -> 2 withdraws its decision, 2 -> 1 reopens
    listening (pending invitations are cancelled; sent ones stay sent, so nobody is
    invited twice). Returns the new step."""
    require_open(case)
    step = case_step(session=session, case=case)
    if step == CaseStep.DECIDING:
        decision = latest_decision(session=session, case_id=require_id(case))
        assert decision is not None
        decisions.withdraw(session=session, decision_id=require_id(decision))
        new_step = CaseStep.TEAM
    elif step == CaseStep.TEAM:
        case.step = CaseStep.LISTEN
        session.add(case)
        prompts.cancel(session=session, key_prefix=invitation_prefix(require_id(case)))
        new_step = CaseStep.LISTEN
    else:
        raise WrongStep(case.id)
    session.flush()
    record(
        session=session,
        actor=f"member:{member_id}",
        action="case.back",
        team_id=case.team_id,
        detail={"case_id": case.id, "step": int(new_step)},
    )
    return new_step


def close_case(
    *,
    session: Session,
    case: ResidentCase,
    member_id: int | None,
    reason: CaseCloseReason,
    note: str | None = None,
    now: datetime | None = None,
) -> None:
    """Closes a case with a reason (and an optional short note): its pending invitations
    are cancelled and a decision still running is withdrawn. The case stays readable."""
    require_open(case)
    decision = latest_decision(session=session, case_id=require_id(case))
    if (
        decision is not None
        and reason != CaseCloseReason.EVALUATED
        and decision.status not in (DecisionStatus.DONE, DecisionStatus.WITHDRAWN)
    ):
        decisions.withdraw(session=session, decision_id=require_id(decision))
    case.close_note = clean_text(note) if note and note.strip() else None
    case.closed_at = now or utcnow()
    case.closed_by_member_id = member_id
    case.close_reason = CaseCloseReason(reason)
    case.open_resident_id = None
    session.add(case)
    prompts.cancel(session=session, key_prefix=invitation_prefix(require_id(case)))
    session.flush()
    record(
        session=session,
        actor=f"member:{member_id}" if member_id else "system",
        action="case.close",
        team_id=case.team_id,
        detail={"case_id": case.id, "reason": str(reason)},
    )


def settle(*, session: Session, case: ResidentCase) -> bool:
    """Closes an open case whose decision was evaluated (keep or drop); True if it did.

    The decision flow does not know about cases, so the case closes the next time
    it is looked at (``/cases``, a new case for the resident)."""
    if case.closed_at is not None:
        return True
    decision = latest_decision(session=session, case_id=require_id(case))
    if derive_step(case, decision) != CaseStep.EVALUATED:
        return False
    assert decision is not None
    close_case(
        session=session,
        case=case,
        member_id=None,
        reason=CaseCloseReason.EVALUATED,
        now=decision.closed_at or decision.updated_at,
    )
    return True


# ------------------------------------------------------------------ the meeting's agenda


def agenda_entries(
    session: Session, team_id: int, since: datetime, until: datetime
) -> list[AgendaEntry]:
    """Cases waiting for the team (step 2) that reached it before ``until``.

    ``since`` is no lower bound on purpose: a case stays on every agenda until the team
    moves it on to a decision."""
    del since  # see the docstring
    rows = session.exec(
        select(ResidentCase)
        .where(
            col(ResidentCase.team_id) == team_id,
            col(ResidentCase.closed_at).is_(None),
            col(ResidentCase.step) == CaseStep.TEAM,
            col(ResidentCase.in_team_at) < until,
        )
        .order_by(col(ResidentCase.in_team_at), col(ResidentCase.id))
    ).all()
    entries = []
    for case in rows:
        if case_step(session=session, case=case) != CaseStep.TEAM:
            continue
        assert case.in_team_at is not None
        entries.append(
            AgendaEntry(
                kind=AGENDA_KIND,
                ref_id=require_id(case),
                resident_id=case.resident_id,
                created_at=case.in_team_at,
            )
        )
    return entries


def agenda_cases(
    session: Session, team_id: int, since: datetime, until: datetime
) -> list[AgendaEntry]:
    """The agenda source under the name the brief gives it (same as ``agenda_entries``)."""
    return agenda_entries(session, team_id, since, until)
