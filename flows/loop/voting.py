"""Deciding together, up to the choice: proposing (an over-long proposal kept and
trimmed on request), the lead opening the vote now or letting it open by itself, a
member's vote in a private chat or the team's group with its live count, and the lead
breaking a tie. The steps of the decision flow (decisions.py holds its table)."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError

from flows.core.engine import END, StemmeContext, alert, respond
from flows.core.guard import stale_button
from flows.core.i18n import texts
from flows.loop.decision_views import (
    GROUP_LANGUAGE,
    State,
    ballot_text,
    decision_subject,
    log_forged,
    matched_id,
    show_decision,
    team_decision,
    vote_buttons,
    zone_of,
)
from storage import decisions, directory, group_chats, voting
from storage.agenda import next_occurrence
from storage.db import require_id, utcnow
from storage.models import PROPOSAL_MAX_LENGTH, DecisionStatus
from storage.voting import VoteResult

logger = logging.getLogger(__name__)

DEADLINES = {"1d": timedelta(days=1), "3d": timedelta(days=3), "7d": timedelta(days=7)}
# The vote opens by itself at 08:00 local this many days ahead, and stays open 3 days.
AUTO_OPEN_DAYS = (1, 3)
AUTO_OPEN_AT = time(8, 0)
AUTO_OPEN_FOR = timedelta(days=3)


# ------------------------------------------------------------------ proposing


async def ask_proposal(update: Update, context: StemmeContext) -> str | None:
    """Asks for a proposal: what we do differently, concretely."""
    decision = team_decision(context, matched_id(context))
    if decision is None or decision.status != DecisionStatus.PROPOSING:
        if decision is None:
            log_forged(update, context, "propose", matched_id(context))
        await stale_button(update, context)
        return END
    context.flow_data = {"decision_id": decision.id}
    await respond(
        update,
        context.texts._(
            "{subject}\n\nWrite your proposal: what do we do differently, concretely? "
            "At most {limit} characters. /cancel stops."
        ).format(
            subject=decision_subject(context.texts, context.session, decision),
            limit=PROPOSAL_MAX_LENGTH,
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
    decision = team_decision(context, int(context.flow_data.get("decision_id", 0)))
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
    await show_decision(update, context, decision, edit=False)
    return END


# ------------------------------------------------------------------ opening the vote


async def ask_deadline(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead when the vote closes (or when it opens by itself)."""
    _ = context.texts._
    decision = team_decision(context, matched_id(context))
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
    tz = zone_of(context)
    day = utcnow().astimezone(tz).date() + timedelta(days=days)
    return datetime.combine(day, AUTO_OPEN_AT, tzinfo=tz)


async def open_now(update: Update, context: StemmeContext) -> str | None:
    """Opens the vote now with the chosen deadline."""
    _ = context.texts._
    decision = team_decision(context, matched_id(context))
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
    voting.open_vote(
        session=context.session,
        decision_id=require_id(decision),
        closes_at=closes_at,
        now=now,
        tz=zone_of(context),
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
    decision = team_decision(context, matched_id(context))
    days = matched_id(context, 2)
    if (
        decision is None
        or decision.status != DecisionStatus.PROPOSING
        or days not in AUTO_OPEN_DAYS
    ):
        await stale_button(update, context)
        return END
    opens = _auto_open(context, days)
    voting.schedule_vote_opening(
        session=context.session,
        decision_id=require_id(decision),
        opens_at=opens,
        closes_at=opens + AUTO_OPEN_FOR,
        by_member_id=require_id(member),
        now=utcnow(),
        tz=zone_of(context),
    )
    await respond(
        update,
        context.texts._(
            "The vote opens by itself {when}. Until then everyone can still propose."
        ).format(when=context.texts.when(opens)),
    )
    return END


# ------------------------------------------------------------------ voting


async def vote(update: Update, context: StemmeContext) -> str | None:
    """Counts or changes the member's vote and shows the live count (private chat)."""
    await press_vote(update, context, in_group=False)
    return None


async def press_vote(update: Update, context: StemmeContext, *, in_group: bool) -> None:
    """A press on a vote button, in a private chat or the team's group: counted for the
    member who pressed, if they are an active member of the decision's team."""
    _ = context.texts._
    decision_id, proposal_id = matched_id(context, 1), matched_id(context, 2)
    decision = decisions.get_decision(session=context.session, decision_id=decision_id)
    if in_group and decision is not None:
        chat = update.effective_chat
        link = group_chats.group_link(session=context.session, chat_id=chat.id if chat else 0)
        if link is None or link.team_id != decision.team_id:
            decision = None
    if decision is None:
        log_forged(update, context, "vote", decision_id)
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
        log_forged(update, context, "vote", decision_id)
        await stale_button(update, context)
        return
    now = utcnow()
    result = voting.cast_vote(
        session=context.session,
        decision_id=decision_id,
        member_id=require_id(member),
        proposal_id=proposal_id,
        now=now,
    )
    if result == VoteResult.UNKNOWN_PROPOSAL:
        log_forged(update, context, "vote", decision_id)
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
    if voting.all_voted(session=context.session, decision_id=decision_id):
        closed = voting.close_vote(
            session=context.session, decision_id=decision_id, now=now, tz=zone_of(context)
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
    group_texts = texts(GROUP_LANGUAGE, zone_of(context))
    shown_texts = group_texts if in_group else context.texts
    text = ballot_text(shown_texts, context.session, decision)
    if closed or decision.status != DecisionStatus.VOTING:
        markup = None
    else:
        markup = InlineKeyboardMarkup(
            vote_buttons(
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
            InlineKeyboardMarkup(vote_buttons(proposals, decision_id, prefix="grp:vote"))
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
    decision = team_decision(context, matched_id(context))
    if decision is None or decision.status != DecisionStatus.TIE:
        await stale_button(update, context)
        return END
    result = voting.close_vote(
        session=context.session,
        decision_id=require_id(decision),
        now=utcnow(),
        tie_break_proposal_id=matched_id(context, 2),
        tz=zone_of(context),
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
