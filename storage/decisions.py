"""Deciding and trying together: proposals, a vote, a trial action, check-ins, evaluation.

One ``Decision`` is one round for a team, about a resident (a case) or about the team
itself (the pulse, a dilemma, a team action). Its life::

    proposing -> voting -> planning -> trying -> evaluating -> done
                       \\-> tie -> planning            (the lead breaks the tie)
    any open status -> withdrawn
    done with outcome "adjust" -> a new decision, iteration + 1, at "proposing"

Every member of the team proposes; the vote is open to the team's *active* members when
they vote, one vote each, changed by an UPDATE of the same row until the vote closes; a
member who left keeps a counted vote but cannot vote any more. The vote closes at its
deadline (a ``vote.deadline`` prompt) or as soon as every active member has voted; a tie
goes to the lead. The chosen proposal becomes a trial action with the Model for
Improvement's fields; members get ``trial.checkin`` prompts every few days during the trial
and the lead a ``trial.evaluate`` prompt at its end.

Every timed message goes through the prompt queue (``storage.prompts``) under a key that
starts with ``decision:<id>:``, so withdrawing a decision cancels all of its unsent
prompts at once. Free text (titles, proposals, notes) refuses CPR numbers.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage import audit, prompts
from storage.agenda import AgendaEntry
from storage.cpr import refuse_cpr
from storage.db import require_id, utcnow
from storage.models import (
    CHECKIN_NOTE_MAX_LENGTH,
    DECISION_TITLE_MAX_LENGTH,
    PROPOSAL_MAX_LENGTH,
    Checkin,
    CheckinAnswer,
    Decision,
    DecisionOrigin,
    DecisionStatus,
    Member,
    Membership,
    Outcome,
    Proposal,
    Resident,
    Role,
    TeamChat,
    TrialAction,
    Vote,
)

logger = logging.getLogger(__name__)

# Prompt kinds (docs/scheduling.md has their late policy).
KIND_OPEN = "vote.open"
KIND_BALLOT = "vote.ballot"
KIND_GROUP_BALLOT = "vote.group"
KIND_DEADLINE = "vote.deadline"
KIND_TIE = "vote.tie"
KIND_RESULT = "vote.result"
KIND_GROUP_RESULT = "vote.group_result"
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
    decision = _locked(session, decision_id)
    if decision.status in (DecisionStatus.DONE, DecisionStatus.WITHDRAWN):
        return False
    decision.status = DecisionStatus.WITHDRAWN
    decision.updated_at = now or utcnow()
    session.add(decision)
    prompts.cancel(session=session, key_prefix=key_prefix(decision_id))
    logger.info("Decision %s withdrawn", decision_id)
    return True


def _payload(decision_id: int, tz: ZoneInfo | None, **extra: str) -> dict[str, str | int]:
    """A prompt's payload: ids only, and the zone its times are shown in."""
    payload: dict[str, str | int] = {"decision_id": decision_id, **extra}
    if tz is not None:
        payload["tz"] = tz.key
    return payload


def key_prefix(decision_id: int) -> str:
    """The start of every prompt key of one decision."""
    return f"decision:{decision_id}:"


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
    decision = _locked(session, decision_id)
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


# ------------------------------------------------------------------ the vote


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
    decision = _locked(session, decision_id)
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
            payload=_payload(decision_id, tz),
        )
    if team_chat(session=session, team_id=decision.team_id) is not None:
        prompts.schedule(
            session=session,
            kind=KIND_GROUP_BALLOT,
            team_id=decision.team_id,
            dedupe_key=f"{base}group",
            due_at=now,
            expires_at=closes_at,
            payload=_payload(decision_id, tz),
        )
    prompts.schedule(
        session=session,
        kind=KIND_DEADLINE,
        team_id=decision.team_id,
        dedupe_key=f"{base}deadline",
        due_at=closes_at,
        payload=_payload(decision_id, tz),
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
    decision = _locked(session, decision_id)
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
        payload=_payload(decision_id, tz),
    )
    return decision


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
    decision = _locked(session, decision_id)
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
    decision = _locked(session, decision_id)
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
            _schedule_now(
                session, decision, KIND_TIE, f"{base}tie:member:{member_id}", member_id, now, tz
            )
        logger.info("Vote of decision %s tied between %s proposals", decision_id, len(tied))
        return CloseResult(decision=decision, winner=None, tied=tied, closed_now=True)
    decision.status = DecisionStatus.PLANNING
    decision.chosen_proposal_id = winner.id
    session.add(decision)
    for member_id in active_member_ids(session=session, team_id=decision.team_id):
        _schedule_now(
            session, decision, KIND_RESULT, f"{base}result:member:{member_id}", member_id, now, tz
        )
    if team_chat(session=session, team_id=decision.team_id) is not None:
        _schedule_now(session, decision, KIND_GROUP_RESULT, f"{base}group_result", None, now, tz)
    logger.info("Vote of decision %s closed: proposal %s chosen", decision_id, winner.id)
    return CloseResult(decision=decision, winner=winner, tied=tied, closed_now=True)


def _schedule_now(
    session: Session,
    decision: Decision,
    kind: str,
    key: str,
    member_id: int | None,
    now: datetime,
    tz: ZoneInfo | None = None,
) -> None:
    prompts.schedule(
        session=session,
        kind=kind,
        team_id=decision.team_id,
        member_id=member_id,
        dedupe_key=key,
        due_at=now,
        payload=_payload(require_id(decision), tz),
    )


def set_group_message(
    *, session: Session, decision_id: int, chat_id: int, message_id: int
) -> None:
    """Remembers the group message that carries the vote's buttons."""
    decision = _locked(session, decision_id)
    decision.group_chat_id = chat_id
    decision.group_message_id = message_id
    session.add(decision)


# ------------------------------------------------------------------ the trial action


def chosen_proposal(*, session: Session, decision: Decision) -> Proposal | None:
    """The proposal the vote (or the lead) chose."""
    if decision.chosen_proposal_id is None:
        return None
    return session.get(Proposal, decision.chosen_proposal_id)


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
    decision = _locked(session, decision_id)
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
        _schedule_now(
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
                payload=_payload(decision_id, tz, day=day.isoformat()),
            )
    prompts.schedule(
        session=session,
        kind=KIND_EVALUATE,
        team_id=decision.team_id,
        member_id=by_member_id,
        dedupe_key=f"{base}evaluate",
        due_at=max(_at_local(ends_on + timedelta(days=1), EVALUATE_LOCAL_TIME, tz), now),
        payload=_payload(decision_id, tz),
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
    decision = _locked(session, decision_id)
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
    decision = _locked(session, decision_id)
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
    decision = _locked(session, decision_id)
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


# ------------------------------------------------------------------ agenda sources


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


# ------------------------------------------------------------------ linked group chats


class GroupTaken(ValueError):
    """Raised when a group is linked to another team already."""


def link_group(
    *, session: Session, team_id: int, chat_id: int, by_member_id: int, now: datetime
) -> TeamChat:
    """Links a Telegram group to the team (replacing the team's previous group); a group
    linked to another team is refused."""
    existing = group_link(session=session, chat_id=chat_id)
    if existing is not None:
        if existing.team_id != team_id:
            raise GroupTaken(str(chat_id))
        return existing
    link = team_chat(session=session, team_id=team_id)
    if link is None:
        link = TeamChat(team_id=team_id, chat_id=chat_id)
    link.chat_id = chat_id
    link.linked_by_member_id = by_member_id
    link.linked_at = now
    session.add(link)
    session.flush()
    audit.record(
        session=session,
        actor=f"member:{by_member_id}",
        action="group.link",
        team_id=team_id,
        detail={"chat_id": chat_id},
    )
    logger.info("Team %s linked a group chat", team_id)
    return link


def unlink_group(*, session: Session, chat_id: int) -> bool:
    """Removes a group's link (the bot was removed from it); False if it had none."""
    link = group_link(session=session, chat_id=chat_id)
    if link is None:
        return False
    session.delete(link)
    session.flush()
    return True


def team_chat(*, session: Session, team_id: int) -> TeamChat | None:
    """The group linked to the team, if any."""
    return session.exec(select(TeamChat).where(col(TeamChat.team_id) == team_id)).first()


def group_link(*, session: Session, chat_id: int) -> TeamChat | None:
    """The link of a group chat, if it is linked to a team."""
    return session.exec(select(TeamChat).where(col(TeamChat.chat_id) == chat_id)).first()


def migrate_group(*, session: Session, old_chat_id: int, new_chat_id: int) -> bool:
    """Follows a group's upgrade to a supergroup: the stored chat id (the link's and the
    open votes' messages) becomes the new one. False when the old group was not linked."""
    link = group_link(session=session, chat_id=old_chat_id)
    if link is None:
        return False
    if group_link(session=session, chat_id=new_chat_id) is not None:
        return True  # the other half of the migration came first
    link.chat_id = new_chat_id
    session.add(link)
    for decision in session.exec(
        select(Decision).where(col(Decision.group_chat_id) == old_chat_id)
    ).all():
        decision.group_chat_id = new_chat_id
        session.add(decision)
    session.flush()
    logger.info("Team %s group chat migrated to a supergroup", link.team_id)
    return True


# ------------------------------------------------------------------ helpers


def _locked(session: Session, decision_id: int) -> Decision:
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
