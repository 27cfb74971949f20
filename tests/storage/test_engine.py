"""The PostgreSQL engine's pooled connections: one the server dropped is replaced (pinged
after being idle) or fails once like an unavailable database (used just before), never
twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from storage import db, health
from storage.db import make_engine

pytestmark = pytest.mark.postgres


@pytest.fixture
def pooled(postgres_database_url: str) -> Iterator[Engine]:
    """An engine with the bot's pool."""
    engine = make_engine(postgres_database_url)
    yield engine
    engine.dispose()


def _backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _drop(postgres_database_url: str, pid: int) -> None:
    """The server ends a connection, as a restart or an idle timeout would."""
    admin = make_engine(postgres_database_url, poolclass=NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    pooled: Engine, postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend(pooled)
    _drop(postgres_database_url, first)
    monkeypatch.setattr(db, "PING_AFTER_IDLE", 0.0)  # every connection counts as idle

    second = _backend(pooled)

    assert second != first


def test_a_connection_dropped_just_after_use_fails_once_as_unavailable(
    pooled: Engine, postgres_database_url: str
) -> None:
    first = _backend(pooled)
    _drop(postgres_database_url, first)

    with pytest.raises(OperationalError) as raised:
        _backend(pooled)
    assert health.database_unavailable(raised.value)
    # The pool let go of every connection it had: the next unit of work gets a new one.
    assert _backend(pooled) != first
