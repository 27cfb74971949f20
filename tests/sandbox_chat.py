"""A small team behind the sandbox's web chat, for its API and browser tests: the unmodified
bot polling the emulator on a migrated SQLite file, a lead and two staff members made with
the factories, two residents, a group, and the web app on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from bot.app import DISPATCHER_KEY, StemmeApplication, build_application
from sandbox.clock import FastForward
from sandbox.emulator import BotApiEmulator
from sandbox.run import catch_up
from sandbox.web import ChatPersona, SandboxChat, build_web_app
from storage.db import make_engine, session_scope
from storage.directory import get_member_by_telegram_id
from storage.migrate import upgrade
from storage.models import Role
from storage.pulse import set_site_threshold
from tests.e2e.conftest import BOT_USERNAME, TOKEN, e2e_settings, running
from tests.factories import id_of, make_member, make_resident, make_team

LEAD_ID, OMAR_ID, METTE_ID, STRANGER_ID = (
    7_000_000_001,
    7_000_000_002,
    7_000_000_003,
    7_000_000_009,
)
GROUP_ID = -7_000_100
RESIDENTS = ("Fru H., stue 12", "Hr. J., stue 3")

PERSONAS = [
    ChatPersona("lise", "Lise", "lead", LEAD_ID, LEAD_ID, "da", "Leder"),
    ChatPersona("omar", "Omar", "staff", OMAR_ID, OMAR_ID, "da", "Dagvagt"),
    ChatPersona("mette", "Mette", "staff", METTE_ID, METTE_ID, "da", "Aftenvagt"),
    ChatPersona("ukendt", "Kim", "stranger", STRANGER_ID, STRANGER_ID, "da"),
    ChatPersona("gruppe", "Team Rosen", "group", LEAD_ID, GROUP_ID, "da"),
]


@dataclass
class RunningChat:
    """The running web chat and what is behind it."""

    url: str
    emulator: BotApiEmulator
    application: StemmeApplication
    chat: SandboxChat
    engine: Engine
    team_id: int


def seed_team(engine: Engine) -> int:
    """The team, its members (with their Telegram ids) and residents; returns the team id."""
    with session_scope(engine) as session:
        team = make_team(session=session, name="Team Rosen")
        make_member(session=session, team=team, role=Role.LEAD, name="Lise", telegram_id=LEAD_ID)
        make_member(session=session, team=team, name="Omar", telegram_id=OMAR_ID)
        make_member(session=session, team=team, name="Mette", telegram_id=METTE_ID)
        for alias in RESIDENTS:
            make_resident(session=session, team=team, alias=alias)
        # Three answers are enough for the pulse's chart in this small team.
        set_site_threshold(session=session, site_id=team.site_id, threshold=3)
        return id_of(team)


def member_ids(engine: Engine) -> dict[int, int]:
    """Telegram id -> member id, for the team's three members."""
    with session_scope(engine) as session:
        found = {}
        for telegram_id in (LEAD_ID, OMAR_ID, METTE_ID):
            member = get_member_by_telegram_id(session=session, telegram_id=telegram_id)
            assert member is not None
            found[telegram_id] = id_of(member)
        return found


def wake(application: StemmeApplication) -> None:
    """Starts the prompt dispatcher's next round now."""
    application.bot_data[DISPATCHER_KEY].wake()


@asynccontextmanager
async def running_chat(tmp_path: Path, *, clock: bool = True) -> AsyncIterator[RunningChat]:
    """Everything running until the block ends."""
    url = f"sqlite:///{tmp_path / 'sandbox.db'}"
    upgrade(url)
    engine = make_engine(url, poolclass=NullPool)
    team_id = seed_team(engine)
    async with BotApiEmulator(token=TOKEN, username=BOT_USERNAME) as emulator:
        application = build_application(e2e_settings(emulator, url))
        async with running(application):
            fast_forward = None
            if clock:
                fast_forward = FastForward(
                    engine=engine, catch_up=catch_up(application), team_id=team_id
                )
            chat = SandboxChat.create(emulator, PERSONAS, fast_forward, engine=engine)
            runner = web.AppRunner(build_web_app(chat), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            try:
                yield RunningChat(
                    url=f"http://127.0.0.1:{port}/",
                    emulator=emulator,
                    application=application,
                    chat=chat,
                    engine=engine,
                    team_id=team_id,
                )
            finally:
                await runner.cleanup()
