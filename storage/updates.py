"""Received updates: which Telegram updates have been processed, so that one delivered
again is processed once.

Telegram delivers an update again when a webhook did not answer 200, and a polling
worker that crashed after processing a batch fetches the same batch again. The router
records the update id with ``record`` in the same transaction as the step the update
caused: either both are committed or neither is. A second delivery then finds the id
(``INSERT ... ON CONFLICT DO NOTHING`` inserts nothing) and is skipped; on PostgreSQL a
delivery running at the same moment in another worker waits on the first one's insert
and is skipped once it commits, or processed if it rolled back.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models import ProcessedUpdate


def record(*, session: Session, update_id: int, now: datetime | None = None) -> bool:
    """Records ``update_id`` as processed in the session's transaction; returns False
    when it was recorded before (the update is a redelivery and must be skipped)."""
    bind = session.get_bind()
    insert = postgresql_insert if bind.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(ProcessedUpdate)
        .values(update_id=update_id, processed_at=now or utcnow())
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(col(ProcessedUpdate.update_id))
    )
    return session.execute(statement).first() is not None


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
