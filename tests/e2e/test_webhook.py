"""Webhook workers: two against one PostgreSQL behave like one bot, and
``stemme run --webhook`` runs as a real process (one worker on SQLite, two on PostgreSQL).

Each worker is its own Application with its own engine, prompt dispatcher and scheduler,
behind its own uvicorn server on loopback. The emulator delivers every update by POST,
alternating between the workers, so a micro-moment's steps run in turn on one and the
other; a delivered update is then posted again, as Telegram does when it got no 200.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session, func, select

from bot.webhook import max_connections
from sandbox.emulator import BotApiEmulator
from storage.db import make_engine
from storage.migrate import upgrade
from storage.models import Conversation, Note, ProcessedUpdate
from tests.conftest import TEST_DATA_KEY, _with_search_path
from tests.e2e.conftest import TOKEN, Admin
from tests.e2e.people import OMAR_ID, notes_of, take_note, team_with_residents
from tests.e2e.workers import SECRET, free_port, webhook_worker

ROOT = Path(__file__).resolve().parents[2]


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


@pytest.mark.postgres
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


async def _http_get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_stemme_run_webhook_as_a_real_process(
    emulator: BotApiEmulator,
    database: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """``python -m bot run --webhook`` (what ``stemme run --webhook`` does): sets the webhook
    with the secret, answers updates, serves /healthz and /metrics, and stops on SIGTERM."""
    if database == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'process.db'}"
        workers = "1"
    else:
        database_url = request.getfixturevalue("e2e_database_url")
        workers = "2"
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("STEMME_")} | {
        "STEMME_BOT_TOKEN": TOKEN,
        "STEMME_DATA_KEY": TEST_DATA_KEY,
        "STEMME_DATABASE_URL": database_url,
        "STEMME_API_BASE_URL": emulator.base_url,
        "STEMME_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
        "STEMME_WEBHOOK_SECRET": SECRET,
        "STEMME_LISTEN": f"127.0.0.1:{port}",
        "STEMME_WEBHOOK_WORKERS": workers,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--webhook",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        for _ in range(300):
            if len(emulator.calls_for("setWebhook")) >= int(workers) or process.returncode:
                break
            await asyncio.sleep(0.1)
        assert emulator.webhook_url == f"http://127.0.0.1:{port}/hook"
        assert {c.params.get("secret_token") for c in emulator.calls_for("setWebhook")} == {SECRET}
        # Telegram opens no more connections than the workers handle at once.
        assert {
            int(c.params.get("max_connections", 0)) for c in emulator.calls_for("setWebhook")
        } == {max_connections(int(workers))}

        anna = emulator.user(7301, "Anna", language_code="da")
        reaction = await anna.send("/start", timeout=20)
        assert reaction.messages, "a stranger gets an answer"
        status, body = await _http_get(f"http://127.0.0.1:{port}/healthz")
        assert (status, json.loads(body)) == (
            200,
            {"database": "ok", "scheduler": "ok", "dispatcher": "ok"},
        )
        status, body = await _http_get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and "stemme_webhook_requests_total" in body
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
        log = (await process.stderr.read()).decode() if process.stderr else ""
    # uvicorn shuts down cleanly and then re-raises the SIGTERM it caught (systemd counts
    # that as a clean stop).
    assert process.returncode in (0, -signal.SIGTERM), log[-2000:]
    assert "Application shutdown complete" in log and "Bot stopped" in log
    assert TOKEN not in log and SECRET not in log


async def test_stemme_run_polling_serves_health_and_metrics_on_listen(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    """Long polling stays the default; with STEMME_LISTEN it serves /healthz and /metrics."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("STEMME_")} | {
        "STEMME_BOT_TOKEN": TOKEN,
        "STEMME_DATA_KEY": TEST_DATA_KEY,
        "STEMME_DATABASE_URL": f"sqlite:///{tmp_path / 'polling.db'}",
        "STEMME_API_BASE_URL": emulator.base_url,
        "STEMME_LISTEN": f"127.0.0.1:{port}",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        anna = emulator.user(7302, "Anna", language_code="da")
        reaction = await anna.send("/start", timeout=30)
        assert reaction.messages
        assert emulator.webhook_url is None and emulator.calls_for("getUpdates")
        status, body = await _http_get(f"http://127.0.0.1:{port}/healthz")
        assert (status, json.loads(body)) == (
            200,
            {"database": "ok", "scheduler": "ok", "dispatcher": "ok"},
        )
        status, body = await _http_get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and 'stemme_updates_total{outcome="handled"} 1' in body
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
        log = (await process.stderr.read()).decode() if process.stderr else ""
    assert process.returncode in (0, -signal.SIGTERM), log[-2000:]
    assert "Bot stopped" in log and TOKEN not in log


async def test_stemme_run_webhook_with_a_rejected_token_exits_2_without_printing_it(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    wrong = "999999:WRONG-TOKEN-must-not-leak"
    env = {key: value for key, value in os.environ.items() if not key.startswith("STEMME_")} | {
        "STEMME_BOT_TOKEN": wrong,
        "STEMME_DATA_KEY": TEST_DATA_KEY,
        "STEMME_DATABASE_URL": f"sqlite:///{tmp_path / 'rejected.db'}",
        "STEMME_API_BASE_URL": emulator.base_url,
        "STEMME_WEBHOOK_URL": "http://127.0.0.1:9/hook",
        "STEMME_WEBHOOK_SECRET": SECRET,
        "STEMME_LISTEN": f"127.0.0.1:{free_port()}",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--webhook",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    output = (stdout + stderr).decode()
    assert process.returncode == 2
    assert "Telegram rejected the bot token" in output
    assert "WRONG-TOKEN" not in output and SECRET not in output


@pytest.mark.postgres
async def test_the_same_update_posted_to_both_workers_at_once_is_answered_once(
    emulator: BotApiEmulator, e2e_database_url: str, e2e_engine: Engine
) -> None:
    """Telegram redelivering while the first delivery still runs: the second waits on the
    first one's record (here in the same event loop, so it gives up after the lock timeout
    with 503, as it would if it had to wait too long) and the user is answered once."""
    anna = emulator.user(7401, "Anna", language_code="da")
    update = {
        "update_id": 990_001,
        "message": {
            "message_id": 1,
            "date": 1_790_000_000,
            "chat": {"id": anna.id, "type": "private", "first_name": "Anna"},
            "from": anna.as_dict(),
            "text": "/start",
        },
    }
    async with (
        webhook_worker(emulator, e2e_database_url) as first,
        webhook_worker(emulator, e2e_database_url) as second,
        aiohttp.ClientSession() as client,
    ):
        emulator.delay_next("sendMessage", 0.5)  # the first delivery is still answering

        async def post(url: str) -> int:
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            async with client.post(url, json=update, headers=headers) as response:
                return response.status

        statuses = await asyncio.gather(post(first.url), post(second.url))
        await emulator.wait_idle()

    assert 200 in statuses and set(statuses) <= {200, 503}
    assert len([c for c in emulator.calls_for("sendMessage") if c.ok]) == 1
    with Session(e2e_engine) as session:
        assert session.exec(select(func.count()).select_from(ProcessedUpdate)).one() == 1
