"""Webhook mode (``stemme run --webhook``): an ASGI app, served by uvicorn, that receives
Telegram's updates by HTTP POST and processes them with the unmodified Application.

Several worker processes behind one URL (uvicorn's ``--workers``, ``STEMME_WEBHOOK_WORKERS``,
or separate processes behind a reverse proxy) against one PostgreSQL behave like one:
a conversation's state is in the database and locked while a step runs
(``flows.core.engine``), every process runs its own prompt dispatcher, which claims prompts
with ``SKIP LOCKED`` so each is sent once, and each process sets the (same) webhook at
start, which is idempotent.

A request on the webhook path:

1. The ``X-Telegram-Bot-Api-Secret-Token`` header is compared in constant time
   (``hmac.compare_digest``) with ``STEMME_WEBHOOK_SECRET``: 403 otherwise, logged
   without the header's value.
2. The body is parsed into an ``Update`` (400 if it is none).
3. Updates of one user are processed one after the other within a process (a second
   one waits for the first: on PostgreSQL it would otherwise wait on the first one's
   row lock while holding the event loop); on SQLite, which has one writer, all updates
   are processed one after the other.
4. ``application.process_update`` runs **before** the answer, within
   ``PROCESS_TIMEOUT`` (well under the time Telegram waits for an answer). The router
   records the update id in the same transaction as the step (``storage.updates``):

   - processed, or a redelivery found recorded and skipped: **200**;
   - the database was unavailable, nothing stored, nobody answered: **503**, and
     Telegram delivers the update again later, when it is processed once;
   - the time ran out: **503**; the step was cancelled and rolled back, so the
     redelivery processes it (messages already sent by the step may be sent again).

   Answering 200 first and processing afterwards would be faster for Telegram but would
   lose an update whenever the process dies or the database fails after the answer, and
   Telegram would have no reason to deliver it again. A step takes milliseconds plus its
   Bot API calls, so answering after processing is still fast.

``/healthz`` and ``/metrics`` are served beside the webhook (``bot.health``).

```mermaid
sequenceDiagram
    Telegram->>Worker: POST /path (secret header, update)
    Worker->>Worker: secret? (403)
    Worker->>Router: process_update
    Router->>DB: INSERT update id ON CONFLICT DO NOTHING, step, commit
    Router-->>Worker: done / skipped / database unavailable
    Worker-->>Telegram: 200 / 200 / 503 (Telegram delivers again)
```
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application

from bot import dashboard, health, logs, memory, metrics
from bot.app import shut_down, stop
from bot.config import DEFAULT_LISTEN, Settings, parse_listen
from flows.core.engine import DELIVERY, SERVICES_KEY, Delivery, Services
from storage.db import STEPS_AT_ONCE

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram gives up on a webhook request after about a minute and delivers it again.
PROCESS_TIMEOUT = 40.0
# Updates a worker process handles at once (storage/db.py says why no more). Telegram is
# told to open no more connections than the workers take together (max_connections).
IN_FLIGHT = STEPS_AT_ONCE
# uvicorn's exit code when the app did not start; ``stemme run`` exits with 2 like polling.
STARTUP_FAILED = 3

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def max_connections(workers: int) -> int:
    """How many connections Telegram may open to the webhook: what the workers handle at
    once together (Telegram allows 1 to 100)."""
    return max(1, min(100, workers * IN_FLIGHT))


def webhook_path(url: str) -> str:
    """The path of the webhook URL that the app answers on ("/" when it has none)."""
    return urlsplit(url).path or "/"


class WebhookReceiver:
    """Receives one update per request and processes it (module docstring)."""

    def __init__(
        self,
        application: AnyApplication,
        *,
        secret: str,
        process_timeout: float = PROCESS_TIMEOUT,
    ) -> None:
        self.application = application
        self._secret = secret.encode()
        self.process_timeout = process_timeout
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._slots = asyncio.Semaphore(IN_FLIGHT)

    async def handle(self, request: Request) -> Response:
        """Checks the secret, processes the update, and answers 200, 403, 400 or 503."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            client = request.client.host if request.client else "unknown"
            logger.warning("Webhook request from %s refused: wrong or missing secret", client)
            return self._answer(403)
        try:
            data = json.loads(await request.body())
            update = Update.de_json(data, self.application.bot) if isinstance(data, dict) else None
        except (ValueError, TypeError, KeyError, TelegramError):
            update = None
        if update is None:
            logger.warning("Webhook request refused: the body is not an update")
            return self._answer(400)
        user = update.effective_user
        services: Services = self.application.bot_data[SERVICES_KEY]
        if services.engine.dialect.name == "sqlite":
            # SQLite has one writer: one update at a time. The router's one_writer
            # (storage/db.py) would let steps overlap their Telegram waits, but its waits
            # count against the time limit and hold a slot; waiting here does neither.
            lock: Any = self._lock(0)
        else:
            lock = self._lock(user.id) if user is not None else contextlib.nullcontext()
        delivery = Delivery()
        # The user's lock first, then a slot: a request waiting for its user holds no slot.
        async with lock, self._slots:
            token = DELIVERY.set(delivery)
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can lose the
                # cancellation of a step that finishes at that moment, or of this request.
                async with asyncio.timeout(self.process_timeout):
                    await self.application.process_update(update)
            except TimeoutError:
                logger.error(
                    "Update %s took longer than %.0f s: cancelled, to be delivered again",
                    update.update_id,
                    self.process_timeout,
                )
                return self._answer(503)
            finally:
                DELIVERY.reset(token)
        if delivery.unavailable is not None:
            return self._answer(503)
        return self._answer(200)

    def _lock(self, user_id: int) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[user_id] = lock
        return lock

    @staticmethod
    def _answer(status: int) -> Response:
        metrics.WEBHOOK_REQUESTS.inc(status=str(status))
        return JSONResponse({}, status_code=status)


@contextlib.asynccontextmanager
async def serving(
    application: AnyApplication,
    *,
    webhook_url: str | None,
    secret: str | None,
    workers: int = 1,
) -> AsyncIterator[None]:
    """Runs the application's lifecycle (initialize, post_init, start; then stop,
    post_stop, shutdown, post_shutdown) and sets the webhook when ``webhook_url`` is given,
    asking Telegram for as many connections as ``workers`` can take."""
    try:
        await application.initialize()
    except InvalidToken:
        # python-telegram-bot puts the token into this error's message: never print it.
        logger.error(
            "Telegram rejected the bot token. Check STEMME_BOT_TOKEN: BotFather shows the "
            "token of your bot under /mybots -> API Token."
        )
        raise RuntimeError("the bot token was rejected") from None
    try:
        if application.post_init:
            await application.post_init(application)
        await application.start()
        try:
            if webhook_url:
                await application.bot.set_webhook(
                    webhook_url,
                    secret_token=secret,
                    allowed_updates=Update.ALL_TYPES,
                    drop_pending_updates=False,
                    max_connections=max_connections(workers),
                )
                logger.info("Webhook set; receiving updates on %s", webhook_path(webhook_url))
            yield
        finally:
            await stop(application)
    finally:
        await shut_down(application)


def build_asgi(
    application: AnyApplication,
    *,
    path: str,
    secret: str,
    webhook_url: str | None = None,
    process_timeout: float = PROCESS_TIMEOUT,
    settle: bool = False,
    workers: int = 1,
) -> Starlette:
    """The ASGI app: POST ``path`` (the webhook), GET /healthz and /metrics. Its lifespan
    runs the application, and sets the webhook to ``webhook_url`` when given; ``settle``:
    the app is the process's own (a worker), see ``bot.memory``."""
    receiver = WebhookReceiver(application, secret=secret, process_timeout=process_timeout)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with serving(application, webhook_url=webhook_url, secret=secret, workers=workers):
            if settle:
                memory.settle()
            yield

    return Starlette(
        routes=[
            Route(path, receiver.handle, methods=["POST"]),
            *health.routes(application),
            *dashboard.routes(application),
        ],
        lifespan=lifespan,
    )


def create_app() -> Starlette:
    """The app of one worker process, configured from the environment (uvicorn's factory
    for ``STEMME_WEBHOOK_WORKERS`` > 1)."""
    settings = Settings()
    logs.configure(settings.log_level, _secrets(settings))
    return _app_for(settings)


def _secrets(settings: Settings) -> list[str]:
    """What the log filter must never let through."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    return [settings.token or "", secret]


def _app_for(settings: Settings) -> Starlette:
    from bot.app import build_application

    assert settings.webhook_url and settings.webhook_secret  # checked by run_problems
    return build_asgi(
        build_application(settings),
        path=webhook_path(settings.webhook_url),
        secret=settings.webhook_secret.get_secret_value(),
        webhook_url=settings.webhook_url,
        settle=True,
        workers=settings.webhook_workers,
    )


def run(settings: Settings) -> None:
    """Serves the webhook on ``STEMME_LISTEN`` until interrupted."""
    logs.configure(settings.log_level, _secrets(settings))
    host, port = parse_listen(settings.listen or DEFAULT_LISTEN)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": None,  # our logging, with the token filter
        "access_log": False,  # no request lines: they would only repeat what we log
        "timeout_graceful_shutdown": 10,
    }
    try:
        if settings.webhook_workers > 1:
            uvicorn.run(
                "bot.webhook:create_app", factory=True, workers=settings.webhook_workers, **options
            )
        else:
            uvicorn.run(_app_for(settings), **options)
    except SystemExit as exit_:
        if exit_.code == STARTUP_FAILED:
            raise SystemExit(2) from None  # why is logged above (a rejected token, ...)
        raise
