"""What every table module shares: the constraint naming convention (set on
``SQLModel.metadata`` before any table is defined, as every table module imports this one
first) and the UTC timestamp column."""

from __future__ import annotations

from typing import Any

from sqlmodel import Field, SQLModel

from storage.db import UTCDateTime, utcnow

# Every constraint gets a predictable name, the same on SQLite and PostgreSQL, so a
# migration can drop or alter it by name (SQLite's batch mode cannot address unnamed ones).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    """A UTC timestamp column: set to now on insert, or empty when ``nullable``."""
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_type=UTCDateTime,
        nullable=nullable,
        index=index,
    )
