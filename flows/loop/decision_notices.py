"""The decision flow's timed prompts: the vote opening by itself, the ballot to each
member and to the team's linked group, the deadline, the tie for the lead, the result,
the trial's start, its check-ins and the evaluation. Each checks at send time that the
member is still active in the decision's team and the decision still at its status."""

from __future__ import annotations

import logging

from sqlmodel import Session
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import ChatMigrated

from flows.core.engine import Renderer
from flows.core.i18n import texts
from flows.loop.decision_views import (
    ANSWER_CODES,
    ANSWER_LABELS,
    GROUP_LANGUAGE,
    ballot_text,
    decision_markup,
    decision_subject,
    evaluation_message,
    prompt_zone,
    tie_buttons,
    trial_lines,
    vote_buttons,
)
from storage import decisions, directory, group_chats, trials, voting
from storage.db import require_id, utcnow
from storage.models import Decision, DecisionStatus, Member, Prompt, Role, TrialAction

logger = logging.getLogger(__name__)

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
            voting.open_vote(
                session=session,
                decision_id=require_id(decision),
                closes_at=closes_at,
                now=utcnow(),
                tz=prompt_zone(prompt),
            )
        except decisions.DecisionError:
            opened = False
    found = _recipient(session, prompt)
    if found is None:
        return
    member, _decision = found
    texts_ = texts(member.language, prompt_zone(prompt))
    _ = texts_._
    subject = decision_subject(texts_, session, decision)
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
    texts_ = texts(member.language, prompt_zone(prompt))
    did = require_id(decision)
    proposals = decisions.proposals_of(session=session, decision_id=did)
    vote_ = voting.my_vote(session=session, decision_id=did, member_id=require_id(member))
    await bot.send_message(
        member.telegram_id,
        ballot_text(texts_, session, decision),
        reply_markup=InlineKeyboardMarkup(
            vote_buttons(
                proposals, did, prefix="dec:vote", chosen=vote_.proposal_id if vote_ else None
            )
        ),
    )


async def render_group_ballot(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Posts the vote in the team's linked group; remembers the message for its count."""
    decision = decisions.get_decision(
        session=session, decision_id=int(prompt.payload.get("decision_id", 0))
    )
    link = group_chats.team_chat(session=session, team_id=prompt.team_id)
    if decision is None or link is None or decision.status != DecisionStatus.VOTING:
        return
    texts_ = texts(GROUP_LANGUAGE, prompt_zone(prompt))
    did = require_id(decision)
    proposals = decisions.proposals_of(session=session, decision_id=did)
    text = (
        ballot_text(texts_, session, decision)
        + "\n\n"
        + texts_._("Members of the team vote with the buttons; each member has one vote.")
    )
    markup = InlineKeyboardMarkup(vote_buttons(proposals, did, prefix="grp:vote"))
    message = await _send_to_group(bot, session, link.chat_id, text, markup)
    voting.set_group_message(
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
        group_chats.migrate_group(
            session=session, old_chat_id=chat_id, new_chat_id=error.new_chat_id
        )
        return await bot.send_message(error.new_chat_id, text, reply_markup=markup)
    if sent.chat.id != chat_id:
        group_chats.migrate_group(session=session, old_chat_id=chat_id, new_chat_id=sent.chat.id)
    return sent


async def render_deadline(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Closes the vote at its deadline; the results go out as their own prompts."""
    del bot  # the close sends nothing itself: vote.result and vote.tie prompts follow
    voting.close_vote(
        session=session,
        decision_id=int(prompt.payload.get("decision_id", 0)),
        now=utcnow(),
        tz=prompt_zone(prompt),
    )


async def render_tie(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Asks a lead to choose among the tied proposals."""
    found = _recipient(session, prompt)
    if found is None:
        return
    member, decision = found
    if decision.status != DecisionStatus.TIE:
        return
    texts_ = texts(member.language, prompt_zone(prompt))
    await bot.send_message(
        member.telegram_id,
        ballot_text(texts_, session, decision)
        + "\n\n"
        + texts_._("It is a tie. As the lead, you choose which proposal the team tries."),
        reply_markup=InlineKeyboardMarkup(tie_buttons(texts_, session, decision)),
    )


async def render_result(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Tells one member what the team chose; a lead gets the button to plan the trial."""
    found = _recipient(session, prompt)
    if found is None:
        return
    member, decision = found
    texts_ = texts(member.language, prompt_zone(prompt))
    _ = texts_._
    chosen = voting.chosen_proposal(session=session, decision=decision)
    if chosen is None:
        return
    did = require_id(decision)
    votes = voting.tally(session=session, decision_id=did).count_of(require_id(chosen))
    text = _('The team has chosen a trial action for "{subject}":\n\n{text}\n\n({votes})').format(
        subject=decision_subject(texts_, session, decision),
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
    link = group_chats.team_chat(session=session, team_id=prompt.team_id)
    if decision is None or link is None:
        return
    chosen = voting.chosen_proposal(session=session, decision=decision)
    if chosen is None:
        return
    texts_ = texts(GROUP_LANGUAGE, prompt_zone(prompt))
    text = texts_._("The vote is closed. The team tries: {text}").format(text=chosen.text)
    await _send_to_group(bot, session, link.chat_id, text)


def _trial_recipient(
    session: Session, prompt: Prompt
) -> tuple[Member, Decision, TrialAction] | None:
    """The prompt's member, its decision and the trial action, while the trial runs."""
    found = _recipient(session, prompt)
    if found is None:
        return None
    member, decision = found
    trial = trials.get_trial(session=session, decision_id=require_id(decision))
    if trial is None or decision.status != DecisionStatus.TRYING:
        return None
    return member, decision, trial


async def render_trial_started(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Tells one member about the new trial action."""
    found = _trial_recipient(session, prompt)
    if found is None:
        return
    member, decision, trial = found
    texts_ = texts(member.language, prompt_zone(prompt))
    lines = [
        texts_._("New trial action: {subject}").format(
            subject=decision_subject(texts_, session, decision)
        ),
        *trial_lines(texts_, session, trial),
        "",
        texts_._("Everyone on every shift tries it. I will ask you now and then how it goes."),
    ]
    await bot.send_message(member.telegram_id, "\n".join(lines))


async def render_checkin(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Asks one member whether they tried the trial action today."""
    found = _trial_recipient(session, prompt)
    if found is None:
        return
    member, decision, trial = found
    texts_ = texts(member.language, prompt_zone(prompt))
    day = str(prompt.payload.get("day"))
    did = require_id(decision)
    await bot.send_message(
        member.telegram_id,
        texts_._("Check-in: {subject}\n\n{action}\n\nDid you try it today?").format(
            subject=decision_subject(texts_, session, decision), action=trial.action
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
    trials.begin_evaluation(session=session, decision_id=require_id(decision), now=utcnow())
    texts_ = texts(member.language, prompt_zone(prompt))
    text, markup = evaluation_message(texts_, session, decision)
    await bot.send_message(member.telegram_id, text, reply_markup=markup)


def renderers() -> dict[str, Renderer]:
    """The timed prompt kinds this flow sends (docs/scheduling.md has their policy)."""
    return {
        voting.KIND_OPEN: render_open,
        voting.KIND_BALLOT: render_ballot,
        voting.KIND_GROUP_BALLOT: render_group_ballot,
        voting.KIND_DEADLINE: render_deadline,
        voting.KIND_TIE: render_tie,
        voting.KIND_RESULT: render_result,
        voting.KIND_GROUP_RESULT: render_group_result,
        trials.KIND_TRIAL_STARTED: render_trial_started,
        trials.KIND_CHECKIN: render_checkin,
        trials.KIND_EVALUATE: render_evaluate,
    }
