"""``stemme sandbox``: the unmodified bot, on its own SQLite file, against the Bot API
emulator, with a web chat in the browser and a clock that can be moved ahead.

One process, one event loop: the emulator (``sandbox.emulator``) listens on a free
loopback port, the bot (``bot.app.build_application``, exactly as ``stemme run`` builds it)
polls it, and the web chat (``sandbox.web``) is served at ``STEMME_LISTEN``
(127.0.0.1:8080 by default). The database is ``data/sandbox.db``; the first start seeds
the care home "Plejehjemmet Solgården" (``sandbox.seed``), a restart finds it again.

The sandbox refuses to start with a bot token set (it never talks to Telegram) and
against a database that is not a sandbox's: a URL other than a SQLite file named
``…sandbox….db``, or a database that holds sites but not the seeded care home.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bot import dashboard, polling, scheduler
from bot.app import DISPATCHER_KEY, StemmeApplication, build_application
from bot.config import Settings, parse_listen
from flows.core.engine import SERVICES_KEY, Services
from flows.core.i18n import Texts, texts
from flows.moments.browse import SHIFT_LABELS
from sandbox.clock import FastForward
from sandbox.emulator import BotApiEmulator
from sandbox.seed import CareHome, find_care_home, seed_care_home
from sandbox.web import ChatPersona, SandboxChat, build_web_app
from storage import crypto, directory, migrate
from storage.db import make_engine, session_scope, utcnow

logger = logging.getLogger(__name__)

# The sandbox's own token: the emulator's, never a real bot's.
SANDBOX_TOKEN = "100000:stemme-sandbox"
SANDBOX_USERNAME = "stemme_sandbox_bot"
DEFAULT_DATABASE_URL = "sqlite:///data/sandbox.db"
DEFAULT_LISTEN = "127.0.0.1:8080"


class NotASandbox(Exception):
    """The database holds data that is not the sandbox's: the sandbox will not touch it."""


def database_url(settings: Settings) -> str:
    """The sandbox's database: ``STEMME_DATABASE_URL`` when set, else data/sandbox.db."""
    if "database_url" in settings.model_fields_set:
        return settings.database_url
    return DEFAULT_DATABASE_URL


def is_sandbox_url(url: str) -> bool:
    """A SQLite file whose name says sandbox (data/sandbox.db, /tmp/x/sandbox-1.db)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return False
    name = Path(parsed.database).name
    return "sandbox" in name and name.endswith(".db")


def problems(settings: Settings, t: Texts) -> list[str]:
    """Why the sandbox must not start with these settings (empty: it may)."""
    found: list[str] = []
    if settings.token:
        found.append(
            t._(
                "STEMME_BOT_TOKEN is set: the sandbox never talks to Telegram. Start the "
                'bot with "stemme run", or unset STEMME_BOT_TOKEN to try the sandbox.'
            )
        )
    url = database_url(settings)
    if not is_sandbox_url(url):
        found.append(
            t._(
                "STEMME_DATABASE_URL points at {url}, which is not a sandbox database. The "
                'sandbox only uses a SQLite file whose name contains "sandbox" (by default '
                "data/sandbox.db), so that it never writes into real data."
            ).format(url=make_url(url).render_as_string(hide_password=True))
        )
    listen = settings.listen or DEFAULT_LISTEN
    try:
        parse_listen(listen)
    except ValueError:
        found.append(
            t._("STEMME_LISTEN must be host:port, e.g. 127.0.0.1:8080 (it is {listen}).").format(
                listen=listen
            )
        )
    return found


def sandbox_settings(
    settings: Settings, emulator: BotApiEmulator, *, dashboard_url: str | None = None
) -> Settings:
    """The settings the bot runs with in the sandbox: the emulator's token and address, and
    the dashboard on the web chat's own address (``/app/``)."""
    return settings.model_copy(
        update={
            "bot_token": SecretStr(emulator.token),
            "bot_username": emulator.username,
            "database_url": database_url(settings),
            "api_base_url": emulator.base_url,
            "webhook_url": None,
            "dashboard_url": dashboard_url,
        }
    )


def prepare_database(settings: Settings) -> CareHome:
    """Migrates the sandbox's database and seeds it on first start; returns the care home.

    Raises :class:`NotASandbox` when the database holds sites but not the seeded one.
    """
    url = database_url(settings)
    parsed = make_url(url)
    if parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    crypto.configure(settings.model_copy(update={"database_url": url}).data_keys())
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            found = find_care_home(session=session)
            if found is not None:
                return found
            if directory.list_sites(session=session):
                raise NotASandbox(url)
            care_home = seed_care_home(session=session, now=utcnow(), tz=settings.tz)
        logger.info("Sandbox seeded")
        return care_home
    finally:
        engine.dispose()


def personas_of(care_home: CareHome, t: Texts) -> list[ChatPersona]:
    """Who the page can be: the lead, each staff member (with their shifts), a stranger,
    and the team's group, where the lead writes."""
    found = [
        ChatPersona(
            key=person.key,
            name=person.first_name,
            role="lead" if person is care_home.lead else "staff",
            user_id=person.telegram_id,
            chat_id=person.telegram_id,
            language=person.language,
            detail=", ".join(t._(SHIFT_LABELS[shift]) for shift in person.shifts),
        )
        for person in care_home.members
    ]
    stranger = care_home.stranger
    found.append(
        ChatPersona(
            key=stranger.key,
            name=stranger.first_name,
            role="stranger",
            user_id=stranger.telegram_id,
            chat_id=stranger.telegram_id,
            language=stranger.language,
        )
    )
    found.append(
        ChatPersona(
            key="group",
            name=care_home.group_title,
            role="group",
            user_id=care_home.lead.telegram_id,
            chat_id=care_home.group_chat_id,
            language=care_home.lead.language,
        )
    )
    return found


@dataclass
class Sandbox:
    """A running sandbox: where its page is, and its parts (for tests)."""

    url: str
    emulator: BotApiEmulator
    application: StemmeApplication
    chat: SandboxChat
    fast_forward: FastForward
    care_home: CareHome


def catch_up(application: StemmeApplication) -> Callable[[], Any]:
    """After the clock moved: plan the rhythm and the meetings with the new time, then wake
    the prompt dispatcher so everything now due goes out."""
    services: Services = application.bot_data[SERVICES_KEY]

    async def run() -> None:
        engine, tz = services.engine, services.settings.tz
        await asyncio.to_thread(scheduler.generate_meetings, engine, tz)
        await asyncio.to_thread(scheduler.plan_rhythm, engine, tz)
        application.bot_data[DISPATCHER_KEY].wake()

    return run


@asynccontextmanager
async def running(
    settings: Settings, *, address: tuple[str, int] | None = None
) -> AsyncIterator[Sandbox]:
    """Runs the sandbox until the block ends: database, emulator, bot and web chat, the
    page at ``address`` (default ``STEMME_LISTEN``; port 0 takes a free one)."""
    care_home = await asyncio.to_thread(prepare_database, settings)
    host, port = address or parse_listen(settings.listen or DEFAULT_LISTEN)
    # Bound first: the bot's menu button needs the page's address before the bot starts.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    url = f"http://{host}:{sock.getsockname()[1]}/"
    async with BotApiEmulator(
        SANDBOX_TOKEN, SANDBOX_USERNAME, clock=lambda: utcnow().timestamp()
    ) as emulator:
        application = build_application(
            sandbox_settings(settings, emulator, dashboard_url=f"{url}app/")
        )
        async with polling.running(application, poll_timeout=1):
            services: Services = application.bot_data[SERVICES_KEY]
            fast_forward = FastForward(
                engine=services.engine,
                catch_up=catch_up(application),
                team_id=care_home.team_id,
            )
            chat = SandboxChat.create(
                emulator,
                personas_of(care_home, texts(settings.locale, settings.tz)),
                fast_forward,
                engine=services.engine,
                dashboard=dashboard.for_application(application),
            )
            runner = web.AppRunner(build_web_app(chat), access_log=None)
            await runner.setup()
            site = web.SockSite(runner, sock)
            await site.start()
            try:
                yield Sandbox(
                    url=url,
                    emulator=emulator,
                    application=application,
                    chat=chat,
                    fast_forward=fast_forward,
                    care_home=care_home,
                )
            finally:
                await runner.cleanup()


def announce(url: str, t_da: Texts, t_en: Texts) -> str:
    """What the terminal shows once the sandbox is up, in Danish and English."""
    lines = []
    for t in (t_da, t_en):
        lines += [
            t._("stemme's sandbox is running: open {url} in your browser.").format(url=url),
            t._(
                "It is a made-up care home (Plejehjemmet Solgården, Team Rosen): switch "
                "between the lead, the staff and the team's group at the top of the page."
            ),
            t._("Stop it with Ctrl+C. With a bot token set, make run starts the real bot."),
            "",
        ]
    return "\n".join(lines).rstrip()


async def serve(settings: Settings, say: Callable[[str], None]) -> None:
    """Runs the sandbox until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with running(settings) as sandbox:
        say(announce(sandbox.url, texts("da", settings.tz), texts("en", settings.tz)))
        await stop.wait()
