"""Privacy operations on real data, on SQLite and PostgreSQL: free text is unreadable in
the database, retention removes old text but keeps the counts, an access export holds
everything about one resident, erasure removes a resident or a member, keys rotate."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storage import conversations, crypto, migrate, privacy
from storage.db import make_engine, utcnow
from storage.models import (
    AuditEntry,
    Conversation,
    Member,
    Membership,
    Note,
    NoteMarker,
    Prompt,
    Resident,
    Site,
)
from storage.notes import add_note
from storage.prompts import schedule
from tests.factories import id_of, make_resident
from tests.storage.privacy_data import SECRET, TZ, loop_about, note_about_resident


def _raw(session: Session, sql: str) -> list[str]:
    return [row[0] for row in session.execute(text(sql)).all()]


def test_note_text_and_drafts_are_not_readable_in_the_database(
    session: Session, database_url: str
) -> None:
    _team, author, _resident, note = note_about_resident(session)
    conversations.save(
        session=session,
        telegram_id=author.member.telegram_id,
        chat_id=author.member.telegram_id,
        flow="note",
        state="note.content",
        data={"text": "Hr. Berg ville gerne sidde ved vinduet"},
    )
    session.commit()

    raw_notes = _raw(session, "SELECT text FROM note")
    raw_drafts = _raw(session, "SELECT data FROM conversation")
    assert raw_notes and all(value.startswith(crypto.PREFIX) for value in raw_notes)
    assert all("Fru Hansen" not in value for value in raw_notes)
    assert all("vinduet" not in value for value in raw_drafts)
    session.expire_all()
    assert session.get(Note, note.id).text == SECRET  # type: ignore[union-attr]
    if database_url.startswith("sqlite"):
        engine = session.get_bind()
        assert isinstance(engine, Engine)
        engine.dispose()  # checkpoints the WAL into the file
        path = Path(database_url.removeprefix("sqlite:///"))
        content = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert b"Fru Hansen smilede" not in content
        assert b"vinduet" not in content


def test_a_stored_value_does_not_open_with_another_key(session: Session) -> None:
    note_about_resident(session)
    crypto.configure([crypto.new_key()])
    session.expire_all()
    with pytest.raises(crypto.KeyProblem) as problem:
        session.exec(select(Note)).all()
    assert problem.value.code == "wrong"


def test_retention_removes_old_text_and_keeps_the_markers(session: Session) -> None:
    team, _author, resident, old = note_about_resident(session, days_old=200)
    fresh = add_note(
        session=session,
        team=team,
        resident=resident,
        author_member_id=old.author_member_id or 0,
        tz=TZ,
        voice_file_id="voice-1",
        voice_duration=12,
        markers=["naervaer"],
        now=utcnow() - timedelta(days=10),
    )
    session.commit()

    assert privacy.apply_retention(session=session) == 1
    session.commit()
    session.expire_all()
    old_row = session.get(Note, old.id)
    fresh_row = session.get(Note, fresh.id)
    assert old_row is not None and fresh_row is not None
    assert old_row.text is None and old_row.voice_file_id is None
    assert old_row.redacted_at is not None
    assert fresh_row.voice_file_id == "voice-1" and fresh_row.redacted_at is None
    markers = session.exec(select(NoteMarker.marker).where(NoteMarker.note_id == old.id)).all()
    assert markers == ["tryghed"]
    assert privacy.apply_retention(session=session) == 0  # already done
    entry = session.exec(
        select(AuditEntry).where(AuditEntry.action == "privacy.retention_applied")
    ).one()
    assert entry.detail["notes"] == 1


def test_a_site_without_retention_keeps_text_and_the_limit_is_checked(session: Session) -> None:
    team, _author, _resident, old = note_about_resident(session, days_old=400)
    site = team.site_id
    site_row = session.get(Site, site)
    assert site_row is not None
    privacy.set_retention(session=session, site=site_row, days=None, actor="cli")
    session.commit()
    assert privacy.apply_retention(session=session) == 0
    with pytest.raises(privacy.PrivacyError):
        privacy.set_retention(session=session, site=site_row, days=7, actor="cli")
    session.expire_all()
    assert session.get(Note, old.id).text == SECRET  # type: ignore[union-attr]


def test_export_holds_everything_about_the_resident_and_is_audited(session: Session) -> None:
    team, author, resident, note = note_about_resident(session, markers=("tryghed", "respekt"))
    other = make_resident(session=session, team=team, alias="Hr B")
    add_note(
        session=session,
        team=team,
        resident=other,
        author_member_id=id_of(author.member),
        tz=TZ,
        text="Om en anden borger",
    )
    session.commit()

    found = privacy.find_resident(session=session, team_id=id_of(team), alias="fru h")
    assert found is not None and found.id == resident.id
    exported = privacy.export_resident(session=session, resident=found, actor="cli")
    session.commit()

    assert exported["resident"]["alias"] == "Fru H"
    assert [n["id"] for n in exported["notes"]] == [note.id]
    assert exported["notes"][0]["text"] == SECRET
    assert exported["notes"][0]["markers"] == ["respekt", "tryghed"]
    assert exported["notes"][0]["author"] == "Omar Nielsen"
    entry = session.exec(
        select(AuditEntry).where(AuditEntry.action == "privacy.export_resident")
    ).one()
    assert entry.actor == "cli" and entry.detail == {"resident_id": resident.id, "notes": 1}


def test_erasing_a_resident_removes_them_and_their_notes_only(session: Session) -> None:
    team, author, resident, _note_row = note_about_resident(session)
    other = make_resident(session=session, team=team, alias="Hr B")
    kept = add_note(
        session=session,
        team=team,
        resident=other,
        author_member_id=id_of(author.member),
        tz=TZ,
        text="Bliver",
        markers=["respekt"],
    )
    session.commit()
    resident_id = resident.id

    erased = privacy.erase_resident(session=session, resident=resident, actor="cli")
    session.commit()

    assert erased.counts == {"note_marker": 1, "note": 1, "resident": 1}
    assert session.get(Resident, resident_id) is None
    assert session.exec(select(Note.id)).all() == [kept.id]
    entry = session.exec(
        select(AuditEntry).where(AuditEntry.action == "privacy.erase_resident")
    ).one()
    assert "Fru H" not in str(entry.detail)


@pytest.mark.parametrize("erase_notes", [False, True])
def test_erasing_a_member_removes_their_name_and_follows_the_notes_choice(
    session: Session, erase_notes: bool
) -> None:
    team, author, _resident, note = note_about_resident(session)
    member = author.member
    telegram_id = member.telegram_id
    conversations.save(
        session=session,
        telegram_id=telegram_id,
        chat_id=telegram_id,
        flow="note",
        state="note.content",
        data={"text": "kladde"},
    )
    schedule(
        session=session,
        kind="meeting.day_before",
        team_id=id_of(team),
        member_id=id_of(member),
        dedupe_key="test:erase",
        due_at=utcnow() + timedelta(days=1),
    )
    session.commit()
    note_id = note.id

    privacy.erase_member(session=session, member=member, actor="cli", erase_notes=erase_notes)
    session.commit()
    session.expire_all()

    row = session.get(Member, id_of(member))
    assert row is not None
    assert row.name == privacy.ERASED_NAME and row.telegram_id < 0 and not row.active
    assert session.exec(select(Conversation)).all() == []
    assert session.exec(select(Prompt)).all() == []
    memberships = session.exec(select(Membership).where(Membership.member_id == row.id)).all()
    assert memberships and not any(m.active for m in memberships)
    stored = session.get(Note, note_id)
    if erase_notes:
        assert stored is None
    else:
        assert stored is not None and stored.author_member_id is None and stored.text == SECRET


def test_the_sites_choice_decides_when_nothing_is_said(session: Session) -> None:
    team, author, _resident, note = note_about_resident(session)
    site = session.get(Site, team.site_id)
    assert site is not None
    privacy.set_member_notes_policy(session=session, site=site, erase=True, actor="cli")
    session.commit()
    note_id = note.id
    privacy.erase_member(session=session, member=author.member, actor="cli")
    session.commit()
    session.expire_all()
    assert session.get(Note, note_id) is None


def test_rotating_the_key_reencrypts_everything_for_the_new_key(
    session: Session, data_key: str
) -> None:
    _team, author, _resident, note = note_about_resident(session)
    conversations.save(
        session=session,
        telegram_id=author.member.telegram_id,
        chat_id=author.member.telegram_id,
        flow="note",
        state="note.content",
        data={"text": "kladde"},
    )
    session.commit()
    before = _raw(session, "SELECT text FROM note")
    new = crypto.new_key()
    crypto.configure([new, data_key])

    changed = privacy.rotate_key(session=session, actor="cli")
    session.commit()

    assert changed == 2
    assert _raw(session, "SELECT text FROM note") != before
    crypto.configure([new])  # the old key is gone now
    session.expire_all()
    assert session.get(Note, note.id).text == SECRET  # type: ignore[union-attr]
    draft = session.exec(select(Conversation)).one()
    assert draft.data == {"text": "kladde"}
    assert privacy.unencrypted_values(session=session) == 0


LEGACY_ROWS = (
    "INSERT INTO site (name, kind, created_at) VALUES ('S', 'care_home', CURRENT_TIMESTAMP)",
    "INSERT INTO team (site_id, name, created_at) SELECT id, 'T', CURRENT_TIMESTAMP FROM site",
    "INSERT INTO resident (team_id, alias, active, created_at) "
    "SELECT id, 'Fru H', true, CURRENT_TIMESTAMP FROM team",
    "INSERT INTO note (team_id, resident_id, created_at, shift, expression, text, for_team) "
    "SELECT team_id, id, CURRENT_TIMESTAMP, 'day', 'verbal', :secret, false FROM resident",
    "INSERT INTO conversation (telegram_id, chat_id, flow, state, data, updated_at) "
    "VALUES (1, 1, 'note', 'note.content', :data, CURRENT_TIMESTAMP)",
)


def test_upgrading_encrypts_text_stored_before_encryption(empty_database_url: str) -> None:
    migrate.upgrade(empty_database_url, "0004_meetings")
    engine = make_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            for statement in LEGACY_ROWS:
                connection.execute(text(statement), {"secret": SECRET, "data": '{"text": "k"}'})
        migrate.upgrade(empty_database_url)
        with Session(engine) as session:
            assert privacy.unencrypted_values(session=session) == 0
            assert session.exec(select(Note.text)).one() == SECRET
            assert session.exec(select(Conversation)).one().data == {"text": "k"}
    finally:
        engine.dispose()


def test_every_free_text_column_is_encrypted() -> None:
    """A new table with a TEXT column for what people type must use EncryptedText."""
    from sqlalchemy import Text as PlainText
    from sqlmodel import SQLModel

    plain = [
        f"{table.name}.{column.name}"
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if type(column.type) is PlainText
    ]
    assert plain == []
    encrypted = {f"{table.name}.{column.name}" for table, column in privacy.encrypted_columns()}
    assert {
        "note.text",
        "conversation.data",
        "case_answer.text",
        "case_perspective.text",
        "resident_case.summary",
        "proposal.text",
        "trial_action.action",
        "checkin.note",
        "dilemma.text",
        "agenda_point.text",
        "meeting_minutes.decision",
    } <= encrypted


def test_the_export_and_the_erasure_cover_the_loop_about_the_resident(session: Session) -> None:
    team, author, resident, _note_row = note_about_resident(session)
    loop_about(session, team, resident, author)

    exported = privacy.export_resident(session=session, resident=resident, actor="cli")
    [case] = exported["cases"]
    assert case["summary"] == "At vælge selv betyder meget"
    assert case["answers"][0]["text"] == "Morgenen"
    assert case["perspectives"] == [
        {"author": "Omar Nielsen", "text": "Jeg ser ro", "voice_seconds": None}
    ]
    assert len(case["attached_notes"]) == 1
    [decision] = exported["decisions"]
    assert decision["proposals"][0] == {
        "id": decision["proposals"][0]["id"],
        "text": "Vis to sæt tøj",
        "chosen": True,
    }
    assert decision["trial_action"]["checkins"][0]["note"] == "Det gik fint"

    erased = privacy.erase_resident(session=session, resident=resident, actor="cli")
    session.commit()

    for table in (
        "resident_case",
        "case_answer",
        "case_perspective",
        "case_moment",
        "decision",
        "proposal",
        "vote",
        "trial_action",
        "checkin",
        "note",
        "resident",
    ):
        assert erased.counts.get(table, 0) >= 1, table
        assert _raw(session, f"SELECT COUNT(*) FROM {table}") == [0], table


def test_erasing_a_member_with_their_notes_detaches_them_from_cases(session: Session) -> None:
    team, author, resident, _note_row = note_about_resident(session)
    loop_about(session, team, resident, author)

    privacy.erase_member(session=session, member=author.member, actor="cli", erase_notes=True)
    session.commit()

    assert _raw(session, "SELECT COUNT(*) FROM note") == [0]
    assert _raw(session, "SELECT COUNT(*) FROM case_moment") == [0]
    assert _raw(session, "SELECT COUNT(*) FROM resident_case") == [1]
