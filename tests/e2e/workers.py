"""Webhook workers and the confirming polling loop, run in the test's event loop against
the emulator: each worker is its own Application (own engine, dispatcher, scheduler) behind
its own uvicorn server on loopback, exactly what ``stemme run --webhook`` serves."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import uvicorn
from pydantic import SecretStr
from sqlalchemy.pool import NullPool

from bot import polling
from bot.app import StemmeApplication, build_application
from bot.config import Settings
from bot.webhook import build_asgi, webhook_path
from flows.core.engine import SERVICES_KEY, Services
from sandbox.emulator import BotApiEmulator
from storage.db import make_engine
from tests.e2e.conftest import e2e_settings

SECRET = "e2e_webhook-Secret"
PATH = "/telegram/webhook"


@dataclass
class Worker:
    """One webhook worker: its application and the URL it listens on."""

    application: StemmeApplication
    url: str


def free_socket() -> socket.socket:
    """A listening TCP socket on loopback with a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with free_socket() as sock:
        return int(sock.getsockname()[1])


def webhook_settings(emulator: BotApiEmulator, database_url: str, public_url: str) -> Settings:
    """The settings of ``stemme run --webhook`` behind ``public_url``."""
    parts = urlsplit(public_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return e2e_settings(emulator, database_url).model_copy(
        update={
            "webhook_url": public_url,
            "webhook_secret": SecretStr(SECRET),
            # What Settings derives from STEMME_WEBHOOK_URL (model_copy skips validators).
            "dashboard_url": f"{origin}/app/",
        }
    )


@asynccontextmanager
async def webhook_worker(
    emulator: BotApiEmulator, database_url: str, *, public_url: str | None = None
) -> AsyncIterator[Worker]:
    """Serves one worker; it sets the webhook to ``public_url`` (its own URL by default)."""
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}{PATH}"
    settings = webhook_settings(emulator, database_url, public_url or url)
    application = build_application(settings)
    assert settings.webhook_url is not None
    app = build_asgi(
        application, path=webhook_path(settings.webhook_url), secret=SECRET, webhook_url=url
    )
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(200):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        if not server.started:
            raise AssertionError("the webhook worker did not start")
        yield Worker(application, url)
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def polling_bot(
    emulator: BotApiEmulator, database_url: str
) -> AsyncIterator[StemmeApplication]:
    """The application with stemme's own polling loop (``bot.polling``), as ``stemme run``."""
    application = build_application(e2e_settings(emulator, database_url))
    async with polling.running(application, poll_timeout=1, first_wait=0.05, longest_wait=0.2):
        yield application


UNREACHABLE_DATABASE = "postgresql://stemme@127.0.0.1:9/stemme"


@contextmanager
def database_down(application: StemmeApplication) -> Iterator[None]:
    """The application's database cannot be reached until the block ends: its router gets
    an engine on a port where nothing listens (every connection is refused)."""
    services: Services = application.bot_data[SERVICES_KEY]
    engine = make_engine(
        UNREACHABLE_DATABASE, poolclass=NullPool, connect_args={"connect_timeout": 1}
    )
    application.bot_data[SERVICES_KEY] = dataclasses.replace(services, engine=engine)
    try:
        yield
    finally:
        application.bot_data[SERVICES_KEY] = services
        engine.dispose()
