"""``/dashboard`` and the chat's menu button: both open the team's dashboard, the Mini App
stemme serves under ``/app/`` (``webapp``), where Telegram identifies the user itself.

The address is ``STEMME_DASHBOARD_URL`` (by default the webhook's origin + ``/app/``).
Without one the command says so instead of showing a button that leads nowhere.
"""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonWebApp,
    Update,
    WebAppInfo,
)
from telegram.error import TelegramError
from telegram.ext import CommandHandler, filters

from flows.core.engine import END, Flow, StemmeContext, respond
from flows.core.guard import stranger
from flows.core.i18n import N_, Texts

logger = logging.getLogger(__name__)

BUTTON_LABEL = N_("Dashboard")


def dashboard_url(context: StemmeContext) -> str | None:
    """The dashboard's public address, if this installation has one."""
    return context.services.settings.dashboard_url


async def open_dashboard(update: Update, context: StemmeContext) -> str | None:
    """Sends the button that opens the dashboard (members and administrators)."""
    _ = context.texts._
    if context.team is None and not context.is_admin:
        await stranger(update, context)
        return END
    url = dashboard_url(context)
    if not url:
        await respond(
            update,
            _(
                "The dashboard is not set up on this installation yet. Your IT department "
                "turns it on with STEMME_DASHBOARD_URL (see docs/dashboard.md)."
            ),
        )
        return END
    if context.team is not None:
        text = _(
            "The team's dashboard: the residents' cards, the loop board, trial actions, the "
            "moments per week, the pulse and the meetings ahead. Telegram tells stemme who "
            "you are; nothing is shared outside your team."
        )
    else:
        text = _("The consultant's overview: every team's figures, never a note or a name.")
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(_(BUTTON_LABEL), web_app=WebAppInfo(url))]]
    )
    await respond(update, text, markup, edit=False)
    return END


async def set_dashboard_button(bot: Bot, texts: Texts, url: str | None) -> bool:
    """Makes the chat's menu button open the dashboard (every private chat's default);
    a failure is logged, not raised."""
    if not url:
        return False
    try:
        await bot.set_chat_menu_button(
            menu_button=MenuButtonWebApp(texts._(BUTTON_LABEL), WebAppInfo(url))
        )
    except TelegramError as error:
        logger.warning("Could not set the dashboard menu button: %s", type(error).__name__)
        return False
    return True


def build_flow() -> Flow:
    """``/dashboard``."""
    return Flow(
        name="dashboard",
        entry_points=[
            CommandHandler("dashboard", open_dashboard, filters=filters.ChatType.PRIVATE)
        ],
        open_to_strangers=True,
    )
