"""The emulator's state and its test-side API: users, chats, injected updates, waiting for the
bot's reaction, faults to inject."""

# The test-side API takes ``timeout=`` (seconds to wait for the bot) by design.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import itertools
import mimetypes
import time
from collections import deque
from collections.abc import Callable

import aiohttp
from aiohttp import web

from sandbox.emulator.actors import EmuChat, EmuUser
from sandbox.emulator.records import (
    ApiCall,
    EmuMessage,
    Reaction,
    StoredFile,
    _Delay,
    _Fault,
    _Webhook,
)
from sandbox.emulator.wire import (
    _DEFAULT_DESCRIPTIONS,
    DEFAULT_TOKEN,
    DEFAULT_USERNAME,
    ApiError,
    JSONDict,
    _bad_request,
    _commands_key,
    _int_param,
    _png_size,
)


class EmulatorBase:
    """The state every part of the emulator shares, and what tests and the sandbox drive."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        username: str = DEFAULT_USERNAME,
        *,
        first_name: str = "Stemme",
        settle: float = 0.15,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        bot_id, _, secret = token.partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError(f"malformed bot token {token!r}")
        self.token = token
        self.bot_id = int(bot_id)
        self.username = username
        self.first_name = first_name
        self.settle = settle
        self.timeout = timeout
        self.clock = clock

        self.calls: list[ApiCall] = []
        self.updates: list[JSONDict] = []
        self.users: dict[int, EmuUser] = {}
        self.chats: dict[int, EmuChat] = {}
        self.blocked: set[int] = set()
        self.files: dict[str, StoredFile] = {}
        self.callback_answers: dict[str, JSONDict] = {}
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.default_menu_button: JSONDict = {"type": "commands"}
        # setMyName/setMyDescription/setMyShortDescription: (field, language_code) -> value
        self.profile: dict[tuple[str, str], str] = {}

        self._queue: list[JSONDict] = []
        self._delivered: dict[int, tuple[int, float]] = {}
        self._last_delivery = 0.0
        self._next_update_id = 100_001
        self._poll_generation = 0
        self._callback_queries: dict[str, bool] = {}
        self._file_counter = itertools.count(1)
        self._query_counter = itertools.count(1)
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, deque[_Delay]] = {}
        self._webhook: _Webhook | None = None
        # Webhook delivery mode for several workers: where each update is posted, and what
        # every POST to a webhook answered (update_id, url, status or None on no answer).
        self.webhook_router: Callable[[JSONDict], str] | None = None
        self.webhook_deliveries: list[tuple[int, str, int | None]] = []
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """The ``base_url`` for PTB: ``http://127.0.0.1:PORT/bot``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """The ``base_file_url`` for PTB: ``http://127.0.0.1:PORT/file/bot``."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def webhook_url(self) -> str | None:
        """The webhook URL set by the bot, if any."""
        return self._webhook.url if self._webhook else None

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by the bot (getUpdates offset) or accepted by its webhook."""
        return list(self._queue)

    def user(
        self,
        user_id: int,
        first_name: str,
        *,
        language_code: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
    ) -> EmuUser:
        """A user with a private chat (chat id == user id); the same object for the same id."""
        if user_id in self.users:
            return self.users[user_id]
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = EmuUser(
            self,
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        self.users[user_id] = user
        self.chats[user_id] = EmuChat(
            self,
            user_id,
            "private",
            first_name=first_name,
            last_name=last_name,
            username=username,
        )
        return user

    def group(self, chat_id: int, title: str, *, bot_is_admin: bool = False) -> EmuChat:
        """A (non-super) group chat the bot is a member of."""
        if chat_id in self.chats:
            return self.chats[chat_id]
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat = EmuChat(self, chat_id, "group", title=title, bot_is_admin=bot_is_admin)
        self.chats[chat_id] = chat
        return chat

    def chat(self, chat_id: int) -> EmuChat:
        """The chat with that id (AssertionError when unknown)."""
        if chat_id not in self.chats:
            raise AssertionError(f"unknown chat {chat_id}")
        return self.chats[chat_id]

    def block(self, user_id: int) -> None:
        """The user blocks the bot: sends to their private chat fail with 403."""
        self.blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        """The user unblocks the bot."""
        self.blocked.discard(user_id)

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str | None = None,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls of ``method`` fail with that error.

        ``retry_after`` / ``migrate_to_chat_id`` go into the response ``parameters`` (PTB raises
        ``RetryAfter`` / ``ChatMigrated``).
        """
        parameters: JSONDict = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {retry_after or 1}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(error_code, "Error")
        fault = _Fault(error_code, description, parameters or None)
        self._faults.setdefault(method.lower(), deque()).extend([fault] * times)

    def delay_next(
        self, method: str, seconds: float, *, times: int = 1, execute_first: bool = False
    ) -> None:
        """The next ``times`` calls of ``method`` take ``seconds`` longer.

        By default the delay comes before the call is processed (a client that gives up first
        changes nothing); with ``execute_first`` the call takes effect and only the response is
        late, like a slow network.
        """
        self._delays.setdefault(method.lower(), deque()).extend(
            [_Delay(seconds, execute_first)] * times
        )

    def calls_for(self, method: str) -> list[ApiCall]:
        """The recorded calls of ``method`` (case-insensitive)."""
        wanted = method.lower()
        return [c for c in self.calls if c.method.lower() == wanted]

    def commands_for(
        self, scope: JSONDict | None = None, language_code: str | None = None
    ) -> list[JSONDict]:
        """The commands stored by setMyCommands for that scope and language (exact match)."""
        return copy.deepcopy(self.commands.get(_commands_key(scope, language_code), []))

    async def inject_update(
        self,
        body: JSONDict,
        *,
        settle: float | None = None,
        timeout: float | None = None,
        expect_reaction: bool = True,
    ) -> Reaction:
        """Injects a raw update (``update_id`` is added) and waits for the reaction."""
        update = self._enqueue(copy.deepcopy(body))
        return await self._await_reaction(
            [update], settle=settle, timeout=timeout, expect_reaction=expect_reaction
        )

    async def wait_idle(self, settle: float | None = None, timeout: float | None = None) -> None:
        """Waits until every update is delivered and the bot is quiet for ``settle`` seconds."""
        settle = self.settle if settle is None else settle
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            now = time.monotonic()
            undelivered = [u for u in self._queue if u["update_id"] not in self._delivered]
            calls = [c for c in self.calls if c.method != "getUpdates"]
            busy = any(c.finished_at is None for c in calls)
            last = max([self._last_delivery, *(c.finished_at or c.time for c in calls)])
            if not undelivered and not busy and now - last >= settle:
                return
            if now >= deadline:
                raise AssertionError(
                    f"the emulator did not become idle: undelivered updates "
                    f"{[u['update_id'] for u in undelivered]}, calls in progress: "
                    f"{[c for c in calls if c.finished_at is None]!r}"
                )
            wait = deadline - now if busy or undelivered else settle - (now - last)
            await self._wait_change(min(wait, deadline - now))

    async def wait_for_change(self, seconds: float) -> None:
        """Waits until anything changes (a call, a message, an update, a delivery) or
        ``seconds`` pass; the sandbox's web chat long-polls with it."""
        await self._wait_change(seconds)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, seconds: float) -> None:
        """Waits until the state changes (a call, an update, a delivery) or ``seconds`` pass."""
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=max(seconds, 0.0))

    def _enqueue(self, body: JSONDict) -> JSONDict:
        update: JSONDict = {"update_id": self._next_update_id, **body}
        self._next_update_id += 1
        self._queue.append(update)
        self.updates.append(update)
        self._notify()
        return update

    def _mark_delivered(self, update_id: int, since: tuple[int, float] | None = None) -> None:
        """``since``: (number of calls, time) when the delivery began; a webhook that
        processes the update before answering makes its calls during the request."""
        now = time.monotonic()
        self._delivered.setdefault(update_id, since or (len(self.calls), now))
        self._last_delivery = now
        self._notify()

    async def _await_reaction(
        self,
        updates: list[JSONDict],
        *,
        settle: float | None,
        timeout: float | None,
        expect_reaction: bool,
    ) -> Reaction:
        settle = self.settle if settle is None else settle
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        ids = [int(u["update_id"]) for u in updates]
        while not all(i in self._delivered for i in ids):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = self.calls[-5:]
                raise AssertionError(
                    f"the bot did not react to update {ids[-1]}: it was not fetched with "
                    f"getUpdates nor accepted by a webhook within {timeout:g} s "
                    f"(webhook: {self.webhook_url}; last calls: {recent!r})"
                )
            await self._wait_change(remaining)
        start_index, start_time = min(self._delivered[i] for i in ids)
        while True:
            now = time.monotonic()
            calls = [c for c in self.calls[start_index:] if c.method != "getUpdates"]
            if expect_reaction and not calls:
                if now >= deadline:
                    raise AssertionError(
                        f"the bot did not react to update {ids[-1]}: it was delivered but the "
                        f"bot made no API call within {timeout:g} s"
                    )
                await self._wait_change(deadline - now)
                continue
            busy = any(c.finished_at is None for c in calls)
            last = max([start_time, *(c.finished_at or c.time for c in calls)])
            quiet = now - last
            if (not busy and quiet >= settle) or now >= deadline:
                return Reaction(updates, calls)
            wait = deadline - now if busy else settle - quiet
            await self._wait_change(min(wait, deadline - now))

    def _new_user_message(
        self, user: EmuUser | None, chat: EmuChat, content: JSONDict, *, store: bool
    ) -> EmuMessage:
        raw: JSONDict = {"message_id": chat.take_message_id()}
        if user is not None:
            raw["from"] = user.as_dict()
        raw.update({"chat": chat.as_dict(), "date": int(self.clock()), **content})
        text = raw.get("text", raw.get("caption", ""))
        document = self.files.get(raw["document"]["file_id"]) if "document" in raw else None
        voice = self.files.get(raw["voice"]["file_id"]) if "voice" in raw else None
        photo = self.files.get(raw["photo"][-1]["file_id"]) if "photo" in raw else None
        message = EmuMessage(
            raw=raw,
            from_bot=False,
            html=html.escape(str(text), quote=False),
            document=document,
            voice=voice,
            photo=photo,
        )
        if store:
            chat.messages[message.message_id] = message
        return message

    def _new_callback_query_id(self, user_id: int) -> str:
        query_id = f"{user_id}{next(self._query_counter):08d}"
        self._callback_queries[query_id] = False
        return query_id

    def _store_file(
        self,
        kind: str,
        data: bytes,
        filename: str | None,
        mime_type: str | None,
    ) -> StoredFile:
        number = next(self._file_counter)
        extension = ""
        if filename and "." in filename:
            extension = "." + filename.rsplit(".", 1)[1]
        elif mime_type:
            extension = mimetypes.guess_extension(mime_type) or ""
        width, height = _png_size(data) if kind == "photo" else (None, None)
        stored = StoredFile(
            file_id=f"EMU-{kind}-{number:06d}",
            file_unique_id=f"emu{number:06d}",
            kind=kind,
            data=data,
            file_path=f"{kind}s/file_{number}{extension}",
            filename=filename,
            mime_type=mime_type,
            width=width,
            height=height,
        )
        self.files[stored.file_id] = stored
        return stored

    def _chat_for(self, params: JSONDict, *, sending: bool) -> EmuChat:
        value = params.get("chat_id")
        if value is None or value == "":
            raise _bad_request("chat_id is empty")
        chat: EmuChat | None
        if isinstance(value, str) and value.startswith("@"):
            chat = next((c for c in self.chats.values() if c.username == value[1:]), None)
        elif isinstance(value, int) and not isinstance(value, bool):
            chat = self.chats.get(value)
        else:
            chat = None
        if chat is None:
            raise _bad_request("chat not found")
        if chat.migrated_to is not None:
            raise _bad_request(
                "group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if not chat.bot_is_member:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        if sending and chat.type == "private" and chat.id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _message_for(self, chat: EmuChat, params: JSONDict, missing: str) -> EmuMessage:
        if params.get("inline_message_id"):
            raise _bad_request("inline messages are not supported by the emulator")
        message_id = _int_param(params, "message_id")
        message = chat.messages.get(message_id)
        if message is None:
            raise _bad_request(missing)
        return message

    def _bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }
