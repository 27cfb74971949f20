"""Joining a team by invite link, choosing a language, /help and /cancel.

These handlers work from anywhere, for anyone, in any flow:

```mermaid
flowchart LR
    A["/start CODE (new user)"] -->|code usable| B[Dansk / English buttons]
    A -->|expired, used up, unknown| X[clear answer, nothing stored]
    B -->|lang:da:CODE| C[member joins team, welcome naming team]
    M["/start CODE (member)"] --> C
    L["/language"] --> B2[Dansk / English] -->|lang:en| D[language stored, menu updated]
```
The invite code travels in the language button itself, so nothing is stored
about a new user before they have chosen to join.
"""

from __future__ import annotations

import logging
import re

from babel import Locale
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from flows.core import guard
from flows.core.engine import END, StemmeContext, respond
from flows.core.i18n import LANGUAGES, N_, Texts, texts
from flows.core.menu import ADMIN_COMMANDS, commands_for, set_member_menu
from flows.moments.micromoment import BUTTON_LABEL, note_keyboard, tidy
from storage.directory import (
    InviteProblem,
    InviteRejected,
    check_invite,
    redeem_invite,
    set_language,
)
from storage.models import Role

logger = logging.getLogger(__name__)

CODE_PATTERN = re.compile(r"^[a-z0-9]{4,32}$")


def language_keyboard(code: str | None = None) -> InlineKeyboardMarkup:
    """Dansk / English buttons, each in its own language; an invite code rides along."""
    suffix = f":{code}" if code else ""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(_autonym(lang), callback_data=f"lang:{lang}{suffix}")]
            for lang in LANGUAGES
        ]
    )


def _autonym(language: str) -> str:
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def _in_every_language(context: StemmeContext, message: str) -> str:
    """The same sentence in every language, for the moment before a language is chosen."""
    tz = context.services.settings.tz
    return "\n".join(texts(language, tz)._(message) for language in LANGUAGES)


def _invite_problem_text(texts: Texts, problem: InviteProblem) -> str:
    _ = texts._
    if problem == InviteProblem.EXPIRED:
        return _("This invite link has expired. Ask your team lead for a new one.")
    if problem == InviteProblem.USED_UP:
        return _("This invite link has already been used. Ask your team lead for a new one.")
    return _(
        "I do not know this invite link. Check that you opened the whole link, or ask "
        "your team lead for a new one."
    )


def role_name(texts: Texts, role: str) -> str:
    """ "team lead" or "staff member", translated."""
    _ = texts._
    return _("team lead") if role == Role.LEAD else _("staff member")


async def start(update: Update, context: StemmeContext) -> str | None:
    """Greets a member, or begins joining a team when /start carries an invite code."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return None
    code = context.args[0].strip().lower() if context.args else ""
    if not code:
        if context.membership is not None:
            await _welcome_back(update, context)
        elif context.is_admin:
            await help_command(update, context)
        else:
            await guard.stranger(update, context)
        return None
    _ = context.texts._
    if not CODE_PATTERN.match(code):
        await respond(update, _invite_problem_text(context.texts, InviteProblem.UNKNOWN))
        return None
    try:
        check_invite(session=context.session, code=code)
    except InviteRejected as rejected:
        logger.info("Invite refused at /start: %s", rejected.problem.value)
        await respond(update, _invite_problem_text(context.texts, rejected.problem))
        return None
    if context.member is None:
        await respond(
            update,
            _in_every_language(context, N_("Choose your language to get started.")),
            language_keyboard(code),
        )
        return None
    await _join(update, context, code, context.member.language)
    return END


async def choose_language(update: Update, context: StemmeContext) -> str | None:
    """Stores the language; with an invite code in the button it also joins the team."""
    query = update.callback_query
    assert query is not None and context.matches
    language, code = context.matches[0].group(1), context.matches[0].group(2)
    settings = context.services.settings
    context.texts = texts(language, settings.tz)
    if code:
        await _join(update, context, code, language)
        return END
    if context.member is None:
        await guard.stranger(update, context)
        return None
    set_language(session=context.session, member=context.member, language=language)
    _ = context.texts._
    await respond(update, _("I will speak English with you from now on."))
    if context.membership is not None:
        await set_member_menu(
            context.bot, chat_id=query.from_user.id, is_lead=context.is_lead, texts=context.texts
        )
    return None


async def _join(update: Update, context: StemmeContext, code: str, language: str) -> None:
    user = update.effective_user
    assert user is not None
    _ = context.texts._
    try:
        joined = redeem_invite(
            session=context.session,
            code=code,
            telegram_id=user.id,
            name=user.full_name,
            language=language,
        )
    except InviteRejected as rejected:
        logger.info("Invite refused at joining: %s", rejected.problem.value)
        await respond(update, _invite_problem_text(context.texts, rejected.problem))
        return
    context.member, context.membership, context.team = (
        joined.member,
        joined.membership,
        joined.team,
    )
    role = role_name(context.texts, joined.membership.role)
    if joined.already_member:
        text = _("You are already a member of {team}, as {role}.").format(
            team=joined.team.name, role=role
        )
    else:
        text = _(
            "Welcome to {team}, {name}! You are a {role} in the team.\n\n"
            "Here the team notes what matters to the residents, so everyone can meet them "
            "the same good way. Send /help to see what you can do."
        ).format(team=joined.team.name, name=user.first_name, role=role)
    logger.info("Member %s joined team %s", joined.member.id, joined.team.id)
    await respond(update, text)
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(
            _(
                'Whenever something mattered to a resident, press "{button}" below, or just '
                "write or speak it to me: I will offer to save it as a micro-moment."
            ).format(button=_(BUTTON_LABEL)),
            reply_markup=note_keyboard(context.texts),
        )
    await set_member_menu(
        context.bot, chat_id=user.id, is_lead=context.is_lead, texts=context.texts
    )


async def _welcome_back(update: Update, context: StemmeContext) -> None:
    member, membership, team = context.require_member()
    _ = context.texts._
    await respond(
        update,
        _(
            "Hello again, {name}. You are in {team} as {role}. Send /help to see what you can do."
        ).format(name=member.name, team=team.name, role=role_name(context.texts, membership.role)),
    )


async def language(update: Update, context: StemmeContext) -> str | None:
    """Offers Dansk / English."""
    if context.member is None:
        await guard.stranger(update, context)
        return None
    await respond(
        update, _in_every_language(context, N_("Choose your language.")), language_keyboard()
    )
    return None


async def help_command(update: Update, context: StemmeContext) -> str | None:
    """Lists what this member can do in their role (and as administrator)."""
    if context.membership is None and not context.is_admin:
        await guard.stranger(update, context)
        return None
    _ = context.texts._
    lines: list[str] = []
    if context.team is not None and context.membership is not None:
        lines += [
            _("You are in {team} as {role}. This is what you can do:").format(
                team=context.team.name, role=role_name(context.texts, context.membership.role)
            ),
            "",
        ]
        lines += [
            f"/{command.name} – {_(command.description)}"
            for command in commands_for(is_lead=context.is_lead)
        ]
        lines.append("")
    if context.is_admin:
        lines += [_("As administrator you can also:")]
        lines += [f"/{command.name} – {_(command.description)}" for command in ADMIN_COMMANDS]
        lines.append("")
    lines += [_("/cancel always stops what you are doing; nothing you saved is lost.")]
    await respond(update, "\n".join(lines))
    return None


async def cancel(update: Update, context: StemmeContext) -> str | None:
    """Ends whatever flow the user is in, from any step."""
    if context.member is None:
        await guard.stranger(update, context)
        return None
    _ = context.texts._
    text = (
        _("Stopped. What you had already saved is kept.")
        if context.flow_name is not None
        else _("There is nothing to stop.")
    )
    if context.flow_name == "note" and context.team is not None and context.team.chat_hygiene:
        await tidy(update, context)  # an abandoned draft leaves nothing in the chat
    keyboard = note_keyboard(context.texts) if context.membership is not None else None
    await respond(update, text, keyboard if update.callback_query is None else None)
    return END


def always_handlers() -> list[BaseHandler[Update, StemmeContext, str | None]]:
    """Handlers that work from any step of any flow, for anyone."""
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("start", start, filters=private),
        CommandHandler("help", help_command, filters=private),
        CommandHandler("cancel", cancel, filters=private),
        CommandHandler("language", language, filters=private),
        CallbackQueryHandler(choose_language, pattern=r"^lang:(da|en)(?::([a-z0-9]{4,32}))?$"),
    ]
