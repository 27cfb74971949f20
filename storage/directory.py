"""Sites, teams, members, memberships and invites: who belongs where, in which role."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, case, func, true, update
from sqlmodel import Session, col, select

from storage import conversations
from storage.audit import record
from storage.db import require_id, utcnow
from storage.models import Invite, Member, Membership, Role, Site, SiteKind, Team

INVITE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
INVITE_CODE_LENGTH = 10
DEFAULT_INVITE_DAYS = 7


class NotFound(LookupError):
    """Raised when a site or team named on the command line does not exist."""


class Ambiguous(LookupError):
    """Raised when a name matches more than one team; the caller should use the id."""


class InviteProblem(StrEnum):
    """Why an invite code cannot be used."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED_UP = "used_up"


class InviteRejected(Exception):
    """Raised when an invite code cannot be used; ``problem`` says why."""

    def __init__(self, problem: InviteProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


# ---------------------------------------------------------------- sites and teams


def add_site(*, session: Session, name: str, kind: SiteKind = SiteKind.CARE_HOME) -> Site:
    """Creates a site and records it in the audit log."""
    site = Site(name=name.strip(), kind=kind)
    session.add(site)
    session.flush()
    record(session=session, actor="cli", action="site.add", detail={"site_id": site.id})
    return site


def find_site(*, session: Session, ref: str) -> Site:
    """Finds a site by id or exact name."""
    site = session.get(Site, int(ref)) if ref.isdigit() else None
    if site is None:
        site = session.exec(select(Site).where(Site.name == ref.strip())).first()
    if site is None:
        raise NotFound(ref)
    return site


def list_sites(*, session: Session) -> list[Site]:
    """Returns every site, by name."""
    return list(session.exec(select(Site).order_by(Site.name)))


def add_team(*, session: Session, site: Site, name: str) -> Team:
    """Creates a team at a site and records it in the audit log."""
    team = Team(site_id=require_id(site), name=name.strip())
    session.add(team)
    session.flush()
    record(session=session, actor="cli", action="team.add", team_id=team.id, detail={})
    return team


def find_team(*, session: Session, ref: str) -> Team:
    """Finds a team by id, by exact name, or by ``site/team``."""
    if ref.isdigit():
        team = session.get(Team, int(ref))
        if team is None:
            raise NotFound(ref)
        return team
    query = select(Team)
    if "/" in ref:
        site_name, team_name = (part.strip() for part in ref.split("/", 1))
        query = query.join(Site).where(Site.name == site_name, Team.name == team_name)
    else:
        query = query.where(Team.name == ref.strip())
    teams = list(session.exec(query))
    if not teams:
        raise NotFound(ref)
    if len(teams) > 1:
        raise Ambiguous(ref)
    return teams[0]


def get_team(*, session: Session, team_id: int) -> Team | None:
    """Returns a team by id."""
    return session.get(Team, team_id)


def get_site(*, session: Session, site_id: int) -> Site | None:
    """Returns a site by id."""
    return session.get(Site, site_id)


def list_teams(*, session: Session, site: Site | None = None) -> list[Team]:
    """Returns the teams, of one site or of all, by name."""
    query = select(Team).order_by(col(Team.site_id), col(Team.name))
    if site is not None:
        query = query.where(Team.site_id == site.id)
    return list(session.exec(query))


# ---------------------------------------------------------------- members


def get_member_by_telegram_id(*, session: Session, telegram_id: int) -> Member | None:
    """Returns the member with this Telegram id, active or not."""
    return session.exec(select(Member).where(Member.telegram_id == telegram_id)).first()


def get_member(*, session: Session, member_id: int) -> Member | None:
    """Returns a member by id."""
    return session.get(Member, member_id)


def set_language(*, session: Session, member: Member, language: str) -> None:
    """Stores the member's chosen language."""
    member.language = language
    session.add(member)


@dataclass(frozen=True)
class TeamMember:
    """One row of a team's member list."""

    member: Member
    membership: Membership


def team_members(
    *, session: Session, team_id: int, include_inactive: bool = False
) -> list[TeamMember]:
    """Returns the team's members with their memberships, leads first, then by name."""
    query = (
        select(Member, Membership)
        .join(Membership, col(Membership.member_id) == col(Member.id))
        .where(Membership.team_id == team_id)
    )
    if not include_inactive:
        query = query.where(col(Membership.active).is_(True), col(Member.active).is_(True))
    rows = session.exec(query).all()
    result = [TeamMember(member=m, membership=ms) for m, ms in rows]
    result.sort(key=lambda row: (row.membership.role != Role.LEAD, row.member.name.lower()))
    return result


def active_memberships(*, session: Session, member_id: int) -> list[tuple[Membership, Team]]:
    """Returns the member's active memberships with their teams, by team name."""
    rows = session.exec(
        select(Membership, Team)
        .join(Team, col(Team.id) == col(Membership.team_id))
        .where(Membership.member_id == member_id, col(Membership.active).is_(True))
        .order_by(Team.name)
    ).all()
    return [(ms, team) for ms, team in rows]


def current_membership(*, session: Session, member: Member) -> tuple[Membership, Team] | None:
    """Returns the membership the member works in now, repairing a stale choice.

    If the member's current team is no longer active for them, the first other
    active team becomes current; ``None`` means the member is in no team at all.
    """
    memberships = active_memberships(session=session, member_id=require_id(member))
    if not memberships:
        return None
    for membership, team in memberships:
        if team.id == member.current_team_id:
            return membership, team
    membership, team = memberships[0]
    member.current_team_id = team.id
    session.add(member)
    return membership, team


# Built once: constructing a statement costs more than running it on every update, and on
# PostgreSQL every statement is a round trip during which the event loop waits. Rows: the
# member, their first active membership and its team, then the conversation's columns.
_RESOLVE: Any = (
    select(Member, Membership, Team)
    .add_columns(*conversations.LOCKED.c)
    .outerjoin(
        Membership,
        (col(Membership.member_id) == col(Member.id)) & col(Membership.active).is_(True),
    )
    .outerjoin(Team, col(Team.id) == col(Membership.team_id))
    .outerjoin(conversations.LOCKED, true())
    .where(col(Member.telegram_id) == bindparam("telegram_id"))
    # The current team first, else the first active team by name.
    .order_by(
        case((col(Membership.team_id) == col(Member.current_team_id), 0), else_=1),
        col(Team.name),
    )
    .limit(1)
)


def resolve(
    *, session: Session, telegram_id: int, chat_id: int
) -> tuple[Member | None, Membership | None, Team | None, conversations.Position | None]:
    """Who is writing and where they are, in one query: the member with this Telegram id
    (active or not); for an active member, the membership and team they work in now and
    their conversation in this chat (locked on PostgreSQL, so two workers never advance it
    at once).

    The team is what ``get_member_by_telegram_id`` followed by ``current_membership``
    would give, including its repair of a stale choice (the first other active team, by
    name, becomes current). Membership and team are ``None`` for an inactive member or one
    in no team.
    """
    row = session.exec(_RESOLVE, params={"telegram_id": telegram_id, "chat_id": chat_id}).first()
    if row is None:
        return None, None, None, None
    member, membership, team = row[:3]
    if not member.active:
        return member, None, None, None
    position = conversations.position(row[3:])
    if membership is None or team is None:
        return member, None, None, position
    if member.current_team_id != team.id:
        member.current_team_id = team.id
        session.add(member)
    return member, membership, team, position


def switch_team(*, session: Session, member: Member, team_id: int) -> Team | None:
    """Makes ``team_id`` the member's current team if they are an active member of it."""
    for _membership, team in active_memberships(session=session, member_id=require_id(member)):
        if team.id == team_id:
            member.current_team_id = team.id
            session.add(member)
            return team
    return None


def get_membership(*, session: Session, member_id: int, team_id: int) -> Membership | None:
    """Returns the membership of one member in one team, active or not."""
    return session.exec(
        select(Membership).where(Membership.member_id == member_id, Membership.team_id == team_id)
    ).first()


def remove_member(*, session: Session, team_id: int, member_id: int, actor_member_id: int) -> bool:
    """Ends a member's membership of a team; returns False if they were not an active member."""
    membership = get_membership(session=session, member_id=member_id, team_id=team_id)
    if membership is None or not membership.active:
        return False
    membership.active = False
    membership.left_at = utcnow()
    session.add(membership)
    record(
        session=session,
        actor=f"member:{actor_member_id}",
        action="member.remove",
        team_id=team_id,
        detail={"member_id": member_id},
    )
    return True


def count_active_leads(*, session: Session, team_id: int) -> int:
    """Counts the team's active leads."""
    return session.exec(
        select(func.count())
        .select_from(Membership)
        .where(
            Membership.team_id == team_id,
            Membership.role == Role.LEAD,
            col(Membership.active).is_(True),
        )
    ).one()


@dataclass(frozen=True)
class TeamOverview:
    """One team as an administrator sees it: where it is and how many are active."""

    site: Site
    team: Team
    active_members: int
    leads: int


def team_overview(*, session: Session) -> list[TeamOverview]:
    """Returns every team with its site and its counts of active members and leads."""
    active = col(Membership.active).is_(True)
    counts = (
        select(
            Membership.team_id,
            func.count().label("members"),
            func.sum(case((col(Membership.role) == Role.LEAD, 1), else_=0)).label("leads"),
        )
        .where(active)
        .group_by(col(Membership.team_id))
        .subquery()
    )
    rows = session.exec(
        select(Site, Team, counts.c.members, counts.c.leads)
        .join(Team, col(Team.site_id) == col(Site.id))
        .outerjoin(counts, counts.c.team_id == col(Team.id))
        .order_by(col(Site.name), col(Team.name))
    ).all()
    return [
        TeamOverview(site=site, team=team, active_members=members or 0, leads=leads or 0)
        for site, team, members, leads in rows
    ]


# ---------------------------------------------------------------- invites


def new_invite_code() -> str:
    """Returns a random, unambiguous invite code (no 0/o, 1/l)."""
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


def create_invite(
    *,
    session: Session,
    team: Team,
    role: Role,
    max_uses: int = 1,
    days: int = DEFAULT_INVITE_DAYS,
    actor: str = "cli",
    created_by_member_id: int | None = None,
    now: datetime | None = None,
) -> Invite:
    """Creates an invite to one team with one role, valid for ``days`` and ``max_uses``."""
    if max_uses < 1:
        raise ValueError("max_uses must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    now = now or utcnow()
    invite = Invite(
        code=new_invite_code(),
        team_id=require_id(team),
        role=role,
        max_uses=max_uses,
        expires_at=now + timedelta(days=days),
        created_by_member_id=created_by_member_id,
    )
    session.add(invite)
    session.flush()
    record(
        session=session,
        actor=actor,
        action="invite.create",
        team_id=team.id,
        detail={"invite_id": invite.id, "role": str(role), "max_uses": max_uses, "days": days},
    )
    return invite


def check_invite(*, session: Session, code: str, now: datetime | None = None) -> Invite:
    """Returns the usable invite with this code, or raises ``InviteRejected``."""
    now = now or utcnow()
    invite = session.exec(select(Invite).where(Invite.code == code.strip().lower())).first()
    if invite is None or invite.revoked:
        raise InviteRejected(InviteProblem.UNKNOWN)
    if invite.expires_at <= now:
        raise InviteRejected(InviteProblem.EXPIRED)
    if invite.uses >= invite.max_uses:
        raise InviteRejected(InviteProblem.USED_UP)
    return invite


@dataclass(frozen=True)
class Joined:
    """The outcome of redeeming an invite."""

    member: Member
    membership: Membership
    team: Team
    already_member: bool


def redeem_invite(
    *,
    session: Session,
    code: str,
    telegram_id: int,
    name: str,
    language: str,
    now: datetime | None = None,
) -> Joined:
    """Joins the person to the invite's team with its role, creating the member if new.

    The invite's use is counted only when it made a change; an existing member of
    the team keeps their membership (a lead invite upgrades a staff member).
    """
    now = now or utcnow()
    invite = check_invite(session=session, code=code, now=now)
    team = session.get(Team, invite.team_id)
    assert team is not None  # guaranteed by the foreign key
    member = get_member_by_telegram_id(session=session, telegram_id=telegram_id)
    membership = (
        get_membership(session=session, member_id=require_id(member), team_id=require_id(team))
        if member is not None
        else None
    )
    already = membership is not None and membership.active
    upgrade = already and invite.role == Role.LEAD and membership.role != Role.LEAD  # type: ignore[union-attr]  # already implies a membership
    if not already or upgrade:
        # Counted first, so a lost race for the last use writes nothing at all.
        _count_use(session, invite, now)
    if member is None:
        member = Member(telegram_id=telegram_id, name=name[:120], language=language)
        session.add(member)
        session.flush()
    else:
        member.active = True
        member.name = name[:120] or member.name
    if membership is None:
        membership = Membership(
            member_id=require_id(member), team_id=require_id(team), role=invite.role
        )
    elif not membership.active:
        membership.active = True
        membership.left_at = None
        membership.role = invite.role
        membership.joined_at = now
    elif upgrade:
        membership.role = Role.LEAD
    session.add(membership)
    member.current_team_id = team.id
    session.add(member)
    session.flush()
    record(
        session=session,
        actor=f"member:{member.id}",
        action="invite.redeem",
        team_id=team.id,
        detail={"invite_id": invite.id, "role": membership.role},
    )
    return Joined(member=member, membership=membership, team=team, already_member=already)


def _count_use(session: Session, invite: Invite, now: datetime) -> None:
    """Counts one use with a guarded UPDATE, so two people racing for the last use of an
    invite (two workers, PostgreSQL) cannot both get in: the loser is told it is used up."""
    result = session.execute(
        update(Invite)
        .where(
            col(Invite.id) == invite.id,
            col(Invite.uses) < col(Invite.max_uses),
            col(Invite.revoked).is_(False),
            col(Invite.expires_at) > now,
        )
        .values(uses=col(Invite.uses) + 1)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise InviteRejected(InviteProblem.USED_UP)
    session.refresh(invite)
