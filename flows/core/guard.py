"""The answers the router gives by itself: strangers, CPR numbers, roles, stale buttons."""

from __future__ import annotations

import contextlib
import functools
import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from flows.core.engine import Gates, StemmeContext, Step, alert
from flows.core.i18n import Texts
from storage.cpr import contains_cpr

logger = logging.getLogger(__name__)


async def stranger(update: Update, context: StemmeContext) -> None:
    """Tells someone without a team how to get access; stores nothing about them."""
    _ = context.texts._
    chat = update.effective_chat
    if update.callback_query is not None:
        await alert(
            update,
            _("You are not a member of a team here. Ask your team lead for an invite link."),
        )
        return
    if chat is None or chat.type != ChatType.PRIVATE:
        return  # never answer strangers in groups: it would only add noise
    if context.member is not None:
        text = _(
            "You are no longer a member of any team, so I cannot show you anything. "
            "If this is a mistake, ask your team lead for a new invite link."
        )
    else:
        text = _(
            "Hello! I am stemme, the care team's tool for putting the resident's voice first.\n\n"
            "I can only be used by members of a care team. To get access, ask your team lead "
            "for an invite link and open it on this phone.\n\n"
            "I have not saved anything about you."
        )
    await chat.send_message(text)


async def cpr_refused(update: Update, context: StemmeContext) -> None:
    """Refuses text with a CPR number, removes the message and keeps the flow where it was."""
    _ = context.texts._
    message = update.effective_message
    removed = False
    if message is not None and update.effective_chat is not None:
        try:
            removed = bool(await message.delete())
        except TelegramError as error:
            logger.info("Message with a CPR number could not be deleted: %s", type(error).__name__)
    text = _(
        "That looks like a CPR number. stemme must never hold CPR numbers, so nothing was "
        'saved. Refer to the resident by the team\'s alias (e.g. "Mrs H., room 12") and '
        "send it again without the number."
    )
    if removed:
        text += "\n\n" + _("I have deleted your message from this chat.")
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(text)


async def lead_only(update: Update, context: StemmeContext) -> None:
    """Tells a staff member that only team leads can do this."""
    _ = context.texts._
    await alert(update, _("Only the team lead can do that."))


async def stale_button(update: Update, context: StemmeContext) -> None:
    """Answers a press on a button that no longer applies; nothing changes."""
    _ = context.texts._
    await alert(update, _("That button is no longer active. Nothing was changed."))


async def unexpected(update: Update, context: StemmeContext, hint: str | None) -> None:
    """Answers input that does not fit the current step; the flow stays where it was."""
    _ = context.texts._
    text = (
        _(hint)
        if hint
        else _("I did not expect that here. Use the buttons above, or send /cancel to stop.")
    )
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(text)


async def not_understood(update: Update, context: StemmeContext) -> None:
    """Answers a message outside any flow that no command matched."""
    _ = context.texts._
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(_("I did not understand that. Send /help to see what I can do."))


async def failed(update: Update, context: StemmeContext) -> None:
    """Apologises after a step failed and was undone; always tries to reach the user."""
    await apologise(update, context.texts)


async def apologise(update: Update, texts: Texts) -> None:
    """Says that something went wrong and nothing saved was lost, in the user's language."""
    _ = texts._
    query = update.callback_query
    if query is not None:
        # Already answered by the step, or too old: the message below still goes.
        with contextlib.suppress(TelegramError):
            await query.answer()
    chat = update.effective_chat
    if chat is None:
        return
    try:
        await chat.send_message(
            _(
                "Sorry, something went wrong on my side. Nothing you had saved was lost. "
                "Try again, or send /cancel to start over."
            )
        )
    except TelegramError as error:
        logger.warning(
            "Could not apologise for update %s: %s", update.update_id, type(error).__name__
        )


def gates() -> Gates:
    """The router's own answers, wired together."""
    return Gates(
        stranger=stranger,
        cpr_refused=cpr_refused,
        lead_only=lead_only,
        stale_button=stale_button,
        unexpected=unexpected,
        not_understood=not_understood,
        failed=failed,
        contains_cpr=contains_cpr,
    )


def leads_only(step: Step) -> Step:
    """Lets only the team's leads through to a step; staff get a polite refusal."""

    @functools.wraps(step)
    async def checked(update: Update, context: StemmeContext) -> str | None:
        if not context.is_lead:
            logger.info("Lead-only step %s refused for a staff member", step.__name__)
            await lead_only(update, context)
            return None
        return await step(update, context)

    return checked
