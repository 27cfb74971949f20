"""The team's people and places: sites, teams, members and their memberships,
invitations, residents (known only by an alias), and the audit log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlmodel import Field, SQLModel

from storage.db import UTCDateTime, utcnow
from storage.models.base import utc_column

ALIAS_MAX_LENGTH = 60
NAME_MAX_LENGTH = 120
DEFAULT_RETENTION_DAYS = 180
DEFAULT_DAY_START = 7 * 60
DEFAULT_EVENING_START = 15 * 60
DEFAULT_NIGHT_START = 23 * 60


class Role(StrEnum):
    """A member's role in one team."""

    STAFF = "staff"
    LEAD = "lead"


class SiteKind(StrEnum):
    """What kind of place a site is."""

    CARE_HOME = "care_home"
    HOME_CARE = "home_care"


# A care home or a home-care district; administrators create them from the CLI.
class Site(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=NAME_MAX_LENGTH, unique=True)
    kind: str = Field(default=SiteKind.CARE_HOME, max_length=20)
    created_at: datetime = utc_column()
    # Days after which a micro-moment's text (or voice) is removed; its markers, counts and
    # the agreed approaches stay. None keeps the text until it is erased by hand.
    retention_days: int | None = Field(
        default=DEFAULT_RETENTION_DAYS,
        sa_column_kwargs={"server_default": str(DEFAULT_RETENTION_DAYS)},
    )
    # When a member is erased: False keeps their notes for the team without their name,
    # True erases the notes too.
    erase_authored_notes: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa_false()}
    )


# A fixed team (fast team) around a fixed group of residents, within one site.
class Team(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_team_site_name"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    name: str = Field(max_length=NAME_MAX_LENGTH)
    created_at: datetime = utc_column()
    # The team's shift pattern, as minutes after local midnight (default 07, 15, 23).
    day_starts_at: int = Field(
        default=DEFAULT_DAY_START, sa_column_kwargs={"server_default": str(DEFAULT_DAY_START)}
    )
    evening_starts_at: int = Field(
        default=DEFAULT_EVENING_START,
        sa_column_kwargs={"server_default": str(DEFAULT_EVENING_START)},
    )
    night_starts_at: int = Field(
        default=DEFAULT_NIGHT_START, sa_column_kwargs={"server_default": str(DEFAULT_NIGHT_START)}
    )
    # Delete the member's messages and the bot's prompts after a note is saved.
    chat_hygiene: bool = Field(default=True, sa_column_kwargs={"server_default": sa_true()})


# A person using the bot (staff, lead or both), known by their Telegram id.
class Member(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    name: str = Field(max_length=NAME_MAX_LENGTH)
    language: str = Field(default="da", max_length=8)
    active: bool = True
    # The team the member currently works in; members of several teams switch it.
    current_team_id: int | None = Field(default=None, foreign_key="team.id")
    created_at: datetime = utc_column()


# A member's place in one team, with the role they have there.
class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("member_id", "team_id", name="uq_membership"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    role: str = Field(default=Role.STAFF, max_length=10)
    active: bool = True
    joined_at: datetime = utc_column()
    left_at: datetime | None = utc_column(nullable=True)


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
    created_at: datetime = utc_column()


# A resident the team cares for, known only by the alias the team chose.
class Resident(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("team_id", "alias", name="uq_resident_team_alias"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    alias: str = Field(max_length=ALIAS_MAX_LENGTH)
    active: bool = True
    created_at: datetime = utc_column()


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
