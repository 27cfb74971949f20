"""The webhook's ASGI app, driven over ASGI with httpx: the secret, redelivery, database
outages, /healthz and /metrics. The application is the unmodified one, its bot talking to
the Bot API emulator."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from bot import metrics
from bot.app import StemmeApplication, build_application
from bot.config import Settings
from bot.webhook import SECRET_HEADER, build_asgi, serving, webhook_path
from flows.core.engine import SERVICES_KEY, Services
from sandbox.emulator import BotApiEmulator
from storage import updates
from storage.db import make_engine
from storage.migrate import upgrade

TOKEN = "123456:TEST-TOKEN-webhook"
SECRET = "s3cret_Webhook-token"
URL = "http://127.0.0.1:8443/telegram/hook"
UNREACHABLE = "postgresql://stemme@127.0.0.1:9/stemme"


@dataclasses.dataclass
class Worker:
    """A webhook app in this process with its application, and an httpx client on it."""

    application: StemmeApplication
    client: httpx.AsyncClient
    database_url: str

    async def post(self, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        return await self.client.post("/telegram/hook", json=update, headers=headers)

    def swap_database(self, url: str) -> None:
        """Points the application at another database (an unreachable one, or back)."""
        services: Services = self.application.bot_data[SERVICES_KEY]
        args: dict[str, Any] = {"poolclass": NullPool}
        if url.startswith("postgresql"):
            args["connect_args"] = {"connect_timeout": 1}
        self.application.bot_data[SERVICES_KEY] = dataclasses.replace(
            services, engine=make_engine(url, **args)
        )


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN) as emu:
        yield emu


@pytest.fixture
async def worker(emulator: BotApiEmulator, tmp_path: Path) -> AsyncIterator[Worker]:
    url = f"sqlite:///{tmp_path / 'webhook.db'}"
    upgrade(url)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' init-only option
        bot_token=SecretStr(TOKEN),
        bot_username="stemme_test_bot",
        database_url=url,
        api_base_url=emulator.base_url,
        webhook_url=URL,
        webhook_secret=SecretStr(SECRET),
    )
    application = build_application(settings)
    app = build_asgi(application, path=webhook_path(URL), secret=SECRET)
    async with serving(application, webhook_url=None, secret=SECRET):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            yield Worker(application, client, url)


def message_update(
    emulator: BotApiEmulator, update_id: int, user_id: int, text: str
) -> dict[str, Any]:
    """A private text message from a user the emulator knows, as Telegram posts it."""
    emulator.user(user_id, "Anna", language_code="da")
    user = {"id": user_id, "is_bot": False, "first_name": "Anna", "language_code": "da"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_790_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": "Anna"},
            "from": user,
            "text": text,
        },
    }


def sent_to(emulator: BotApiEmulator, chat_id: int) -> list[str]:
    return [
        str(call.params.get("text"))
        for call in emulator.calls_for("sendMessage")
        if call.ok and call.params.get("chat_id") == chat_id
    ]


def processed(database_url: str, update_id: int) -> bool:
    engine = make_engine(database_url, poolclass=NullPool)
    try:
        with Session(engine) as session:
            return updates.was_processed(session=session, update_id=update_id)
    finally:
        engine.dispose()


async def test_a_wrong_or_missing_secret_gets_403_is_not_processed_nor_logged(
    worker: Worker, emulator: BotApiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    forged = "forged-secret-value"

    assert (
        await worker.post(message_update(emulator, 501, 7001, "hej"), secret=forged)
    ).status_code == 403
    assert (
        await worker.post(message_update(emulator, 502, 7001, "hej"), secret=None)
    ).status_code == 403
    assert (
        await worker.post(message_update(emulator, 503, 7001, "hej"), secret=SECRET[:-1])
    ).status_code == 403

    assert sent_to(emulator, 7001) == []
    assert not processed(worker.database_url, 501)
    assert "wrong or missing secret" in caplog.text
    assert forged not in caplog.text and SECRET not in caplog.text


async def test_a_body_that_is_not_an_update_gets_400(worker: Worker) -> None:
    response = await worker.client.post(
        "/telegram/hook", content=b"not json", headers={SECRET_HEADER: SECRET}
    )
    assert response.status_code == 400
    response = await worker.client.post(
        "/telegram/hook", json=[1, 2], headers={SECRET_HEADER: SECRET}
    )
    assert response.status_code == 400


async def test_a_redelivered_update_is_answered_200_and_processed_once(
    worker: Worker, emulator: BotApiEmulator
) -> None:
    before = metrics.UPDATES.value(outcome="duplicate")
    update = message_update(emulator, 601, 7002, "/start")

    first = await worker.post(update)
    assert first.status_code == 200
    answers = sent_to(emulator, 7002)
    assert len(answers) == 1  # a stranger is told how to get an invite
    assert processed(worker.database_url, 601)

    second = await worker.post(update)
    assert second.status_code == 200
    assert sent_to(emulator, 7002) == answers
    assert metrics.UPDATES.value(outcome="duplicate") == before + 1


async def test_an_unavailable_database_gets_503_and_the_redelivery_is_processed(
    worker: Worker, emulator: BotApiEmulator
) -> None:
    update = message_update(emulator, 701, 7003, "/start")
    worker.swap_database(UNREACHABLE)

    response = await worker.post(update)

    assert response.status_code == 503
    assert sent_to(emulator, 7003) == [], "no apology: the update comes again"
    worker.swap_database(worker.database_url)
    assert (await worker.post(update)).status_code == 200
    assert len(sent_to(emulator, 7003)) == 1
    assert (await worker.post(update)).status_code == 200
    assert len(sent_to(emulator, 7003)) == 1


async def test_healthz_is_ok_while_everything_runs_and_503_without_the_database(
    worker: Worker,
) -> None:
    response = await worker.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "scheduler": "ok", "dispatcher": "ok"}

    worker.swap_database(UNREACHABLE)
    response = await worker.client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "failing", "scheduler": "ok", "dispatcher": "ok"}


async def test_metrics_count_updates_requests_and_telegram_errors(
    worker: Worker, emulator: BotApiEmulator
) -> None:
    handled = metrics.UPDATES.value(outcome="handled")
    unreachable = metrics.UPDATES.value(outcome="unreachable")
    refused = metrics.WEBHOOK_REQUESTS.value(status="403")
    forbidden = metrics.TELEGRAM_ERRORS.value(kind="Forbidden")
    emulator.user(7005, "Bo")
    emulator.block(7005)

    await worker.post(message_update(emulator, 801, 7004, "/start"))
    await worker.post(message_update(emulator, 802, 7004, "/start"), secret="nope")
    await worker.post(message_update(emulator, 803, 7005, "/start"))

    response = await worker.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert "# TYPE stemme_updates_total counter" in text
    assert "# TYPE stemme_prompt_queue_delay_seconds histogram" in text
    assert metrics.UPDATES.value(outcome="handled") == handled + 1
    assert metrics.UPDATES.value(outcome="unreachable") == unreachable + 1
    assert metrics.WEBHOOK_REQUESTS.value(status="403") == refused + 1
    assert metrics.TELEGRAM_ERRORS.value(kind="Forbidden") >= forbidden + 1
    assert f'stemme_updates_total{{outcome="handled"}} {int(handled + 1)}' in text


async def test_a_step_that_takes_too_long_gets_503_is_undone_and_the_redelivery_runs(
    worker: Worker, emulator: BotApiEmulator
) -> None:
    impatient = build_asgi(
        worker.application, path=webhook_path(URL), secret=SECRET, process_timeout=1.0
    )
    update = message_update(emulator, 901, 7006, "/start")
    emulator.delay_next("sendMessage", 3.0)  # Telegram does not answer in time
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=impatient), base_url="http://worker"
    ) as client:
        response = await client.post(
            "/telegram/hook", json=update, headers={SECRET_HEADER: SECRET}
        )
        assert response.status_code == 503
        assert not processed(worker.database_url, 901)
        # The late answer was for the cancelled step's message: the redelivery's is not late.
        assert len(emulator.calls_for("sendMessage")) == 1
        await emulator.wait_idle(settle=0.1)

        response = await client.post(
            "/telegram/hook", json=update, headers={SECRET_HEADER: SECRET}
        )
    assert response.status_code == 200
    assert processed(worker.database_url, 901)
    assert len(sent_to(emulator, 7006)) == 1


async def test_a_step_cancelled_at_once_is_not_carried_on(
    worker: Worker, emulator: BotApiEmulator
) -> None:
    """Cancelled at its first wait (a time limit of 1 ms): the step stops there. On Python
    3.11 ``asyncio.wait_for`` around the transport's wait for a free connection swallowed
    such a cancellation, and the step went on to answer and commit (a 200 for a step that
    was said to be cancelled)."""
    hasty = build_asgi(
        worker.application, path=webhook_path(URL), secret=SECRET, process_timeout=0.001
    )
    update = message_update(emulator, 902, 7007, "/start")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hasty), base_url="http://worker"
    ) as client:
        response = await client.post(
            "/telegram/hook", json=update, headers={SECRET_HEADER: SECRET}
        )
    assert response.status_code == 503
    await emulator.wait_idle(settle=0.2)
    assert not processed(worker.database_url, 902)
    # Its answer may have left before the cancellation (docs: sent again on redelivery).
    sent_before = len(sent_to(emulator, 7007))
    assert sent_before <= 1
    # Telegram delivers it again, to a worker with the usual time limit: processed once.
    response = await worker.post(update)
    assert response.status_code == 200
    assert processed(worker.database_url, 902)
    assert len(sent_to(emulator, 7007)) == sent_before + 1


async def test_a_worker_takes_at_most_in_flight_updates_at_once_and_answers_every_one() -> None:
    """Forty requests at once (Telegram's default) never hold more than IN_FLIGHT updates,
    so the engine's pool (15 connections, 4 of them for the dispatcher) is never exhausted;
    every request is answered."""
    import asyncio
    import types

    from starlette.applications import Starlette
    from starlette.routing import Route
    from telegram import Bot

    from bot.webhook import IN_FLIGHT, WebhookReceiver, max_connections

    running = {"now": 0, "most": 0}

    async def process_update(update: object) -> None:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        await asyncio.sleep(0.05)
        running["now"] -= 1

    engine = types.SimpleNamespace(dialect=types.SimpleNamespace(name="postgresql"))
    application: Any = types.SimpleNamespace(
        bot=Bot(TOKEN),
        bot_data={SERVICES_KEY: types.SimpleNamespace(engine=engine)},
        process_update=process_update,
    )
    receiver = WebhookReceiver(application, secret=SECRET)
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    emulator = types.SimpleNamespace(user=lambda *args, **kwargs: None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://worker"
    ) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/hook",
                    json=message_update(emulator, 1000 + n, 8000 + n, "hej"),  # type: ignore[arg-type]
                    headers={SECRET_HEADER: SECRET},
                )
                for n in range(40)
            )
        )
    assert [response.status_code for response in responses] == [200] * 40
    assert running["most"] == IN_FLIGHT
    assert max_connections(1) == IN_FLIGHT and max_connections(4) == 4 * IN_FLIGHT
    assert max_connections(50) == 100
