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

from sqlalchemy import Table, bindparam, delete, func, select, true
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from storage.db import utcnow
from storage.models import ProcessedUpdate

# Built once and run on the session's connection, without the ORM: these run twice for
# every update, and the ORM's statement handling cost more than the statements (bench/).
_TABLE: Table = ProcessedUpdate.__table__  # type: ignore[attr-defined]  # set by SQLModel
_RECORD = {
    name: insert(_TABLE)
    .values(update_id=bindparam("update_id"), processed_at=bindparam("processed_at"))
    .on_conflict_do_nothing(index_elements=["update_id"])
    .returning(_TABLE.c.update_id)
    for name, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
# The longest a step waits for a row another worker holds (PostgreSQL).
LOCK_TIMEOUT = timedelta(seconds=3)
# PostgreSQL's start of a step in one round trip: sets the step's lock timeout
# (``SET LOCAL``, as ``set_config(..., true)``) and then records the update.
_BEGIN = (
    postgresql_insert(_TABLE)
    .from_select(
        ["update_id", "processed_at"],
        select(
            bindparam("update_id", type_=_TABLE.c.update_id.type),
            bindparam("processed_at", type_=_TABLE.c.processed_at.type),
        ).where(func.set_config("lock_timeout", bindparam("lock_timeout"), true()).is_not(None)),
    )
    .on_conflict_do_nothing(index_elements=["update_id"])
    .returning(_TABLE.c.update_id)
)
_FIND = select(_TABLE.c.update_id).where(_TABLE.c.update_id == bindparam("update_id"))


def record(*, session: Session, update_id: int, now: datetime | None = None) -> bool:
    """Records ``update_id`` as processed in the session's transaction; returns False
    when it was recorded before (the update is a redelivery and must be skipped)."""
    statement = _RECORD["postgresql" if _dialect(session) == "postgresql" else "sqlite"]
    parameters = {"update_id": update_id, "processed_at": now or utcnow()}
    return session.connection().execute(statement, parameters).first() is not None


def begin(
    *,
    session: Session,
    update_id: int,
    new: bool = False,
    lock_timeout: timedelta = LOCK_TIMEOUT,
) -> bool:
    """Starts processing ``update_id`` in the step's transaction; False when it was
    processed before (skip it). ``new``: the receiver knows it was never delivered before.

    PostgreSQL: records it now, so a delivery of the same update running at the same
    moment in another worker waits on this row and is skipped once this one commits. No
    statement of the step waits longer than ``lock_timeout`` for a row another worker
    holds (this one, or the user's conversation): it fails like an unavailable database,
    and the update is delivered again once the other worker is done, instead of the
    waiting holding up the worker's event loop. The timeout is the transaction's own
    (``SET LOCAL``), so it works behind PgBouncer's transaction pooling too, and it is
    set in the same statement as the insert: one round trip, each of which blocks the
    event loop.
    SQLite: only looks (not even that for a ``new`` update), and ``finish`` records it at
    the end: an insert now would hold SQLite's single write lock for the whole step,
    Telegram calls included, and stop every other writer of the process (one process,
    each update once per batch: nothing can run the same update in between)."""
    if _dialect(session) == "postgresql":
        parameters = {
            "update_id": update_id,
            "processed_at": utcnow(),
            "lock_timeout": str(int(lock_timeout.total_seconds() * 1000)),
        }
        return session.connection().execute(_BEGIN, parameters).first() is not None
    return new or not was_processed(session=session, update_id=update_id)


def finish(*, session: Session, update_id: int) -> None:
    """Ends processing ``update_id`` in the step's transaction (see ``begin``)."""
    if _dialect(session) != "postgresql":
        record(session=session, update_id=update_id)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def was_processed(*, session: Session, update_id: int) -> bool:
    """Whether ``update_id`` was recorded as processed (committed)."""
    found = session.connection().execute(_FIND, {"update_id": update_id}).first()
    return found is not None


def purge(*, session: Session, older_than: datetime) -> int:
    """Deletes the records of updates processed before ``older_than``; returns how many."""
    result = session.execute(
        delete(ProcessedUpdate).where(col(ProcessedUpdate.processed_at) < older_than)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult for DELETE
