"""A bot killed with SIGKILL mid-flow continues where the user was after a restart.

The bot runs as a real process (``python -m bot run``, what ``stemme run`` does),
configured only by ``STEMME_*`` environment variables, against the emulator.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from sandbox.emulator import BotApiEmulator
from storage.residents import list_residents
from tests.conftest import TEST_DATA_KEY
from tests.e2e.conftest import BOT_USERNAME, TOKEN, Admin
from tests.e2e.people import LEAD_ID, join, setup_team

ROOT = Path(__file__).resolve().parents[2]


async def _start_bot(emulator: BotApiEmulator, database_url: str) -> asyncio.subprocess.Process:
    env = {key: value for key, value in os.environ.items() if not key.startswith("STEMME_")} | {
        "STEMME_BOT_TOKEN": TOKEN,
        "STEMME_DATA_KEY": TEST_DATA_KEY,
        "STEMME_BOT_USERNAME": BOT_USERNAME,
        "STEMME_DATABASE_URL": database_url,
        "STEMME_API_BASE_URL": emulator.base_url,
        "STEMME_LOG_LEVEL": "INFO",
    }
    polls = len(emulator.calls_for("getUpdates"))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    for _ in range(300):  # up to 30 s for the process to start polling
        if len(emulator.calls_for("getUpdates")) > polls:
            return process
        if process.returncode is not None:
            break
        await asyncio.sleep(0.1)
    stderr = await process.stderr.read() if process.stderr else b""
    raise AssertionError(f"the bot process did not start polling: {stderr.decode()[-2000:]}")


async def _kill(process: asyncio.subprocess.Process) -> bytes:
    process.send_signal(signal.SIGKILL)
    await process.wait()
    return await process.stderr.read() if process.stderr else b""


async def test_a_bot_killed_mid_flow_continues_where_the_user_was(
    emulator: BotApiEmulator, admin: Admin, e2e_database_url: str, e2e_engine: Engine
) -> None:
    team_id, code = setup_team(admin)
    first = await _start_bot(emulator, e2e_database_url)
    try:
        lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
        await lise.send("/residents")
        reaction = await lise.press("➕ Tilføj borger")
        assert "Skriv borgerens kaldenavn" in reaction.text
    finally:
        log = await _kill(first)
    assert TOKEN not in log.decode(), "the token must never be logged"

    second = await _start_bot(emulator, e2e_database_url)
    try:
        reaction = await lise.send("Fru H., stue 12")
        assert "Tilføjet: Fru H., stue 12" in reaction.text
    finally:
        log = await _kill(second)
    assert TOKEN not in log.decode()
    assert "Fru H." not in log.decode(), "no alias or note text in the log"
    with Session(e2e_engine) as session:
        assert [r.alias for r in list_residents(session=session, team_id=team_id)] == [
            "Fru H., stue 12"
        ]


async def test_a_rejected_token_stops_the_bot_without_printing_the_token(
    emulator: BotApiEmulator, e2e_database_url: str, tmp_path: Path
) -> None:
    wrong = "999999:WRONG-TOKEN-must-not-leak"
    env = {key: value for key, value in os.environ.items() if not key.startswith("STEMME_")} | {
        "STEMME_BOT_TOKEN": wrong,
        "STEMME_DATABASE_URL": e2e_database_url,
        "STEMME_API_BASE_URL": emulator.base_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    output = (stdout + stderr).decode()
    assert process.returncode not in (0, None)
    assert "Telegram rejected the bot token" in output
    assert "WRONG-TOKEN" not in output
