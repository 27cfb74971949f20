"""``stemme privacy …`` run in-process against a SQLite file with real notes: exports,
erasure, retention and key rotation as the data protection officer would use them."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from bot.cli import main
from storage import crypto, migrate
from storage.db import make_engine, utcnow
from storage.models import AuditEntry, Member, Note, Resident, Site
from storage.notes import add_note
from tests.factories import id_of, make_member, make_resident, make_site, make_team

TZ = ZoneInfo("Europe/Copenhagen")
SECRET = "Fru Hansen ville høre Kim Larsen i haven"


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_key: str) -> str:
    """A migrated SQLite file with one team, a resident with two notes, in English."""
    for name in list(os.environ):
        if name.startswith("STEMME_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("STEMME_DATABASE_URL", url)
    monkeypatch.setenv("STEMME_LOCALE", "en")
    monkeypatch.setenv("STEMME_DATA_KEY", data_key)
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        site = make_site(session=session, name="Rosen")
        team = make_team(session=session, site=site, name="Syd")
        omar = make_member(session=session, team=team, name="Omar", telegram_id=4242)
        resident = make_resident(session=session, team=team, alias="Fru H")
        for days, words in ((300, "Gammel note om kaffe"), (1, SECRET)):
            add_note(
                session=session,
                team=team,
                resident=resident,
                author_member_id=id_of(omar.member),
                tz=TZ,
                text=words,
                markers=["tryghed"],
                now=utcnow() - timedelta(days=days),
            )
        session.commit()
    engine.dispose()
    return url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object] | str]:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    if "--json" in args and out.out.strip():
        return code, json.loads(out.out)
    return code, out.out + out.err


def _session(url: str) -> Session:
    return Session(make_engine(url))


def test_export_writes_the_json_and_a_readable_pdf(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = run(
        capsys, "privacy", "export", "--team", "Syd", "--resident", "fru h", "--json"
    )
    assert code == 0, result
    assert isinstance(result, dict)
    exported = json.loads(Path(str(result["json"])).read_text(encoding="utf-8"))
    assert exported["resident"]["alias"] == "Fru H"
    assert [note["text"] for note in exported["notes"]] == ["Gammel note om kaffe", SECRET]
    assert exported["notes"][0]["author"] == "Omar"
    pdf = Path(str(result["pdf"])).read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert len(pdf) > 2000
    with _session(url) as session:
        actions = session.exec(select(AuditEntry.action)).all()
    assert "privacy.export_resident" in actions


def test_an_unknown_resident_is_explained(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, result = run(capsys, "privacy", "export", "--team", "Syd", "--resident", "Hr X")
    assert code == 1
    assert "Syd has no resident called Hr X." in str(result)


def test_retention_is_set_per_site_and_applied(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = run(capsys, "privacy", "retention", "--site", "Rosen", "--days", "5")
    assert code == 1 and "at least 30 days" in str(result)
    code, _ = run(capsys, "privacy", "retention", "--site", "Rosen", "--days", "90")
    assert code == 0
    code, result = run(capsys, "privacy", "apply-retention", "--json")
    assert code == 0 and result == {"redacted_notes": 1}
    with _session(url) as session:
        assert session.exec(select(Site.retention_days)).one() == 90
        texts = session.exec(select(Note.text).order_by(col(Note.id))).all()
    assert texts == [None, SECRET]


def test_erasing_asks_for_yes_and_then_erases(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = run(capsys, "privacy", "erase-resident", "--team", "Syd", "--resident", "Fru H")
    assert code == 2 and "--yes" in str(result)
    with _session(url) as session:
        assert len(session.exec(select(Note)).all()) == 2

    code, result = run(
        capsys, "privacy", "erase-resident", "--team", "Syd", "--resident", "Fru H", "--yes"
    )
    assert code == 0
    with _session(url) as session:
        assert session.exec(select(Note)).all() == []
        assert session.exec(select(Resident)).all() == []


def test_erasing_a_member_keeps_their_notes_without_a_name(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = run(
        capsys, "privacy", "erase-member", "--telegram-id", "4242", "--keep-notes", "--yes"
    )
    assert code == 0, result
    with _session(url) as session:
        member = session.exec(select(Member)).one()
        assert member.name == "-" and member.telegram_id < 0
        assert {note.author_member_id for note in session.exec(select(Note)).all()} == {None}
    code, result = run(capsys, "privacy", "erase-member", "--telegram-id", "4242", "--yes")
    assert code == 1 and "no such member" in str(result)


def test_a_new_key_is_rotated_in_and_the_old_one_can_go(
    url: str, data_key: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = run(capsys, "privacy", "new-key", "--json")
    assert code == 0 and isinstance(result, dict)
    new = str(result["key"])
    monkeypatch.setenv("STEMME_DATA_KEY", f"{new},{data_key}")
    code, result = run(capsys, "privacy", "rotate-key", "--json")
    assert code == 0 and isinstance(result, dict) and result["reencrypted"] == 2

    monkeypatch.setenv("STEMME_DATA_KEY", new)
    code, result = run(capsys, "privacy", "export", "--team", "Syd", "--resident", "Fru H")
    assert code == 0, result
    crypto.configure([data_key])  # the old key alone no longer opens anything
    with _session(url) as session, pytest.raises(crypto.KeyProblem):
        session.exec(select(Note)).all()
    with _session(url) as session:
        raw = [row[0] for row in session.execute(text("SELECT text FROM note")).all()]
    assert all(value.startswith(crypto.PREFIX) for value in raw)


def test_postgresql_without_a_key_is_refused_with_advice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("STEMME_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEMME_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("STEMME_LOCALE", "en")
    code, result = run(capsys, "db", "upgrade")
    assert code == 1
    assert "STEMME_DATA_KEY is not set" in str(result)
    assert "stemme privacy new-key" in str(result)


def test_sqlite_without_a_key_gets_a_private_key_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("STEMME_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEMME_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'stemme.db'}")
    code, _ = run(capsys, "db", "upgrade")
    assert code == 0
    key_file = tmp_path / "data" / "stemme.key"
    assert key_file.exists() and (key_file.stat().st_mode & 0o777) == 0o600
    crypto.parse_keys(key_file.read_text(encoding="ascii"))
