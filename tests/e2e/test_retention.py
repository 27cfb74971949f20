"""Retention in the running bot: a nightly job (and one at start) removes the text of notes
older than the site's period, and the moments list says so instead of showing it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.app import SCHEDULER_KEY, build_application
from bot.scheduler import RETENTION_JOB, apply_retention
from sandbox.emulator import BotApiEmulator
from storage.db import utcnow
from storage.directory import get_team
from storage.models import Note
from storage.notes import add_note
from tests.e2e.conftest import e2e_settings, running
from tests.factories import id_of, make_member, make_resident

TZ = ZoneInfo("Europe/Copenhagen")


def test_the_job_redacts_old_notes_only(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        author = make_member(session=session)
        team_id = author.membership.team_id
        resident = make_resident(session=session, alias="Fru H")
        resident.team_id = team_id
        session.add(resident)
        team = get_team(session=session, team_id=team_id)
        assert team is not None
        old, new = (
            add_note(
                session=session,
                team=team,
                resident=resident,
                author_member_id=id_of(author.member),
                tz=TZ,
                text=words,
                now=utcnow() - timedelta(days=days),
            )
            for days, words in ((181, "gammel"), (179, "ny"))
        )
        session.commit()
    assert apply_retention(engine) == 1
    with Session(engine) as session:
        assert session.get(Note, old.id).text is None  # type: ignore[union-attr]
        assert session.get(Note, new.id).text == "ny"  # type: ignore[union-attr]


async def test_the_running_bot_applies_retention_at_start_and_then_nightly(
    emulator: BotApiEmulator, e2e_database_url: str, e2e_engine: Engine
) -> None:
    with Session(e2e_engine, expire_on_commit=False) as session:
        author = make_member(session=session)
        team = get_team(session=session, team_id=author.membership.team_id)
        assert team is not None
        resident = make_resident(session=session, team=team, alias="Fru H")
        old = add_note(
            session=session,
            team=team,
            resident=resident,
            author_member_id=id_of(author.member),
            tz=TZ,
            text="gammel",
            now=utcnow() - timedelta(days=200),
        )
        session.commit()

    application = build_application(e2e_settings(emulator, e2e_database_url))
    async with running(application):
        for _ in range(100):  # the start-up run is the scheduler's first job
            with Session(e2e_engine) as session:
                if session.get(Note, old.id).redacted_at is not None:  # type: ignore[union-attr]
                    break
            await asyncio.sleep(0.05)
        job = application.bot_data[SCHEDULER_KEY].get_job(RETENTION_JOB)
        assert job is not None
        local = job.next_run_time.astimezone(TZ)
        assert (local.hour, local.minute) == (2, 30)
        assert job.next_run_time - utcnow() <= timedelta(days=1)
    with Session(e2e_engine) as session:
        stored = session.get(Note, old.id)
        assert stored is not None and stored.text is None and stored.redacted_at is not None
