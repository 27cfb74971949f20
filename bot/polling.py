"""Long polling that confirms an update only after it was processed.

python-telegram-bot's ``Updater`` fetches a batch with ``getUpdates``, puts it in a queue
and asks for the next batch at once; that next call's ``offset`` confirms the first batch
to Telegram while the application may not have processed it yet. A process that dies in
between loses those updates, and an update whose step failed because the database was
down is gone too (the user only gets an apology).

Here one loop does both, in order: fetch a batch, process every update of it, and only
then ask for the next batch with the offset after the last one processed. Within a batch,
each user's updates are processed in the order they came, and different users' updates
at once (at most ``STEPS_AT_ONCE``), so one member's wait for Telegram does not hold up
the others. An update the router could not process because the database was unavailable
is tried again, with backoff, until it goes through; the offset does not move past it
meanwhile. After a crash the unconfirmed batch is fetched again, and the router skips the
updates it had already recorded as processed (``storage.updates``), so nothing is lost
and nothing is processed twice.

```mermaid
flowchart LR
    fetch[getUpdates offset] --> each{each member's next update, up to 8 members at once}
    each --> process[router: step + update id, one transaction]
    process -- database unavailable --> wait[wait 1, 2, 4 ... 30 s] --> process
    process -- done or skipped --> each
    each -- every update of the batch done --> fetch
```
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application

from bot import dashboard, health, logs, memory
from bot.app import build_application, shut_down, stop
from bot.config import Settings, parse_listen
from flows.core.engine import DELIVERY, Delivery
from storage.db import STEPS_AT_ONCE

logger = logging.getLogger(__name__)

POLL_TIMEOUT = 10
FIRST_WAIT = 1.0
LONGEST_WAIT = 30.0

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


async def process(application: AnyApplication, update: Update, *, new: bool = False) -> bool:
    """Processes one update; False when the database was unavailable (try again).
    ``new``: the update was never delivered before (the router need not look it up)."""
    delivery = Delivery(new=new)
    token = DELIVERY.set(delivery)
    try:
        await application.process_update(update)
    finally:
        DELIVERY.reset(token)
    return delivery.unavailable is None


async def process_until_done(
    application: AnyApplication,
    update: Update,
    *,
    new: bool = False,
    first_wait: float = FIRST_WAIT,
    longest_wait: float = LONGEST_WAIT,
) -> None:
    """Processes one update, waiting and trying again while the database is unavailable."""
    wait = first_wait
    while not await process(application, update, new=new):
        logger.warning(
            "Update %s waits for the database; trying again in %.1f s", update.update_id, wait
        )
        await asyncio.sleep(wait)
        wait = min(wait * 2, longest_wait)


async def poll(
    application: AnyApplication,
    *,
    poll_timeout: int = POLL_TIMEOUT,
    first_wait: float = FIRST_WAIT,
    longest_wait: float = LONGEST_WAIT,
) -> None:
    """Fetches and processes updates until cancelled; confirms a batch only once processed."""
    bot = application.bot
    await bot.delete_webhook(drop_pending_updates=False)
    offset: int | None = None
    wait = first_wait
    # Only the first batch can hold updates processed before: those of a batch that an
    # earlier run processed but did not live to confirm. Later batches are new.
    new = False
    while True:
        try:
            batch = await bot.get_updates(
                offset=offset,
                timeout=poll_timeout,
                read_timeout=poll_timeout + 5,
                allowed_updates=Update.ALL_TYPES,
            )
        except InvalidToken:
            raise
        except (RetryAfter, Conflict, TimedOut, NetworkError) as error:
            if isinstance(error, TimedOut):
                continue  # a long poll that took too long: ask again
            logger.warning("getUpdates failed (%s); again in %.1f s", type(error).__name__, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, longest_wait)
            continue
        wait = first_wait
        if batch:
            await process_batch(
                application, batch, new=new, first_wait=first_wait, longest_wait=longest_wait
            )
            offset = batch[-1].update_id + 1
            new = True


async def process_batch(
    application: AnyApplication,
    batch: Sequence[Update],
    *,
    at_once: int = STEPS_AT_ONCE,
    new: bool = False,
    first_wait: float = FIRST_WAIT,
    longest_wait: float = LONGEST_WAIT,
) -> None:
    """Processes every update of ``batch``: one user's in order, different users' at once
    (at most ``at_once`` updates in progress). Returns when all are done. ``new``: none of
    them was delivered before."""
    slots = asyncio.Semaphore(at_once)
    queues: dict[tuple[str, int], list[Update]] = {}
    for update in batch:
        queues.setdefault(_sender(update), []).append(update)

    async def in_order(updates: list[Update]) -> None:
        for update in updates:
            async with slots:
                await process_until_done(
                    application,
                    update,
                    new=new,
                    first_wait=first_wait,
                    longest_wait=longest_wait,
                )

    # A task group: if one fails (only a cancellation does; process_update handles the
    # rest), the others are cancelled too and the batch is fetched again.
    async with asyncio.TaskGroup() as group:
        for updates in queues.values():
            group.create_task(in_order(updates))


def _sender(update: Update) -> tuple[str, int]:
    """Whose update this is: the user, else the chat; an update with neither is its own."""
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    return ("update", update.update_id)


@contextlib.asynccontextmanager
async def running(application: AnyApplication, **options: Any) -> Any:
    """Runs the application with this polling loop: initialize, post_init, start, poll;
    then stop, post_stop, shutdown, post_shutdown (the lifecycle of ``run_polling``)."""
    await application.initialize()
    try:
        if application.post_init:
            await application.post_init(application)
        await application.start()
        task = asyncio.create_task(poll(application, **options), name="stemme-polling")
        try:
            yield task
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await stop(application)
    finally:
        await shut_down(application)


async def serve(application: AnyApplication, *, listen: str | None) -> None:
    """Polls until SIGINT or SIGTERM; with ``listen`` (host:port) also serves /healthz and
    /metrics there."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on every platform
            loop.add_signal_handler(signum, stop.set)
    async with running(application) as polling:
        memory.settle()
        server: uvicorn.Server | None = None
        tasks: list[asyncio.Task[Any]] = [polling, asyncio.create_task(stop.wait())]
        if listen:
            host, port = parse_listen(listen)
            config = uvicorn.Config(
                Starlette(routes=[*health.routes(application), *dashboard.routes(application)]),
                host=host,
                port=port,
                log_config=None,
                access_log=False,
                lifespan="off",
            )
            server = uvicorn.Server(config)
            tasks.append(asyncio.create_task(server.serve()))
            logger.info("Serving /healthz, /metrics and the dashboard (/app/) on %s", listen)
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if server is not None:
            server.should_exit = True
        for task in tasks[1:]:
            if task not in done:
                task.cancel()
        await asyncio.gather(*tasks[1:], return_exceptions=True)
        if polling in done:
            polling.result()  # the polling loop ended by an error (a rejected token): raise it


def run(settings: Settings) -> None:
    """Runs the bot with long polling until interrupted (SIGINT, SIGTERM): each batch of
    updates is confirmed only once processed; with ``STEMME_LISTEN`` set, /healthz and
    /metrics are served there."""
    logs.configure(settings.log_level, [settings.token or ""])
    application = build_application(settings)
    try:
        asyncio.run(serve(application, listen=settings.listen))
    except InvalidToken:
        # python-telegram-bot puts the token into this error's message: never print it.
        logger.error(
            "Telegram rejected the bot token. Check STEMME_BOT_TOKEN: BotFather shows the "
            "token of your bot under /mybots -> API Token."
        )
        raise SystemExit(2) from None
