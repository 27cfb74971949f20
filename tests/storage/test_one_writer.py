"""Units of work of one event loop that wait for Telegram (a member's step, a prompt's
send): none blocks the event loop, all are stored, on both databases; on SQLite a unit
that has written keeps the write turn while it waits, one that has not lets others work
(storage/db.py, ``one_writer`` and ``waiting``)."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.db import one_writer, session_scope, utcnow, waiting
from storage.models import ProcessedUpdate

TELEGRAM_WAIT = 0.4


async def _unit(engine: Engine, update_id: int, order: list[str]) -> None:
    """Writes a row, waits as for a Telegram call, commits."""
    async with one_writer(engine):
        with session_scope(engine) as session:
            session.add(ProcessedUpdate(update_id=update_id, processed_at=utcnow()))
            session.flush()  # the write: on SQLite, the write lock from here to the commit
            order.append(f"wrote {update_id}")
            async with waiting():
                await asyncio.sleep(TELEGRAM_WAIT)
        order.append(f"committed {update_id}")


async def _reading_unit(engine: Engine, update_id: int, order: list[str]) -> None:
    """Reads, waits as for a Telegram call, then writes and commits (most steps)."""
    async with one_writer(engine):
        with session_scope(engine) as session:
            session.exec(select(ProcessedUpdate.update_id)).all()
            order.append(f"read {update_id}")
            async with waiting():
                await asyncio.sleep(TELEGRAM_WAIT)
            session.add(ProcessedUpdate(update_id=update_id, processed_at=utcnow()))
            session.flush()
            order.append(f"wrote {update_id}")
        order.append(f"committed {update_id}")


async def test_two_writing_units_neither_freeze_the_loop_nor_fail(engine: Engine) -> None:
    order: list[str] = []
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.02)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    try:
        first = asyncio.create_task(_unit(engine, 501, order))
        await asyncio.sleep(0.05)  # the first has written and waits for "Telegram"
        await asyncio.gather(first, _unit(engine, 502, order))
    finally:
        ticking.cancel()

    with Session(engine) as session:
        stored = session.exec(
            select(ProcessedUpdate.update_id).where(col(ProcessedUpdate.update_id) > 500)
        ).all()
    assert sorted(stored) == [501, 502]
    # The event loop kept running: no wait inside the database driver.
    assert max(gaps) < TELEGRAM_WAIT / 2
    if engine.dialect.name == "sqlite":
        # One at a time: the second writes only once the first has committed.
        assert order == ["wrote 501", "committed 501", "wrote 502", "committed 502"]
    else:
        # PostgreSQL: different rows, no waiting for each other.
        assert order[:2] == ["wrote 501", "wrote 502"]


async def test_a_unit_that_has_not_written_lets_others_work_while_it_waits(
    engine: Engine,
) -> None:
    order: list[str] = []
    first = asyncio.create_task(_reading_unit(engine, 511, order))
    await asyncio.sleep(0.05)  # the first has read and waits for "Telegram"
    started = time.monotonic()
    await _unit(engine, 512, order)
    # The second did not wait for the first's Telegram call before its own.
    assert time.monotonic() - started < TELEGRAM_WAIT * 1.8
    await first
    assert order[:2] == ["read 511", "wrote 512"]
    if engine.dialect.name == "sqlite":
        # The first writes only once the second, which wrote, has committed.
        assert order == ["read 511", "wrote 512", "committed 512", "wrote 511", "committed 511"]
    with Session(engine) as session:
        stored = session.exec(
            select(ProcessedUpdate.update_id).where(col(ProcessedUpdate.update_id) > 510)
        ).all()
    assert sorted(stored) == [511, 512]


async def test_a_task_left_behind_by_a_finished_unit_does_not_take_the_turn(
    engine: Engine,
) -> None:
    order: list[str] = []
    release = asyncio.Event()

    async def left_behind() -> None:
        await release.wait()
        async with waiting():  # the unit that started it is over by now
            await asyncio.sleep(0.01)
        order.append("left behind done")

    async with one_writer(engine):
        straggler = asyncio.create_task(left_behind())
    release.set()
    await straggler
    # The next unit gets its turn at once; it would wait for ever had the straggler kept it.
    async with asyncio.timeout(2):
        await _unit(engine, 521, order)
    assert order[0] == "left behind done" and order[-1] == "committed 521"
