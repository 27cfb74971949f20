"""What the decision flow shows and checks, shared by its steps (decisions.py, voting.py,
trials.py) and its timed prompts (decision_notices.py): the flow's states, the labels,
a decision's subject, proposals, ballot, trial and evaluation as text and buttons, the
"Proposals and vote" button other flows send, the resident card's approaches, and the
checks that find a pressed button's decision within the member's team."""

from __future__ import annotations

import logging
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlmodel import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from flows.core.engine import States, StemmeContext, respond
from flows.core.i18n import N_, Texts
from flows.core.pickers import shorten
from storage import decisions, directory, trials, voting
from storage.db import require_id
from storage.models import CheckinAnswer, Decision, DecisionStatus, Prompt, Proposal, TrialAction
from storage.residents import get_team_resident

logger = logging.getLogger(__name__)

DEFAULT_ZONE = "Europe/Copenhagen"
GROUP_LANGUAGE = "da"
BUTTON_TEXT_LENGTH = 40
LIST_TEXT_LENGTH = 200


class State(States):
    """Steps that wait for typed input or the trial's buttons (decisions.py's table)."""

    TITLE = "decision.title"
    PROPOSE = "decision.propose"
    AIM = "decision.aim"
    MEASURE = "decision.measure"
    ACTION = "decision.action"
    PLAN = "decision.plan"
    CHECKIN_NOTE = "decision.checkin_note"
    ADJUST = "decision.adjust"


STATUS_LABELS = {
    DecisionStatus.PROPOSING: N_("collecting proposals"),
    DecisionStatus.VOTING: N_("voting"),
    DecisionStatus.TIE: N_("tie: the lead chooses"),
    DecisionStatus.PLANNING: N_("chosen: the lead plans the trial"),
    DecisionStatus.TRYING: N_("trying it"),
    DecisionStatus.EVALUATING: N_("to be evaluated"),
    DecisionStatus.DONE: N_("done"),
    DecisionStatus.WITHDRAWN: N_("withdrawn"),
}
ANSWER_LABELS = {
    CheckinAnswer.HELPED: N_("Tried it, it helped"),
    CheckinAnswer.NOT_HELPED: N_("Tried it, it did not help"),
    CheckinAnswer.NOT_RELEVANT: N_("Not relevant today"),
}
ANSWER_CODES = {
    "h": CheckinAnswer.HELPED,
    "n": CheckinAnswer.NOT_HELPED,
    "x": CheckinAnswer.NOT_RELEVANT,
}


def show_data(decision_id: int) -> str:
    """The callback data of the button that opens a decision (for other flows' messages)."""
    return f"dec:show:{decision_id}"


def decision_markup(texts_: Texts, decision_id: int) -> InlineKeyboardMarkup:
    """A "Proposals and vote" button that opens the decision here (for cases, the pulse)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts_._("Proposals and vote"), callback_data=show_data(decision_id)
                )
            ]
        ]
    )


def zone_of(context: StemmeContext) -> ZoneInfo:
    """The installation's time zone, for deadlines and the trial's days."""
    return context.services.settings.tz


def prompt_zone(prompt: Prompt) -> ZoneInfo:
    """The time zone a timed prompt was scheduled in."""
    return ZoneInfo(str(prompt.payload.get("tz") or DEFAULT_ZONE))


def matched_id(context: StemmeContext, group: int = 1) -> int:
    """An id from the pressed button's callback data."""
    assert context.matches
    return int(context.matches[0].group(group))


def log_forged(update: Update, context: StemmeContext, what: str, decision_id: int) -> None:
    """Logs a refused (forged or stale) button, with ids only."""
    member_id = context.member.id if context.member else None
    logger.warning(
        "Refused %s button for decision %s from member %s (update %s)",
        what,
        decision_id,
        member_id,
        update.update_id,
    )


def decision_subject(texts_: Texts, session: Session, decision: Decision) -> str:
    """ "Fru H.: Mornings" for a resident's decision, the title alone for a team action."""
    if decision.resident_id is None:
        return decision.title
    resident = get_team_resident(
        session=session,
        team_id=decision.team_id,
        resident_id=decision.resident_id,
        active_only=False,
    )
    alias = resident.alias if resident else "?"
    return texts_._("{alias}: {title}").format(alias=alias, title=decision.title)


def team_decision(context: StemmeContext, decision_id: int) -> Decision | None:
    """The decision if it belongs to the member's current team, else None."""
    _member, _membership, team = context.require_member()
    return decisions.get_team_decision(
        session=context.session, team_id=require_id(team), decision_id=decision_id
    )


# ------------------------------------------------------------------ one decision


def proposal_lines(
    texts_: Texts, proposals: list[Proposal], counts: dict[int, int] | None
) -> list[str]:
    """The proposals numbered, with their vote counts once the vote has opened."""
    lines = []
    for number, proposal in enumerate(proposals, start=1):
        line = f"{number}. {shorten(proposal.text, LIST_TEXT_LENGTH)}"
        if counts is not None:
            votes = counts.get(require_id(proposal), 0)
            line += " · " + texts_.ngettext("{count} vote", "{count} votes", votes).format(
                count=votes
            )
        lines.append(line)
    return lines


def trial_lines(texts_: Texts, session: Session, trial: TrialAction) -> list[str]:
    """The trial action: what, aim, measure, dates and who follows up."""
    _ = texts_._
    follow_up = (
        directory.get_member(session=session, member_id=trial.follow_up_member_id)
        if trial.follow_up_member_id
        else None
    )
    lines = [
        _("What we do: {action}").format(action=trial.action),
        _("What we want to achieve: {aim}").format(aim=trial.aim),
        _("How we will know: {measure}").format(measure=trial.measure),
        _("From {start} to {end}").format(
            start=texts_.day(trial.starts_on), end=texts_.day(trial.ends_on)
        ),
    ]
    if follow_up is not None:
        lines.append(_("Follow-up: {name}").format(name=follow_up.name))
    return lines


async def show_decision(
    update: Update, context: StemmeContext, decision: Decision, *, edit: bool = True
) -> None:
    """Shows a decision with the buttons the member can use at its status."""
    _ = context.texts._
    session = context.session
    did = require_id(decision)
    status = DecisionStatus(decision.status)
    proposals = decisions.proposals_of(session=session, decision_id=did)
    counts = None
    if status != DecisionStatus.PROPOSING:
        counts = {
            require_id(p): n for p, n in voting.tally(session=session, decision_id=did).counts
        }
    header = decision_subject(context.texts, session, decision)
    if decision.iteration > 1:
        header += " · " + _("round {number}").format(number=decision.iteration)
    lines = [header, _("Status: {status}").format(status=_(STATUS_LABELS[status])), ""]
    if proposals:
        lines.append(_("Proposals:"))
        lines += proposal_lines(context.texts, proposals, counts)
    else:
        lines.append(_("No proposals yet. What could we do differently, concretely?"))
    trial = trials.get_trial(session=session, decision_id=did)
    if trial is not None:
        lines += ["", _("Trial action:"), *trial_lines(context.texts, session, trial)]
    if status == DecisionStatus.VOTING and decision.closes_at is not None:
        lines += [
            "",
            _("The vote closes {when}.").format(when=context.texts.when(decision.closes_at)),
        ]
    elif status == DecisionStatus.PROPOSING and decision.opens_at is not None:
        lines += [
            "",
            _("The vote opens by itself {when}.").format(
                when=context.texts.when(decision.opens_at)
            ),
        ]
    rows: list[list[InlineKeyboardButton]] = []
    if status == DecisionStatus.PROPOSING:
        rows.append([InlineKeyboardButton(_("➕ Propose"), callback_data=f"dec:propose:{did}")])
        if context.is_lead and proposals:
            rows.append(
                [InlineKeyboardButton(_("🗳 Open the vote"), callback_data=f"dec:open:{did}")]
            )
    elif status == DecisionStatus.VOTING:
        rows += vote_buttons(proposals, did, prefix="dec:vote", chosen=my_choice(context, did))
    elif status == DecisionStatus.TIE and context.is_lead:
        rows += tie_buttons(context.texts, session, decision)
    elif status == DecisionStatus.PLANNING and context.is_lead:
        rows.append(
            [InlineKeyboardButton(_("Plan the trial action"), callback_data=f"dec:plan:{did}")]
        )
    elif status in (DecisionStatus.TRYING, DecisionStatus.EVALUATING) and context.is_lead:
        rows.append([InlineKeyboardButton(_("Evaluate now"), callback_data=f"dec:evalnow:{did}")])
    if context.is_lead and status in decisions.OPEN_STATUSES:
        rows.append([InlineKeyboardButton(_("Withdraw"), callback_data=f"dec:withdraw:{did}")])
    await respond(
        update, "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None, edit=edit
    )


def my_choice(context: StemmeContext, decision_id: int) -> int | None:
    """The proposal the member voted for, if any."""
    if context.member is None:
        return None
    vote = voting.my_vote(
        session=context.session, decision_id=decision_id, member_id=require_id(context.member)
    )
    return vote.proposal_id if vote else None


def vote_buttons(
    proposals: list[Proposal], decision_id: int, *, prefix: str, chosen: int | None = None
) -> list[list[InlineKeyboardButton]]:
    """A button per proposal; the member's own choice ticked."""
    rows = []
    for number, proposal in enumerate(proposals, start=1):
        mark = "✓ " if proposal.id == chosen else ""
        label = f"{mark}{number}. {shorten(proposal.text, BUTTON_TEXT_LENGTH)}"
        rows.append(
            [InlineKeyboardButton(label, callback_data=f"{prefix}:{decision_id}:{proposal.id}")]
        )
    return rows


def tie_buttons(
    texts_: Texts, session: Session, decision: Decision
) -> list[list[InlineKeyboardButton]]:
    """A button per tied proposal, for the lead to choose."""
    did = require_id(decision)
    result = voting.tally(session=session, decision_id=did)
    best = max((n for _p, n in result.counts), default=0)
    numbered = list(enumerate((p for p, _n in result.counts), start=1))
    counts = {require_id(p): n for p, n in result.counts}
    return [
        [
            InlineKeyboardButton(
                texts_._("Choose {number}. {text}").format(
                    number=number, text=shorten(p.text, BUTTON_TEXT_LENGTH)
                ),
                callback_data=f"dec:tie:{did}:{p.id}",
            )
        ]
        for number, p in numbered
        if counts[require_id(p)] == best
    ]


# ------------------------------------------------------------------ the ballot


def ballot_text(texts_: Texts, session: Session, decision: Decision) -> str:
    """The vote's message: subject, proposals with their live count, deadline."""
    _ = texts_._
    did = require_id(decision)
    result = voting.tally(session=session, decision_id=did)
    counts = {require_id(p): n for p, n in result.counts}
    lines = [
        _("🗳 Vote: {subject}").format(subject=decision_subject(texts_, session, decision)),
        "",
        *proposal_lines(texts_, [p for p, _n in result.counts], counts),
        "",
        _("{voted} of {eligible} have voted.").format(
            voted=result.voted, eligible=result.eligible
        ),
    ]
    if decision.status == DecisionStatus.VOTING and decision.closes_at is not None:
        lines.append(
            _("One vote each; you can change it until {when}.").format(
                when=texts_.when(decision.closes_at)
            )
        )
    elif decision.status != DecisionStatus.VOTING:
        lines.append(_("The vote is closed."))
    return "\n".join(lines)


# ------------------------------------------------------------------ evaluation


def summary_lines(texts_: Texts, session: Session, decision: Decision) -> list[str]:
    """The trial's check-ins counted, and their notes (without names)."""
    _ = texts_._
    summary = trials.checkin_summary(session=session, decision_id=require_id(decision))
    lines = [
        _("Check-ins from {members} members:").format(members=summary.members),
        "• " + _("Tried it, it helped: {count}").format(count=summary.helped),
        "• " + _("Tried it, it did not help: {count}").format(count=summary.not_helped),
        "• " + _("Not relevant: {count}").format(count=summary.not_relevant),
    ]
    if summary.notes:
        lines.append(_("Notes:"))
        lines += [f"– {shorten(note, LIST_TEXT_LENGTH)}" for note in summary.notes]
    return lines


def evaluation_message(
    texts_: Texts, session: Session, decision: Decision
) -> tuple[str, InlineKeyboardMarkup]:
    """The lead's evaluation: the trial, its check-ins, and keep / adjust / drop."""
    _ = texts_._
    did = require_id(decision)
    trial = trials.get_trial(session=session, decision_id=did)
    lines = [
        _("Time to evaluate the trial action: {subject}").format(
            subject=decision_subject(texts_, session, decision)
        )
    ]
    if trial is not None:
        lines += trial_lines(texts_, session, trial)
    lines += ["", *summary_lines(texts_, session, decision), "", _("What does the team decide?")]
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Keep it: our standing approach"), callback_data=f"dec:ev:{did}:keep"
                )
            ],
            [
                InlineKeyboardButton(
                    _("Adjust it and try again"), callback_data=f"dec:ev:{did}:adjust"
                )
            ],
            [InlineKeyboardButton(_("Drop it"), callback_data=f"dec:ev:{did}:drop")],
        ]
    )
    return "\n".join(lines), markup


# ------------------------------------------------------------------ the resident card


def approach_lines(
    texts_: Texts, session: Session, *, team_id: int, resident_id: int, alias: str
) -> list[str]:
    """ "Sådan møder vi Fru H. nu": the trial being tried and the approaches the team kept."""
    found = trials.approaches_for_resident(
        session=session, team_id=team_id, resident_id=resident_id
    )
    return approach_lines_of(texts_, found, alias=alias)


def approach_lines_of(texts_: Texts, found: trials.Approaches, *, alias: str) -> list[str]:
    """``approach_lines`` from approaches already read."""
    _ = texts_._
    if not found.current and not found.kept:
        return []
    lines = [_("How we meet {alias} now").format(alias=alias)]
    for approach in found.current:
        lines.append(
            "🔄 "
            + _("Trying until {day}: {action}").format(
                day=texts_.short_day(
                    datetime.combine(approach.trial.ends_on, time(12), tzinfo=texts_.tz)
                ),
                action=approach.trial.action,
            )
        )
    for approach in found.kept:
        lines.append("✅ " + approach.trial.action)
    return lines
