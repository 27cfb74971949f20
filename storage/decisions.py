"""Deciding together: a round's life, its proposals, and the team's members who take part.

One ``Decision`` is one round for a team, about a resident (a case) or about the team
itself (the pulse, a dilemma, a team action). Its life::

    proposing -> voting -> planning -> trying -> evaluating -> done
                       \\-> tie -> planning            (the lead breaks the tie)
    any open status -> withdrawn
    done with outcome "adjust" -> a new decision, iteration + 1, at "proposing"

Every member of the team proposes here; the vote is in ``storage.voting``, the trial
action with its check-ins and evaluation in ``storage.trials``, and the team's linked
group chat in ``storage.group_chats``. This module holds what they share: the decision's
row lock, its prompt keys and payloads, and who of the team may take part.

Every timed message goes through the prompt queue (``storage.prompts``) under a key that
starts with ``decision:<id>:``, so withdrawing a decision cancels all of its unsent
prompts at once. Free text (titles, proposals, notes) refuses CPR numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from storage import prompts
from storage.cpr import refuse_cpr
from storage.db import require_id, utcnow
from storage.models import (
    DECISION_TITLE_MAX_LENGTH,
    PROPOSAL_MAX_LENGTH,
    Decision,
    DecisionOrigin,
    DecisionStatus,
    Member,
    Membership,
    Proposal,
    Resident,
    Role,
)

logger = logging.getLogger(__name__)

OPEN_STATUSES = (
    DecisionStatus.PROPOSING,
    DecisionStatus.VOTING,
    DecisionStatus.TIE,
    DecisionStatus.PLANNING,
    DecisionStatus.TRYING,
    DecisionStatus.EVALUATING,
)


class DecisionError(ValueError):
    """Raised when a decision is not in a state that allows what was asked."""


class ProposalTooLong(ValueError):
    """Raised when a proposal (or a trial action field) is longer than its limit."""


class ProposalEmpty(ValueError):
    """Raised when a proposal holds no text."""


# ------------------------------------------------------------------ decisions


def start_decision(
    *,
    session: Session,
    team_id: int,
    resident_id: int | None,
    origin: str,
    origin_id: int | None,
    title: str,
    created_by_member_id: int | None,
    iteration: int = 1,
    now: datetime | None = None,
) -> Decision:
    """Starts a round of deciding at "proposing". The title is short free text (cut to
    its limit, CPR refused); a resident must be the team's own."""
    origin = DecisionOrigin(origin).value
    title = " ".join(refuse_cpr(title).split())[:DECISION_TITLE_MAX_LENGTH]
    if not title:
        raise ValueError("a decision needs a title")
    if resident_id is not None:
        resident = session.get(Resident, resident_id)
        if resident is None or resident.team_id != team_id:
            raise DecisionError("the resident is not the team's")
    moment = now or utcnow()
    decision = Decision(
        team_id=team_id,
        resident_id=resident_id,
        origin=origin,
        origin_id=origin_id,
        iteration=iteration,
        title=title,
        status=DecisionStatus.PROPOSING,
        created_by_member_id=created_by_member_id,
        created_at=moment,
        updated_at=moment,
    )
    session.add(decision)
    session.flush()
    logger.info("Decision %s started in team %s (%s)", decision.id, team_id, origin)
    return decision


def get_decision(*, session: Session, decision_id: int) -> Decision | None:
    """Returns one decision by id (for renderers; flows use ``get_team_decision``)."""
    return session.get(Decision, decision_id)


def get_team_decision(*, session: Session, team_id: int, decision_id: int) -> Decision | None:
    """Returns the decision only if it belongs to the team (a forged id finds nothing)."""
    decision = session.get(Decision, decision_id)
    if decision is None or decision.team_id != team_id:
        return None
    return decision


def latest_decision(*, session: Session, origin: str, origin_id: int) -> Decision | None:
    """The newest decision (highest iteration) started from one case, pulse or dilemma."""
    return session.exec(
        select(Decision)
        .where(col(Decision.origin) == origin, col(Decision.origin_id) == origin_id)
        .order_by(col(Decision.iteration).desc(), col(Decision.id).desc())
        .limit(1)
    ).first()


def open_decisions(*, session: Session, team_id: int) -> list[Decision]:
    """The team's decisions not done or withdrawn, oldest first."""
    return list(
        session.exec(
            select(Decision)
            .where(
                col(Decision.team_id) == team_id,
                col(Decision.status).in_([s.value for s in OPEN_STATUSES]),
            )
            .order_by(col(Decision.created_at), col(Decision.id))
        ).all()
    )


def withdraw(*, session: Session, decision_id: int, now: datetime | None = None) -> bool:
    """Withdraws an open decision and cancels its unsent prompts; False if already over."""
    decision = locked_decision(session, decision_id)
    if decision.status in (DecisionStatus.DONE, DecisionStatus.WITHDRAWN):
        return False
    decision.status = DecisionStatus.WITHDRAWN
    decision.updated_at = now or utcnow()
    session.add(decision)
    prompts.cancel(session=session, key_prefix=key_prefix(decision_id))
    logger.info("Decision %s withdrawn", decision_id)
    return True


def prompt_payload(decision_id: int, tz: ZoneInfo | None, **extra: str) -> dict[str, str | int]:
    """A prompt's payload: ids only, and the zone its times are shown in."""
    payload: dict[str, str | int] = {"decision_id": decision_id, **extra}
    if tz is not None:
        payload["tz"] = tz.key
    return payload


def key_prefix(decision_id: int) -> str:
    """The start of every prompt key of one decision."""
    return f"decision:{decision_id}:"


def schedule_now(
    session: Session,
    decision: Decision,
    kind: str,
    key: str,
    member_id: int | None,
    now: datetime,
    tz: ZoneInfo | None = None,
) -> None:
    """Schedules one of the decision's prompts to go out now."""
    prompts.schedule(
        session=session,
        kind=kind,
        team_id=decision.team_id,
        member_id=member_id,
        dedupe_key=key,
        due_at=now,
        payload=prompt_payload(require_id(decision), tz),
    )


# ------------------------------------------------------------------ proposals


def add_proposal(
    *,
    session: Session,
    decision_id: int,
    author_member_id: int | None,
    text: str,
    now: datetime | None = None,
) -> Proposal:
    """Adds a proposal while the decision is at "proposing"; at most 500 characters, no CPR."""
    cleaned = refuse_cpr(text).strip()
    if not cleaned:
        raise ProposalEmpty("a proposal needs text")
    if len(cleaned) > PROPOSAL_MAX_LENGTH:
        raise ProposalTooLong(str(len(cleaned)))
    decision = locked_decision(session, decision_id)
    if decision.status != DecisionStatus.PROPOSING:
        raise DecisionError("proposals are closed")
    proposal = Proposal(
        decision_id=decision_id,
        author_member_id=author_member_id,
        text=cleaned,
        created_at=now or utcnow(),
    )
    session.add(proposal)
    session.flush()
    return proposal


def proposals_of(*, session: Session, decision_id: int) -> list[Proposal]:
    """The decision's proposals in the order they were made."""
    return list(
        session.exec(
            select(Proposal)
            .where(col(Proposal.decision_id) == decision_id)
            .order_by(col(Proposal.id))
        ).all()
    )


def get_proposal(*, session: Session, decision_id: int, proposal_id: int) -> Proposal | None:
    """One proposal, only if it belongs to the decision."""
    proposal = session.get(Proposal, proposal_id)
    if proposal is None or proposal.decision_id != decision_id:
        return None
    return proposal


# ------------------------------------------------------------------ who takes part, and helpers


def is_eligible(*, session: Session, team_id: int, member_id: int) -> bool:
    """True when the member is an active member of the team now."""
    row = session.exec(
        select(Membership.id)
        .join(Member, col(Member.id) == col(Membership.member_id))
        .where(
            col(Membership.team_id) == team_id,
            col(Membership.member_id) == member_id,
            col(Membership.active).is_(True),
            col(Member.active).is_(True),
        )
    ).first()
    return row is not None


def active_member_ids(*, session: Session, team_id: int, role: Role | None = None) -> list[int]:
    """The ids of the team's active members (of one role, if given), in id order."""
    query = (
        select(Member.id)
        .join(Membership, col(Membership.member_id) == col(Member.id))
        .where(
            col(Membership.team_id) == team_id,
            col(Membership.active).is_(True),
            col(Member.active).is_(True),
        )
    )
    if role is not None:
        query = query.where(col(Membership.role) == role)
    return sorted(member_id for member_id in session.exec(query).all() if member_id is not None)


def locked_decision(session: Session, decision_id: int) -> Decision:
    """Loads the decision, locked on PostgreSQL so votes and the close never interleave."""
    statement = select(Decision).where(col(Decision.id) == decision_id)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    decision = session.exec(statement.execution_options(populate_existing=True)).first()
    if decision is None:
        raise DecisionError("no such decision")
    return decision


def members_by_id(*, session: Session, member_ids: Sequence[int]) -> dict[int, Member]:
    """The members with these ids (for names on a summary)."""
    if not member_ids:
        return {}
    rows = session.exec(select(Member).where(col(Member.id).in_(list(member_ids)))).all()
    return {require_id(m): m for m in rows}
