"""The team's residents, known by alias only."""

from __future__ import annotations

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from storage.audit import record
from storage.cpr import refuse_cpr
from storage.models import ALIAS_MAX_LENGTH, Resident


class AliasTaken(ValueError):
    """Raised when the team already has a resident with this alias."""


class AliasInvalid(ValueError):
    """Raised when an alias is empty or longer than ``ALIAS_MAX_LENGTH``."""


def clean_alias(alias: str) -> str:
    """Collapses white space, checks the length and refuses a CPR number."""
    cleaned = " ".join(refuse_cpr(alias).split())
    if not cleaned or len(cleaned) > ALIAS_MAX_LENGTH:
        raise AliasInvalid(alias)
    return cleaned


def _same_alias(session: Session, team_id: int, alias: str) -> list[Resident]:
    """The team's residents whose alias equals ``alias`` ignoring case, Danish letters
    included (SQLite's lower() folds only ASCII, so the comparison is done here; a
    team has tens of residents, not thousands)."""
    key = alias.casefold()
    residents = session.exec(select(Resident).where(Resident.team_id == team_id)).all()
    return [resident for resident in residents if resident.alias.casefold() == key]


def add_resident(*, session: Session, team_id: int, alias: str, actor_member_id: int) -> Resident:
    """Adds a resident to the team; an inactive one with the same alias is reactivated."""
    alias = clean_alias(alias)
    same = _same_alias(session, team_id, alias)
    existing = same[0] if same else None
    if existing is not None:
        if existing.active:
            raise AliasTaken(alias)
        existing.active = True
        existing.alias = alias
        resident = existing
    else:
        resident = Resident(team_id=team_id, alias=alias)
    session.add(resident)
    session.flush()
    record(
        session=session,
        actor=f"member:{actor_member_id}",
        action="resident.add",
        team_id=team_id,
        detail={"resident_id": resident.id},
    )
    return resident


def rename_resident(
    *, session: Session, resident: Resident, alias: str, actor_member_id: int
) -> Resident:
    """Gives a resident a new alias, unique within the team."""
    alias = clean_alias(alias)
    if any(other.id != resident.id for other in _same_alias(session, resident.team_id, alias)):
        raise AliasTaken(alias)
    resident.alias = alias
    session.add(resident)
    record(
        session=session,
        actor=f"member:{actor_member_id}",
        action="resident.rename",
        team_id=resident.team_id,
        detail={"resident_id": resident.id},
    )
    return resident


def deactivate_resident(*, session: Session, resident: Resident, actor_member_id: int) -> None:
    """Marks a resident inactive; their history stays with the team."""
    resident.active = False
    session.add(resident)
    record(
        session=session,
        actor=f"member:{actor_member_id}",
        action="resident.deactivate",
        team_id=resident.team_id,
        detail={"resident_id": resident.id},
    )


# Built once: the note flow lists residents often, and building costs more than running.
_ALL_RESIDENTS = select(Resident).where(Resident.team_id == bindparam("team_id"))
_ACTIVE_RESIDENTS = _ALL_RESIDENTS.where(col(Resident.active).is_(True)).order_by(
    func.lower(Resident.alias)
)
_ALL_RESIDENTS = _ALL_RESIDENTS.order_by(func.lower(Resident.alias))


def list_residents(
    *, session: Session, team_id: int, include_inactive: bool = False
) -> list[Resident]:
    """Returns the team's residents by alias."""
    query = _ALL_RESIDENTS if include_inactive else _ACTIVE_RESIDENTS
    return list(session.exec(query, params={"team_id": team_id}))


def get_team_resident(
    *, session: Session, team_id: int, resident_id: int, active_only: bool = True
) -> Resident | None:
    """Returns the resident only if it belongs to the team (and is active): the check
    every button carrying a resident id goes through."""
    resident = session.get(Resident, resident_id)
    if resident is None or resident.team_id != team_id:
        return None
    if active_only and not resident.active:
        return None
    return resident
