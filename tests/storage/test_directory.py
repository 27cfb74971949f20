"""Who belongs where: invites, memberships, switching teams, removal, lookups, audit."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage import audit
from storage.db import utcnow
from storage.directory import (
    Ambiguous,
    InviteProblem,
    InviteRejected,
    Joined,
    NotFound,
    active_memberships,
    add_site,
    add_team,
    check_invite,
    create_invite,
    current_membership,
    find_site,
    find_team,
    get_member_by_telegram_id,
    get_membership,
    list_teams,
    redeem_invite,
    remove_member,
    switch_team,
    team_members,
)
from storage.models import Invite, Member, Role, SiteKind
from tests.factories import (
    id_of,
    make_member,
    make_membership,
    make_site,
    make_team,
    random_telegram_id,
)


def _join(session: Session, code: str, telegram_id: int, name: str = "Anne Jensen") -> None:
    redeem_invite(session=session, code=code, telegram_id=telegram_id, name=name, language="da")


# ---------------------------------------------------------------- invites


def test_redeeming_an_invite_makes_a_new_member_with_its_role(session: Session) -> None:
    team = make_team(session=session)
    invite = create_invite(session=session, team=team, role=Role.LEAD)
    telegram_id = random_telegram_id()

    joined = redeem_invite(
        session=session, code=invite.code, telegram_id=telegram_id, name="Bo Hansen", language="en"
    )

    assert joined.already_member is False
    assert joined.team.id == team.id
    assert joined.membership.role == Role.LEAD
    member = get_member_by_telegram_id(session=session, telegram_id=telegram_id)
    assert member is not None
    assert (member.name, member.language, member.current_team_id) == ("Bo Hansen", "en", team.id)
    assert [row.member.id for row in team_members(session=session, team_id=id_of(team))] == [
        member.id
    ]


def test_invite_codes_are_read_regardless_of_case_and_spaces(session: Session) -> None:
    invite = create_invite(session=session, team=make_team(session=session), role=Role.STAFF)

    assert check_invite(session=session, code=f"  {invite.code.upper()} ").id == invite.id


def test_an_expired_invite_is_rejected(session: Session) -> None:
    created = utcnow() - timedelta(days=8)
    invite = create_invite(
        session=session, team=make_team(session=session), role=Role.STAFF, days=7, now=created
    )

    with pytest.raises(InviteRejected) as rejected:
        _join(session, invite.code, random_telegram_id())

    assert rejected.value.problem is InviteProblem.EXPIRED


def test_an_invite_is_valid_until_its_last_moment(session: Session) -> None:
    invite = create_invite(session=session, team=make_team(session=session), role=Role.STAFF)

    just_before = invite.expires_at - timedelta(seconds=1)
    assert check_invite(session=session, code=invite.code, now=just_before).id == invite.id
    with pytest.raises(InviteRejected):
        check_invite(session=session, code=invite.code, now=invite.expires_at)


def test_a_used_up_invite_is_rejected(session: Session) -> None:
    invite = create_invite(session=session, team=make_team(session=session), role=Role.STAFF)
    _join(session, invite.code, random_telegram_id())

    with pytest.raises(InviteRejected) as rejected:
        _join(session, invite.code, random_telegram_id())

    assert rejected.value.problem is InviteProblem.USED_UP


@pytest.mark.parametrize("code", ["nosuchcode", ""])
def test_an_unknown_code_is_rejected(session: Session, code: str) -> None:
    create_invite(session=session, team=make_team(session=session), role=Role.STAFF)

    with pytest.raises(InviteRejected) as rejected:
        _join(session, code, random_telegram_id())

    assert rejected.value.problem is InviteProblem.UNKNOWN


def test_a_revoked_invite_is_rejected_as_unknown(session: Session) -> None:
    invite = create_invite(session=session, team=make_team(session=session), role=Role.STAFF)
    invite.revoked = True
    session.add(invite)

    with pytest.raises(InviteRejected) as rejected:
        _join(session, invite.code, random_telegram_id())

    assert rejected.value.problem is InviteProblem.UNKNOWN


def test_each_use_of_an_invite_is_counted(session: Session, engine: Engine) -> None:
    team = make_team(session=session)
    invite = create_invite(session=session, team=team, role=Role.STAFF, max_uses=2)
    _join(session, invite.code, random_telegram_id(), "Anne")
    _join(session, invite.code, random_telegram_id(), "Bo")
    session.commit()

    with Session(engine) as fresh:
        stored = fresh.get(Invite, invite.id)
        assert stored is not None
        assert stored.uses == 2
    with pytest.raises(InviteRejected):
        _join(session, invite.code, random_telegram_id(), "Camilla")
    assert len(team_members(session=session, team_id=id_of(team))) == 2


def test_joining_again_with_a_staff_invite_changes_nothing(session: Session) -> None:
    team = make_team(session=session)
    staff = make_member(session=session, team=team, role=Role.STAFF)
    invite = create_invite(session=session, team=team, role=Role.STAFF, max_uses=5)

    joined = _redeem_as(session, invite.code, staff.member)

    assert joined.already_member is True
    assert joined.membership.id == staff.membership.id
    assert invite.uses == 0


def test_a_lead_invite_makes_a_staff_member_lead(session: Session) -> None:
    team = make_team(session=session)
    staff = make_member(session=session, team=team, role=Role.STAFF)
    invite = create_invite(session=session, team=team, role=Role.LEAD)

    joined = _redeem_as(session, invite.code, staff.member)

    assert joined.already_member is True
    assert joined.membership.id == staff.membership.id
    assert joined.membership.role == Role.LEAD
    assert invite.uses == 1


def test_a_removed_member_can_rejoin_with_the_new_invites_role(session: Session) -> None:
    team = make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    former_lead = make_member(session=session, team=team, role=Role.LEAD)
    assert remove_member(
        session=session,
        team_id=id_of(team),
        member_id=id_of(former_lead.member),
        actor_member_id=id_of(lead.member),
    )
    invite = create_invite(session=session, team=team, role=Role.STAFF)

    joined = _redeem_as(session, invite.code, former_lead.member)

    assert joined.already_member is False
    assert joined.membership.id == former_lead.membership.id
    assert joined.membership.active is True
    assert joined.membership.left_at is None
    assert joined.membership.role == Role.STAFF
    assert invite.uses == 1


def test_a_member_can_be_in_several_teams_and_switch_between_them(session: Session) -> None:
    first = make_team(session=session, name="Aften")
    second = make_team(session=session, name="Dag")
    person = make_member(session=session, team=first)
    invite = create_invite(session=session, team=second, role=Role.STAFF)
    _redeem_as(session, invite.code, person.member)
    member = person.member

    memberships = active_memberships(session=session, member_id=id_of(member))
    assert [team.id for _, team in memberships] == [first.id, second.id]
    assert member.current_team_id == second.id  # joining makes the new team current

    assert switch_team(session=session, member=member, team_id=id_of(first)) == first
    current = current_membership(session=session, member=member)
    assert current is not None
    assert current[1].id == first.id


def test_switching_to_a_team_one_is_not_in_is_refused(session: Session) -> None:
    person = make_member(session=session)
    other = make_team(session=session)

    assert switch_team(session=session, member=person.member, team_id=id_of(other)) is None
    assert person.member.current_team_id != other.id


def test_removing_a_member_ends_their_membership(session: Session) -> None:
    team = make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    staff = make_member(session=session, team=team)

    removed = remove_member(
        session=session,
        team_id=id_of(team),
        member_id=id_of(staff.member),
        actor_member_id=id_of(lead.member),
    )

    assert removed is True
    membership = get_membership(
        session=session, member_id=id_of(staff.member), team_id=id_of(team)
    )
    assert membership is not None
    assert membership.active is False
    assert membership.left_at is not None
    assert [row.member.id for row in team_members(session=session, team_id=id_of(team))] == [
        lead.member.id
    ]
    assert current_membership(session=session, member=staff.member) is None
    again = remove_member(
        session=session,
        team_id=id_of(team),
        member_id=id_of(staff.member),
        actor_member_id=id_of(lead.member),
    )
    assert again is False


def test_a_removed_members_current_team_moves_to_another_team(session: Session) -> None:
    first = make_team(session=session, name="A-hold")
    second = make_team(session=session, name="B-hold")
    person = make_member(session=session, team=second)
    make_membership(session=session, member=person.member, team=first)
    remove_member(
        session=session,
        team_id=id_of(second),
        member_id=id_of(person.member),
        actor_member_id=id_of(person.member),
    )

    current = current_membership(session=session, member=person.member)

    assert current is not None
    assert current[1].id == first.id
    assert person.member.current_team_id == first.id


def test_team_members_are_listed_leads_first_then_by_name(session: Session) -> None:
    team = make_team(session=session)
    for name, role in [
        ("bodil", Role.STAFF),
        ("Ahmed", Role.STAFF),
        ("Zara", Role.LEAD),
        ("Carl", Role.LEAD),
    ]:
        make_member(session=session, team=team, name=name, role=role)
    make_member(session=session, team=team, name="Aase", active_membership=False)
    make_member(session=session, name="Other team")

    rows = team_members(session=session, team_id=id_of(team))

    assert [row.member.name for row in rows] == ["Carl", "Zara", "Ahmed", "bodil"]
    everyone = team_members(session=session, team_id=id_of(team), include_inactive=True)
    assert "Aase" in [row.member.name for row in everyone]


def test_telegram_ids_above_2_31_are_stored_intact(session: Session, engine: Engine) -> None:
    big = 2**52 - 7
    make_member(session=session, telegram_id=big)
    session.commit()

    with Session(engine) as fresh:
        member = get_member_by_telegram_id(session=fresh, telegram_id=big)
        assert member is not None
        assert member.telegram_id == big


# ---------------------------------------------------------------- sites and teams


def test_sites_are_found_by_id_or_name(session: Session) -> None:
    site = add_site(session=session, name="  Solhaven ", kind=SiteKind.HOME_CARE)

    assert site.name == "Solhaven"
    assert find_site(session=session, ref=str(site.id)).id == site.id
    assert find_site(session=session, ref="Solhaven").id == site.id
    with pytest.raises(NotFound):
        find_site(session=session, ref="Skovly")


def test_teams_are_found_by_id_name_or_site_and_name(session: Session) -> None:
    north = make_site(session=session, name="Nord")
    south = make_site(session=session, name="Syd")
    north_day = add_team(session=session, site=north, name="Dag")
    south_day = add_team(session=session, site=south, name="Dag")
    evening = add_team(session=session, site=south, name="Aften")

    assert find_team(session=session, ref=str(evening.id)).id == evening.id
    assert find_team(session=session, ref="Aften").id == evening.id
    assert find_team(session=session, ref="Nord/Dag").id == north_day.id
    assert find_team(session=session, ref="Syd / Dag").id == south_day.id
    with pytest.raises(Ambiguous):
        find_team(session=session, ref="Dag")
    with pytest.raises(NotFound):
        find_team(session=session, ref="Nord/Aften")
    with pytest.raises(NotFound):
        find_team(session=session, ref="999999")


def test_teams_are_listed_per_site_by_name(session: Session) -> None:
    site = make_site(session=session)
    for name in ["Nat", "Aften", "Dag"]:
        make_team(session=session, site=site, name=name)
    make_team(session=session, name="Elsewhere")

    teams = list_teams(session=session, site=site)

    assert [team.name for team in teams] == ["Aften", "Dag", "Nat"]


# ---------------------------------------------------------------- audit


def test_admin_actions_are_audited(session: Session) -> None:
    site = add_site(session=session, name="Egebo")
    team = add_team(session=session, site=site, name="Dag")
    invite = create_invite(session=session, team=team, role=Role.STAFF, max_uses=3)
    joined = redeem_invite(
        session=session,
        code=invite.code,
        telegram_id=random_telegram_id(),
        name="Gitte",
        language="da",
    )
    lead = make_member(session=session, team=team, role=Role.LEAD)
    remove_member(
        session=session,
        team_id=id_of(team),
        member_id=id_of(joined.member),
        actor_member_id=id_of(lead.member),
    )
    session.flush()

    entries = list(reversed(audit.entries(session=session)))

    assert [entry.action for entry in entries] == [
        "site.add",
        "team.add",
        "invite.create",
        "invite.redeem",
        "member.remove",
    ]
    assert all(entry.at.tzinfo is not None for entry in entries)
    assert entries[-1].actor == f"member:{lead.member.id}"
    assert entries[-1].detail == {"member_id": joined.member.id}
    assert {entry.team_id for entry in entries[1:]} == {team.id}
    assert invite.code not in json.dumps([entry.detail for entry in entries])


# ---------------------------------------------------------------- helpers


def _redeem_as(session: Session, code: str, member: Member) -> Joined:
    return redeem_invite(
        session=session,
        code=code,
        telegram_id=member.telegram_id,
        name=member.name,
        language=member.language,
    )


def test_the_last_use_of_an_invite_cannot_be_taken_twice(session: Session) -> None:
    """Two workers that both read "one use left" race; the guarded update lets one in."""
    from storage.directory import _count_use

    team = make_team(session=session)
    invite = create_invite(session=session, team=team, role=Role.LEAD, max_uses=1)
    session.commit()
    stale = Invite.model_validate(invite.model_dump())  # what the slower worker read
    redeem_invite(session=session, code=invite.code, telegram_id=2**40, name="A", language="da")
    session.commit()
    with pytest.raises(InviteRejected) as rejected:
        _count_use(session, stale, utcnow())
    assert rejected.value.problem == InviteProblem.USED_UP
    session.refresh(invite)
    assert invite.uses == 1
