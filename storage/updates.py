"""Received updates: which Telegram updates have been processed, so that one delivered
again is processed once.

Telegram delivers an update again when a webhook did not answer 200, and a polling
worker that crashed after processing a batch fetches the same batch again. The router
records the update id with ``record`` in the same transaction as the step the update
caused (``begin`` and ``finish``): either both are committed or neither is. A second
delivery then finds the id and is skipped; on PostgreSQL a delivery running at the same
moment in another worker waits on the first one's insert (``INSERT ... ON CONFLICT DO
NOTHING``) and is skipped once it commits, or processed if it rolled back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models import ProcessedUpdate

# The longest a step waits for a row another worker holds (PostgreSQL).
LOCK_TIMEOUT = timedelta(seconds=3)


def record(*, session: Session, update_id: int, now: datetime | None = None) -> bool:
    """Records ``update_id`` as processed in the session's transaction; returns False
    when it was recorded before (the update is a redelivery and must be skipped)."""
    insert = postgresql_insert if _dialect(session) == "postgresql" else sqlite_insert
    statement = (
        insert(ProcessedUpdate)
        .values(update_id=update_id, processed_at=now or utcnow())
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(col(ProcessedUpdate.update_id))
    )
    return session.execute(statement).first() is not None


def begin(*, session: Session, update_id: int, lock_timeout: timedelta = LOCK_TIMEOUT) -> bool:
    """Starts processing ``update_id`` in the step's transaction; False when it was
    processed before (skip it).

    PostgreSQL: records it now, so a delivery of the same update running at the same
    moment in another worker waits on this row and is skipped once this one commits. No
    statement of the step waits longer than ``lock_timeout`` for a row another worker
    holds (this one, or the user's conversation): it fails like an unavailable database,
    and the update is delivered again once the other worker is done, instead of the
    waiting holding up the worker's event loop.
    SQLite: only looks, and ``finish`` records it at the end: an insert now would hold
    SQLite's single write lock for the whole step, Telegram calls included, and stop every
    other writer of the process (one process, updates one after the other: nothing can
    run the same update in between)."""
    if _dialect(session) == "postgresql":
        milliseconds = int(lock_timeout.total_seconds() * 1000)
        session.execute(text(f"SET LOCAL lock_timeout = {milliseconds}"))
        return record(session=session, update_id=update_id)
    return not was_processed(session=session, update_id=update_id)


def finish(*, session: Session, update_id: int) -> None:
    """Ends processing ``update_id`` in the step's transaction (see ``begin``)."""
    if _dialect(session) != "postgresql":
        record(session=session, update_id=update_id)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def was_processed(*, session: Session, update_id: int) -> bool:
    """Whether ``update_id`` was recorded as processed (committed)."""
    found = session.exec(
        select(ProcessedUpdate.update_id).where(col(ProcessedUpdate.update_id) == update_id)
    ).first()
    return found is not None


def purge(*, session: Session, older_than: datetime) -> int:
    """Deletes the records of updates processed before ``older_than``; returns how many."""
    result = session.execute(
        delete(ProcessedUpdate).where(col(ProcessedUpdate.processed_at) < older_than)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult for DELETE
