"""The Bot API emulator of the end-to-end tests, driven by many members at once.

``EmuUser.send``/``press`` wait until the whole bot is quiet for ``settle`` seconds,
which is right for a test with one user and serialises a benchmark with hundreds.
:class:`BenchEmulator` adds ``post_text``/``post_press``: they put the same update in
the queue (through the emulator's own helpers, so the chat holds the message and the
callback query id is known, as with ``send``/``press``) and return its ``update_id``
at once. Who waits for what is decided by the caller: the bot process's own report
(``bench/botproc.py``), or ``expect_reaction`` for a bot that reports nothing
(``python -m bot run``), which wakes when the bot next calls a method for that chat.
This uses the emulator's private helpers and wraps its method table per instance, to
observe calls; ``sandbox/emulator/`` itself is unchanged.
"""

from __future__ import annotations

import asyncio
import copy
import random
import re
import time

from sandbox.emulator import ApiCall, BotApiEmulator, EmuMessage, EmuUser, utf16_len
from sandbox.emulator.records import Handler
from sandbox.emulator.wire import JSONDict

TOKEN = "123456:BENCH-TOKEN"
USERNAME = "stemme_bench_bot"


class ButtonMissing(LookupError):
    """The member looked for a button the bot had not shown."""


class BenchEmulator(BotApiEmulator):
    """The end-to-end emulator plus updates injected without waiting for a reaction."""

    def __init__(self, *, first_update_id: int = 100_001) -> None:
        super().__init__(token=TOKEN, username=USERNAME)
        # Telegram never repeats an update id: a later run on the same database starts
        # after the earlier runs' ids, or the bot would skip its updates as processed.
        self._next_update_id = first_update_id
        self._scanned = 0
        self._in_flight: dict[int, ApiCall] = {}
        self._last_reaction = 0.0
        self._chat_waiters: dict[int, asyncio.Future[None]] = {}
        for key, (name, handler) in list(self._handlers.items()):
            if name != "getUpdates":
                self._handlers[key] = (name, self._observed(handler))

    def _observed(self, handler: Handler) -> Handler:
        """The handler, followed by waking whoever waits for a call naming that chat."""

        async def observed(params: JSONDict, call: ApiCall) -> object:
            try:
                return await handler(params, call)
            finally:
                chat_id = params.get("chat_id")
                waiter = (
                    self._chat_waiters.pop(chat_id, None) if isinstance(chat_id, int) else None
                )
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

        return observed

    def expect_reaction(self, chat_id: int) -> asyncio.Future[None]:
        """A future that is done when the bot next calls a method naming ``chat_id``
        (sends, edits, deletes); ask for it before injecting the update."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._chat_waiters[chat_id] = waiter
        return waiter

    def post_text(self, user: EmuUser, text: str) -> int:
        """Queues a text message from the user in their private chat; returns the update id."""
        content: JSONDict = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        message = self._new_user_message(user, user.chat, content, store=True)
        return int(self._enqueue({"message": message.raw})["update_id"])

    def post_press(self, user: EmuUser, message: EmuMessage, data: str) -> int:
        """Queues a press of a button with ``data`` on ``message``; returns the update id."""
        query = {
            "id": self._new_callback_query_id(user.id),
            "from": user.as_dict(),
            "message": copy.deepcopy(message.raw),
            "chat_instance": str(user.id),
            "data": data,
        }
        return int(self._enqueue({"callback_query": query})["update_id"])

    async def __aenter__(self) -> BenchEmulator:
        await self.start()
        return self

    async def wait_quiet(self, *, quiet: float = 1.0, patience: float = 600.0) -> float:
        """Waits until every update was fetched and the bot made no call for ``quiet``
        seconds; returns the time its last call finished. Scans ``calls`` incrementally,
        so it stays cheap with tens of thousands of calls."""
        deadline = time.monotonic() + patience
        while True:
            for call in self.calls[self._scanned :]:
                if call.method != "getUpdates":
                    self._in_flight[id(call)] = call
            self._scanned = len(self.calls)
            for call in list(self._in_flight.values()):
                if call.finished_at is not None:
                    del self._in_flight[id(call)]
                    self._last_reaction = max(self._last_reaction, call.finished_at)
            now = time.monotonic()
            pending = bool(self.pending_updates)
            if not pending and not self._in_flight and now - self._last_reaction >= quiet:
                return self._last_reaction
            if now > deadline:
                raise TimeoutError(
                    f"the bot did not go quiet: {len(self.pending_updates)} updates pending, "
                    f"{len(self._in_flight)} calls in progress"
                )
            await asyncio.sleep(0.1)

    async def wait_polling(self, since: int, *, patience: float = 60.0) -> None:
        """Waits until the bot fetches updates (more than ``since`` ``getUpdates`` calls)."""
        deadline = time.monotonic() + patience
        while len(self.calls_for("getUpdates")) <= since:
            if time.monotonic() > deadline:
                raise TimeoutError("the bot did not start polling")
            await asyncio.sleep(0.05)


def find_button(
    user: EmuUser, pattern: re.Pattern[str], rng: random.Random
) -> tuple[EmuMessage, str]:
    """The newest bot message in the user's chat with a button whose callback data matches
    ``pattern``, and one such button's data (chosen at random when several match)."""
    for message in reversed(user.chat.bot_messages()):
        matching = [
            str(button["callback_data"])
            for row in message.inline_keyboard
            for button in row
            if "callback_data" in button and pattern.fullmatch(str(button["callback_data"]))
        ]
        if matching:
            return message, rng.choice(matching)
    shown = [m.buttons for m in user.chat.bot_messages()[-3:]]
    raise ButtonMissing(f"no button matching {pattern.pattern!r}; last buttons: {shown!r}")


def newest_bot_message(user: EmuUser) -> EmuMessage:
    """The newest bot message in the user's chat (something to press a forged button on)."""
    message = user.chat.last_bot_message()
    if message is None:
        raise ButtonMissing("the bot has sent nothing to this member yet")
    return message
