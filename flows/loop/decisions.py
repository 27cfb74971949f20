"""Deciding together: proposals, the vote, the trial action, check-ins and evaluation.

```mermaid
flowchart TD
    P["/proposals"] --> L[the team's open decisions]
    L -->|lead: new team action| T[decision.title] --> S
    L --> S[a decision: proposals and what can be done now]
    S -->|Propose| PR[decision.propose: text, at most 500] --> S
    S -->|lead: Open the vote| DL[deadline: 1 day, 3 days, 1 week, next meeting, or opens later]
    DL --> V[vote.ballot to every member, vote.group to the linked group]
    V -->|press: counted or changed, live count| V
    V -->|deadline or everyone voted| R{winner?}
    R -->|tie| TB[vote.tie: the lead chooses] --> W
    R --> W[vote.result to every member; the lead plans]
    W --> A[decision.aim] --> M[decision.measure] --> AC[decision.action, prefilled]
    AC --> PL[decision.plan: days, follow-up, check-ins, start]
    PL --> C[trial.checkin every N days: helped / not helped / not relevant]
    C -->|Add a short note| CN[decision.checkin_note] --> C
    C --> E[trial.evaluate to the lead: summary; keep / adjust / drop]
    E -->|adjust: decision.adjust, type the change| S2[iteration 2 at proposing]
```

Every button carries the decision's id and is checked: a lead's buttons against the
lead's current team, votes and check-ins against the member's *active membership of the
decision's team* (a temp in two teams votes in both). A forged or stale button changes
nothing, gets ``guard.stale_button`` and a log line with ids only. Another flow (cases,
the pulse) starts a decision with ``storage.decisions.start_decision`` and sends the lead
``decision_markup`` (or just ``show_data(decision_id)``) to continue here.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, ChatMigrated, TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, Renderer, States, StemmeContext, alert, respond
from flows.core.guard import leads_only, stale_button
from flows.core.i18n import N_, Texts, texts
from flows.core.pickers import shorten
from flows.moments.micromoment import FREE_TEXT
from storage import decisions, directory
from storage.agenda import next_occurrence
from storage.db import require_id, utcnow
from storage.decisions import VoteResult
from storage.models import (
    DECISION_TITLE_MAX_LENGTH,
    PROPOSAL_MAX_LENGTH,
    CheckinAnswer,
    Decision,
    DecisionStatus,
    Member,
    Prompt,
    Proposal,
    Role,
    TrialAction,
)
from storage.residents import get_team_resident

logger = logging.getLogger(__name__)

DEFAULT_ZONE = "Europe/Copenhagen"
GROUP_LANGUAGE = "da"
PRIVATE = filters.ChatType.PRIVATE
# Typed answers: not a command, not the permanent micro-moment button (that starts a note).
TEXT = FREE_TEXT
BUTTON_TEXT_LENGTH = 40
LIST_TEXT_LENGTH = 200
DEADLINES = {"1d": timedelta(days=1), "3d": timedelta(days=3), "7d": timedelta(days=7)}
# The vote opens by itself at 08:00 local this many days ahead, and stays open 3 days.
AUTO_OPEN_DAYS = (1, 3)
AUTO_OPEN_AT = time(8, 0)
AUTO_OPEN_FOR = timedelta(days=3)
TRIAL_DAYS = (7, 14, 21, 28)
CHECKIN_EVERY = (2, 3, 5, 7)
ID = r"(\d{1,9})"


class State(States):
    """Steps that wait for typed input or the trial's buttons."""

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


def _zone(context: StemmeContext) -> ZoneInfo:
    return context.services.settings.tz


def _prompt_zone(prompt: Prompt) -> ZoneInfo:
    return ZoneInfo(str(prompt.payload.get("tz") or DEFAULT_ZONE))


def _id(context: StemmeContext, group: int = 1) -> int:
    assert context.matches
    return int(context.matches[0].group(group))


def _forged(update: Update, context: StemmeContext, what: str, decision_id: int) -> None:
    member_id = context.member.id if context.member else None
    logger.warning(
        "Refused %s button for decision %s from member %s (update %s)",
        what,
        decision_id,
        member_id,
        update.update_id,
    )


def _subject(texts_: Texts, session: Session, decision: Decision) -> str:
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


def _team_decision(context: StemmeContext, decision_id: int) -> Decision | None:
    _member, _membership, team = context.require_member()
    return decisions.get_team_decision(
        session=context.session, team_id=require_id(team), decision_id=decision_id
    )


# ------------------------------------------------------------------ the overview


async def overview(update: Update, context: StemmeContext) -> str | None:
    """Lists the team's open decisions; a lead can start a team action."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    found = decisions.open_decisions(session=context.session, team_id=require_id(team))
    rows = [
        [
            InlineKeyboardButton(
                shorten(_subject(context.texts, context.session, d), BUTTON_TEXT_LENGTH),
                callback_data=show_data(require_id(d)),
            )
        ]
        for d in found
    ]
    if context.is_lead:
        rows.append(
            [InlineKeyboardButton(_("➕ New trial action for the team"), callback_data="dec:new")]
        )
    if found:
        lines = [_("The team's open proposals and trial actions:")]
        lines += [
            "• "
            + _("{subject} ({status})").format(
                subject=_subject(context.texts, context.session, d),
                status=_(STATUS_LABELS[DecisionStatus(d.status)]),
            )
            for d in found
        ]
        text = "\n".join(lines)
    else:
        text = _("The team has no open proposals or trial actions.")
    kept = decisions.approaches_for_team(session=context.session, team_id=require_id(team)).kept
    if kept:
        text += "\n\n" + _("What we keep doing as a team:")
        text += "".join("\n✅ " + shorten(a.trial.action, LIST_TEXT_LENGTH) for a in kept[:5])
    await respond(update, text, InlineKeyboardMarkup(rows) if rows else None)
    return END


async def ask_title(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead for a short title of the team's new trial action."""
    await respond(
        update,
        context.texts._(
            "What should the team find a trial action for? Write a short title "
            '(e.g. "Calmer handovers"). /cancel stops.'
        ),
    )
    return State.TITLE


async def store_title(update: Update, context: StemmeContext) -> str | None:
    """Starts a team decision with the title and shows it."""
    member, _membership, team = context.require_member()
    message = update.effective_message
    assert message is not None and message.text is not None
    title = " ".join(message.text.split())
    if len(title) > DECISION_TITLE_MAX_LENGTH:
        await respond(
            update,
            context.texts._(
                "A title can have at most {limit} characters. Write a shorter one."
            ).format(limit=DECISION_TITLE_MAX_LENGTH),
        )
        return None
    decision = decisions.start_decision(
        session=context.session,
        team_id=require_id(team),
        resident_id=None,
        origin="team",
        origin_id=None,
        title=title,
        created_by_member_id=require_id(member),
    )
    await _show(update, context, decision, edit=False)
    return END


# ------------------------------------------------------------------ one decision


def _proposal_lines(
    texts_: Texts, proposals: list[Proposal], counts: dict[int, int] | None
) -> list[str]:
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


def _trial_lines(texts_: Texts, session: Session, trial: TrialAction) -> list[str]:
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


async def _show(
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
            require_id(p): n for p, n in decisions.tally(session=session, decision_id=did).counts
        }
    header = _subject(context.texts, session, decision)
    if decision.iteration > 1:
        header += " · " + _("round {number}").format(number=decision.iteration)
    lines = [header, _("Status: {status}").format(status=_(STATUS_LABELS[status])), ""]
    if proposals:
        lines.append(_("Proposals:"))
        lines += _proposal_lines(context.texts, proposals, counts)
    else:
        lines.append(_("No proposals yet. What could we do differently, concretely?"))
    trial = decisions.get_trial(session=session, decision_id=did)
    if trial is not None:
        lines += ["", _("Trial action:"), *_trial_lines(context.texts, session, trial)]
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
        rows += _vote_buttons(proposals, did, prefix="dec:vote", chosen=_my_choice(context, did))
    elif status == DecisionStatus.TIE and context.is_lead:
        rows += _tie_buttons(context.texts, session, decision)
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


def _my_choice(context: StemmeContext, decision_id: int) -> int | None:
    if context.member is None:
        return None
    vote = decisions.my_vote(
        session=context.session, decision_id=decision_id, member_id=require_id(context.member)
    )
    return vote.proposal_id if vote else None


def _vote_buttons(
    proposals: list[Proposal], decision_id: int, *, prefix: str, chosen: int | None = None
) -> list[list[InlineKeyboardButton]]:
    rows = []
    for number, proposal in enumerate(proposals, start=1):
        mark = "✓ " if proposal.id == chosen else ""
        label = f"{mark}{number}. {shorten(proposal.text, BUTTON_TEXT_LENGTH)}"
        rows.append(
            [InlineKeyboardButton(label, callback_data=f"{prefix}:{decision_id}:{proposal.id}")]
        )
    return rows


def _tie_buttons(
    texts_: Texts, session: Session, decision: Decision
) -> list[list[InlineKeyboardButton]]:
    did = require_id(decision)
    result = decisions.tally(session=session, decision_id=did)
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


async def show(update: Update, context: StemmeContext) -> str | None:
    """Shows one decision of the member's team."""
    decision = _team_decision(context, _id(context))
    if decision is None:
        _forged(update, context, "show", _id(context))
        await stale_button(update, context)
        return END
    await _show(update, context, decision)
    return END


# ------------------------------------------------------------------ proposing


async def ask_proposal(update: Update, context: StemmeContext) -> str | None:
    """Asks for a proposal: what we do differently, concretely."""
    decision = _team_decision(context, _id(context))
    if decision is None or decision.status != DecisionStatus.PROPOSING:
        if decision is None:
            _forged(update, context, "propose", _id(context))
        await stale_button(update, context)
        return END
    context.flow_data = {"decision_id": decision.id}
    await respond(
        update,
        context.texts._(
            "{subject}\n\nWrite your proposal: what do we do differently, concretely? "
            "At most {limit} characters. /cancel stops."
        ).format(
            subject=_subject(context.texts, context.session, decision), limit=PROPOSAL_MAX_LENGTH
        ),
        edit=False,
    )
    return State.PROPOSE


async def store_proposal(update: Update, context: StemmeContext) -> str | None:
    """Stores the proposal, or keeps an over-long one and asks for a shorter version."""
    message = update.effective_message
    assert message is not None and message.text is not None
    text = message.text.strip()
    if len(text) > PROPOSAL_MAX_LENGTH:
        context.flow_data["draft"] = text
        await respond(
            update,
            context.texts._(
                "Your proposal has {length} characters; at most {limit} fit. I have kept it: "
                "send a shorter version, or keep the first {limit} characters."
            ).format(length=len(text), limit=PROPOSAL_MAX_LENGTH),
            InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            context.texts._("Keep the first {limit} characters").format(
                                limit=PROPOSAL_MAX_LENGTH
                            ),
                            callback_data="dec:trim",
                        )
                    ]
                ]
            ),
        )
        return None
    return await _save_proposal(update, context, text)


async def trim_proposal(update: Update, context: StemmeContext) -> str | None:
    """Uses the first 500 characters of the over-long proposal."""
    draft = context.flow_data.get("draft")
    if not draft:
        await stale_button(update, context)
        return None
    return await _save_proposal(update, context, str(draft)[:PROPOSAL_MAX_LENGTH].strip())


async def _save_proposal(update: Update, context: StemmeContext, text: str) -> str | None:
    member, _membership, _team = context.require_member()
    decision = _team_decision(context, int(context.flow_data.get("decision_id", 0)))
    if decision is None or decision.status != DecisionStatus.PROPOSING:
        await respond(update, context.texts._("Proposals are closed: the vote has started."))
        return END
    decisions.add_proposal(
        session=context.session,
        decision_id=require_id(decision),
        author_member_id=require_id(member),
        text=text,
    )
    await respond(update, context.texts._("Thank you, your proposal is saved."), edit=False)
    await _show(update, context, decision, edit=False)
    return END


# ------------------------------------------------------------------ opening the vote


async def ask_deadline(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead when the vote closes (or when it opens by itself)."""
    _ = context.texts._
    decision = _team_decision(context, _id(context))
    if decision is None or decision.status != DecisionStatus.PROPOSING:
        await stale_button(update, context)
        return END
    did = require_id(decision)
    now = utcnow()
    rows = [
        [
            InlineKeyboardButton(_("In 1 day"), callback_data=f"dec:dl:{did}:1d"),
            InlineKeyboardButton(_("In 3 days"), callback_data=f"dec:dl:{did}:3d"),
            InlineKeyboardButton(_("In 1 week"), callback_data=f"dec:dl:{did}:7d"),
        ]
    ]
    meeting = next_occurrence(session=context.session, team_id=decision.team_id, now=now)
    if meeting is not None:
        rows.append(
            [
                InlineKeyboardButton(
                    _("At the next meeting ({when})").format(
                        when=context.texts.short_day(meeting.starts_at)
                    ),
                    callback_data=f"dec:dl:{did}:meet",
                )
            ]
        )
    for days in AUTO_OPEN_DAYS:
        opens = _auto_open(context, days)
        rows.append(
            [
                InlineKeyboardButton(
                    _("Open by itself {when}, for 3 days").format(when=context.texts.when(opens)),
                    callback_data=f"dec:auto:{did}:{days}",
                )
            ]
        )
    await respond(
        update,
        _("When does the vote close? Everyone gets a message now."),
        InlineKeyboardMarkup(rows),
    )
    return END


def _auto_open(context: StemmeContext, days: int) -> datetime:
    tz = _zone(context)
    day = utcnow().astimezone(tz).date() + timedelta(days=days)
    return datetime.combine(day, AUTO_OPEN_AT, tzinfo=tz)


async def open_now(update: Update, context: StemmeContext) -> str | None:
    """Opens the vote now with the chosen deadline."""
    _ = context.texts._
    decision = _team_decision(context, _id(context))
    if decision is None or decision.status != DecisionStatus.PROPOSING:
        await stale_button(update, context)
        return END
    assert context.matches
    choice = context.matches[0].group(2)
    now = utcnow()
    if choice == "meet":
        meeting = next_occurrence(session=context.session, team_id=decision.team_id, now=now)
        if meeting is None:
            await stale_button(update, context)
            return END
        closes_at = meeting.starts_at
    else:
        closes_at = now + DEADLINES[choice]
    decisions.open_vote(
        session=context.session,
        decision_id=require_id(decision),
        closes_at=closes_at,
        now=now,
        tz=_zone(context),
    )
    await respond(
        update,
        _("The vote is open until {when}. Every member gets a message with the proposals.").format(
            when=context.texts.when(closes_at)
        ),
    )
    return END


async def open_later(update: Update, context: StemmeContext) -> str | None:
    """Lets the vote open by itself at 08:00 in one or three days, for three days."""
    member, _membership, _team = context.require_member()
    decision = _team_decision(context, _id(context))
    days = _id(context, 2)
    if (
        decision is None
        or decision.status != DecisionStatus.PROPOSING
        or days not in AUTO_OPEN_DAYS
    ):
        await stale_button(update, context)
        return END
    opens = _auto_open(context, days)
    decisions.schedule_vote_opening(
        session=context.session,
        decision_id=require_id(decision),
        opens_at=opens,
        closes_at=opens + AUTO_OPEN_FOR,
        by_member_id=require_id(member),
        now=utcnow(),
        tz=_zone(context),
    )
    await respond(
        update,
        context.texts._(
            "The vote opens by itself {when}. Until then everyone can still propose."
        ).format(when=context.texts.when(opens)),
    )
    return END


# ------------------------------------------------------------------ voting


def ballot_text(texts_: Texts, session: Session, decision: Decision) -> str:
    """The vote's message: subject, proposals with their live count, deadline."""
    _ = texts_._
    did = require_id(decision)
    result = decisions.tally(session=session, decision_id=did)
    counts = {require_id(p): n for p, n in result.counts}
    lines = [
        _("🗳 Vote: {subject}").format(subject=_subject(texts_, session, decision)),
        "",
        *_proposal_lines(texts_, [p for p, _n in result.counts], counts),
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


async def vote(update: Update, context: StemmeContext) -> str | None:
    """Counts or changes the member's vote and shows the live count (private chat)."""
    await press_vote(update, context, in_group=False)
    return None


async def press_vote(update: Update, context: StemmeContext, *, in_group: bool) -> None:
    """A press on a vote button, in a private chat or the team's group: counted for the
    member who pressed, if they are an active member of the decision's team."""
    _ = context.texts._
    decision_id, proposal_id = _id(context, 1), _id(context, 2)
    decision = decisions.get_decision(session=context.session, decision_id=decision_id)
    if in_group and decision is not None:
        chat = update.effective_chat
        link = decisions.group_link(session=context.session, chat_id=chat.id if chat else 0)
        if link is None or link.team_id != decision.team_id:
            decision = None
    if decision is None:
        _forged(update, context, "vote", decision_id)
        await stale_button(update, context)
        return
    member = context.member
    membership = (
        directory.get_membership(
            session=context.session, member_id=require_id(member), team_id=decision.team_id
        )
        if member is not None
        else None
    )
    if member is None or membership is None:
        if in_group:
            logger.info("Group vote for decision %s by a non-member: refused", decision_id)
            await alert(update, _("Only members of the team can vote here. Nothing was counted."))
            return
        _forged(update, context, "vote", decision_id)
        await stale_button(update, context)
        return
    now = utcnow()
    result = decisions.cast_vote(
        session=context.session,
        decision_id=decision_id,
        member_id=require_id(member),
        proposal_id=proposal_id,
        now=now,
    )
    if result == VoteResult.UNKNOWN_PROPOSAL:
        _forged(update, context, "vote", decision_id)
        await stale_button(update, context)
        return
    if result == VoteResult.NOT_ELIGIBLE:
        await alert(
            update,
            _("You are no longer a member of this team, so you cannot vote. Nothing was counted."),
        )
        return
    if result == VoteResult.CLOSED:
        await alert(update, _("The vote is closed. Nothing was changed."))
        return
    closed = False
    if decisions.all_voted(session=context.session, decision_id=decision_id):
        closed = decisions.close_vote(
            session=context.session, decision_id=decision_id, now=now, tz=_zone(context)
        ).closed_now
    logger.info("Vote %s in decision %s by member %s", result.value, decision_id, member.id)
    proposals = decisions.proposals_of(session=context.session, decision_id=decision_id)
    number = next((n for n, p in enumerate(proposals, start=1) if p.id == proposal_id), 0)
    toast = {
        VoteResult.COUNTED: _("Your vote for {number} is counted."),
        VoteResult.CHANGED: _("Your vote is changed to {number}."),
        VoteResult.SAME: _("You have already voted for {number}."),
    }[result].format(number=number)
    if closed:
        toast += " " + _("Everyone has voted: the vote is closed.")
    group_texts = texts(GROUP_LANGUAGE, _zone(context))
    shown_texts = group_texts if in_group else context.texts
    text = ballot_text(shown_texts, context.session, decision)
    if closed or decision.status != DecisionStatus.VOTING:
        markup = None
    else:
        markup = InlineKeyboardMarkup(
            _vote_buttons(
                proposals,
                decision_id,
                prefix="grp:vote" if in_group else "dec:vote",
                chosen=None if in_group else proposal_id,
            )
        )
    query = update.callback_query
    assert query is not None
    group_chat, group_message = decision.group_chat_id, decision.group_message_id
    group_update = None
    if not in_group and group_chat is not None and group_message is not None:
        group_markup = (
            InlineKeyboardMarkup(_vote_buttons(proposals, decision_id, prefix="grp:vote"))
            if markup is not None
            else None
        )
        group_update = (ballot_text(group_texts, context.session, decision), group_markup)

    async def aftermath() -> None:
        await query.answer(toast)
        try:
            await query.edit_message_text(text, reply_markup=markup)
        except BadRequest as error:
            logger.info("Vote message not edited: %s", error.message)
        if group_update is not None:
            try:
                await context.bot.edit_message_text(
                    group_update[0],
                    chat_id=group_chat,
                    message_id=group_message,
                    reply_markup=group_update[1],
                )
            except TelegramError as error:
                logger.info("Group vote message not edited: %s", type(error).__name__)

    context.after_commit(aftermath)


async def break_tie(update: Update, context: StemmeContext) -> str | None:
    """The lead chooses among the tied proposals; the result goes to every member."""
    _ = context.texts._
    decision = _team_decision(context, _id(context))
    if decision is None or decision.status != DecisionStatus.TIE:
        await stale_button(update, context)
        return END
    result = decisions.close_vote(
        session=context.session,
        decision_id=require_id(decision),
        now=utcnow(),
        tie_break_proposal_id=_id(context, 2),
        tz=_zone(context),
    )
    if result.winner is None:
        await stale_button(update, context)
        return END
    await respond(
        update,
        _("You chose: {text}\nEveryone gets the result. Now plan the trial action.").format(
            text=result.winner.text
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Plan the trial action"), callback_data=f"dec:plan:{decision.id}"
                    )
                ]
            ]
        ),
    )
    return END


# ------------------------------------------------------------------ planning the trial


async def ask_aim(update: Update, context: StemmeContext) -> str | None:
    """Starts planning the chosen action: what do we want to achieve?"""
    decision = _team_decision(context, _id(context))
    if decision is None or decision.status != DecisionStatus.PLANNING:
        await stale_button(update, context)
        return END
    member, _membership, _team = context.require_member()
    chosen = decisions.chosen_proposal(session=context.session, decision=decision)
    context.flow_data = {
        "decision_id": decision.id,
        "action": chosen.text if chosen else "",
        # The lead follows up unless they choose someone else: one press less.
        "follow_up": member.id,
        "days": decisions.DEFAULT_TRIAL_DAYS,
        "every": decisions.DEFAULT_CHECKIN_EVERY_DAYS,
    }
    if decision.resident_id is not None:
        question = context.texts._(
            "The trial action: {action}\n\n1/3 What do we want to achieve for the resident? "
            "Write one or two sentences."
        )
    else:
        question = context.texts._(
            "The trial action: {action}\n\n1/3 What do we want to achieve as a team? "
            "Write one or two sentences."
        )
    await respond(update, question.format(action=context.flow_data["action"]), edit=False)
    return State.AIM


def _field(update: Update) -> str:
    message = update.effective_message
    assert message is not None and message.text is not None
    return message.text.strip()


async def _too_long(
    update: Update, context: StemmeContext, text: str, limit: int = decisions.FIELD_MAX_LENGTH
) -> bool:
    """Asks for a shorter version of an over-long answer; the answer is kept (in the
    conversation and in the chat above), and the step stays where it is."""
    if len(text) <= limit:
        return False
    context.flow_data["draft"] = text
    await respond(
        update,
        context.texts._(
            "That has {length} characters; at most {limit} fit. I have kept it: copy it from "
            "your message above and send a shorter version."
        ).format(length=len(text), limit=limit),
    )
    return True


async def store_aim(update: Update, context: StemmeContext) -> str | None:
    """Keeps the aim and asks how we will know it is better."""
    text = _field(update)
    if await _too_long(update, context, text):
        return None
    context.flow_data["aim"] = text
    await respond(
        update,
        context.texts._(
            '2/3 How will we know it is better? (e.g. "She eats breakfast with us 4 days out '
            'of 7")'
        ),
    )
    return State.MEASURE


async def store_measure(update: Update, context: StemmeContext) -> str | None:
    """Keeps the measure and shows the action from the chosen proposal, to keep or change."""
    text = _field(update)
    if await _too_long(update, context, text):
        return None
    context.flow_data["measure"] = text
    await respond(
        update,
        context.texts._(
            "3/3 What do we do? From the vote:\n\n{action}\n\nKeep it, or write it more precisely."
        ).format(action=context.flow_data.get("action", "")),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        context.texts._("Keep it as it is"), callback_data="dec:keepaction"
                    )
                ]
            ]
        ),
    )
    return State.ACTION


async def store_action(update: Update, context: StemmeContext) -> str | None:
    """Takes the typed action instead of the proposal's text."""
    text = _field(update)
    if await _too_long(update, context, text):
        return None
    context.flow_data["action"] = text
    await _show_plan(update, context, edit=False)
    return State.PLAN


async def keep_action(update: Update, context: StemmeContext) -> str | None:
    """Keeps the chosen proposal's text as the action."""
    await _show_plan(update, context)
    return State.PLAN


async def _show_plan(update: Update, context: StemmeContext, *, edit: bool = True) -> None:
    """The trial action as it will start, with buttons for duration, follow-up, check-ins."""
    _ = context.texts._
    data = context.flow_data
    _member, _membership, team = context.require_member()
    days = int(data.get("days", decisions.DEFAULT_TRIAL_DAYS))
    every = int(data.get("every", decisions.DEFAULT_CHECKIN_EVERY_DAYS))
    today = utcnow().astimezone(_zone(context)).date()
    follow_up = (
        directory.get_member(session=context.session, member_id=int(data["follow_up"]))
        if data.get("follow_up")
        else None
    )
    lines = [
        _("The trial action, ready to start:"),
        _("What we do: {action}").format(action=data.get("action", "")),
        _("What we want to achieve: {aim}").format(aim=data.get("aim", "")),
        _("How we will know: {measure}").format(measure=data.get("measure", "")),
        _("From {start} to {end}").format(
            start=context.texts.day(today), end=context.texts.day(today + timedelta(days=days))
        ),
        _("Follow-up: {name}").format(
            name=follow_up.name if follow_up else _("nobody chosen yet")
        ),
        context.texts.ngettext(
            "Check-in every {count} day", "Check-in every {count} days", every
        ).format(count=every),
    ]
    rows = [
        [
            InlineKeyboardButton(
                ("✓ " if n == days else "")
                + context.texts.ngettext("{count} day", "{count} days", n).format(count=n),
                callback_data=f"dec:days:{n}",
            )
            for n in TRIAL_DAYS
        ],
        [
            InlineKeyboardButton(
                ("✓ " if n == every else "") + _("every {count}").format(count=n),
                callback_data=f"dec:every:{n}",
            )
            for n in CHECKIN_EVERY
        ],
    ]
    members = directory.team_members(session=context.session, team_id=require_id(team))
    people = [
        InlineKeyboardButton(
            ("✓ " if follow_up is not None and row.member.id == follow_up.id else "")
            + shorten(row.member.name, 20),
            callback_data=f"dec:fu:{row.member.id}",
        )
        for row in members
    ]
    rows += [people[i : i + 3] for i in range(0, len(people), 3)]
    rows.append([InlineKeyboardButton(_("▶ Start the trial"), callback_data="dec:start")])
    lines += ["", _("Choose the length, how often we check in, and who follows up.")]
    await respond(update, "\n".join(lines), InlineKeyboardMarkup(rows), edit=edit)


async def set_days(update: Update, context: StemmeContext) -> str | None:
    """Sets the trial's length."""
    days = _id(context)
    if days not in TRIAL_DAYS:
        await stale_button(update, context)
        return None
    context.flow_data["days"] = days
    await _show_plan(update, context)
    return None


async def set_every(update: Update, context: StemmeContext) -> str | None:
    """Sets how often members are asked."""
    every = _id(context)
    if every not in CHECKIN_EVERY:
        await stale_button(update, context)
        return None
    context.flow_data["every"] = every
    await _show_plan(update, context)
    return None


async def set_follow_up(update: Update, context: StemmeContext) -> str | None:
    """Sets who follows up (an active member of the team)."""
    _member, _membership, team = context.require_member()
    member_id = _id(context)
    if not decisions.is_eligible(
        session=context.session, team_id=require_id(team), member_id=member_id
    ):
        await stale_button(update, context)
        return None
    context.flow_data["follow_up"] = member_id
    await _show_plan(update, context)
    return None


async def start_trial(update: Update, context: StemmeContext) -> str | None:
    """Starts the trial: every member is told, check-ins and the evaluation are scheduled."""
    _ = context.texts._
    member, _membership, _team = context.require_member()
    data = context.flow_data
    decision = _team_decision(context, int(data.get("decision_id", 0)))
    if decision is None or decision.status != DecisionStatus.PLANNING:
        await stale_button(update, context)
        return END
    if not data.get("follow_up"):
        await alert(update, _("Choose who follows up first."))
        return None
    tz = _zone(context)
    today = utcnow().astimezone(tz).date()
    trial = decisions.start_trial(
        session=context.session,
        decision_id=require_id(decision),
        aim=str(data["aim"]),
        measure=str(data["measure"]),
        action=str(data["action"]),
        starts_on=today,
        ends_on=today + timedelta(days=int(data.get("days", decisions.DEFAULT_TRIAL_DAYS))),
        follow_up_member_id=int(data["follow_up"]),
        checkin_every_days=int(data.get("every", decisions.DEFAULT_CHECKIN_EVERY_DAYS)),
        by_member_id=require_id(member),
        now=utcnow(),
        tz=tz,
    )
    await respond(
        update,
        _(
            "The trial has started and everyone is told. It ends {day}; then you get the "
            "check-ins to evaluate."
        ).format(day=context.texts.day(trial.ends_on)),
    )
    return END


# ------------------------------------------------------------------ check-ins


async def check_in(update: Update, context: StemmeContext) -> str | None:
    """Stores the member's answer to a check-in and offers to add a note."""
    _ = context.texts._
    decision_id = _id(context)
    assert context.matches
    code, raw_day = context.matches[0].group(3), context.matches[0].group(2)
    decision = decisions.get_decision(session=context.session, decision_id=decision_id)
    member = context.member
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        decision = None
    if (
        decision is None
        or member is None
        or not decisions.is_eligible(
            session=context.session, team_id=decision.team_id, member_id=require_id(member)
        )
    ):
        _forged(update, context, "check-in", decision_id)
        await stale_button(update, context)
        return None
    try:
        checkin = decisions.record_checkin(
            session=context.session,
            decision_id=decision_id,
            member_id=require_id(member),
            day=day,
            answer=ANSWER_CODES[code],
            now=utcnow(),
        )
    except decisions.DecisionError:
        await alert(update, _("This trial is over. Nothing was changed."))
        return None
    await respond(
        update,
        _("Thank you! Your answer: {answer}.").format(
            answer=_(ANSWER_LABELS[CheckinAnswer(checkin.answer)])
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("✏️ Add a short note"), callback_data=f"dec:cinote:{checkin.id}"
                    )
                ]
            ]
        ),
    )
    return None


async def ask_checkin_note(update: Update, context: StemmeContext) -> str | None:
    """Asks for the optional note to the member's own check-in."""
    member, _membership, _team = context.require_member()
    checkin = decisions.get_checkin(
        session=context.session, checkin_id=_id(context), member_id=require_id(member)
    )
    if checkin is None:
        await stale_button(update, context)
        return None
    context.flow_data = {"checkin_id": checkin.id}
    await respond(
        update,
        context.texts._("Write your note (at most {limit} characters). /cancel stops.").format(
            limit=decisions.FIELD_MAX_LENGTH
        ),
        edit=False,
    )
    return State.CHECKIN_NOTE


async def store_checkin_note(update: Update, context: StemmeContext) -> str | None:
    """Adds the member's note to their check-in."""
    member, _membership, _team = context.require_member()
    text = _field(update)
    if await _too_long(update, context, text):
        return None
    decisions.add_checkin_note(
        session=context.session,
        checkin_id=int(context.flow_data.get("checkin_id", 0)),
        member_id=require_id(member),
        note=text,
    )
    await respond(update, context.texts._("Your note is saved with the check-in."))
    return END


# ------------------------------------------------------------------ evaluation


def summary_lines(texts_: Texts, session: Session, decision: Decision) -> list[str]:
    """The trial's check-ins counted, and their notes (without names)."""
    _ = texts_._
    summary = decisions.checkin_summary(session=session, decision_id=require_id(decision))
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


def _evaluation(
    texts_: Texts, session: Session, decision: Decision
) -> tuple[str, InlineKeyboardMarkup]:
    _ = texts_._
    did = require_id(decision)
    trial = decisions.get_trial(session=session, decision_id=did)
    lines = [
        _("Time to evaluate the trial action: {subject}").format(
            subject=_subject(texts_, session, decision)
        )
    ]
    if trial is not None:
        lines += _trial_lines(texts_, session, trial)
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


async def evaluate_now(update: Update, context: StemmeContext) -> str | None:
    """Shows the lead the check-in summary and the evaluation buttons."""
    decision = _team_decision(context, _id(context))
    if decision is None or decision.status not in (
        DecisionStatus.TRYING,
        DecisionStatus.EVALUATING,
    ):
        await stale_button(update, context)
        return END
    text, markup = _evaluation(context.texts, context.session, decision)
    await respond(update, text, markup)
    return END


async def evaluate(update: Update, context: StemmeContext) -> str | None:
    """Keeps or drops the trial action, or asks for the change to try next."""
    _ = context.texts._
    member, _membership, _team = context.require_member()
    decision = _team_decision(context, _id(context))
    assert context.matches
    outcome = context.matches[0].group(2)
    if decision is None or decision.status not in (
        DecisionStatus.TRYING,
        DecisionStatus.EVALUATING,
    ):
        await stale_button(update, context)
        return END
    if outcome == "adjust":
        trial = decisions.get_trial(session=context.session, decision_id=require_id(decision))
        context.flow_data = {"decision_id": decision.id}
        await respond(
            update,
            _(
                "What do we change? Write the adjusted action (at most {limit} characters). "
                "It becomes the first proposal of the next round.\n\nNow: {action}"
            ).format(limit=PROPOSAL_MAX_LENGTH, action=trial.action if trial else ""),
            edit=False,
        )
        return State.ADJUST
    decisions.evaluate(
        session=context.session,
        decision_id=require_id(decision),
        outcome=outcome,
        by_member_id=require_id(member),
    )
    if outcome == "keep":
        text = _(
            "Kept. It is now the team's standing approach, on the resident card for everyone."
        )
    else:
        text = _("Dropped. The trial action is no longer on the card.")
    await respond(update, text)
    return END


async def store_adjustment(update: Update, context: StemmeContext) -> str | None:
    """Ends the trial as "adjust" and starts the next round with the change as a proposal."""
    member, _membership, _team = context.require_member()
    text = _field(update)
    if await _too_long(update, context, text, PROPOSAL_MAX_LENGTH):
        return None
    decision = _team_decision(context, int(context.flow_data.get("decision_id", 0)))
    if decision is None or decision.status not in (
        DecisionStatus.TRYING,
        DecisionStatus.EVALUATING,
    ):
        await stale_button(update, context)
        return END
    successor = decisions.evaluate(
        session=context.session,
        decision_id=require_id(decision),
        outcome="adjust",
        by_member_id=require_id(member),
        adjusted_action=text,
    )
    assert successor is not None
    await respond(
        update,
        context.texts._(
            "Adjusted. Round {number} starts with your change as the first proposal; the team "
            "can add more."
        ).format(number=successor.iteration),
    )
    await _show(update, context, successor, edit=False)
    return END


# ------------------------------------------------------------------ withdrawing


async def confirm_withdraw(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead before withdrawing a decision."""
    _ = context.texts._
    decision = _team_decision(context, _id(context))
    if decision is None or decision.status not in decisions.OPEN_STATUSES:
        await stale_button(update, context)
        return END
    await respond(
        update,
        _('Withdraw "{subject}"? Its proposals, vote and check-ins stop.').format(
            subject=_subject(context.texts, context.session, decision)
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Yes, withdraw"), callback_data=f"dec:withdraw!:{decision.id}"
                    ),
                    InlineKeyboardButton(_("No"), callback_data=show_data(require_id(decision))),
                ]
            ]
        ),
    )
    return END


async def withdraw(update: Update, context: StemmeContext) -> str | None:
    """Withdraws the decision and cancels its prompts."""
    decision = _team_decision(context, _id(context))
    if decision is None or not decisions.withdraw(
        session=context.session, decision_id=require_id(decision)
    ):
        await stale_button(update, context)
        return END
    await respond(update, context.texts._("Withdrawn."))
    return END


# ------------------------------------------------------------------ the resident card


def approach_lines(
    texts_: Texts, session: Session, *, team_id: int, resident_id: int, alias: str
) -> list[str]:
    """ "Sådan møder vi Fru H. nu": the trial being tried and the approaches the team kept."""
    _ = texts_._
    found = decisions.approaches_for_resident(
        session=session, team_id=team_id, resident_id=resident_id
    )
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


# ------------------------------------------------------------------ timed prompts


def _recipient(session: Session, prompt: Prompt) -> tuple[Member, Decision] | None:
    """The prompt's member and decision when the member is still active in the team."""
    decision = decisions.get_decision(
        session=session, decision_id=int(prompt.payload.get("decision_id", 0))
    )
    member = directory.get_member(session=session, member_id=prompt.member_id or 0)
    if decision is None or member is None:
        return None
    if not decisions.is_eligible(
        session=session, team_id=decision.team_id, member_id=require_id(member)
    ):
        logger.info("Prompt %s skipped: member %s left the team", prompt.id, prompt.member_id)
        return None
    return member, decision


async def render_open(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Opens the vote at its set time and tells the lead who set it (the vote opens even
    when that lead has left the team; then nobody is told here)."""
    decision = decisions.get_decision(
        session=session, decision_id=int(prompt.payload.get("decision_id", 0))
    )
    if decision is None or decision.status != DecisionStatus.PROPOSING:
        return
    closes_at = decision.closes_at
    opened = closes_at is not None
    if closes_at is not None:
        try:
            decisions.open_vote(
                session=session,
                decision_id=require_id(decision),
                closes_at=closes_at,
                now=utcnow(),
                tz=_prompt_zone(prompt),
            )
        except decisions.DecisionError:
            opened = False
    found = _recipient(session, prompt)
    if found is None:
        return
    member, _decision = found
    texts_ = texts(member.language, _prompt_zone(prompt))
    _ = texts_._
    subject = _subject(texts_, session, decision)
    if not opened or closes_at is None:
        logger.info("Vote of decision %s could not open by itself", decision.id)
        await bot.send_message(
            member.telegram_id,
            _(
                'The vote on "{subject}" could not open: it has no proposals, or its closing '
                "time has passed."
            ).format(subject=subject),
            reply_markup=decision_markup(texts_, require_id(decision)),
        )
        return
    await bot.send_message(
        member.telegram_id,
        _('The vote on "{subject}" is open now, until {when}.').format(
            subject=subject, when=texts_.when(closes_at)
        ),
    )


async def render_ballot(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Sends one member the vote with a button per proposal."""
    found = _recipient(session, prompt)
    if found is None:
        return
    member, decision = found
    if decision.status != DecisionStatus.VOTING:
        return
    texts_ = texts(member.language, _prompt_zone(prompt))
    did = require_id(decision)
    proposals = decisions.proposals_of(session=session, decision_id=did)
    vote_ = decisions.my_vote(session=session, decision_id=did, member_id=require_id(member))
    await bot.send_message(
        member.telegram_id,
        ballot_text(texts_, session, decision),
        reply_markup=InlineKeyboardMarkup(
            _vote_buttons(
                proposals, did, prefix="dec:vote", chosen=vote_.proposal_id if vote_ else None
            )
        ),
    )


async def render_group_ballot(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Posts the vote in the team's linked group; remembers the message for its count."""
    decision = decisions.get_decision(
        session=session, decision_id=int(prompt.payload.get("decision_id", 0))
    )
    link = decisions.team_chat(session=session, team_id=prompt.team_id)
    if decision is None or link is None or decision.status != DecisionStatus.VOTING:
        return
    texts_ = texts(GROUP_LANGUAGE, _prompt_zone(prompt))
    did = require_id(decision)
    proposals = decisions.proposals_of(session=session, decision_id=did)
    text = (
        ballot_text(texts_, session, decision)
        + "\n\n"
        + texts_._("Members of the team vote with the buttons; each member has one vote.")
    )
    markup = InlineKeyboardMarkup(_vote_buttons(proposals, did, prefix="grp:vote"))
    message = await _send_to_group(bot, session, link.chat_id, text, markup)
    decisions.set_group_message(
        session=session, decision_id=did, chat_id=message.chat_id, message_id=message.message_id
    )


async def _send_to_group(
    bot: Bot,
    session: Session,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> Message:
    """Sends to the linked group; a group upgraded to a supergroup behind our back (the
    migration update was missed) is followed and the message sent there. The bot's
    request (bot.faults) may already have sent it to the new chat: the link follows too."""
    try:
        sent = await bot.send_message(chat_id, text, reply_markup=markup)
    except ChatMigrated as error:
        decisions.migrate_group(
            session=session, old_chat_id=chat_id, new_chat_id=error.new_chat_id
        )
        return await bot.send_message(error.new_chat_id, text, reply_markup=markup)
    if sent.chat.id != chat_id:
        decisions.migrate_group(session=session, old_chat_id=chat_id, new_chat_id=sent.chat.id)
    return sent


async def render_deadline(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Closes the vote at its deadline; the results go out as their own prompts."""
    del bot  # the close sends nothing itself: vote.result and vote.tie prompts follow
    decisions.close_vote(
        session=session,
        decision_id=int(prompt.payload.get("decision_id", 0)),
        now=utcnow(),
        tz=_prompt_zone(prompt),
    )


async def render_tie(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Asks a lead to choose among the tied proposals."""
    found = _recipient(session, prompt)
    if found is None:
        return
    member, decision = found
    if decision.status != DecisionStatus.TIE:
        return
    texts_ = texts(member.language, _prompt_zone(prompt))
    await bot.send_message(
        member.telegram_id,
        ballot_text(texts_, session, decision)
        + "\n\n"
        + texts_._("It is a tie. As the lead, you choose which proposal the team tries."),
        reply_markup=InlineKeyboardMarkup(_tie_buttons(texts_, session, decision)),
    )


async def render_result(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Tells one member what the team chose; a lead gets the button to plan the trial."""
    found = _recipient(session, prompt)
    if found is None:
        return
    member, decision = found
    texts_ = texts(member.language, _prompt_zone(prompt))
    _ = texts_._
    chosen = decisions.chosen_proposal(session=session, decision=decision)
    if chosen is None:
        return
    did = require_id(decision)
    votes = decisions.tally(session=session, decision_id=did).count_of(require_id(chosen))
    text = _('The team has chosen a trial action for "{subject}":\n\n{text}\n\n({votes})').format(
        subject=_subject(texts_, session, decision),
        text=chosen.text,
        votes=texts_.ngettext("{count} vote", "{count} votes", votes).format(count=votes),
    )
    membership = directory.get_membership(
        session=session, member_id=require_id(member), team_id=decision.team_id
    )
    markup = None
    if (
        membership is not None
        and membership.role == Role.LEAD
        and decision.status == DecisionStatus.PLANNING
    ):
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("Plan the trial action"), callback_data=f"dec:plan:{did}")]]
        )
    await bot.send_message(member.telegram_id, text, reply_markup=markup)


async def render_group_result(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Posts the chosen proposal in the team's linked group."""
    decision = decisions.get_decision(
        session=session, decision_id=int(prompt.payload.get("decision_id", 0))
    )
    link = decisions.team_chat(session=session, team_id=prompt.team_id)
    if decision is None or link is None:
        return
    chosen = decisions.chosen_proposal(session=session, decision=decision)
    if chosen is None:
        return
    texts_ = texts(GROUP_LANGUAGE, _prompt_zone(prompt))
    text = texts_._("The vote is closed. The team tries: {text}").format(text=chosen.text)
    await _send_to_group(bot, session, link.chat_id, text)


async def render_trial_started(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Tells one member about the new trial action."""
    found = _recipient(session, prompt)
    if found is None:
        return
    member, decision = found
    trial = decisions.get_trial(session=session, decision_id=require_id(decision))
    if trial is None or decision.status != DecisionStatus.TRYING:
        return
    texts_ = texts(member.language, _prompt_zone(prompt))
    lines = [
        texts_._("New trial action: {subject}").format(
            subject=_subject(texts_, session, decision)
        ),
        *_trial_lines(texts_, session, trial),
        "",
        texts_._("Everyone on every shift tries it. I will ask you now and then how it goes."),
    ]
    await bot.send_message(member.telegram_id, "\n".join(lines))


async def render_checkin(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Asks one member whether they tried the trial action today."""
    found = _recipient(session, prompt)
    if found is None:
        return
    member, decision = found
    trial = decisions.get_trial(session=session, decision_id=require_id(decision))
    if trial is None or decision.status != DecisionStatus.TRYING:
        return
    texts_ = texts(member.language, _prompt_zone(prompt))
    day = str(prompt.payload.get("day"))
    did = require_id(decision)
    await bot.send_message(
        member.telegram_id,
        texts_._("Check-in: {subject}\n\n{action}\n\nDid you try it today?").format(
            subject=_subject(texts_, session, decision), action=trial.action
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        texts_._(ANSWER_LABELS[answer]), callback_data=f"dec:ci:{did}:{day}:{code}"
                    )
                ]
                for code, answer in ANSWER_CODES.items()
            ]
        ),
    )


async def render_evaluate(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Sends the lead the check-in summary and the keep / adjust / drop buttons."""
    decision = decisions.get_decision(
        session=session, decision_id=int(prompt.payload.get("decision_id", 0))
    )
    if decision is None or decision.status not in (
        DecisionStatus.TRYING,
        DecisionStatus.EVALUATING,
    ):
        return
    leads = decisions.active_member_ids(session=session, team_id=decision.team_id, role=Role.LEAD)
    member_id = prompt.member_id if prompt.member_id in leads else (leads[0] if leads else None)
    member = directory.get_member(session=session, member_id=member_id) if member_id else None
    if member is None:
        logger.info("Evaluation of decision %s has no active lead to go to", decision.id)
        return
    decisions.begin_evaluation(session=session, decision_id=require_id(decision), now=utcnow())
    texts_ = texts(member.language, _prompt_zone(prompt))
    text, markup = _evaluation(texts_, session, decision)
    await bot.send_message(member.telegram_id, text, reply_markup=markup)


def renderers() -> dict[str, Renderer]:
    """The timed prompt kinds this flow sends (docs/scheduling.md has their policy)."""
    return {
        decisions.KIND_OPEN: render_open,
        decisions.KIND_BALLOT: render_ballot,
        decisions.KIND_GROUP_BALLOT: render_group_ballot,
        decisions.KIND_DEADLINE: render_deadline,
        decisions.KIND_TIE: render_tie,
        decisions.KIND_RESULT: render_result,
        decisions.KIND_GROUP_RESULT: render_group_result,
        decisions.KIND_TRIAL_STARTED: render_trial_started,
        decisions.KIND_CHECKIN: render_checkin,
        decisions.KIND_EVALUATE: render_evaluate,
    }


def build_flow() -> Flow:
    """Proposals, the vote, the trial action, check-ins and evaluation."""
    lead = leads_only
    return Flow(
        name="decision",
        entry_points=[
            CommandHandler("proposals", overview, filters=PRIVATE),
            CallbackQueryHandler(overview, pattern=r"^dec:list$"),
            CallbackQueryHandler(lead(ask_title), pattern=r"^dec:new$"),
            CallbackQueryHandler(show, pattern=rf"^dec:show:{ID}$"),
            CallbackQueryHandler(ask_proposal, pattern=rf"^dec:propose:{ID}$"),
            CallbackQueryHandler(lead(ask_deadline), pattern=rf"^dec:open:{ID}$"),
            CallbackQueryHandler(lead(open_now), pattern=rf"^dec:dl:{ID}:(1d|3d|7d|meet)$"),
            CallbackQueryHandler(lead(open_later), pattern=rf"^dec:auto:{ID}:(\d)$"),
            CallbackQueryHandler(vote, pattern=rf"^dec:vote:{ID}:{ID}$"),
            CallbackQueryHandler(lead(break_tie), pattern=rf"^dec:tie:{ID}:{ID}$"),
            CallbackQueryHandler(lead(ask_aim), pattern=rf"^dec:plan:{ID}$"),
            CallbackQueryHandler(
                check_in, pattern=rf"^dec:ci:{ID}:(\d{{4}}-\d{{2}}-\d{{2}}):([hnx])$"
            ),
            CallbackQueryHandler(ask_checkin_note, pattern=rf"^dec:cinote:{ID}$"),
            CallbackQueryHandler(lead(evaluate_now), pattern=rf"^dec:evalnow:{ID}$"),
            CallbackQueryHandler(lead(evaluate), pattern=rf"^dec:ev:{ID}:(keep|adjust|drop)$"),
            CallbackQueryHandler(lead(confirm_withdraw), pattern=rf"^dec:withdraw:{ID}$"),
            CallbackQueryHandler(lead(withdraw), pattern=rf"^dec:withdraw!:{ID}$"),
        ],
        states={
            State.TITLE: [MessageHandler(TEXT, store_title)],
            State.PROPOSE: [
                MessageHandler(TEXT, store_proposal),
                CallbackQueryHandler(trim_proposal, pattern=r"^dec:trim$"),
            ],
            State.AIM: [MessageHandler(TEXT, store_aim)],
            State.MEASURE: [MessageHandler(TEXT, store_measure)],
            State.ACTION: [
                MessageHandler(TEXT, store_action),
                CallbackQueryHandler(keep_action, pattern=r"^dec:keepaction$"),
            ],
            State.PLAN: [
                CallbackQueryHandler(set_days, pattern=r"^dec:days:(\d{1,2})$"),
                CallbackQueryHandler(set_every, pattern=r"^dec:every:(\d{1,2})$"),
                CallbackQueryHandler(set_follow_up, pattern=rf"^dec:fu:{ID}$"),
                CallbackQueryHandler(lead(start_trial), pattern=r"^dec:start$"),
            ],
            State.CHECKIN_NOTE: [MessageHandler(TEXT, store_checkin_note)],
            State.ADJUST: [MessageHandler(TEXT, store_adjustment)],
        },
        hints={
            State.TITLE: N_("Write a short title as text, or send /cancel to stop."),
            State.PROPOSE: N_("Write your proposal as text, or send /cancel to stop."),
            State.AIM: N_("Write what we want to achieve as text, or send /cancel to stop."),
            State.MEASURE: N_("Write how we will know it is better, or send /cancel to stop."),
            State.ACTION: N_('Write what we do, or press "Keep it as it is".'),
            State.PLAN: N_('Use the buttons above, then press "Start the trial".'),
            State.CHECKIN_NOTE: N_("Write your note as text, or send /cancel to stop."),
            State.ADJUST: N_("Write the adjusted action as text, or send /cancel to stop."),
        },
    )
