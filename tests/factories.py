"""Small random-data helpers: a site, a team, a member with a membership, a resident.

Each takes the session and keyword arguments with sane defaults, adds the rows,
flushes so ids are set, and writes no audit entries (tests of the audit log see
only what the code under test wrote).
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from storage import conversations
from storage.db import utcnow
from storage.directory import TeamMember
from storage.models import Conversation, Member, Membership, Resident, Role, Site, SiteKind, Team

FIRST_NAMES = ("Anne", "Bo", "Camilla", "Dorte", "Erik", "Fatima", "Gitte", "Hans", "Ida")
# Telegram user ids are up to 52 bits: well above 2**31, so BIGINT columns are exercised.
TELEGRAM_ID_RANGE = (2**31, 2**52)


def random_suffix() -> str:
    """Returns a short random suffix that keeps names unique."""
    return secrets.token_hex(3)


def random_telegram_id() -> int:
    """Returns a random Telegram user id above 2**31."""
    return random.randint(*TELEGRAM_ID_RANGE)


def id_of(row: Site | Team | Member | Membership | Resident) -> int:
    """Returns the id of a flushed row (and fails loudly if it was never flushed)."""
    assert row.id is not None, "flush the row first"
    return row.id


def make_site(
    *, session: Session, name: str | None = None, kind: SiteKind = SiteKind.CARE_HOME
) -> Site:
    """Adds a site, named "Plejecenter <random>" unless ``name`` is given."""
    site = Site(name=name or f"Plejecenter {random_suffix()}", kind=kind)
    session.add(site)
    session.flush()
    return site


def make_team(*, session: Session, site: Site | None = None, name: str | None = None) -> Team:
    """Adds a team, at ``site`` or at a new site."""
    site = site or make_site(session=session)
    team = Team(site_id=id_of(site), name=name or f"Team {random_suffix()}")
    session.add(team)
    session.flush()
    return team


def make_member(
    *,
    session: Session,
    team: Team | None = None,
    role: Role = Role.STAFF,
    name: str | None = None,
    telegram_id: int | None = None,
    language: str = "da",
    active_membership: bool = True,
) -> TeamMember:
    """Adds a member with a membership of ``team`` (a new team if none), current there."""
    team = team or make_team(session=session)
    member = Member(
        telegram_id=telegram_id if telegram_id is not None else random_telegram_id(),
        name=name or f"{random.choice(FIRST_NAMES)} {random_suffix()}",
        language=language,
        current_team_id=team.id,
    )
    session.add(member)
    session.flush()
    membership = make_membership(
        session=session, member=member, team=team, role=role, active=active_membership
    )
    return TeamMember(member=member, membership=membership)


def make_membership(
    *, session: Session, member: Member, team: Team, role: Role = Role.STAFF, active: bool = True
) -> Membership:
    """Adds an existing member to one more team (their current team stays as it was)."""
    membership = Membership(member_id=id_of(member), team_id=id_of(team), role=role, active=active)
    session.add(membership)
    session.flush()
    return membership


def make_resident(
    *, session: Session, team: Team | None = None, alias: str | None = None, active: bool = True
) -> Resident:
    """Adds a resident known by ``alias`` (random if not given) to ``team`` (or a new team)."""
    team = team or make_team(session=session)
    resident = Resident(
        team_id=id_of(team), alias=alias or f"Beboer {random_suffix()}", active=active
    )
    session.add(resident)
    session.flush()
    return resident


def make_draft(*, session: Session, telegram_id: int, idle: timedelta = timedelta(0)) -> None:
    """Stores a note draft in a private chat, last touched ``idle`` ago, and commits."""
    conversations.save(
        session=session,
        telegram_id=telegram_id,
        chat_id=telegram_id,
        flow="note",
        state="note.content",
        data={"text": "Hun smilede."},
    )
    session.commit()
    if idle:
        draft = conversations.load(session=session, telegram_id=telegram_id, chat_id=telegram_id)
        assert draft is not None
        session.execute(
            update(Conversation)
            .where(col(Conversation.id) == draft.id)
            .values(updated_at=utcnow() - idle)
        )
        session.commit()
