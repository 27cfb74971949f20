"""The processed-update record: a redelivered update is recognised, on both databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from storage import health, updates
from storage.db import session_scope


def test_an_update_is_recorded_once_and_recognised_after(session: Session) -> None:
    assert updates.record(session=session, update_id=2**40 + 7) is True
    assert updates.record(session=session, update_id=2**40 + 7) is False
    session.commit()
    assert updates.was_processed(session=session, update_id=2**40 + 7)
    assert not updates.was_processed(session=session, update_id=8)


def test_a_rolled_back_record_leaves_the_update_to_be_processed_again(engine: Engine) -> None:
    try:
        with session_scope(engine) as session:
            assert updates.record(session=session, update_id=11)
            raise RuntimeError("the step failed")
    except RuntimeError:
        pass
    with session_scope(engine) as session:
        assert not updates.was_processed(session=session, update_id=11)
        assert updates.record(session=session, update_id=11) is True


def test_purge_removes_only_old_records(session: Session) -> None:
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    updates.record(session=session, update_id=1, now=now - timedelta(days=3))
    updates.record(session=session, update_id=2, now=now - timedelta(hours=1))
    session.commit()
    assert updates.purge(session=session, older_than=now - timedelta(days=2)) == 1
    session.commit()
    assert not updates.was_processed(session=session, update_id=1)
    assert updates.was_processed(session=session, update_id=2)


def test_two_workers_recording_the_same_update_at_once_one_wins(engine: Engine) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        with session_scope(engine) as session:
            barrier.wait()
            results.append(updates.record(session=session, update_id=99))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]


def test_the_database_answers_a_ping_and_the_start_check(
    session: Session, database_url: str
) -> None:
    health.ping(session=session)
    assert health.check_database(database_url) is None


def test_an_unreachable_database_is_reported_by_type_only() -> None:
    url = "postgresql://stemme:s3cret-pw@127.0.0.1:9/nothing"
    problem = health.check_database(url, timeout=1)
    assert problem == "OperationalError"
    assert health.database_unavailable(OperationalError("SELECT 1", {}, Exception("down")))
    assert not health.database_unavailable(ValueError("a bug"))


def test_begin_and_finish_skip_an_update_processed_before(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert updates.begin(session=session, update_id=21) is True
        updates.finish(session=session, update_id=21)
    with session_scope(engine) as session:
        assert updates.begin(session=session, update_id=21) is False
    try:
        with session_scope(engine) as session:
            assert updates.begin(session=session, update_id=22) is True
            raise RuntimeError("the step failed before finishing")
    except RuntimeError:
        pass
    with session_scope(engine) as session:
        assert updates.begin(session=session, update_id=22) is True


@pytest.mark.postgres
def test_on_postgresql_a_step_waits_for_another_workers_row_only_briefly(
    engine: Engine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks with a timeout are PostgreSQL's")
    with session_scope(engine) as first:
        assert updates.begin(session=first, update_id=31)
        with pytest.raises(OperationalError) as raised, session_scope(engine) as second:
            updates.begin(session=second, update_id=31, lock_timeout=timedelta(milliseconds=200))
        assert health.database_unavailable(raised.value)
    with engine.connect() as connection:
        with connection.begin(), Session(bind=connection) as session:
            assert updates.begin(session=session, update_id=31) is False
            assert session.execute(text("SHOW lock_timeout")).scalar_one() == "3s"
        # The step's own (SET LOCAL): the connection's next transaction waits as long as
        # it takes, as with PgBouncer another client's would.
        assert connection.execute(text("SHOW lock_timeout")).scalar_one() == "0"
