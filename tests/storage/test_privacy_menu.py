"""The queries behind the lead's /privacy menu, on SQLite and PostgreSQL: the erasure
preview counts exactly what erasing then removes, only deactivated residents of the team
are offered, and the team's audit log comes newest first, ten to a page."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from storage import privacy
from storage.audit import record
from storage.db import require_id, utcnow
from storage.models import AuditEntry, CaseMoment, Note, Resident, ResidentCase
from storage.notes import add_note
from storage.prompts import schedule
from tests.factories import id_of, make_member, make_resident, make_team
from tests.storage.privacy_data import TZ, loop_about, note_about_resident


def test_the_preview_counts_what_erasing_then_removes(session: Session) -> None:
    team, author, resident, _first = note_about_resident(session)
    loop_about(session, team, resident, author)
    # A second note, and a note of this resident attached to another resident's case.
    other = make_resident(session=session, team=team, alias="Hr. B")
    second = add_note(
        session=session,
        team=team,
        resident=resident,
        author_member_id=id_of(author.member),
        tz=TZ,
        text="Han ville sidde ved vinduet",
        markers=["naervaer", "tryghed"],
    )
    others_case = ResidentCase(
        team_id=id_of(team),
        resident_id=id_of(other),
        open_resident_id=id_of(other),
        listener_member_id=id_of(author.member),
        step=1,
    )
    session.add(others_case)
    session.flush()
    session.add(CaseMoment(case_id=require_id(others_case), note_id=require_id(second)))
    kept = add_note(
        session=session,
        team=team,
        resident=other,
        author_member_id=id_of(author.member),
        tz=TZ,
        text="Hr. B smilede",
    )
    case_id = session.exec(
        select(ResidentCase.id).where(ResidentCase.resident_id == resident.id)
    ).one()
    schedule(
        session=session,
        kind="case.perspective",
        team_id=id_of(team),
        member_id=id_of(author.member),
        dedupe_key=f"case:{case_id}:perspective",
        due_at=utcnow() + timedelta(days=1),
    )
    resident.active = False
    session.add(resident)
    session.commit()

    preview = privacy.preview_resident_erasure(session=session, resident=resident)
    session.commit()
    assert session.exec(select(AuditEntry)).all() == []  # counting changes nothing
    assert session.get(Resident, resident.id) is not None

    erased = privacy.erase_resident(session=session, resident=resident, actor="member:1")
    session.commit()

    assert preview.counts == erased.counts
    assert preview.counts["note"] == 3
    assert preview.counts["case_moment"] == 2
    assert preview.counts["prompt"] == 1
    for table in ("resident_case", "decision", "vote", "trial_action", "checkin"):
        assert preview.counts[table] == 1, table
    assert session.exec(select(Note.id)).all() == [kept.id]


def test_only_the_teams_deactivated_residents_can_be_erased(session: Session) -> None:
    team = make_team(session=session)
    active = make_resident(session=session, team=team, alias="Fru Aktiv")
    make_resident(session=session, team=team, alias="hr. Flyttet", active=False)
    gone_a = make_resident(session=session, team=team, alias="Fru Flyttet", active=False)
    elsewhere = make_resident(session=session, alias="Fru Andetsteds", active=False)
    session.commit()

    listed = privacy.deactivated_residents(session=session, team_id=id_of(team))
    assert [resident.alias for resident in listed] == ["Fru Flyttet", "hr. Flyttet"]
    found = privacy.erasable_resident(
        session=session, team_id=id_of(team), resident_id=id_of(gone_a), lock=True
    )
    assert found is not None and found.id == gone_a.id
    assert (
        privacy.erasable_resident(
            session=session, team_id=id_of(team), resident_id=id_of(elsewhere)
        )
        is None
    )
    found_active = privacy.erasable_resident(
        session=session, team_id=id_of(team), resident_id=id_of(active)
    )
    assert found_active is not None and found_active.active


def test_a_teams_audit_log_comes_newest_first_ten_to_a_page(session: Session) -> None:
    team = make_team(session=session)
    other_team = make_team(session=session)
    lead = make_member(session=session, team=team, name="Lise")
    removed = make_member(session=session, team=team, name="Omar")
    for number in range(23):
        record(
            session=session,
            actor=f"member:{id_of(lead.member)}",
            action="resident.add",
            team_id=id_of(team),
            detail={"resident_id": number},
        )
    record(
        session=session,
        actor="cli",
        action="resident.add",
        team_id=id_of(other_team),
        detail={"resident_id": 99},
    )
    record(
        session=session,
        actor=f"member:{id_of(lead.member)}",
        action="member.remove",
        team_id=id_of(team),
        detail={"member_id": id_of(removed.member)},
    )
    session.commit()

    first = privacy.team_audit_page(session=session, team_id=id_of(team))
    assert len(first.entries) == 10 and first.older and first.page == 0
    assert first.entries[0].action == "member.remove"
    assert [entry.detail["resident_id"] for entry in first.entries[1:]] == list(range(22, 13, -1))
    assert first.names == {id_of(lead.member): "Lise", id_of(removed.member): "Omar"}
    second = privacy.team_audit_page(session=session, team_id=id_of(team), page=1)
    assert [entry.detail["resident_id"] for entry in second.entries] == list(range(13, 3, -1))
    last = privacy.team_audit_page(session=session, team_id=id_of(team), page=2)
    assert [entry.detail["resident_id"] for entry in last.entries] == [3, 2, 1, 0]
    assert not last.older
    assert all(entry.team_id == team.id for entry in first.entries + second.entries)

    privacy.erase_member(session=session, member=removed.member, actor="cli")
    session.commit()
    newest = privacy.team_audit_page(session=session, team_id=id_of(team))
    assert newest.entries[0].action == "privacy.erase_member"
    assert newest.names[id_of(removed.member)] is None  # erased: no name to show
