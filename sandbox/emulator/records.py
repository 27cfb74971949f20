"""What the emulator keeps: files, API calls, messages, reactions, and its pending faults,
delays and webhook."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.emulator.wire import _EDIT_METHODS, _SEND_METHODS, JSONDict


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request, as the bot uploaded it."""

    filename: str | None
    mime_type: str | None
    data: bytes


@dataclass(frozen=True)
class StoredFile:
    """A file the emulator knows: uploaded by the bot, or sent by a user."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    filename: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        """The size in bytes."""
        return len(self.data)

    @property
    def text(self) -> str:
        """The content decoded as UTF-8 (for .ics, .csv, ... attachments)."""
        return self.data.decode("utf-8")

    def as_file(self) -> JSONDict:
        """The Document/Voice/... object fields Telegram sends for this file."""
        result: JSONDict = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.filename is not None:
            result["file_name"] = self.filename
        if self.mime_type is not None:
            result["mime_type"] = self.mime_type
        return result

    def as_photo_size(self) -> JSONDict:
        """The PhotoSize object for this file."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "width": self.width or 1,
            "height": self.height or 1,
        }


@dataclass(eq=False)
class ApiCall:
    """One HTTP request to the emulator.

    ``time`` and ``finished_at`` are :func:`time.monotonic` values; ``status`` is the HTTP status
    returned (``None`` while the request is in progress or when the client went away first).
    ``message`` is the message a successful send/edit produced.
    """

    method: str
    params: JSONDict
    time: float
    status: int | None = None
    response: JSONDict | None = None
    finished_at: float | None = None
    cancelled: bool = False
    message: EmuMessage | None = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded (HTTP 200)."""
        return self.status == 200

    @property
    def result(self) -> Any:
        """The ``result`` of a successful call, else ``None``."""
        return self.response.get("result") if self.response else None

    @property
    def error(self) -> str | None:
        """The error description of a failed call, else ``None``."""
        if self.response and not self.response.get("ok"):
            return str(self.response.get("description"))
        return None

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.params.items() if not isinstance(v, UploadedFile)}
        return f"<ApiCall {self.method} {self.status} {shown!r}>"


@dataclass(frozen=True, eq=False)
class EmuMessage:
    """A message in an emulated chat (a snapshot: edits produce a new object).

    ``raw`` is the Message object as Telegram sends it; ``markup`` the reply_markup as the bot
    sent it (reply keyboards included, which Telegram does not echo back in ``raw``).
    """

    raw: JSONDict
    from_bot: bool
    html: str
    markup: JSONDict | None = None
    document: StoredFile | None = None
    photo: StoredFile | None = None
    voice: StoredFile | None = None

    @property
    def message_id(self) -> int:
        """The message id (per chat)."""
        return int(self.raw["message_id"])

    @property
    def chat_id(self) -> int:
        """The id of the chat the message is in."""
        return int(self.raw["chat"]["id"])

    @property
    def date(self) -> int:
        """The Unix time the message was sent."""
        return int(self.raw["date"])

    @property
    def sender_id(self) -> int | None:
        """The id of the sender (the bot for bot messages)."""
        sender = self.raw.get("from")
        return int(sender["id"]) if sender else None

    @property
    def text(self) -> str:
        """The plain text (or caption) with markup removed; ``""`` when there is none."""
        return str(self.raw.get("text", self.raw.get("caption", "")))

    @property
    def caption(self) -> str | None:
        """The plain caption of a media message."""
        caption = self.raw.get("caption")
        return None if caption is None else str(caption)

    @property
    def entities(self) -> list[JSONDict]:
        """The text (or caption) entities."""
        entities: list[JSONDict] = (
            self.raw.get("entities") or self.raw.get("caption_entities") or []
        )
        return list(entities)

    @property
    def edited(self) -> bool:
        """Whether the message has been edited."""
        return "edit_date" in self.raw

    @property
    def inline_keyboard(self) -> list[list[JSONDict]]:
        """The inline keyboard rows (raw button objects); empty when there is none."""
        markup = self.raw.get("reply_markup") or {}
        return [list(row) for row in markup.get("inline_keyboard", [])]

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard rows of ``(text, callback_data or url)``."""
        return [
            [(str(b["text"]), b.get("callback_data", b.get("url"))) for b in row]
            for row in self.inline_keyboard
        ]

    @property
    def button_texts(self) -> list[str]:
        """The texts of all inline buttons, row by row."""
        return [text for row in self.buttons for text, _ in row]

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """The rows of a reply keyboard sent with the message, else ``None``."""
        if not self.markup or "keyboard" not in self.markup:
            return None
        return [
            [b if isinstance(b, str) else str(b["text"]) for b in row]
            for row in self.markup["keyboard"]
        ]

    @property
    def removes_keyboard(self) -> bool:
        """Whether the message was sent with ``ReplyKeyboardRemove``."""
        return bool(self.markup and self.markup.get("remove_keyboard"))

    @property
    def force_reply(self) -> bool:
        """Whether the message was sent with ``ForceReply``."""
        return bool(self.markup and self.markup.get("force_reply"))

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else f"user {self.sender_id}"
        buttons = f" buttons={self.button_texts!r}" if self.inline_keyboard else ""
        return f"<EmuMessage {self.chat_id}/{self.message_id} from {who}: {self.text!r}{buttons}>"


class Reaction:
    """What the bot did in response to injected update(s): the API calls it made."""

    def __init__(self, updates: list[JSONDict], calls: list[ApiCall]) -> None:
        self.updates = updates
        self.calls = calls

    @property
    def update(self) -> JSONDict:
        """The (first) injected update."""
        return self.updates[0]

    @property
    def update_id(self) -> int:
        """The id of the (first) injected update."""
        return int(self.updates[0]["update_id"])

    @property
    def messages(self) -> list[EmuMessage]:
        """The messages the bot sent successfully, as sent."""
        return [c.message for c in self.calls if c.ok and c.method in _SEND_METHODS and c.message]

    @property
    def message(self) -> EmuMessage:
        """The last message the bot sent; AssertionError when it sent none."""
        if not self.messages:
            raise AssertionError(f"the bot sent no message; calls: {self.calls!r}")
        return self.messages[-1]

    @property
    def edits(self) -> list[EmuMessage]:
        """The messages as they looked after each successful edit."""
        return [c.message for c in self.calls if c.ok and c.method in _EDIT_METHODS and c.message]

    @property
    def deletions(self) -> list[tuple[int, int]]:
        """``(chat_id, message_id)`` of every message deleted successfully."""
        deleted: list[tuple[int, int]] = []
        for call in self.calls:
            if not call.ok:
                continue
            if call.method == "deleteMessage":
                deleted.append((int(call.params["chat_id"]), int(call.params["message_id"])))
            elif call.method == "deleteMessages":
                deleted.extend(
                    (int(call.params["chat_id"]), int(m)) for m in call.params["message_ids"]
                )
        return deleted

    @property
    def answer(self) -> JSONDict | None:
        """The parameters of the first successful answerCallbackQuery, if any."""
        for call in self.calls:
            if call.ok and call.method == "answerCallbackQuery":
                return call.params
        return None

    @property
    def alert(self) -> str | None:
        """The callback answer text when it was shown as an alert."""
        answer = self.answer
        if answer and answer.get("show_alert"):
            return str(answer.get("text", ""))
        return None

    @property
    def errors(self) -> list[ApiCall]:
        """The calls that failed."""
        return [c for c in self.calls if c.status is not None and not c.ok]

    @property
    def text(self) -> str:
        """All texts of sent and edited messages, joined with newlines."""
        return "\n".join(
            c.message.text
            for c in self.calls
            if c.ok and c.message and c.method in _SEND_METHODS | _EDIT_METHODS
        )

    def __repr__(self) -> str:
        return f"<Reaction to update {self.update_id}: {self.calls!r}>"


@dataclass
class _Fault:
    error_code: int
    description: str
    parameters: JSONDict | None


@dataclass
class _Delay:
    seconds: float
    execute_first: bool


Handler = Callable[[JSONDict, ApiCall], Awaitable[Any]]


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)
