"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, an engine, a session.

Every test that asks for ``database_url`` (or ``engine``/``session``) runs twice:
once on a fresh SQLite file, once in a fresh PostgreSQL schema that is dropped
afterwards. PostgreSQL comes from ``STEMME_TEST_POSTGRES_URL``; when it is not
reachable those runs are skipped with a message that says how to enable them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from storage import crypto
from storage.db import make_engine, reset_clock
from storage.migrate import upgrade

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
# The data key of every test process, so text written by a test and by the bot under test
# opens with the same key (e2e settings and the subprocesses get it too).
TEST_DATA_KEY = crypto.new_key()
crypto.configure([TEST_DATA_KEY])


def _without_password(url: str) -> str:
    parsed = make_url(url)
    shown = URL.create(
        parsed.drivername,
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return shown.render_as_string(hide_password=False)


def _with_search_path(url: str, schema: str) -> str:
    """Returns the URL with every connection's ``search_path`` set to ``schema``."""
    parsed = make_url(url)
    given = parsed.query.get("options") or ()
    options = [given] if isinstance(given, str) else list(given)
    options.append(f"-csearch_path={schema}")
    return parsed.update_query_dict({"options": " ".join(options)}).render_as_string(
        hide_password=False
    )


@pytest.fixture(autouse=True)
def data_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test, and every ``stemme`` command it runs in-process, uses the test data key."""
    monkeypatch.setenv("STEMME_DATA_KEY", TEST_DATA_KEY)
    crypto.configure([TEST_DATA_KEY])
    return TEST_DATA_KEY


@pytest.fixture(autouse=True)
def real_time() -> Iterator[None]:
    """Every test starts and ends on real time, whatever a sandbox test moved ahead."""
    reset_clock()
    yield
    reset_clock()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL server for tests, checked once per run; skips when unreachable."""
    url = os.environ.get("STEMME_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    engine = make_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError:
        pytest.skip(
            f"PostgreSQL not reachable at {_without_password(url)}: "
            "set STEMME_TEST_POSTGRES_URL or start PostgreSQL"
        )
    finally:
        engine.dispose()
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of a new, empty SQLite file."""
    return f"sqlite:///{tmp_path / 'stemme.db'}"


@contextmanager
def _postgres_schema(server_url: str) -> Iterator[str]:
    """The URL of a new PostgreSQL schema on the server, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = make_engine(server_url, poolclass=NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield _with_search_path(server_url, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=DATABASES)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'stemme.db'}"
        return
    with _postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
def postgres_database_url(postgres_url: str) -> Iterator[str]:
    """A migrated database in a new PostgreSQL schema, for tests about PostgreSQL only."""
    with _postgres_schema(postgres_url) as url:
        upgrade(url)
        yield url


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """The URL of a database migrated to the newest revision with the real migrations."""
    upgrade(empty_database_url)
    return empty_database_url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the migrated database (SQLite with its pragmas), disposed afterwards."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the migrated database; commit to make rows visible to other sessions."""
    with Session(engine, expire_on_commit=False) as session:
        yield session
