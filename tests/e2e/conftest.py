"""End-to-end fixtures: the unmodified Application over HTTP against the Bot API emulator.

``bot`` builds the application exactly as ``stemme run`` does (``build_application``
with ``STEMME_API_BASE_URL`` pointing at the emulator on loopback) and runs it with
long polling in the test's event loop. ``admin`` runs the real command line against
the same database, as an IT department would.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from bot import polling
from bot.app import StemmeApplication, build_application
from bot.cli import main as cli_main
from bot.config import Settings
from sandbox.emulator import BotApiEmulator
from storage.db import make_engine
from storage.migrate import upgrade

TOKEN = "123456:TEST-TOKEN-e2e"
BOT_USERNAME = "stemme_test_bot"

Admin = Callable[..., dict[str, Any]]


@pytest.fixture
def e2e_database_url(tmp_path: Path) -> str:
    """A migrated SQLite database file for the bot under test."""
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    upgrade(url)
    return url


@pytest.fixture
def e2e_engine(e2e_database_url: str) -> Engine:
    """An engine the test uses to look at what the bot stored."""
    return make_engine(e2e_database_url, poolclass=NullPool)


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    """A Bot API emulator listening on loopback."""
    async with BotApiEmulator(token=TOKEN, username=BOT_USERNAME) as emu:
        yield emu


def e2e_settings(emulator: BotApiEmulator, database_url: str) -> Settings:
    """The settings ``stemme run`` would read from the environment, pointed at the emulator."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' init-only option
        bot_token=SecretStr(TOKEN),
        bot_username=BOT_USERNAME,
        database_url=database_url,
        api_base_url=emulator.base_url,
        timezone="Europe/Copenhagen",
        locale="da",
        admins=[],
    )


@asynccontextmanager
async def running(application: StemmeApplication) -> AsyncIterator[StemmeApplication]:
    """Runs the application as ``stemme run`` does: bot.polling's loop, which confirms an
    update to Telegram only once it was processed, with the lifecycle of ``run_polling``
    (initialize, post_init, start; then stop, post_stop, shutdown, post_shutdown)."""
    async with polling.running(application, poll_timeout=1):
        yield application


@pytest.fixture
async def bot(emulator: BotApiEmulator, e2e_database_url: str) -> AsyncIterator[StemmeApplication]:
    """The unmodified application, polling the emulator."""
    async with running(build_application(e2e_settings(emulator, e2e_database_url))) as app:
        yield app


@pytest.fixture
def admin(
    e2e_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Admin:
    """Runs ``stemme <args> --json`` against the bot's database and returns the JSON."""
    monkeypatch.setenv("STEMME_DATABASE_URL", e2e_database_url)
    monkeypatch.setenv("STEMME_BOT_USERNAME", BOT_USERNAME)
    monkeypatch.delenv("STEMME_BOT_TOKEN", raising=False)

    def run(*args: str) -> dict[str, Any]:
        capsys.readouterr()
        code = cli_main([*args, "--json"])
        out = capsys.readouterr().out
        assert code == 0, out
        result: dict[str, Any] = json.loads(out)
        return result

    return run
