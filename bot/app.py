"""Builds the Application: every flow registered here, explicitly, in one place."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Engine
from telegram import Update
from telegram.error import InvalidToken
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot import logs, scheduler
from bot.config import Settings
from bot.errors import handle_error
from flows import admin, guard, micromoment, moments, onboarding, residents, settings, team
from flows.engine import SERVICES_KEY, Router, Services, StemmeContext, register
from flows.i18n import LANGUAGES, texts
from flows.menu import set_default_menus
from storage.db import make_engine

logger = logging.getLogger(__name__)

StemmeApplication = Application[Any, StemmeContext, Any, Any, Any, Any]


SCHEDULER_KEY = "stemme.scheduler"


class MissingToken(RuntimeError):
    """Raised when the application is built without a bot token."""


def build_router() -> Router:
    """Every flow the bot has. The order of ``flows`` decides which entry point wins
    when two could match; none overlap today."""
    return Router(
        # Work from any step, for anyone: /start (with an invite), /help, /cancel, /language.
        always=onboarding.always_handlers(),
        flows=[
            residents.build_flow(),
            team.build_flow(),
            team.build_invite_flow(),
            moments.build_flow(),
            settings.build_flow(),
            admin.build_flow(),
            # Last: its fast path takes any plain text or voice outside a flow.
            micromoment.build_flow(),
        ],
        gates=guard.gates(),
    )


def build_application(settings: Settings, *, engine: Engine | None = None) -> StemmeApplication:
    """Creates the Application with its router, error handler and lifecycle hooks."""
    token = settings.token
    if not token:
        raise MissingToken("STEMME_BOT_TOKEN is not set")
    application: StemmeApplication = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.api_base_url)
        .base_file_url(settings.api_base_file_url)
        .context_types(ContextTypes(context=StemmeContext))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    register(
        application,
        Services(settings=settings, engine=engine or make_engine(settings.database_url)),
    )
    # One handler sees every update: the router applies the guard, then the user's flow.
    application.add_handler(build_router())
    application.add_error_handler(handle_error)
    return application


async def _post_init(application: StemmeApplication) -> None:
    services: Services = application.bot_data[SERVICES_KEY]
    settings = services.settings
    logger.info("Bot @%s started", application.bot.username)
    application.bot_data[SCHEDULER_KEY] = scheduler.start(services)
    await set_default_menus(
        application.bot,
        {language: texts(language, settings.tz) for language in LANGUAGES},
        settings.locale,
    )


async def _post_shutdown(application: StemmeApplication) -> None:
    services: Services = application.bot_data[SERVICES_KEY]
    running = application.bot_data.pop(SCHEDULER_KEY, None)
    if running is not None:
        running.shutdown(wait=False)
    services.engine.dispose()
    logger.info("Bot stopped")


def run(settings: Settings) -> None:
    """Runs the bot with long polling until interrupted."""
    logs.configure(settings.log_level, [settings.token or ""])
    application = build_application(settings)
    try:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken:
        # python-telegram-bot puts the token into this error's message: never print it.
        logger.error(
            "Telegram rejected the bot token. Check STEMME_BOT_TOKEN: BotFather shows the "
            "token of your bot under /mybots -> API Token."
        )
        raise SystemExit(2) from None
