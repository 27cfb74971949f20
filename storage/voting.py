"""The vote of a decision: opening it (now or later), ballots, counting, closing it.

Every member of the team proposes (``storage.decisions``); the vote is open to the team's
*active* members when they vote, one vote each, changed by an UPDATE of the same row until
the vote closes; a member who left keeps a counted vote but cannot vote any more. The vote
closes at its deadline (a ``vote.deadline`` prompt) or as soon as every active member has
voted; a tie goes to the lead. The chosen proposal then waits, at "planning", to become a
trial action (``storage.trials``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage import prompts
from storage.agenda import AgendaEntry
from storage.db import require_id
from storage.decisions import (
    DecisionError,
    active_member_ids,
    get_proposal,
    is_eligible,
    key_prefix,
    locked_decision,
    prompt_payload,
    proposals_of,
    schedule_now,
)
from storage.group_chats import team_chat
from storage.models import Decision, DecisionStatus, Proposal, Role, Vote

logger = logging.getLogger(__name__)

# Prompt kinds (docs/scheduling.md has their late policy).
KIND_OPEN = "vote.open"
KIND_BALLOT = "vote.ballot"
KIND_GROUP_BALLOT = "vote.group"
KIND_DEADLINE = "vote.deadline"
KIND_TIE = "vote.tie"
KIND_RESULT = "vote.result"
KIND_GROUP_RESULT = "vote.group_result"


class VoteResult(StrEnum):
    """What became of a vote: counted (first vote), changed, the same as before, refused
    because the vote is closed, refused because the member may not vote, or refused
    because the proposal is not one of this decision's."""

    COUNTED = "counted"
    CHANGED = "changed"
    SAME = "same"
    CLOSED = "closed"
    NOT_ELIGIBLE = "not_eligible"
    UNKNOWN_PROPOSAL = "unknown_proposal"


@dataclass(frozen=True)
class Tally:
    """The count per proposal (every proposal, zero included, in proposal order), how many
    have voted, and how many active members may vote now."""

    counts: list[tuple[Proposal, int]]
    voted: int
    eligible: int

    def count_of(self, proposal_id: int) -> int:
        """The votes of one proposal."""
        return next((n for p, n in self.counts if p.id == proposal_id), 0)


@dataclass(frozen=True)
class CloseResult:
    """A vote's close: the winner, or the tied proposals the lead chooses among.

    ``closed_now`` is False when the vote was closed already (a second deadline, a late
    tie-break): nothing changed then."""

    decision: Decision
    winner: Proposal | None
    tied: list[Proposal]
    closed_now: bool


def open_vote(
    *,
    session: Session,
    decision_id: int,
    closes_at: datetime,
    now: datetime,
    tz: ZoneInfo | None = None,
) -> Decision:
    """Opens the vote until ``closes_at``: a ballot prompt to every active member now, one
    to the team's linked group, and the deadline prompt. Needs at least one proposal."""
    decision = locked_decision(session, decision_id)
    if decision.status != DecisionStatus.PROPOSING:
        raise DecisionError("the vote can only open from proposing")
    if closes_at <= now:
        raise DecisionError("the deadline must be in the future")
    if not proposals_of(session=session, decision_id=decision_id):
        raise DecisionError("a vote needs at least one proposal")
    decision.status = DecisionStatus.VOTING
    decision.opens_at = now
    decision.closes_at = closes_at
    decision.updated_at = now
    session.add(decision)
    prompts.cancel(session=session, key_prefix=f"{key_prefix(decision_id)}open")
    base = key_prefix(decision_id)
    for member_id in active_member_ids(session=session, team_id=decision.team_id):
        prompts.schedule(
            session=session,
            kind=KIND_BALLOT,
            team_id=decision.team_id,
            member_id=member_id,
            dedupe_key=f"{base}ballot:member:{member_id}",
            due_at=now,
            expires_at=closes_at,
            payload=prompt_payload(decision_id, tz),
        )
    if team_chat(session=session, team_id=decision.team_id) is not None:
        prompts.schedule(
            session=session,
            kind=KIND_GROUP_BALLOT,
            team_id=decision.team_id,
            dedupe_key=f"{base}group",
            due_at=now,
            expires_at=closes_at,
            payload=prompt_payload(decision_id, tz),
        )
    prompts.schedule(
        session=session,
        kind=KIND_DEADLINE,
        team_id=decision.team_id,
        dedupe_key=f"{base}deadline",
        due_at=closes_at,
        payload=prompt_payload(decision_id, tz),
    )
    logger.info("Vote of decision %s opened", decision_id)
    return decision


def schedule_vote_opening(
    *,
    session: Session,
    decision_id: int,
    opens_at: datetime,
    closes_at: datetime,
    by_member_id: int,
    now: datetime,
    tz: ZoneInfo | None = None,
) -> Decision:
    """Lets the vote open by itself at ``opens_at`` (a ``vote.open`` prompt, which tells
    ``by_member_id`` it opened) and close at ``closes_at``; proposals stay open until then."""
    decision = locked_decision(session, decision_id)
    if decision.status != DecisionStatus.PROPOSING:
        raise DecisionError("the vote can only open from proposing")
    if not now < opens_at < closes_at:
        raise DecisionError("the vote must open in the future and before it closes")
    decision.opens_at = opens_at
    decision.closes_at = closes_at
    decision.updated_at = now
    session.add(decision)
    key = f"{key_prefix(decision_id)}open"
    prompts.cancel(session=session, key_prefix=key)
    prompts.schedule(
        session=session,
        kind=KIND_OPEN,
        team_id=decision.team_id,
        member_id=by_member_id,
        dedupe_key=key,
        due_at=opens_at,
        payload=prompt_payload(decision_id, tz),
    )
    return decision


def vote_is_open(decision: Decision, now: datetime) -> bool:
    """True while votes are taken: status voting and the deadline not reached."""
    return decision.status == DecisionStatus.VOTING and (
        decision.closes_at is None or now < decision.closes_at
    )


def cast_vote(
    *, session: Session, decision_id: int, member_id: int, proposal_id: int, now: datetime
) -> VoteResult:
    """Counts or changes the member's one vote; refuses it after the close, from someone
    who is not an active member of the team now, or for another decision's proposal."""
    decision = locked_decision(session, decision_id)
    if not vote_is_open(decision, now):
        return VoteResult.CLOSED
    if not is_eligible(session=session, team_id=decision.team_id, member_id=member_id):
        return VoteResult.NOT_ELIGIBLE
    if get_proposal(session=session, decision_id=decision_id, proposal_id=proposal_id) is None:
        return VoteResult.UNKNOWN_PROPOSAL
    vote = my_vote(session=session, decision_id=decision_id, member_id=member_id)
    if vote is None:
        session.add(
            Vote(
                decision_id=decision_id,
                member_id=member_id,
                proposal_id=proposal_id,
                voted_at=now,
                updated_at=now,
            )
        )
        session.flush()
        return VoteResult.COUNTED
    if vote.proposal_id == proposal_id:
        return VoteResult.SAME
    vote.proposal_id = proposal_id
    vote.updated_at = now
    session.add(vote)
    session.flush()
    return VoteResult.CHANGED


def my_vote(*, session: Session, decision_id: int, member_id: int) -> Vote | None:
    """The member's vote in the decision, if any."""
    return session.exec(
        select(Vote).where(col(Vote.decision_id) == decision_id, col(Vote.member_id) == member_id)
    ).first()


def tally(*, session: Session, decision_id: int) -> Tally:
    """Counts the votes per proposal; votes of members who left still count."""
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise DecisionError("no such decision")
    rows = session.exec(
        select(Vote.proposal_id, func.count())
        .where(col(Vote.decision_id) == decision_id)
        .group_by(col(Vote.proposal_id))
    ).all()
    counts = {proposal_id: int(count) for proposal_id, count in rows}
    proposals = proposals_of(session=session, decision_id=decision_id)
    return Tally(
        counts=[(p, counts.get(require_id(p), 0)) for p in proposals],
        voted=sum(counts.values()),
        eligible=len(active_member_ids(session=session, team_id=decision.team_id)),
    )


def all_voted(*, session: Session, decision_id: int) -> bool:
    """True when every active member of the team has voted (at least one member)."""
    decision = session.get(Decision, decision_id)
    if decision is None:
        return False
    members = set(active_member_ids(session=session, team_id=decision.team_id))
    voters = set(
        session.exec(select(Vote.member_id).where(col(Vote.decision_id) == decision_id)).all()
    )
    return bool(members) and members <= voters


def close_vote(
    *,
    session: Session,
    decision_id: int,
    now: datetime,
    tie_break_proposal_id: int | None = None,
    tz: ZoneInfo | None = None,
) -> CloseResult:
    """Closes the vote: the proposal with most votes wins and the decision goes to
    "planning"; a tie goes to "tie" for the lead, who closes it again with
    ``tie_break_proposal_id`` (one of the tied). Schedules the result to every active
    member (and the linked group), or the tie to the leads. A closed vote is left as it is.
    """
    decision = locked_decision(session, decision_id)
    if decision.status not in (DecisionStatus.VOTING, DecisionStatus.TIE):
        return CloseResult(decision=decision, winner=None, tied=[], closed_now=False)
    counted = tally(session=session, decision_id=decision_id).counts
    best = max((n for _p, n in counted), default=0)
    tied = [p for p, n in counted if n == best]
    base = key_prefix(decision_id)
    if decision.status == DecisionStatus.VOTING:
        decision.closed_at = now
        prompts.cancel(session=session, key_prefix=f"{base}ballot:")
        prompts.cancel(session=session, key_prefix=f"{base}group")
        prompts.cancel(session=session, key_prefix=f"{base}deadline")
    elif tie_break_proposal_id is None:
        return CloseResult(decision=decision, winner=None, tied=tied, closed_now=False)
    winner: Proposal | None = tied[0] if len(tied) == 1 else None
    if winner is None and tie_break_proposal_id is not None:
        winner = next((p for p in tied if p.id == tie_break_proposal_id), None)
    decision.updated_at = now
    if winner is None:
        decision.status = DecisionStatus.TIE
        session.add(decision)
        for member_id in active_member_ids(
            session=session, team_id=decision.team_id, role=Role.LEAD
        ):
            schedule_now(
                session, decision, KIND_TIE, f"{base}tie:member:{member_id}", member_id, now, tz
            )
        logger.info("Vote of decision %s tied between %s proposals", decision_id, len(tied))
        return CloseResult(decision=decision, winner=None, tied=tied, closed_now=True)
    decision.status = DecisionStatus.PLANNING
    decision.chosen_proposal_id = winner.id
    session.add(decision)
    for member_id in active_member_ids(session=session, team_id=decision.team_id):
        schedule_now(
            session, decision, KIND_RESULT, f"{base}result:member:{member_id}", member_id, now, tz
        )
    if team_chat(session=session, team_id=decision.team_id) is not None:
        schedule_now(session, decision, KIND_GROUP_RESULT, f"{base}group_result", None, now, tz)
    logger.info("Vote of decision %s closed: proposal %s chosen", decision_id, winner.id)
    return CloseResult(decision=decision, winner=winner, tied=tied, closed_now=True)


def set_group_message(
    *, session: Session, decision_id: int, chat_id: int, message_id: int
) -> None:
    """Remembers the group message that carries the vote's buttons."""
    decision = locked_decision(session, decision_id)
    decision.group_chat_id = chat_id
    decision.group_message_id = message_id
    session.add(decision)


def chosen_proposal(*, session: Session, decision: Decision) -> Proposal | None:
    """The proposal the vote (or the lead) chose."""
    if decision.chosen_proposal_id is None:
        return None
    return session.get(Proposal, decision.chosen_proposal_id)


# ------------------------------------------------------------------ agenda source


def agenda_votes(
    session: Session, team_id: int, since: datetime, until: datetime
) -> list[AgendaEntry]:
    """Agenda source "vote": decisions waiting for proposals, a vote or a tie-break, and
    votes closed in the period (the result to talk about)."""
    rows = session.exec(
        select(Decision).where(
            col(Decision.team_id) == team_id,
            col(Decision.created_at) < until,
            col(Decision.status).in_(
                [
                    DecisionStatus.PROPOSING,
                    DecisionStatus.VOTING,
                    DecisionStatus.TIE,
                    DecisionStatus.PLANNING,
                ]
            ),
        )
    ).all()
    return [
        AgendaEntry(
            kind="vote",
            ref_id=require_id(d),
            resident_id=d.resident_id,
            created_at=d.closed_at or d.opens_at or d.created_at,
        )
        for d in sorted(rows, key=lambda d: require_id(d))
        if d.status != DecisionStatus.PLANNING or (d.closed_at and d.closed_at >= since)
    ]
