"""Builds the Application: every flow registered here, explicitly, in one place."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session
from telegram.ext import Application, ApplicationBuilder, ContextTypes, ExtBot

from bot import metrics, scheduler
from bot.config import Settings
from bot.errors import handle_error
from bot.faults import TelegramRequest
from bot.prompts import DEFAULT_CONCURRENCY, Dispatcher, SendLimiter
from flows.core import guard
from flows.core.engine import SERVICES_KEY, Renderer, Router, Services, StemmeContext, register
from flows.core.i18n import LANGUAGES, texts
from flows.core.menu import set_default_menus
from flows.loop import care_record, cases, decision_notices, decisions, groups
from flows.meetings import agenda, agenda_notices, dilemmas, invitations, planning
from flows.moments import browse, micromoment
from flows.privacy import overview
from flows.programme import course
from flows.safety import notices as pulse_notices
from flows.safety import pulse
from flows.team import (
    admin,
    dashboard,
    members,
    onboarding,
    residents,
    rhythm,
    rhythm_notices,
    settings,
)
from storage import crypto, updates
from storage.db import make_engine, session_scope, utcnow
from storage.models import Prompt
from storage.rhythm import hold_until

logger = logging.getLogger(__name__)

StemmeApplication = Application[Any, StemmeContext, Any, Any, Any, Any]


SCHEDULER_KEY = "stemme.scheduler"
# Connections of the application's bot (python-telegram-bot's default for an Application).
APPLICATION_POOL_SIZE = 256
# How long a processed update's id is kept: Telegram delivers an update again for 24 hours.
UPDATES_KEPT = timedelta(days=2)
DISPATCHER_KEY = "stemme.dispatcher"


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
            members.build_flow(),
            members.build_invite_flow(),
            browse.build_flow(),
            settings.build_flow(),
            admin.build_flow(),
            planning.build_flow(),
            agenda.build_flow(),
            rhythm.build_flow(),
            cases.build_flow(),
            decisions.build_flow(),
            care_record.build_flow(),
            groups.build_flow(),
            pulse.build_flow(),
            dilemmas.build_flow(),
            overview.build_flow(),
            dashboard.build_flow(),
            # Before the administrators' one: an administrator who leads a team gets theirs.
            course.build_flow(),
            course.build_admin_flow(),
            # Last: its fast path takes any plain text or voice outside a flow.
            micromoment.build_flow(),
        ],
        gates=guard.gates(),
    )


def build_renderers(tz: ZoneInfo) -> dict[str, Renderer]:
    """Every kind of timed prompt the bot sends, and the function that renders it; times
    in prompts are shown in ``tz``."""
    registry: dict[str, Renderer] = {}
    for kinds in (
        agenda_notices.renderers(tz),
        invitations.renderers(),
        rhythm_notices.renderers(tz),
        cases.renderers(),
        decision_notices.renderers(),
        pulse_notices.renderers(),
        dilemmas.renderers(),
    ):
        for kind, renderer in kinds.items():
            if kind in registry:
                raise RuntimeError(f"two renderers for the prompt kind {kind}")
            registry[kind] = renderer
    return registry


def build_dispatcher(
    settings: Settings, engine: Engine, renderers: Mapping[str, Renderer]
) -> Dispatcher:
    """The prompt dispatcher, with its own rate-limited bot so timed prompts keep within
    Telegram's broadcast limits without slowing the answers to members."""
    token = settings.token
    assert token is not None
    bot: ExtBot[None] = ExtBot(
        token,
        base_url=settings.api_base_url,
        base_file_url=settings.api_base_file_url,
        # Counts Telegram's errors; the dispatcher has its own retry policy, so no retries.
        request=TelegramRequest(retry=False, connection_pool_size=DEFAULT_CONCURRENCY * 2),
        rate_limiter=SendLimiter(),
    )
    tz = settings.tz

    def gate(session: Session, prompt: Prompt, now: datetime) -> datetime | None:
        """Quiet hours, mute and absence (storage/rhythm.py)."""
        return hold_until(session=session, prompt=prompt, now=now, tz=tz)

    return Dispatcher(bot=bot, engine=engine, renderers=renderers, gate=gate)


def build_application(
    settings: Settings,
    *,
    engine: Engine | None = None,
    renderers: Mapping[str, Renderer] | None = None,
) -> StemmeApplication:
    """Creates the Application with its router, error handler and lifecycle hooks.

    ``renderers`` replaces ``build_renderers()`` (tests register their own kinds)."""
    token = settings.token
    if not token:
        raise MissingToken("STEMME_BOT_TOKEN is not set")
    application: StemmeApplication = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.api_base_url)
        .base_file_url(settings.api_base_file_url)
        # Repeats what is safe to repeat after 429, 5xx and network faults (bot/faults.py).
        .request(TelegramRequest(connection_pool_size=APPLICATION_POOL_SIZE))
        # Long polling (bot/polling.py) has its own backoff: counted, never repeated here.
        .get_updates_request(TelegramRequest(retry=False, connection_pool_size=1))
        .context_types(ContextTypes(context=StemmeContext))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    # Free text is encrypted at rest with the installation's data key (storage/crypto.py).
    crypto.configure(settings.data_keys())
    engine = engine or make_engine(settings.database_url)
    dispatcher = build_dispatcher(
        settings, engine, build_renderers(settings.tz) if renderers is None else renderers
    )
    application.bot_data[DISPATCHER_KEY] = dispatcher
    services = Services(
        settings=settings,
        engine=engine,
        outcomes=metrics.RouterOutcomes(),
        wake_prompts=dispatcher.wake,
    )
    register(application, services)
    # One handler sees every update: the router applies the guard, then the user's flow.
    application.add_handler(build_router())
    application.add_error_handler(handle_error)
    return application


def purge_processed_updates(engine: Engine) -> int:
    """Deletes the records of updates processed long enough ago that Telegram no longer
    delivers them again (storage/updates.py); returns how many."""
    with session_scope(engine) as session:
        return updates.purge(session=session, older_than=utcnow() - UPDATES_KEPT)


async def _post_init(application: StemmeApplication) -> None:
    services: Services = application.bot_data[SERVICES_KEY]
    settings = services.settings
    logger.info("Bot @%s started", application.bot.username)
    application.bot_data[SCHEDULER_KEY] = scheduler.start(services)
    application.bot_data[SCHEDULER_KEY].add_job(
        purge_processed_updates,
        "interval",
        hours=1,
        args=[services.engine],
        id="purge-processed-updates",
        coalesce=True,
        max_instances=1,
    )
    dispatcher: Dispatcher = application.bot_data[DISPATCHER_KEY]
    await dispatcher.bot.initialize()
    dispatcher.start()
    await set_default_menus(
        application.bot,
        {language: texts(language, settings.tz) for language in LANGUAGES},
        settings.locale,
    )
    await dashboard.set_dashboard_button(
        application.bot, texts(settings.locale, settings.tz), settings.dashboard_url
    )


async def _post_shutdown(application: StemmeApplication) -> None:
    services: Services = application.bot_data[SERVICES_KEY]
    running = application.bot_data.pop(SCHEDULER_KEY, None)
    if running is not None:
        running.shutdown(wait=False)
    dispatcher: Dispatcher = application.bot_data[DISPATCHER_KEY]
    await dispatcher.stop()
    await dispatcher.bot.shutdown()
    services.engine.dispose()
    logger.info("Bot stopped")


async def stop(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stops a started application and runs its ``post_stop`` (as ``run_polling`` does)."""
    await application.stop()
    if application.post_stop:
        await application.post_stop(application)


async def shut_down(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Shuts an initialized application down and runs its ``post_shutdown``."""
    await application.shutdown()
    if application.post_shutdown:
        await application.post_shutdown(application)
