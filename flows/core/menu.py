"""The commands each role can use: shown by /help and set as Telegram's command menu."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from flows.core.i18n import LANGUAGES, N_, Texts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    """A command, its description msgid, and whether only leads can use it."""

    name: str
    description: str
    lead_only: bool = False


MEMBER_COMMANDS = (
    Command("note", N_("Note a micro-moment")),
    Command("moments", N_("The team's micro-moments")),
    Command("card", N_("What matters to a resident")),
    Command("proposals", N_("Proposals, votes and trial actions")),
    Command("residents", N_("The team's residents")),
    Command("voice", N_("Borgerens stemme: listen to a resident")),
    Command("cases", N_("The team's cases: steps and what they wait for")),
    Command("meeting", N_("The team's reflection meetings")),
    Command("pulse", N_("Psychological safety pulse: answer anonymously")),
    Command("dilemma", N_("Bring a care dilemma to the next meeting")),
    Command("dilemmas", N_("The team's open dilemmas")),
    Command("team", N_("Your team, and switching team")),
    Command("dashboard", N_("The team's dashboard: cards, loop board, trends")),
    Command("invite", N_("Invite staff to the team"), lead_only=True),
    Command("settings", N_("Shift times and chat hygiene"), lead_only=True),
    Command("agenda", N_("The next reflection meeting's agenda"), lead_only=True),
    Command(
        "forloeb", N_("The course of dialogue meetings, and the leadership team"), lead_only=True
    ),
    Command("me", N_("My shifts, handover and end-of-shift nudge")),
    Command("mute", N_("Pause my reminders for a while")),
    Command("away", N_("When I am away (leads: the team's days off)")),
    Command("focus", N_("The team's monthly focus")),
    Command("privacy", N_("What is stored about the team, and for how long")),
    Command("language", N_("Change language")),
    Command("help", N_("What I can do for you")),
    Command("cancel", N_("Stop what you are doing")),
)

ADMIN_COMMANDS = (
    Command("teams", N_("Every team at a glance, and lead invites")),
    Command("safety", N_("Psychological safety across the teams (scores only)")),
    Command("dashboard", N_("Every team's figures at a glance")),
    Command("forloeb", N_("Every team's course of dialogue meetings")),
)

STRANGER_COMMANDS = (
    Command("start", N_("Start, or join a team with an invite")),
    Command("help", N_("What I can do for you")),
)


def commands_for(*, is_lead: bool) -> list[Command]:
    """Returns the commands a member can use in their role."""
    return [command for command in MEMBER_COMMANDS if is_lead or not command.lead_only]


def _bot_commands(commands: list[Command] | tuple[Command, ...], texts: Texts) -> list[BotCommand]:
    return [BotCommand(command.name, texts._(command.description)) for command in commands]


async def set_member_menu(bot: Bot, *, chat_id: int, is_lead: bool, texts: Texts) -> bool:
    """Sets the command menu of one member's private chat; a failure is logged, not raised."""
    try:
        await bot.set_my_commands(
            _bot_commands(commands_for(is_lead=is_lead), texts),
            scope=BotCommandScopeChat(chat_id),
        )
    except TelegramError as error:
        logger.warning("Could not set a member's command menu: %s", type(error).__name__)
        return False
    return True


async def clear_member_menu(bot: Bot, *, chat_id: int) -> bool:
    """Removes a former member's own menu, so they see the strangers' one again."""
    try:
        await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id))
    except TelegramError as error:
        logger.warning("Could not clear a member's command menu: %s", type(error).__name__)
        return False
    return True


async def set_default_menus(bot: Bot, texts_for: dict[str, Texts], default_language: str) -> bool:
    """Sets the menu strangers see, in every language; a failure is logged, not raised."""
    ok = True
    for language in LANGUAGES:
        texts = texts_for[language]
        codes: list[str | None] = [language]
        if language == default_language:
            codes.append(None)
        for code in codes:
            try:
                await bot.set_my_commands(
                    _bot_commands(STRANGER_COMMANDS, texts),
                    scope=BotCommandScopeDefault(),
                    language_code=code,
                )
            except TelegramError as error:
                logger.warning("Could not set the default command menu: %s", type(error).__name__)
                ok = False
    return ok
