"""Brings a database to the schema the code expects, with the Alembic migrations in
``storage/migrations`` (found next to this file, so any working directory will do)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

from storage.db import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """Returns an Alembic configuration for this database, without any ini file."""
    config = Config()
    # ConfigParser would read "%" as interpolation; the URL stays out of it entirely.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Migrates the database up to ``revision`` (every head by default), creating it
    from nothing if it is empty."""
    command.upgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str | None:
    """Returns the database's revision, or ``None`` if it was never migrated."""
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            heads = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    return "+".join(sorted(heads)) if heads else None


def head() -> str | None:
    """Returns the newest revision the code knows (several joined by "+" while
    branches of the history are not merged yet)."""
    heads = ScriptDirectory.from_config(alembic_config("")).get_heads()
    return "+".join(sorted(heads)) if heads else None
