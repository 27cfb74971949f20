"""Is the database there: the checks behind ``/healthz``, the start-up check of
``stemme run``, and telling an outage from a wrong statement."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from storage.db import make_engine


def ping(*, session: Session) -> None:
    """Asks the database for ``SELECT 1``; raises when it does not answer."""
    session.execute(text("SELECT 1")).one()


def check_database(database_url: str, *, timeout: int = 3) -> str | None:
    """Connects once with a short timeout; returns None, or the error's type when the
    database cannot be reached (never its message, which may hold the password)."""
    kwargs: dict[str, Any] = {"poolclass": NullPool}
    if database_url.startswith(("postgresql", "postgres")):
        kwargs["connect_args"] = {"connect_timeout": timeout}
    try:
        engine = make_engine(database_url, **kwargs)
    except Exception as error:  # a malformed URL, a missing driver
        return type(error).__name__
    try:
        with Session(engine) as session:
            ping(session=session)
    except Exception as error:
        return type(error).__name__
    finally:
        engine.dispose()
    return None


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database could not be reached or dropped the connection
    (worth trying again later), rather than that a statement was wrong."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)
