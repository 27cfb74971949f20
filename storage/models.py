"""The tables. Each class is one table; the comment above it says what a row is.

Every timestamp is stored in UTC (``UTCDateTime``); Telegram ids are 64-bit.
Residents are known only by an alias the team chooses, never by CPR number.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.db import UTCDateTime, utcnow

ALIAS_MAX_LENGTH = 60
NAME_MAX_LENGTH = 120

# Every constraint gets a predictable name, the same on SQLite and PostgreSQL, so a
# migration can drop or alter it by name (SQLite's batch mode cannot address unnamed ones).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Role(StrEnum):
    """A member's role in one team."""

    STAFF = "staff"
    LEAD = "lead"


class SiteKind(StrEnum):
    """What kind of place a site is."""

    CARE_HOME = "care_home"
    HOME_CARE = "home_care"


def _utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default_factory=utcnow if not nullable else None,
        sa_type=UTCDateTime,
        nullable=nullable,
        index=index,
    )


# A care home or a home-care district; administrators create them from the CLI.
class Site(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX_LENGTH, unique=True)
    kind: str = Field(default=SiteKind.CARE_HOME, max_length=20)
    created_at: datetime = _utc_column()


# A fixed team (fast team) around a fixed group of residents, within one site.
class Team(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_team_site_name"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    name: str = Field(max_length=NAME_MAX_LENGTH)
    created_at: datetime = _utc_column()


# A person using the bot (staff, lead or both), known by their Telegram id.
class Member(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    name: str = Field(max_length=NAME_MAX_LENGTH)
    language: str = Field(default="da", max_length=8)
    active: bool = True
    # The team the member currently works in; members of several teams switch it.
    current_team_id: int | None = Field(default=None, foreign_key="team.id")
    created_at: datetime = _utc_column()


# A member's place in one team, with the role they have there.
class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("member_id", "team_id", name="uq_membership"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    role: str = Field(default=Role.STAFF, max_length=10)
    active: bool = True
    joined_at: datetime = _utc_column()
    left_at: datetime | None = _utc_column(nullable=True)


# An invitation code that lets someone join one team with one role.
class Invite(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    role: str = Field(default=Role.STAFF, max_length=10)
    max_uses: int = 1
    uses: int = 0
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    created_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    revoked: bool = False
    created_at: datetime = _utc_column()


# A resident the team cares for, known only by the alias the team chose.
class Resident(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("team_id", "alias", name="uq_resident_team_alias"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    alias: str = Field(max_length=ALIAS_MAX_LENGTH)
    active: bool = True
    created_at: datetime = _utc_column()


# One administrative action: who did what to which team. Never holds note text.
class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_at", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # "cli", "member:<id>" or "system".
    actor: str = Field(max_length=40)
    action: str = Field(max_length=60)
    team_id: int | None = Field(default=None, foreign_key="team.id")
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# Where one user is in a conversation flow, committed at every step so a restart
# or another worker process continues exactly there.
class Conversation(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("telegram_id", "chat_id", name="uq_conversation_user_chat"),
    )

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    flow: str = Field(max_length=40)
    state: str = Field(max_length=60)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _utc_column()
