"""The migrations build exactly the models' schema; SQLite and PostgreSQL store time alike."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, SQLModel, select

import storage.models  # noqa: F401 - registers every table on SQLModel.metadata
from storage import migrate
from storage.db import SQLITE_BUSY_TIMEOUT_MS, make_engine
from storage.models import Site, Team
from tests.factories import make_site


def test_upgrading_an_empty_database_gives_exactly_the_models_schema(
    empty_database_url: str,
) -> None:
    assert migrate.current(empty_database_url) is None

    migrate.upgrade(empty_database_url)

    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, SQLModel.metadata) == []
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert tables == set(SQLModel.metadata.tables) | {"alembic_version"}
    assert migrate.current(empty_database_url) == migrate.head()


def test_upgrading_twice_changes_nothing(database_url: str) -> None:
    before = migrate.current(database_url)

    migrate.upgrade(database_url)

    assert migrate.current(database_url) == before == migrate.head()


def test_downgrading_to_base_removes_every_table(database_url: str) -> None:
    command.downgrade(migrate.alembic_config(database_url), "base")

    engine = make_engine(database_url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    assert migrate.current(database_url) is None


def test_revisions_form_one_line_starting_at_the_foundation() -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config(""))

    assert len(scripts.get_heads()) == 1
    assert scripts.get_bases() == ["0001_foundation"]


def test_migrations_are_found_from_any_working_directory(
    sqlite_url: str, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))

    migrate.upgrade(sqlite_url)

    assert migrate.current(sqlite_url) == migrate.head()


def test_sqlite_has_foreign_keys_wal_and_a_busy_timeout(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            busy_timeout = connection.execute(text("PRAGMA busy_timeout")).scalar()
            assert busy_timeout == SQLITE_BUSY_TIMEOUT_MS
    finally:
        engine.dispose()


def test_a_team_of_a_missing_site_is_refused(session: Session) -> None:
    session.add(Team(site_id=999_999, name="Nowhere"))

    with pytest.raises(IntegrityError):
        session.flush()


def test_a_naive_datetime_is_refused(session: Session) -> None:
    # The naive datetime is the point of this test.
    naive = datetime(2026, 3, 1, 9, 30)  # noqa: DTZ001
    session.add(Site(name="Naive", created_at=naive))

    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()


def test_a_timestamp_reads_back_as_aware_utc(session: Session, engine: Engine) -> None:
    copenhagen_summer = datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
    site = make_site(session=session)
    site.created_at = copenhagen_summer
    session.add(site)
    session.commit()

    with Session(engine) as fresh:
        stored = fresh.exec(select(Site).where(Site.id == site.id)).one().created_at

    assert stored == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert stored.tzinfo is UTC


def test_sqlite_stores_the_utc_wall_time(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with Session(engine) as session:
            site = make_site(session=session)
            site.created_at = datetime(2026, 1, 15, 8, 0, tzinfo=ZoneInfo("Europe/Copenhagen"))
            session.add(site)
            session.commit()
            raw = session.connection().execute(text("SELECT created_at FROM site")).scalar()
    finally:
        engine.dispose()

    assert str(raw).startswith("2026-01-15 07:00:00")
