"""Two webhook workers against one PostgreSQL behave like one bot.

Each worker is its own Application with its own engine, prompt dispatcher and scheduler,
behind its own uvicorn server on loopback. The emulator delivers every update by POST,
alternating between the workers, so a micro-moment's steps run in turn on one and the
other; a delivered update is then posted again, as Telegram does when it got no 200.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session, func, select

from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Conversation, Note, ProcessedUpdate
from tests.conftest import _with_search_path
from tests.e2e.conftest import Admin
from tests.e2e.people import OMAR_ID, notes_of, take_note, team_with_residents
from tests.e2e.workers import SECRET, webhook_worker
from tests.emulator import BotApiEmulator

pytestmark = pytest.mark.postgres


@pytest.fixture
def e2e_database_url(postgres_url: str) -> Iterator[str]:
    """A migrated PostgreSQL schema of its own, shared by both workers and the CLI."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = make_engine(postgres_url, poolclass=NullPool)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _with_search_path(postgres_url, schema)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def confirmations(emulator: BotApiEmulator, chat_id: int) -> list[str]:
    """The "saved" confirmations the bot sent to a chat."""
    return [
        str(call.params.get("text"))
        for call in emulator.calls_for("sendMessage")
        if call.ok
        and call.params.get("chat_id") == chat_id
        and "mikroøjeblik #" in str(call.params.get("text"))
    ]


async def test_a_note_whose_steps_alternate_between_two_workers_is_stored_once(
    emulator: BotApiEmulator, admin: Admin, e2e_database_url: str, e2e_engine: Engine
) -> None:
    async with (
        webhook_worker(emulator, e2e_database_url) as first,
        webhook_worker(emulator, e2e_database_url, public_url=None) as second,
    ):
        assert emulator.webhook_url in (first.url, second.url)
        assert {call.params.get("secret_token") for call in emulator.calls_for("setWebhook")} == {
            SECRET
        }
        workers = [first.url, second.url]
        emulator.webhook_router = lambda update: workers[int(update["update_id"]) % 2]

        _team, _lise, omar = await team_with_residents(emulator, admin, "Fru H., stue 12")
        steps_before = len(emulator.webhook_deliveries)
        note_id = await take_note(
            omar, "Fru H., stue 12", "Hun smilede, da vi sang om morgenen.", "Nærvær"
        )

        steps = emulator.webhook_deliveries[steps_before:]
        assert len(steps) >= 5
        assert {url for _id, url, _status in steps} == set(workers), "both workers took steps"
        assert all(status == 200 for _id, _url, status in emulator.webhook_deliveries)
        stored = notes_of(e2e_engine)
        assert [(note.id, note.text, markers) for note, markers in stored] == [
            (note_id, "Hun smilede, da vi sang om morgenen.", ["naervaer"])
        ]
        assert len(confirmations(emulator, OMAR_ID)) == 1

        # Telegram posts the last step (the press on "Gem ✔") again, to the other worker.
        last_id, last_url, _status = steps[-1]
        other = next(url for url in workers if url != last_url)
        calls_before = len(emulator.calls)
        assert await emulator.redeliver(last_id, url=other) == 200
        await emulator.wait_idle()
        assert [c for c in emulator.calls[calls_before:] if c.method != "getUpdates"] == []
        assert len(notes_of(e2e_engine)) == 1
        assert len(confirmations(emulator, OMAR_ID)) == 1

    with Session(e2e_engine) as session:
        recorded = session.exec(select(func.count()).select_from(ProcessedUpdate)).one()
        assert recorded == len({update_id for update_id, _u, _s in emulator.webhook_deliveries})
        assert session.exec(select(func.count()).select_from(Note)).one() == 1
        assert (
            session.exec(select(Conversation).where(Conversation.telegram_id == OMAR_ID)).all()
            == []
        )
