"""Updates per second and time per update: many members run a flow at once against a
bot process, each member's steps in order.

A member injects one update, waits until the bot process reports that
``process_update`` is done with it (see ``bench/botproc.py``), reads the answer from
the emulator's chat (the buttons to press next), and injects the next. In the measured
phase members do not wait for each other, so the bot always has a queue. Throughput is
the number of updates injected in that phase divided by the time from the first
injection until the bot's last API call finished.

Time per update is measured in a second phase with the same bot: rounds one after the
other, by each member in turn, so the bot handles one update at a time and its
``process_update`` is the application's own time for it. Under full load stemme
handles up to eight members' updates at once (``bot/polling.py``), so an update's
``process_update`` there also holds the others' turns on the CPU: the queue that a
one-at-a-time bot has in front of the application is inside it. Both spreads are
reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select

from bench.emu import (
    TOKEN,
    USERNAME,
    BenchEmulator,
    ButtonMissing,
    find_button,
    newest_bot_message,
)
from bench.seed import MARKERS, NOTE_TEXTS, Directory, member_name
from bench.stats import Spread, process_cpu_seconds, spread_ms
from sandbox.emulator import EmuUser
from storage import crypto
from storage.db import make_engine
from storage.models import Note

logger = logging.getLogger(__name__)

# One data key for the benchmark's own process and the bots it starts, so both read the
# free text the other wrote (storage/crypto.py).
BENCH_DATA_KEY = crypto.new_key()
crypto.configure([BENCH_DATA_KEY])

ROOT = Path(__file__).resolve().parents[1]
STEP_TIMEOUT = 120.0


# ------------------------------------------------------------------ what members do


@dataclass(frozen=True)
class Send:
    """The member sends a text; ``None`` means one of the sample note texts."""

    label: str
    text: str | None


@dataclass(frozen=True)
class Press:
    """The member presses a button whose callback data matches (one at random)."""

    label: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class PressAny:
    """The member presses a button with this data on the bot's newest message."""

    label: str
    data: str


@dataclass(frozen=True)
class Expect:
    """Not an update: the bot's newest message must match (checked, not waited for)."""

    pattern: re.Pattern[str]


Step = Send | Press | PressAny | Expect

NOTE_FLOW: tuple[Step, ...] = (
    Send("/note", "/note"),
    Press("resident", re.compile(r"note:res:\d+")),
    Send("text", None),
    Press("marker", re.compile("note:mk:(" + "|".join(MARKERS) + ")")),
    Press("save", re.compile("note:save")),
    Expect(re.compile(r"#\d+")),
)
# The same shape for the echo bot: two messages and three presses per round.
ECHO_FLOW: tuple[Step, ...] = (
    Send("/note", "/note"),
    PressAny("press", "echo:res"),
    Send("text", None),
    PressAny("press", "echo:mk"),
    PressAny("press", "echo:save"),
)


# ------------------------------------------------------------------ the bot process


class BotProcess:
    """A bot running in its own process, reporting each processed update on stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.durations: dict[int, float] = {}
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(
        cls,
        emu: BenchEmulator,
        argv: Sequence[str],
        *,
        database_url: str,
        log_path: Path,
        report_updates: bool,
    ) -> BotProcess:
        """Starts ``python <argv>`` configured by ``STEMME_*`` and waits until it polls."""
        env = bot_environment(emu, database_url)
        polls = len(emu.calls_for("getUpdates"))
        with log_path.open("ab") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *argv,
                cwd=ROOT,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if report_updates else asyncio.subprocess.DEVNULL,
                stderr=log,
            )
        bot = cls(process)
        try:
            await emu.wait_polling(polls)
        except TimeoutError:
            await bot.stop()
            raise RuntimeError(f"the bot did not start; see {log_path}") from None
        return bot

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    async def _read(self) -> None:
        stream = self.process.stdout
        if stream is None:
            return
        while line := await stream.readline():
            parts = line.split()
            if len(parts) != 2 or not parts[0].lstrip(b"-").isdigit():
                continue
            update_id, nanoseconds = int(parts[0]), int(parts[1])
            self.durations[update_id] = nanoseconds / 1e9
            waiter = self._waiting.pop(update_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def processed(self, update_id: int) -> None:
        """Waits until the bot has processed the update (at most ``STEP_TIMEOUT``)."""
        if update_id in self.durations:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[update_id] = waiter
        try:
            await asyncio.wait_for(waiter, STEP_TIMEOUT)
        except TimeoutError:
            raise TimeoutError(
                f"update {update_id} not processed within {STEP_TIMEOUT:g} s"
            ) from None
        finally:
            self._waiting.pop(update_id, None)

    def cpu_seconds(self) -> float:
        """CPU time the bot process has used so far."""
        return process_cpu_seconds(self.process.pid)

    async def stop(self) -> int | None:
        """SIGTERM (python-telegram-bot stops polling and shuts down), SIGKILL after 15 s."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        return self.process.returncode


def bot_environment(emu: BenchEmulator, database_url: str) -> dict[str, str]:
    """The environment ``stemme run`` reads, pointed at the emulator; other ``STEMME_*``
    variables (and a ``.env`` file's) are overridden."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("STEMME_")}
    env.update(
        {
            "STEMME_BOT_TOKEN": TOKEN,
            "STEMME_BOT_USERNAME": USERNAME,
            "STEMME_DATABASE_URL": database_url,
            "STEMME_API_BASE_URL": emu.base_url,
            "STEMME_TIMEZONE": "Europe/Copenhagen",
            "STEMME_LOCALE": "da",
            "STEMME_ADMINS": "",
            "STEMME_LOG_LEVEL": "INFO",
            "STEMME_DATA_KEY": BENCH_DATA_KEY,
        }
    )
    return env


# ------------------------------------------------------------------ playing members


@dataclass
class Tally:
    """What happened in one phase."""

    update_ids: list[int] = field(default_factory=list)
    by_step: dict[str, list[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    unconfirmed: int = 0


async def play(
    emu: BenchEmulator,
    bot: BotProcess,
    user: EmuUser,
    script: Sequence[Step],
    rounds: int,
    rng: random.Random,
    tally: Tally,
) -> None:
    """One member runs the script ``rounds`` times, each step after the previous answer."""
    try:
        for _ in range(rounds):
            for step in script:
                if isinstance(step, Expect):
                    if not step.pattern.search(newest_bot_message(user).text):
                        tally.unconfirmed += 1
                    continue
                if isinstance(step, Send):
                    update_id = emu.post_text(user, step.text or rng.choice(NOTE_TEXTS))
                elif isinstance(step, Press):
                    message, data = find_button(user, step.pattern, rng)
                    update_id = emu.post_press(user, message, data)
                else:
                    update_id = emu.post_press(user, newest_bot_message(user), step.data)
                tally.update_ids.append(update_id)
                tally.by_step.setdefault(step.label, []).append(update_id)
                await bot.processed(update_id)
    except (ButtonMissing, TimeoutError) as error:
        tally.failures.append(f"member {user.id}: {error}")


@dataclass
class AloneResult:
    """The one-at-a-time phase: rounds one after the other, by each member in turn."""

    rounds: int
    updates: int
    seconds: float
    process_update: Spread
    by_step: dict[str, Spread]
    failures: list[str]

    def as_dict(self) -> dict[str, Any]:
        """For ``results.json``."""
        return {
            "rounds": self.rounds,
            "updates": self.updates,
            "seconds": round(self.seconds, 3),
            "process_update_ms": self.process_update.as_dict(),
            "process_update_ms_by_step": {
                step: spread.as_dict() for step, spread in self.by_step.items()
            },
            "failed_members": len(self.failures),
            "failures_sample": self.failures[:5],
        }


@dataclass
class FlowResult:
    """One bot, one database, one workload."""

    bot: str
    database: str
    members: int
    rounds: int
    updates: int
    seconds: float
    per_second: float
    process_update: Spread
    by_step: dict[str, Spread]
    bot_cpu_seconds: float
    driver_cpu_seconds: float
    api_calls: int
    failures: list[str]
    unconfirmed: int
    alone: AloneResult
    notes_expected: int | None = None
    notes_saved: int | None = None

    @property
    def bot_cpu_share(self) -> float:
        """The bot process's CPU use during the phase, as a share of one core."""
        return self.bot_cpu_seconds / self.seconds if self.seconds else 0.0

    @property
    def driver_cpu_share(self) -> float:
        """This process's (emulator and members) CPU use, as a share of one core."""
        return self.driver_cpu_seconds / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        """For ``results.json``."""
        return {
            "bot": self.bot,
            "database": self.database,
            "members": self.members,
            "rounds_per_member": self.rounds,
            "updates": self.updates,
            "seconds": round(self.seconds, 3),
            "updates_per_second": round(self.per_second, 1),
            "process_update_ms": self.process_update.as_dict(),
            "process_update_ms_by_step": {
                step: spread.as_dict() for step, spread in self.by_step.items()
            },
            "api_calls": self.api_calls,
            "api_calls_per_update": round(self.api_calls / self.updates, 2) if self.updates else 0,
            "bot_cpu_share_of_one_core": round(self.bot_cpu_share, 3),
            "driver_cpu_share_of_one_core": round(self.driver_cpu_share, 3),
            "failed_members": len(self.failures),
            "failures_sample": self.failures[:5],
            "unconfirmed_notes": self.unconfirmed,
            "notes_expected": self.notes_expected,
            "notes_saved": self.notes_saved,
            "one_at_a_time": self.alone.as_dict(),
        }


class FlowUnavailable(RuntimeError):
    """The bot did not answer ``/note`` with resident buttons."""


def _spread(bot: BotProcess, update_ids: Sequence[int]) -> Spread:
    return spread_ms([bot.durations[i] for i in update_ids if i in bot.durations])


def _count_notes(database_url: str) -> int:
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        with Session(engine) as session:
            return int(session.exec(select(func.count()).select_from(Note)).one())
    finally:
        engine.dispose()


async def _probe_note_flow(emu: BenchEmulator, bot: BotProcess, user: EmuUser) -> None:
    update_id = emu.post_text(user, "/note")
    await bot.processed(update_id)
    try:
        find_button(user, re.compile(r"note:res:\d+"), random.Random(0))
    except ButtonMissing:
        answer = user.chat.last_bot_message()
        shown = answer.text if answer else "(nothing)"
        raise FlowUnavailable(f"/note was answered with {shown!r}") from None


async def run_flow(
    *,
    bot_name: str,
    database: str,
    database_url: str,
    directory: Directory,
    rounds: int,
    warmup_members: int,
    alone_rounds: int,
    log_path: Path,
    seed: int,
    first_update_id: int = 100_001,
) -> FlowResult:
    """Runs ``bot_name`` (``stemme`` with the note flow, or ``echo``) in its own process
    and lets every member of ``directory`` play ``rounds`` rounds at the same time; then
    ``alone_rounds`` rounds one after the other, by each member in turn. Update ids start
    at ``first_update_id`` (after those of earlier runs on the same database)."""
    stemme = bot_name == "stemme"
    script = NOTE_FLOW if stemme else ECHO_FLOW
    async with BenchEmulator(first_update_id=first_update_id) as emu:
        users = [
            emu.user(telegram_id, member_name(index), language_code="da")
            for index, (telegram_id, _team) in enumerate(directory.members())
        ]
        bot = await BotProcess.start(
            emu,
            ["-m", "bench.botproc", bot_name],
            database_url=database_url,
            log_path=log_path,
            report_updates=True,
        )
        try:
            if stemme:
                await _probe_note_flow(emu, bot, users[0])
            warmup = Tally()
            await asyncio.gather(
                *(
                    play(emu, bot, user, script, 1, random.Random(seed + i), warmup)
                    for i, user in enumerate(users[:warmup_members])
                )
            )
            await emu.wait_quiet(quiet=0.3)
            notes_before = _count_notes(database_url) if stemme else 0

            tally = Tally()
            calls_before = len(emu.calls)
            bot_cpu, driver_cpu = bot.cpu_seconds(), time.process_time()
            started = time.monotonic()
            await asyncio.gather(
                *(
                    play(emu, bot, user, script, rounds, random.Random(seed * 7919 + i), tally)
                    for i, user in enumerate(users)
                )
            )
            finished = await emu.wait_quiet(quiet=0.3)
            bot_cpu = bot.cpu_seconds() - bot_cpu
            driver_cpu = time.process_time() - driver_cpu
            seconds = max(finished - started, 1e-9)
            api_calls = sum(1 for c in emu.calls[calls_before:] if c.method != "getUpdates")
            notes_after = _count_notes(database_url) if stemme else 0

            alone = Tally()
            alone_started = time.monotonic()
            for i in range(alone_rounds):
                user = users[i % len(users)]
                await play(emu, bot, user, script, 1, random.Random(seed * 104729 + i), alone)
            alone_seconds = max(await emu.wait_quiet(quiet=0.3) - alone_started, 1e-9)
        finally:
            await bot.stop()
    return FlowResult(
        bot=bot_name,
        database=database,
        members=len(users),
        rounds=rounds,
        updates=len(tally.update_ids),
        seconds=seconds,
        per_second=len(tally.update_ids) / seconds,
        process_update=_spread(bot, tally.update_ids),
        by_step={step: _spread(bot, ids) for step, ids in tally.by_step.items()},
        bot_cpu_seconds=bot_cpu,
        driver_cpu_seconds=driver_cpu,
        api_calls=api_calls,
        failures=tally.failures + warmup.failures,
        unconfirmed=tally.unconfirmed,
        alone=AloneResult(
            rounds=alone_rounds,
            updates=len(alone.update_ids),
            seconds=alone_seconds,
            process_update=_spread(bot, alone.update_ids),
            by_step={step: _spread(bot, ids) for step, ids in alone.by_step.items()},
            failures=alone.failures,
        ),
        notes_expected=len(users) * rounds if stemme else None,
        notes_saved=notes_after - notes_before if stemme else None,
    )
