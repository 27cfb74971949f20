"""Telegram's and the network's faults: the Bot API request that repeats what is safe to
repeat, and counts every failure by kind for ``/metrics``.

Which calls are repeated, and why:

- **429 Too Many Requests** (``RetryAfter``): Telegram did not carry the call out. It is
  repeated after the time Telegram asked for, as long as the waits of one call stay within
  ``max_wait`` (a step must finish well before a webhook's delivery times out); past that
  the error reaches the step as before.
- **5xx** and **connection failures** (refused, connect or pool timeouts): the request did
  not reach Telegram or Telegram failed it: repeated with exponential backoff, up to
  ``attempts`` times.
- **Read and write timeouts** and a connection dropped mid-request: the request may have
  arrived and been carried out. ``sendMessage`` has no idempotency key, so repeating it
  could post the message twice; only calls that are safe to repeat (``get*``, ``set*``,
  ``deleteWebhook``, ``deleteMyCommands``) are repeated, every other call fails as before
  (the router rolls the step back and apologises).
- **ChatMigrated** (a group became a supergroup): the call was refused, so it is repeated
  once to the new chat id, also without ``retry`` (the dispatcher's bot); the chat ids are
  logged (a group's id is not personal data). ``flows/loop/groups.py`` stores the new id when
  the migration's service message arrives.
- **Forbidden** (a user blocked the bot or deleted their account) and **BadRequest** are
  never repeated: they are only counted, and the caller handles them.
- The **command menu** calls (``setMyCommands``, ``deleteMyCommands``,
  ``setChatMenuButton``) are never repeated: the bot already runs on without them and
  sets them again later, and waiting for them would delay the member's answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from telegram.error import TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot import metrics
from bot.transport import NOT_SENT, AiohttpRequest
from storage.db import waiting

logger = logging.getLogger(__name__)

DEFAULT_ATTEMPTS = 3
DEFAULT_BACKOFF = 0.5
# The longest a call waits for Telegram's retry-after in all, in seconds.
DEFAULT_MAX_WAIT = 20.0
SAFE_PREFIXES = ("get", "set")
SAFE_METHODS = frozenset({"deletewebhook", "deletemycommands"})
# Cosmetic calls the bot runs on without: never worth delaying an answer for.
NOT_REPEATED = frozenset({"setmycommands", "deletemycommands", "setchatmenubutton"})


def safe_to_repeat(method: str) -> bool:
    """Whether repeating ``method`` after an unknown outcome cannot do anything twice."""
    lowered = method.lower()
    return lowered.startswith(SAFE_PREFIXES) or lowered in SAFE_METHODS


def classify(code: int, payload: bytes) -> tuple[str, float | None, int | None]:
    """The kind of a failed response, Telegram's retry-after and a migrated chat's new id."""
    parameters: dict[str, Any] = {}
    try:
        body = json.loads(payload.decode("utf-8", "replace"))
        if isinstance(body, dict) and isinstance(body.get("parameters"), dict):
            parameters = body["parameters"]
    except ValueError:
        pass
    if parameters.get("migrate_to_chat_id"):
        return "ChatMigrated", None, int(parameters["migrate_to_chat_id"])
    if code == 429 or parameters.get("retry_after"):
        return "RetryAfter", float(parameters.get("retry_after") or 1), None
    if code == 403:
        return "Forbidden", None, None
    if code == 400:
        return "BadRequest", None, None
    if code >= 500:
        return "5xx", None, None
    return str(code), None, None


class TelegramRequest(AiohttpRequest):
    """The Bot API transport (``bot/transport.py``) that counts failures and, with ``retry``,
    repeats what is safe."""

    def __init__(
        self,
        *,
        retry: bool = True,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
        max_wait: float = DEFAULT_MAX_WAIT,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.retry = retry
        self.attempts = attempts
        self.backoff = backoff
        self.max_wait = max_wait

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Makes the request; repeats it after faults where that is safe (module docstring)."""
        endpoint = url.rsplit("/", 1)[-1]
        retry = self.retry and endpoint.lower() not in NOT_REPEATED
        repeated = 0
        waited = 0.0
        migrated = False
        while True:
            try:
                code, payload = await super().do_request(
                    url,
                    method,
                    request_data,
                    read_timeout,
                    write_timeout,
                    connect_timeout,
                    pool_timeout,
                )
            except TelegramError as error:
                kind = "TimedOut" if isinstance(error, TimedOut) else "NetworkError"
                metrics.TELEGRAM_ERRORS.inc(kind=kind)
                not_sent = isinstance(error.__cause__, NOT_SENT)
                if retry and repeated < self.attempts and (not_sent or safe_to_repeat(endpoint)):
                    repeated += 1
                    await self._pause(kind, endpoint, self.backoff * 2 ** (repeated - 1))
                    continue
                raise
            if code < 400:
                return code, payload
            kind, retry_after, new_chat_id = classify(code, payload)
            metrics.TELEGRAM_ERRORS.inc(kind=kind)
            if not retry and kind != "ChatMigrated":
                return code, payload
            if kind == "RetryAfter" and retry_after is not None:
                if waited + retry_after <= self.max_wait:
                    waited += retry_after
                    await self._pause(kind, endpoint, retry_after)
                    continue
            elif kind == "5xx" and repeated < self.attempts:
                repeated += 1
                await self._pause(kind, endpoint, self.backoff * 2 ** (repeated - 1))
                continue
            elif kind == "ChatMigrated" and new_chat_id is not None and not migrated:
                moved = _with_chat_id(request_data, new_chat_id)
                if moved is not None:
                    logger.warning(
                        "%s: chat %s became supergroup %s; sent there",
                        endpoint,
                        _chat_id(request_data),
                        new_chat_id,
                    )
                    migrated = True
                    request_data = moved
                    metrics.TELEGRAM_RETRIES.inc(kind=kind)
                    continue
            return code, payload

    async def _pause(self, kind: str, endpoint: str, seconds: float) -> None:
        metrics.TELEGRAM_RETRIES.inc(kind=kind)
        logger.info("%s failed (%s); repeating in %.1f s", endpoint, kind, seconds)
        async with waiting():  # on SQLite, other steps may work meanwhile (storage/db.py)
            await asyncio.sleep(seconds)


def _chat_id(request_data: RequestData | None) -> Any:
    return request_data.parameters.get("chat_id") if request_data else None


def _with_chat_id(request_data: RequestData | None, chat_id: int) -> RequestData | None:
    """The same request addressed to ``chat_id``, or None when it names no chat."""
    if request_data is None or "chat_id" not in request_data.parameters:
        return None
    # RequestData has no public way to rebuild it with one parameter changed.
    parameters = [
        RequestParameter.from_input("chat_id", chat_id)
        if parameter.name == "chat_id"
        else parameter
        for parameter in request_data._parameters
    ]
    return RequestData(parameters)
