"""Engines, sessions and the UTC column type shared by every table."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

SQLITE_BUSY_TIMEOUT_MS = 5000
# Updates one bot process handles at once (polling and each webhook worker). Each holds a
# database connection while it waits for Telegram.
STEPS_AT_ONCE = 8
# Connections an engine keeps open: the steps at once and the prompt dispatcher's sends (4).
# A connection beyond them is opened and closed again each time, and beyond the overflow
# (health checks, the scheduler's jobs) a checkout waits in the pool's blocking wait,
# which would stop the whole process. Six webhook workers stay under PostgreSQL's 100.
POOL_SIZE = 12
POOL_OVERFLOW = 4
# PostgreSQL: a pooled connection that lay unused this long is pinged before it is handed
# out (one round trip); one in use more recently is handed out as it is (see make_engine).
PING_AFTER_IDLE = 10.0
_USED_AT = "stemme.used_at"


# How far the sandbox's fast-forward (sandbox/clock.py) has moved this process's clock.
# Only the sandbox moves it; `stemme run` has no way to, so in production it stays zero.
_clock_ahead = timedelta(0)


def utcnow() -> datetime:
    """Returns the current time as an aware UTC datetime."""
    return datetime.now(UTC) + _clock_ahead


def move_clock_ahead(delta: timedelta) -> timedelta:
    """Moves :func:`utcnow` forward by ``delta`` (never back); returns how far ahead it is
    now. The sandbox's fast-forward: nothing in ``stemme run`` calls it."""
    global _clock_ahead
    if delta < timedelta(0):
        raise ValueError("the clock only moves forward")
    _clock_ahead += delta
    return _clock_ahead


def reset_clock() -> None:
    """Puts :func:`utcnow` back on real time (tests, and a sandbox that starts over)."""
    global _clock_ahead
    _clock_ahead = timedelta(0)


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

    PostgreSQL: a pooled connection unused for ``PING_AFTER_IDLE`` seconds is pinged
    before use and replaced if the server dropped it (a restart, an idle timeout). One used
    more recently is not: the ping was one of about ten round trips of a step, each a wait
    that blocks the event loop, and a connection that fails anyway fails like an
    unavailable database, which every caller tries again.
    """
    kwargs.setdefault("hide_parameters", True)
    url = normalise_url(url)
    parsed = make_url(url)
    database = parsed.database
    in_memory = parsed.get_backend_name() == "sqlite" and database in (None, "", ":memory:")
    if "poolclass" not in kwargs and not in_memory:
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    if parsed.get_backend_name() == "sqlite":
        if database and not in_memory:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "checkout", _checked_out)
        event.listen(engine, "checkin", _checked_in)
        return engine
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _used)
    event.listen(engine, "checkin", _used)
    event.listen(engine, "checkout", _ping_if_idle(engine.dialect))
    return engine


def _used(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info[_USED_AT] = time.monotonic()


def _ping_if_idle(dialect: Dialect) -> Any:
    def ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        used_at = record.info.get(_USED_AT)
        if used_at is None or time.monotonic() - used_at < PING_AFTER_IDLE:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and checks out a new one.
            raise DisconnectionError(type(error).__name__) from error

    return ping


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
_TURN_KEY = "stemme.turn"


class _Turn:
    """A unit of work's hold on its SQLite engine's lock (see ``one_writer``)."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self.lock = lock
        self.held = False
        # Set when the unit is over: a task it left behind must not take the lock again.
        self.ended = False
        # Waits for the network in progress (two at once when a step awaits both).
        self.away = 0
        # The unit's checked-out DB-API connections (sqlite3.Connection).
        self.connections: set[Any] = set()

    def writing(self) -> bool:
        """True while one of the unit's connections is inside a write transaction: the
        Python sqlite3 driver begins one before the first INSERT, UPDATE or DELETE, and a
        read outside it holds no lock."""
        return any(connection.in_transaction for connection in self.connections)


_TURN: ContextVar[_Turn | None] = ContextVar("stemme_sqlite_turn", default=None)


def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    turn = _TURN.get()
    if turn is not None:
        turn.connections.add(dbapi_connection)
        record.info[_TURN_KEY] = turn


def _checked_in(dbapi_connection: Any, record: Any) -> None:
    turn = record.info.pop(_TURN_KEY, None) if record is not None else None
    if turn is not None:
        turn.connections.discard(dbapi_connection)


@asynccontextmanager
async def one_writer(engine: Engine) -> AsyncIterator[None]:
    """Around a unit of work that awaits (a step with its Telegram calls, a prompt's send):
    on SQLite, only one such unit works with the database at a time in this process, and
    none waits inside the driver; on PostgreSQL, no wait at all.

    SQLite has one writer, and a transaction holds the write lock from its first write to
    its commit, across any Telegram calls in between. Were a second unit of the same event
    loop to write meanwhile, SQLite would make it wait inside the driver, which blocks the
    event loop that the first unit needs to reach its commit: a freeze of the busy timeout,
    ending in "database is locked". So a unit holds this lock while it works, and lets
    go of it only while it waits for the network with nothing written yet (``waiting``):
    then other units run, and many members' steps overlap their waits for Telegram.
    PostgreSQL locks rows, and waits without blocking anyone else's progress.
    """
    if engine.dialect.name != "sqlite":
        yield
        return
    loop = asyncio.get_running_loop()
    locks = _WRITERS.setdefault(engine, weakref.WeakKeyDictionary())
    lock = locks.get(loop)
    if lock is None:
        lock = locks[loop] = asyncio.Lock()
    turn = _Turn(lock)
    await lock.acquire()
    turn.held = True
    token = _TURN.set(turn)
    try:
        yield
    finally:
        _TURN.reset(token)
        turn.ended = True
        if turn.held:
            turn.held = False
            lock.release()


@asynccontextmanager
async def waiting() -> AsyncIterator[None]:
    """Around a wait for the network inside ``one_writer``: while the unit has written
    nothing (no SQLite write transaction), other units may work meanwhile; the unit has
    the lock back before it goes on. Elsewhere, and on PostgreSQL, nothing happens."""
    turn = _TURN.get()
    if turn is None or turn.ended or (turn.away == 0 and turn.writing()):
        yield
        return
    turn.away += 1
    if turn.held:
        turn.held = False
        turn.lock.release()
    try:
        yield
    finally:
        turn.away -= 1
        if turn.away == 0 and not turn.held and not turn.ended:
            await turn.lock.acquire()
            turn.held = True
