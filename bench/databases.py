"""Fresh databases for one measurement: a SQLite file, or a PostgreSQL schema that is
created for it and dropped afterwards (as ``tests/conftest.py`` does)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from storage.db import make_engine
from storage.migrate import upgrade

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_URL_VARIABLE = "STEMME_BENCH_POSTGRES_URL"


def postgres_server_url() -> str:
    """The PostgreSQL server to use, from ``STEMME_BENCH_POSTGRES_URL``."""
    return os.environ.get(POSTGRES_URL_VARIABLE, DEFAULT_POSTGRES_URL)


def shown_url(url: str) -> str:
    """The URL without its password, for the report."""
    parsed = make_url(url)
    return URL.create(
        parsed.drivername,
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
    ).render_as_string(hide_password=True)


def postgres_problem(url: str) -> str | None:
    """``None`` when the server answers, else why not (one line)."""
    engine = make_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        return str(error.orig or error).strip().splitlines()[0]
    finally:
        engine.dispose()
    return None


def _with_search_path(url: str, schema: str) -> str:
    parsed = make_url(url)
    given = parsed.query.get("options") or ()
    options = [given] if isinstance(given, str) else list(given)
    options.append(f"-csearch_path={schema}")
    return parsed.update_query_dict({"options": " ".join(options)}).render_as_string(
        hide_password=False
    )


@contextmanager
def migrated_sqlite(directory: Path, name: str) -> Iterator[str]:
    """A new SQLite file in ``directory``, migrated to the newest revision."""
    url = f"sqlite:///{directory / name}"
    upgrade(url)
    yield url


@contextmanager
def migrated_postgres(server_url: str) -> Iterator[str]:
    """A new PostgreSQL schema, migrated; dropped with everything in it afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server_url, poolclass=NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = _with_search_path(server_url, schema)
        upgrade(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
