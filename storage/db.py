"""Engines, sessions and the UTC column type shared by every table."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

SQLITE_BUSY_TIMEOUT_MS = 5000


def utcnow() -> datetime:
    """Returns the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always stored in UTC and read back as an aware UTC datetime.

    SQLite has no time zones, PostgreSQL has ``timestamptz``; this type makes both
    behave the same, and refuses naive datetimes so local time can never slip in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def require_id(row: object) -> int:
    """Returns a row's primary key, failing loudly if the row was never flushed."""
    row_id = getattr(row, "id", None)
    assert isinstance(row_id, int), "flush the row before using its id"
    return row_id


def normalise_url(url: str) -> str:
    """Chooses psycopg 3 for plain ``postgresql://`` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Creates an engine; SQLite gets foreign keys, WAL and a busy timeout.

    ``hide_parameters`` keeps note text and names out of database error messages,
    which end up in logs.
    """
    kwargs.setdefault("hide_parameters", True)
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One session per unit of work: commits on success, rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# One lock per SQLite engine and event loop (see ``one_writer``).
_WRITERS: weakref.WeakKeyDictionary[
    Engine, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def one_writer(engine: Engine) -> AsyncIterator[None]:
    """Around a unit of work that awaits (a step with its Telegram calls, a prompt's send):
    on SQLite, one such unit at a time in this process; on PostgreSQL, no wait at all.

    SQLite has one writer, and a transaction holds the write lock from its first write to
    its commit, across the Telegram calls in between. Were a second unit of the same event
    loop to write meanwhile (the prompt dispatcher while a member's step waits for
    Telegram, or two prompts), SQLite would make it wait inside the driver, which blocks
    the event loop that the first unit needs to reach its commit: a freeze of the busy
    timeout, ending in "database is locked". PostgreSQL locks rows, and waits without
    blocking anyone else's progress.
    """
    if engine.dialect.name != "sqlite":
        yield
        return
    loop = asyncio.get_running_loop()
    locks = _WRITERS.setdefault(engine, weakref.WeakKeyDictionary())
    lock = locks.get(loop)
    if lock is None:
        lock = locks[loop] = asyncio.Lock()
    async with lock:
        yield
