"""Dilemmas in storage: an anonymous one keeps no author and only the hour, text limits
and CPR numbers are refused, and open ones stay on every next agenda until discussed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage import agenda
from storage import dilemmas as store
from storage.cpr import CprNumberRefused
from storage.db import require_id
from storage.models import DILEMMA_MAX_LENGTH, Dilemma, Role
from tests.factories import id_of, make_member, make_team

NOW = datetime(2026, 3, 2, 9, 41, 17, tzinfo=UTC)


def test_an_anonymous_dilemma_has_no_author_and_only_the_hour(session: Session) -> None:
    omar = make_member(session=session)
    team_id = omar.membership.team_id

    dilemma = store.add_dilemma(
        session=session,
        team_id=team_id,
        author_member_id=id_of(omar.member),
        anonymous=True,
        text="Fru H. vil ikke i bad, men datteren insisterer.",
        now=NOW,
    )
    named = store.add_dilemma(
        session=session,
        team_id=team_id,
        author_member_id=id_of(omar.member),
        anonymous=False,
        text="Hr. J. vil gerne blive oppe om natten.",
        now=NOW,
    )
    session.commit()
    session.expire_all()

    stored = session.get(Dilemma, require_id(dilemma))
    assert stored is not None
    assert (stored.author_member_id, stored.anonymous) == (None, True)
    assert stored.created_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    raw = session.connection().execute(text("SELECT text FROM dilemma")).scalars().all()
    assert raw and all(value.startswith("enc1:") and "Fru H." not in value for value in raw)
    assert session.get(Dilemma, require_id(named)).author_member_id == id_of(omar.member)  # type: ignore[union-attr]


def test_the_dilemma_table_has_only_the_author_column_that_anonymous_leaves_empty(
    engine: Engine,
) -> None:
    columns = {column["name"] for column in inspect(engine).get_columns("dilemma")}
    assert {name for name in columns if "member" in name} == {"author_member_id"}


def test_text_is_limited_cpr_refused_and_voice_accepted(session: Session) -> None:
    omar = make_member(session=session)
    kwargs = {
        "session": session,
        "team_id": omar.membership.team_id,
        "author_member_id": id_of(omar.member),
        "anonymous": False,
    }
    with pytest.raises(store.DilemmaTooLong):
        store.add_dilemma(**kwargs, text="x" * (DILEMMA_MAX_LENGTH + 1))  # type: ignore[arg-type]
    with pytest.raises(CprNumberRefused):
        store.add_dilemma(**kwargs, text="Borgeren 010203-1234 vil ikke")  # type: ignore[arg-type]
    voice = store.add_dilemma(**kwargs, voice_file_id="voice-1", voice_duration=42)  # type: ignore[arg-type]
    assert (voice.text, voice.voice_duration) == (None, 42)


def test_open_dilemmas_stay_on_every_next_agenda_until_discussed(session: Session) -> None:
    team = make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    other_team = make_team(session=session)
    first = store.add_dilemma(
        session=session,
        team_id=id_of(team),
        author_member_id=id_of(lead.member),
        anonymous=True,
        text="Et dilemma",
        now=NOW,
    )
    store.add_dilemma(
        session=session,
        team_id=id_of(other_team),
        author_member_id=id_of(lead.member),
        anonymous=False,
        text="Et andet teams dilemma",
        now=NOW,
    )
    week = timedelta(days=7)

    entries = store.agenda_dilemmas(session, id_of(team), NOW - week, NOW + week)
    later = store.agenda_dilemmas(session, id_of(team), NOW + week, NOW + 2 * week)
    assert [(e.kind, e.ref_id, e.resident_id) for e in entries] == [("dilemma", first.id, None)]
    assert [e.ref_id for e in later] == [first.id]  # not discussed yet: still on the agenda
    assert store.agenda_dilemmas(session, id_of(team), NOW - 2 * week, NOW - week) == []

    assert store.mark_discussed(session=session, dilemma=first, now=NOW + week + timedelta(1))
    assert not store.mark_discussed(session=session, dilemma=first)
    assert [
        e.ref_id for e in store.agenda_dilemmas(session, id_of(team), NOW + week, NOW + 2 * week)
    ] == [first.id]
    assert store.agenda_dilemmas(session, id_of(team), NOW + 2 * week, NOW + 3 * week) == []
    assert store.open_dilemmas(session=session, team_id=id_of(team)) == []
    assert any(source.__name__ == "storage.dilemmas.agenda_dilemmas" for source in agenda.SOURCES)
