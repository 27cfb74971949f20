"""The dispatcher: sends the due rows of the prompts table, within Telegram's limits.

It runs as one asyncio task per process, started in ``post_init`` and stopped in
``post_shutdown``. Each round claims a batch of due prompts in a short transaction
(``storage.prompts.claim_due``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two
processes never take the same prompt), commits, and then hands each prompt to the
renderer registered for its kind. A renderer reads what it needs in the session it is
given and sends; the dispatcher then marks the prompt sent in that session and
commits. Which kinds exist is decided by the flows that register renderers in
``bot.app``; a kind without a renderer is left for a process that has one.

Sending goes through a dedicated bot whose rate limiter keeps about 30 messages a
second overall and 20 a minute per group (``SendLimiter``). Telegram's ``RetryAfter``
pauses every send of the dispatcher and puts the prompt back for later without
counting an attempt; ``Forbidden`` (the member blocked the bot) marks it unreachable
and the rest of the batch goes on. docs/scheduling.md has the whole design.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
import warnings
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from sqlalchemy.engine import Engine
from sqlmodel import Session
from telegram import Bot
from telegram.error import Forbidden, RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot import metrics
from flows.core.engine import Renderer
from storage import prompts
from storage.db import one_writer, session_scope, utcnow
from storage.models import Prompt

logger = logging.getLogger(__name__)

# Decides, before rendering, whether a claimed prompt may go out now: None sends it, a
# datetime puts it back as pending until then without counting an attempt (quiet hours,
# mute, absence: storage.rhythm.hold_until). Runs in the send's session.
Gate = Callable[[Session, Prompt, datetime], datetime | None]

OVERALL_PER_SECOND = 30
GROUP_PER_MINUTE = 20
# A claim older than this is taken over by another worker: its holder died before marking it.
# Far longer than a send, RetryAfter pauses included.
DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_BATCH = 50
# Sends in flight at once. Each holds a database connection while it sends, so this stays
# well below the engine's pool (5 + 10 overflow), leaving room for the router.
DEFAULT_CONCURRENCY = 4
DEFAULT_IDLE_WAIT = 1.0
MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=1)

JSONDict = dict[str, Any]


def worker_id() -> str:
    """A name for this process's dispatcher, unique across hosts and restarts."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def retry_after_seconds(error: RetryAfter) -> float:
    """How long Telegram asked to wait, in seconds (an int or a timedelta, by PTB setting)."""
    with warnings.catch_warnings():
        # PTB 22 warns that the int form will become a timedelta; both are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: int | timedelta = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class SendLimiter(BaseRateLimiter[None]):
    """Keeps the dispatcher's sends within Telegram's limits: about 30 messages a second
    overall and 20 a minute per group chat; after a ``RetryAfter`` no request leaves
    until the time Telegram asked for has passed (the error still reaches the caller)."""

    def __init__(
        self,
        *,
        overall_per_second: float = OVERALL_PER_SECOND,
        group_per_minute: float = GROUP_PER_MINUTE,
        group_period: float = 60,
    ) -> None:
        """``group_period`` (seconds) is there for tests, which scale a minute down.

        Each limiter is a bucket of one, refilled at the allowed rate: messages leave evenly
        spaced (one every 1/30 s; one every 3 s per group). A bucket of the full rate would
        start full and let twice the limit through in the first second (or minute)."""
        self._overall = AsyncLimiter(1, 1 / overall_per_second)
        self._group_per_minute = group_per_minute
        self._group_period = group_period
        self._groups: dict[int | str, AsyncLimiter] = {}
        self._resume = asyncio.Event()
        self._resume.set()
        self._resume_handle: asyncio.TimerHandle | None = None

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Cancels a pending resume."""
        if self._resume_handle is not None:
            self._resume_handle.cancel()
        self._resume.set()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | JSONDict | list[JSONDict]:
        """Waits for a slot (the group's first, then the overall one) and makes the request."""
        chat_id = data.get("chat_id")
        if chat_id is None:
            return await callback(*args, **kwargs)
        await self._resume.wait()
        group = self._group_limiter(chat_id)
        async with contextlib.AsyncExitStack() as stack:
            if group is not None:
                await stack.enter_async_context(group)
            await stack.enter_async_context(self._overall)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                self.pause(retry_after_seconds(error))
                raise

    def pause(self, seconds: float) -> None:
        """Holds every request back for ``seconds``."""
        self._resume.clear()
        if self._resume_handle is not None:
            self._resume_handle.cancel()
        self._resume_handle = asyncio.get_running_loop().call_later(seconds, self._resume.set)

    def _group_limiter(self, chat_id: int | str) -> AsyncLimiter | None:
        with contextlib.suppress(TypeError, ValueError):
            chat_id = int(chat_id)
        if isinstance(chat_id, int) and chat_id > 0:
            return None  # a private chat: only the overall limit applies
        limiter = self._groups.get(chat_id)
        if limiter is None:
            limiter = self._groups[chat_id] = AsyncLimiter(
                1, self._group_period / self._group_per_minute
            )
        return limiter


class Dispatcher:
    """Claims due prompts and sends them through their kind's renderer, in rounds."""

    def __init__(
        self,
        *,
        bot: Bot,
        engine: Engine,
        renderers: Mapping[str, Renderer],
        now: Callable[[], datetime] = utcnow,
        worker: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        batch: int = DEFAULT_BATCH,
        concurrency: int = DEFAULT_CONCURRENCY,
        idle_wait: float = DEFAULT_IDLE_WAIT,
        gate: Gate | None = None,
    ) -> None:
        self.bot = bot
        self.gate = gate
        self.engine = engine
        self.renderers = dict(renderers)
        self.now = now
        self.worker = worker or worker_id()
        self.lease = lease
        self.batch = batch
        self.idle_wait = idle_wait
        self._slots = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Starts the loop as a task of the running event loop."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="stemme-prompt-dispatcher")
            logger.info(
                "Prompt dispatcher %s started for %s kinds", self.worker, len(self.renderers)
            )

    async def stop(self) -> None:
        """Stops the loop; prompts being sent right now are finished or left to their lease."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        logger.info("Prompt dispatcher %s stopped", self.worker)

    @property
    def running(self) -> bool:
        """Whether the loop's task is alive (for /healthz)."""
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Starts the next round now (a flow just scheduled a prompt that is due)."""
        self._wake.set()

    async def run(self) -> None:
        """Runs rounds until cancelled; waits ``idle_wait`` seconds when nothing was due."""
        while True:
            try:
                handled = await self.run_once()
            except Exception:
                # A database outage must not end the loop; the next round tries again.
                logger.exception("Prompt dispatcher round failed")
                handled = 0
            if handled >= self.batch:
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation
            # that arrives as the wait ends (stop() would then wait for ever).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.idle_wait):
                    await self._wake.wait()
            self._wake.clear()

    async def run_once(self) -> int:
        """Claims one batch of due prompts, sends them, and returns how many it claimed."""
        if not self.renderers:
            return 0
        # In a thread: on SQLite a step that wrote and now waits for Telegram holds the write
        # lock, and waiting for it here would stop the event loop, and with it that step.
        claimed = await asyncio.to_thread(self._claim, self.now())
        if claimed:
            await asyncio.gather(*(self._deliver(prompt) for prompt in claimed))
        return len(claimed)

    def _claim(self, now: datetime) -> list[Prompt]:
        with session_scope(self.engine) as session:
            return prompts.claim_due(
                session=session,
                now=now,
                worker=self.worker,
                limit=self.batch,
                lease=self.lease,
                kinds=self.renderers.keys(),
            )

    async def _deliver(self, prompt: Prompt) -> None:
        # SQLite: one prompt or step works with the database at a time (storage/db.py).
        async with self._slots, one_writer(self.engine):
            await self._send(prompt)

    async def _send(self, prompt: Prompt) -> None:
        assert prompt.id is not None
        renderer = self.renderers[prompt.kind]
        sent = False
        try:
            with session_scope(self.engine) as session:
                now = self.now()
                until = self.gate(session, prompt, now) if self.gate is not None else None
                if until is not None and until > now:
                    prompts.hold(
                        session=session, prompt_id=prompt.id, worker=self.worker, until=until
                    )
                    logger.debug("Prompt %s held until %s", prompt.id, until.isoformat())
                    return
                await renderer(self.bot, prompt, session)
                sent = True
                prompts.mark_sent(
                    session=session, prompt_id=prompt.id, worker=self.worker, now=self.now()
                )
        except Exception as error:
            if sent:
                # Telegram has the message; only the mark was lost. The lease runs out and
                # the prompt is sent again: the at-least-once window in docs/scheduling.md.
                logger.error(
                    "Prompt %s was sent but not marked (%s)", prompt.id, type(error).__name__
                )
                return
            self._record_failure(prompt, error)
            return
        metrics.PROMPTS.inc(kind=prompt.kind, status="sent")
        metrics.QUEUE_DELAY.observe(max((self.now() - prompt.due_at).total_seconds(), 0.0))
        logger.debug("Prompt %s (%s) sent", prompt.id, prompt.kind)

    def _record_failure(self, prompt: Prompt, error: Exception) -> None:
        assert prompt.id is not None
        name = type(error).__name__
        status = {RetryAfter: "postponed", Forbidden: "unreachable"}.get(type(error), "failed")
        metrics.PROMPTS.inc(kind=prompt.kind, status=status)
        with session_scope(self.engine) as session:
            if isinstance(error, RetryAfter):
                seconds = retry_after_seconds(error)
                logger.warning("Prompt %s postponed %ss by Telegram", prompt.id, seconds)
                prompts.postpone(
                    session=session,
                    prompt_id=prompt.id,
                    worker=self.worker,
                    due_at=self.now() + timedelta(seconds=seconds),
                    error=name,
                )
            elif isinstance(error, Forbidden):
                logger.info("Prompt %s: member %s is unreachable", prompt.id, prompt.member_id)
                prompts.mark_unreachable(
                    session=session, prompt_id=prompt.id, worker=self.worker, error=name
                )
            else:
                attempts = prompt.attempts + 1
                retry_at = (
                    self.now() + RETRY_BASE * 2 ** (attempts - 1)
                    if attempts < MAX_ATTEMPTS
                    else None
                )
                logger.warning(
                    "Prompt %s (%s) failed, attempt %s: %s", prompt.id, prompt.kind, attempts, name
                )
                prompts.mark_failed(
                    session=session,
                    prompt_id=prompt.id,
                    worker=self.worker,
                    error=name,
                    retry_at=retry_at,
                )
