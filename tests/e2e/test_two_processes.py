"""Two bot processes against one PostgreSQL database send every prompt once.

Both run what ``stemme run`` runs (tests/e2e/prompt_bot.py: ``bot.polling.run`` with a
test prompt kind registered), configured by ``STEMME_*`` variables, against one Bot
API emulator; both long-poll it too, so each terminates the other's ``getUpdates``
with 409 Conflict, as Telegram does with two polling instances: prompts do not depend
on who receives the updates. When both dispatchers run, 300 prompts fall due at once.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from sandbox.emulator import BotApiEmulator
from storage.crypto import new_key
from storage.db import utcnow
from storage.models import Prompt, PromptStatus
from tests.e2e.conftest import BOT_USERNAME, TOKEN
from tests.e2e.prompt_bot import KIND
from tests.factories import id_of, make_member, make_team

pytestmark = pytest.mark.parametrize(
    "empty_database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

ROOT = Path(__file__).resolve().parents[2]
FIRST_TELEGRAM_ID = 6_200_000_000
PROMPTS, MEMBERS = 300, 30
STARTED = re.compile(r"Prompt dispatcher (\S+) started")
SENT = re.compile(r"prompt (\d+) from (\d+)")


class BotProcess:
    """One ``stemme run``-like process; its log is read as it comes (the pipe never fills)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.worker: str | None = None
        self._started = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if match := STARTED.search(line):
                self.worker = match[1]
                self._started.set()

    async def started(self, patience: float = 60) -> str:
        """Waits until the process's dispatcher runs; returns its worker name."""
        try:
            await asyncio.wait_for(self._started.wait(), timeout=patience)
        except TimeoutError:
            raise AssertionError(
                "no dispatcher started:\n" + "\n".join(self.lines[-30:])
            ) from None
        assert self.worker is not None
        return self.worker

    async def stop(self) -> None:
        """SIGTERM, as a service manager stops it; then the rest of its log."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout=30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        await self._reader


async def start_bot(emulator: BotApiEmulator, database_url: str, data_key: str) -> BotProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("STEMME_")} | {
        "STEMME_BOT_TOKEN": TOKEN,
        "STEMME_BOT_USERNAME": BOT_USERNAME,
        "STEMME_DATABASE_URL": database_url,
        "STEMME_API_BASE_URL": emulator.base_url,
        "STEMME_DATA_KEY": data_key,
        "STEMME_LOG_LEVEL": "INFO",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.e2e.prompt_bot",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    return BotProcess(process)


def _seed_members(engine: Engine, emulator: BotApiEmulator) -> tuple[int, dict[int, int]]:
    with Session(engine, expire_on_commit=False) as session:
        team = make_team(session=session)
        telegram_by_member = {}
        for index in range(MEMBERS):
            telegram_id = FIRST_TELEGRAM_ID + index
            emulator.user(telegram_id, f"Member {index}")
            member = make_member(session=session, team=team, telegram_id=telegram_id)
            telegram_by_member[id_of(member.member)] = telegram_id
        session.commit()
        return id_of(team), telegram_by_member


def _sent_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(Prompt)
                .where(col(Prompt.status) == PromptStatus.SENT)
            ).one()
        )


async def test_two_bot_processes_send_each_of_300_due_prompts_once(
    emulator: BotApiEmulator, database_url: str, engine: Engine
) -> None:
    team_id, telegram_by_member = _seed_members(engine, emulator)
    member_ids = list(telegram_by_member)
    data_key = new_key()
    bots = [await start_bot(emulator, database_url, data_key) for _ in range(2)]
    try:
        workers = [await bot.started() for bot in bots]
        pids = [str(bot.process.pid) for bot in bots]
        now = utcnow()
        with Session(engine) as session:
            session.execute(
                insert(Prompt),
                [
                    {
                        "kind": KIND,
                        "team_id": team_id,
                        "member_id": member_ids[i % MEMBERS],
                        "due_at": now,
                        "payload": {},
                        "status": PromptStatus.PENDING,
                        "attempts": 0,
                        "dedupe_key": f"process:{i}",
                        "created_at": now,
                    }
                    for i in range(PROMPTS)
                ],
            )
            session.commit()
        deadline = time.monotonic() + 60
        while _sent_count(engine) < PROMPTS:
            assert time.monotonic() < deadline, f"sent {_sent_count(engine)} of {PROMPTS}"
            await asyncio.sleep(0.2)
    finally:
        for bot in bots:
            await bot.stop()

    with Session(engine) as session:
        rows = {p.id: p for p in session.exec(select(Prompt)).all()}
    sent = [
        (int(match[1]), match[2], chat.id)
        for chat in emulator.chats.values()
        for message in chat.messages.values()
        if message.from_bot and (match := SENT.fullmatch(message.text))
    ]
    assert Counter(prompt_id for prompt_id, _, _ in sent) == {prompt_id: 1 for prompt_id in rows}
    by_process = Counter(pid for _, pid, _ in sent)
    assert set(by_process) == set(pids), f"both processes must have sent some: {by_process}"
    for prompt_id, pid, chat_id in sent:
        prompt = rows[prompt_id]
        assert prompt.status == PromptStatus.SENT
        assert prompt.member_id is not None and telegram_by_member[prompt.member_id] == chat_id
        # The row names the worker of the process whose message arrived.
        assert prompt.claimed_by == workers[pids.index(pid)]
    assert len(emulator.calls_for("sendMessage")) == PROMPTS
    for bot in bots:
        assert bot.process.returncode == 0, "\n".join(bot.lines[-20:])
        assert not [line for line in bot.lines if "Traceback" in line or "sent but not" in line]
        assert TOKEN not in "\n".join(bot.lines)
