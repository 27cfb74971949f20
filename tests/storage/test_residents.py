"""The team's residents: aliases unique per team, rename, deactivate, and team boundaries."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage import audit
from storage.models import ALIAS_MAX_LENGTH
from storage.residents import (
    AliasInvalid,
    AliasTaken,
    add_resident,
    deactivate_resident,
    get_team_resident,
    list_residents,
    rename_resident,
)
from tests.factories import id_of, make_member, make_resident, make_team

ACTOR = 1  # audit entries only record the actor's id; no member row is needed


def test_a_resident_is_added_under_a_tidied_alias(session: Session, engine: Engine) -> None:
    team = make_team(session=session)

    resident = add_resident(
        session=session, team_id=id_of(team), alias="  Fru   Hansen ", actor_member_id=ACTOR
    )
    session.commit()

    with Session(engine) as fresh:
        stored = list_residents(session=fresh, team_id=id_of(team))
    assert [(row.id, row.alias, row.active) for row in stored] == [
        (resident.id, "Fru Hansen", True)
    ]


def test_an_alias_is_unique_within_a_team_whatever_the_case(session: Session) -> None:
    team = make_team(session=session)
    add_resident(session=session, team_id=id_of(team), alias="Fru Hansen", actor_member_id=ACTOR)

    with pytest.raises(AliasTaken):
        add_resident(
            session=session, team_id=id_of(team), alias="fru HANSEN", actor_member_id=ACTOR
        )
    assert len(list_residents(session=session, team_id=id_of(team))) == 1


def test_another_team_may_use_the_same_alias(session: Session) -> None:
    first = make_team(session=session)
    second = make_team(session=session)
    add_resident(session=session, team_id=id_of(first), alias="Hr. Berg", actor_member_id=ACTOR)

    other = add_resident(
        session=session, team_id=id_of(second), alias="Hr. Berg", actor_member_id=ACTOR
    )

    assert other.team_id == second.id


@pytest.mark.parametrize("alias", ["", "   ", "x" * (ALIAS_MAX_LENGTH + 1)])
def test_an_empty_or_too_long_alias_is_refused(session: Session, alias: str) -> None:
    team = make_team(session=session)

    with pytest.raises(AliasInvalid):
        add_resident(session=session, team_id=id_of(team), alias=alias, actor_member_id=ACTOR)


def test_residents_are_listed_by_alias_whatever_the_case(session: Session) -> None:
    team = make_team(session=session)
    for alias in ["bente", "Anna", "Carl"]:
        make_resident(session=session, team=team, alias=alias)
    make_resident(session=session, team=team, alias="Aage", active=False)

    residents = list_residents(session=session, team_id=id_of(team))

    assert [row.alias for row in residents] == ["Anna", "bente", "Carl"]
    everyone = list_residents(session=session, team_id=id_of(team), include_inactive=True)
    assert [row.alias for row in everyone] == ["Aage", "Anna", "bente", "Carl"]


def test_a_resident_can_be_renamed(session: Session) -> None:
    resident = make_resident(session=session, alias="Fru Hansen")

    rename_resident(session=session, resident=resident, alias="Fru Jensen", actor_member_id=ACTOR)

    assert [row.alias for row in list_residents(session=session, team_id=resident.team_id)] == [
        "Fru Jensen"
    ]


def test_renaming_to_an_alias_in_use_is_refused(session: Session) -> None:
    team = make_team(session=session)
    make_resident(session=session, team=team, alias="Fru Hansen")
    resident = make_resident(session=session, team=team, alias="Hr. Berg")

    with pytest.raises(AliasTaken):
        rename_resident(
            session=session, resident=resident, alias="FRU HANSEN", actor_member_id=ACTOR
        )
    assert resident.alias == "Hr. Berg"


def test_a_resident_may_be_renamed_to_a_new_spelling_of_its_own_alias(session: Session) -> None:
    resident = make_resident(session=session, alias="fru hansen")

    rename_resident(session=session, resident=resident, alias="Fru Hansen", actor_member_id=ACTOR)

    assert resident.alias == "Fru Hansen"


def test_a_deactivated_resident_disappears_and_can_come_back(session: Session) -> None:
    team = make_team(session=session)
    resident = make_resident(session=session, team=team, alias="Fru Hansen")

    deactivate_resident(session=session, resident=resident, actor_member_id=ACTOR)

    assert list_residents(session=session, team_id=id_of(team)) == []
    assert (
        get_team_resident(session=session, team_id=id_of(team), resident_id=id_of(resident))
        is None
    )
    kept = get_team_resident(
        session=session, team_id=id_of(team), resident_id=id_of(resident), active_only=False
    )
    assert kept is not None

    again = add_resident(
        session=session, team_id=id_of(team), alias="FRU HANSEN", actor_member_id=ACTOR
    )

    assert again.id == resident.id
    assert again.active is True
    assert again.alias == "FRU HANSEN"


def test_a_team_cannot_fetch_another_teams_resident(session: Session) -> None:
    ours = make_team(session=session)
    theirs = make_team(session=session)
    their_resident = make_resident(session=session, team=theirs)

    fetched = get_team_resident(
        session=session, team_id=id_of(ours), resident_id=id_of(their_resident)
    )

    assert fetched is None
    own = get_team_resident(
        session=session, team_id=id_of(theirs), resident_id=id_of(their_resident)
    )
    assert own is not None
    assert get_team_resident(session=session, team_id=id_of(ours), resident_id=999_999) is None


def test_resident_changes_are_audited_without_the_alias(session: Session) -> None:
    lead = make_member(session=session)
    team_id = lead.membership.team_id
    actor = id_of(lead.member)

    resident = add_resident(
        session=session, team_id=team_id, alias="Fru Hemmelig", actor_member_id=actor
    )
    rename_resident(session=session, resident=resident, alias="Hr. Skjult", actor_member_id=actor)
    deactivate_resident(session=session, resident=resident, actor_member_id=actor)
    session.flush()

    entries = list(reversed(audit.entries(session=session, team_id=team_id)))

    assert [entry.action for entry in entries] == [
        "resident.add",
        "resident.rename",
        "resident.deactivate",
    ]
    assert {entry.actor for entry in entries} == {f"member:{actor}"}
    assert all(entry.detail == {"resident_id": resident.id} for entry in entries)
    logged = json.dumps([[entry.action, entry.actor, entry.detail] for entry in entries])
    for word in ["Hemmelig", "Skjult", "Hr.", "Fru"]:
        assert word not in logged


def test_danish_letters_are_compared_without_case_on_both_databases(session: Session) -> None:
    team = make_team(session=session)
    first = add_resident(
        session=session, team_id=id_of(team), alias="Fru Ø, stue 3", actor_member_id=ACTOR
    )
    with pytest.raises(AliasTaken):
        add_resident(
            session=session, team_id=id_of(team), alias="fru ø, STUE 3", actor_member_id=ACTOR
        )
    deactivate_resident(session=session, resident=first, actor_member_id=ACTOR)
    again = add_resident(
        session=session, team_id=id_of(team), alias="FRU Ø, stue 3", actor_member_id=ACTOR
    )
    assert again.id == first.id and again.active
