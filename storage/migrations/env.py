"""Alembic environment: migrates ``SQLModel.metadata`` as ``storage.models`` defines it.

The database comes from the caller, never from a file: ``storage.migrate`` puts the
URL in ``config.attributes["database_url"]`` (or an open connection in
``config.attributes["connection"]``). From the ``alembic`` command line, pass
``-x url=sqlite:///data/stemme.db``; ``STEMME_DATABASE_URL`` is the last resort.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import storage.models  # noqa: F401 - registers every table on SQLModel.metadata
from storage.db import make_engine, normalise_url

config = context.config
# The advisory lock every migrating process takes on PostgreSQL ("stemme" in ASCII).
LOCK = 0x7374656D6D65
target_metadata = SQLModel.metadata

# Only the alembic command line has an ini file (storage/alembic.ini) with logging in it.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = (
        config.attributes.get("database_url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("STEMME_DATABASE_URL")
    )
    if not url:
        raise RuntimeError(
            "no database URL: call storage.migrate, pass -x url=..., or set STEMME_DATABASE_URL"
        )
    return normalise_url(url)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Writes the SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    url = _database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Runs the migrations on the given connection, or on a new engine for the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_database_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    # Processes starting at once (workers on several hosts) migrate one at a
                    # time: the others wait here, then find nothing left to do.
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK})
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
