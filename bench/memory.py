"""Peak memory of the bot process after many members used it.

The bot runs exactly as installed (``python -m bot run`` with ``STEMME_*`` pointing at
the emulator and a migrated SQLite file that already holds the members). Every member
sends ``/note`` and presses one of the resident buttons it gets: two updates each. At
most ``concurrency`` members wait for an answer at a time, like people using the bot
at once, so the bot's queue stays what it would be in real use. When every update is
answered and the bot is quiet, ``VmHWM`` (peak resident set) is read from
``/proc/<pid>/status``.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.emu import BenchEmulator, ButtonMissing, find_button
from bench.seed import Directory, member_name
from bench.stats import memory_kib
from bench.throughput import BotProcess
from sandbox.emulator import EmuUser

ANSWER_TIMEOUT = 120.0
RESIDENT_BUTTON = re.compile(r"note:res:\d+")


@dataclass
class MemoryResult:
    """The bot process's memory before and after the members."""

    members: int
    teams: int
    concurrency: int
    updates: int
    answered: int
    seconds: float
    start_kib: dict[str, int]
    end_kib: dict[str, int]
    failures: list[str] = field(default_factory=list)

    @property
    def peak_mb(self) -> float:
        """VmHWM at the end, in MB (10**6 bytes, the unit of the 150 MB target)."""
        return self.end_kib.get("VmHWM", 0) * 1024 / 1e6

    def as_dict(self) -> dict[str, Any]:
        """For ``results.json``."""
        return {
            "members": self.members,
            "teams": self.teams,
            "members_waiting_at_once": self.concurrency,
            "updates": self.updates,
            "updates_answered": self.answered,
            "seconds": round(self.seconds, 1),
            "updates_per_second": round(self.updates / self.seconds, 1) if self.seconds else 0,
            "after_start_kib": self.start_kib,
            "after_updates_kib": self.end_kib,
            "peak_mb": round(self.peak_mb, 1),
            "peak_mib": round(self.end_kib.get("VmHWM", 0) / 1024, 1),
            "failed_members": len(self.failures),
            "failures_sample": self.failures[:5],
        }


async def _member(
    emu: BenchEmulator,
    user: EmuUser,
    rng: random.Random,
    gate: asyncio.Semaphore,
    tally: MemoryResult,
) -> None:
    async with gate:
        try:
            answer = emu.expect_reaction(user.id)
            emu.post_text(user, "/note")
            tally.updates += 1
            await asyncio.wait_for(answer, ANSWER_TIMEOUT)
            tally.answered += 1
            message, data = find_button(user, RESIDENT_BUTTON, rng)
            answer = emu.expect_reaction(user.id)
            emu.post_press(user, message, data)
            tally.updates += 1
            await asyncio.wait_for(answer, ANSWER_TIMEOUT)
            tally.answered += 1
        except (ButtonMissing, TimeoutError) as error:
            tally.failures.append(f"member {user.id}: {type(error).__name__} {error}")


async def run_memory(
    *,
    database_url: str,
    directory: Directory,
    concurrency: int,
    log_path: Path,
    seed: int,
) -> MemoryResult:
    """Starts ``python -m bot run``, plays every member of ``directory``, reads VmHWM."""
    members = directory.members()
    async with BenchEmulator() as emu:
        users = [
            emu.user(telegram_id, member_name(index), language_code="da")
            for index, (telegram_id, _team) in enumerate(members)
        ]
        bot = await BotProcess.start(
            emu,
            ["-m", "bot", "run"],
            database_url=database_url,
            log_path=log_path,
            report_updates=False,
        )
        try:
            await emu.wait_quiet(quiet=0.5)
            result = MemoryResult(
                members=len(users),
                teams=len(directory.teams),
                concurrency=concurrency,
                updates=0,
                answered=0,
                seconds=0.0,
                start_kib=memory_kib(bot.pid),
                end_kib={},
            )
            gate = asyncio.Semaphore(concurrency)
            started = time.monotonic()
            await asyncio.gather(
                *(
                    _member(emu, user, random.Random(seed + i), gate, result)
                    for i, user in enumerate(users)
                )
            )
            finished = await emu.wait_quiet(quiet=1.0)
            result.seconds = finished - started
            result.end_kib = memory_kib(bot.pid)
        finally:
            await bot.stop()
    return result
