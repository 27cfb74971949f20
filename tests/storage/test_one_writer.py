"""Two units of work of one event loop that write and wait for Telegram in between (a
member's step and a prompt's send): neither blocks the event loop, both are stored, on
both databases (storage/db.py, ``one_writer``)."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage.db import one_writer, session_scope, utcnow
from storage.models import ProcessedUpdate

TELEGRAM_WAIT = 0.4


async def _unit(engine: Engine, update_id: int, order: list[str]) -> None:
    """Writes a row, waits as for a Telegram call, commits."""
    async with one_writer(engine):
        with session_scope(engine) as session:
            session.add(ProcessedUpdate(update_id=update_id, processed_at=utcnow()))
            session.flush()  # the write: on SQLite, the write lock from here to the commit
            order.append(f"wrote {update_id}")
            await asyncio.sleep(TELEGRAM_WAIT)
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
