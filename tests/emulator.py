"""An in-process emulator of the Telegram Bot API for end-to-end tests.

:class:`BotApiEmulator` is a small aiohttp server on ``127.0.0.1`` (random free port) that
answers ``/bot<token>/<method>`` and ``/file/bot<token>/<file_path>`` the way the real Bot API
does, closely enough that an unmodified python-telegram-bot ``Application`` built with
``.base_url(emu.base_url).base_file_url(emu.base_file_url)`` works against it, in polling or
in webhook mode, in this process or in a subprocess.

The test side drives it in-process::

    async with BotApiEmulator() as emu:
        anna = emu.user(1001, "Anna", language_code="da")
        reaction = await anna.send("/start")
        assert "Velkommen" in reaction.text
        reaction = await anna.press("Dansk")
        assert reaction.answer is not None

Every user action injects one update, waits until the bot fetched it (``getUpdates``) or the
webhook accepted it, and then collects the API calls the bot made until it went quiet for
``settle`` seconds: a :class:`Reaction`. ``getUpdates`` polls are not part of a reaction; file
downloads are recorded in ``emu.calls`` with the method name ``"file"``. Methods the emulator
does not implement answer 404 "Not Found: method not found" (and are recorded), like Telegram
does for unknown methods.

Only what the bot needs is emulated; ``parse_mode`` ``HTML`` is parsed into entities like
Telegram does (unsupported or unbalanced tags are a 400), other parse modes keep the text as is.
"""

# The test-side API takes ``timeout=`` (seconds to wait for the bot) by design.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import html
import itertools
import json
import mimetypes
import re
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "123456:TEST-TOKEN"
DEFAULT_USERNAME = "stemme_test_bot"

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_CALLBACK_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"

# Parameters whose form value is a JSON-encoded string (see telegram.request.RequestParameter).
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "media",
        "allowed_updates",
        "message_ids",
        "menu_button",
        "link_preview_options",
        "reply_parameters",
        "results",
        "permissions",
        "reaction",
        "options",
    }
)
_INT_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "reply_to_message_id",
        "message_thread_id",
        "duration",
        "from_chat_id",
        "cache_time",
        "max_connections",
        "width",
        "height",
        "until_date",
        "retry_after",
    }
)
_FLOAT_PARAMS = frozenset({"latitude", "longitude", "horizontal_accuracy", "timeout"})
_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "has_spoiler",
        "disable_content_type_detection",
        "revoke_messages",
        "show_caption_above_media",
        "allow_paid_broadcast",
    }
)
_INT_RE = re.compile(r"-?\d+")
_URL_RE = re.compile(r"(https?|tg)://\S+", re.IGNORECASE)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "web_app",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_SEND_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto", "sendVoice"})
_EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_FAKE_OGG = b"OggS\x00\x02" + bytes(58)
_FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32) + b"\xff\xd9"


class ApiError(Exception):
    """A Bot API error response: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(
        self, error_code: int, description: str, parameters: JSONDict | None = None
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        """The JSON body Telegram sends for this error."""
        body: JSONDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(reason: str, parameters: JSONDict | None = None) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}", parameters)


def utf16_len(text: str) -> int:
    """The length of ``text`` in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------------
# Recorded data
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Chats and users
# --------------------------------------------------------------------------------------------


class EmuChat:
    """A chat the emulator knows: a user's private chat, a group or a supergroup."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        chat_id: int,
        chat_type: str,
        *,
        title: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        bot_is_admin: bool = False,
    ) -> None:
        self.emulator = emulator
        self.id = chat_id
        self.type = chat_type
        self.title = title
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.bot_is_admin = bot_is_admin
        self.bot_is_member = True
        self.migrated_to: int | None = None
        self.migrated_from: int | None = None
        self.menu_button: JSONDict | None = None
        self.messages: dict[int, EmuMessage] = {}
        self.deleted: list[int] = []
        self._next_message_id = 1

    def as_dict(self) -> JSONDict:
        """The Chat object."""
        chat: JSONDict = {"id": self.id, "type": self.type}
        if self.type == "private":
            chat["first_name"] = self.first_name
            if self.last_name:
                chat["last_name"] = self.last_name
        else:
            chat["title"] = self.title
        if self.username:
            chat["username"] = self.username
        return chat

    def take_message_id(self) -> int:
        """Allocates the next message id in this chat."""
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    def chat_messages(self) -> list[EmuMessage]:
        """The messages currently in the chat (bot and users), oldest first, edits applied."""
        return list(self.messages.values())

    def bot_messages(self) -> list[EmuMessage]:
        """The bot's messages currently in the chat, oldest first."""
        return [m for m in self.messages.values() if m.from_bot]

    def last_bot_message(self) -> EmuMessage | None:
        """The newest message of the bot in the chat, if any."""
        messages = self.bot_messages()
        return messages[-1] if messages else None

    async def migrate_to_supergroup(
        self,
        new_chat_id: int,
        *,
        by: EmuUser | None = None,
        settle: float | None = None,
        timeout: float | None = None,
        expect_reaction: bool = False,
    ) -> Reaction:
        """Upgrades this group to a supergroup with id ``new_chat_id``.

        The bot gets two updates: a message with ``migrate_to_chat_id`` in this chat and one with
        ``migrate_from_chat_id`` in the new supergroup. Afterwards every call naming the old id
        fails with 400 and ``parameters.migrate_to_chat_id`` (PTB raises ``ChatMigrated``).
        """
        if self.type != "group":
            raise AssertionError(f"only groups can be migrated, chat {self.id} is {self.type}")
        emu = self.emulator
        if new_chat_id in emu.chats:
            raise AssertionError(f"chat {new_chat_id} exists already")
        supergroup = EmuChat(
            emu, new_chat_id, "supergroup", title=self.title, bot_is_admin=self.bot_is_admin
        )
        supergroup.migrated_from = self.id
        emu.chats[new_chat_id] = supergroup
        sender = by or next(iter(emu.users.values()), None)
        old_message = emu._new_user_message(
            sender, self, {"migrate_to_chat_id": new_chat_id}, store=True
        )
        self.migrated_to = new_chat_id
        new_message = emu._new_user_message(
            sender, supergroup, {"migrate_from_chat_id": self.id}, store=True
        )
        updates = [
            emu._enqueue({"message": old_message.raw}),
            emu._enqueue({"message": new_message.raw}),
        ]
        return await emu._await_reaction(
            updates, settle=settle, timeout=timeout, expect_reaction=expect_reaction
        )

    def __repr__(self) -> str:
        return f"<EmuChat {self.type} {self.id} {self.title or self.first_name!r}>"


class EmuUser:
    """A Telegram user who talks to the bot; every action waits for the bot's reaction."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> None:
        self.emulator = emulator
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code

    @property
    def chat(self) -> EmuChat:
        """The private chat with the bot (its id is the user id)."""
        return self.emulator.chats[self.id]

    def as_dict(self) -> JSONDict:
        """The User object."""
        user: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def _chat(self, chat: EmuChat | int | None) -> EmuChat:
        if chat is None:
            return self.chat
        if isinstance(chat, EmuChat):
            return chat
        return self.emulator.chat(chat)

    async def _send_content(
        self,
        content: JSONDict,
        chat: EmuChat | int | None,
        reply_to: int | None,
        settle: float | None,
        timeout: float | None,
        expect_reaction: bool,
    ) -> Reaction:
        emu = self.emulator
        target = self._chat(chat)
        if target.migrated_to is not None:
            raise AssertionError(
                f"chat {target.id} was upgraded to supergroup {target.migrated_to}"
            )
        if target.type == "private":
            emu.blocked.discard(self.id)  # writing to the bot unblocks it
        if reply_to is not None:
            replied = target.messages.get(reply_to)
            if replied is None:
                raise AssertionError(f"no message {reply_to} in chat {target.id} to reply to")
            content = {**content, "reply_to_message": _without_reply(replied.raw)}
        message = emu._new_user_message(self, target, content, store=True)
        update = emu._enqueue({"message": message.raw})
        return await emu._await_reaction(
            [update], settle=settle, timeout=timeout, expect_reaction=expect_reaction
        )

    async def send(
        self,
        text: str,
        *,
        chat: EmuChat | int | None = None,
        reply_to: int | None = None,
        settle: float | None = None,
        timeout: float | None = None,
        expect_reaction: bool = True,
    ) -> Reaction:
        """Sends a text message; a leading ``/command`` gets a ``bot_command`` entity."""
        content: JSONDict = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        return await self._send_content(content, chat, reply_to, settle, timeout, expect_reaction)

    async def send_voice(
        self,
        duration: int = 7,
        *,
        data: bytes | None = None,
        chat: EmuChat | int | None = None,
        reply_to: int | None = None,
        settle: float | None = None,
        timeout: float | None = None,
        expect_reaction: bool = True,
    ) -> Reaction:
        """Sends a voice message; its file can be fetched with getFile and downloaded."""
        stored = self.emulator._store_file(
            "voice", data if data is not None else _FAKE_OGG, None, "audio/ogg"
        )
        voice = {**stored.as_file(), "duration": duration}
        voice.pop("file_name", None)
        return await self._send_content(
            {"voice": voice}, chat, reply_to, settle, timeout, expect_reaction
        )

    async def send_sticker(
        self,
        emoji: str = "\N{THUMBS UP SIGN}",
        *,
        chat: EmuChat | int | None = None,
        settle: float | None = None,
        timeout: float | None = None,
        expect_reaction: bool = True,
    ) -> Reaction:
        """Sends a (regular, static) sticker."""
        stored = self.emulator._store_file("sticker", b"RIFF\x00\x00\x00\x00WEBP", None, None)
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return await self._send_content(
            {"sticker": sticker}, chat, None, settle, timeout, expect_reaction
        )

    async def send_photo(
        self,
        data: bytes | None = None,
        *,
        caption: str | None = None,
        chat: EmuChat | int | None = None,
        settle: float | None = None,
        timeout: float | None = None,
        expect_reaction: bool = True,
    ) -> Reaction:
        """Sends a photo (a tiny JPEG unless ``data`` is given)."""
        stored = self.emulator._store_file(
            "photo", data if data is not None else _FAKE_JPEG, None, "image/jpeg"
        )
        content: JSONDict = {"photo": [stored.as_photo_size()]}
        if caption is not None:
            content["caption"] = caption
        return await self._send_content(content, chat, None, settle, timeout, expect_reaction)

    async def send_location(
        self,
        latitude: float,
        longitude: float,
        *,
        chat: EmuChat | int | None = None,
        settle: float | None = None,
        timeout: float | None = None,
        expect_reaction: bool = True,
    ) -> Reaction:
        """Sends a location."""
        location = {"latitude": latitude, "longitude": longitude}
        return await self._send_content(
            {"location": location}, chat, None, settle, timeout, expect_reaction
        )

    async def send_document(
        self,
        filename: str,
        data: bytes = b"%PDF-1.4\n%%EOF\n",
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        chat: EmuChat | int | None = None,
        settle: float | None = None,
        timeout: float | None = None,
        expect_reaction: bool = True,
    ) -> Reaction:
        """Sends a document; its file can be fetched with getFile and downloaded."""
        mime = mime_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        stored = self.emulator._store_file("document", data, filename, mime)
        content: JSONDict = {"document": stored.as_file()}
        if caption is not None:
            content["caption"] = caption
        return await self._send_content(content, chat, None, settle, timeout, expect_reaction)

    def _find_button(
        self, target: EmuChat, label: str, message_id: int | None
    ) -> tuple[EmuMessage, str]:
        candidates = (
            [target.messages[message_id]]
            if message_id is not None and message_id in target.messages
            else list(reversed(target.bot_messages()))
        )
        if message_id is not None and message_id not in target.messages:
            raise AssertionError(f"no message {message_id} in chat {target.id}")
        for message in candidates:
            for row in message.inline_keyboard:
                for button in row:
                    if label in (button.get("text"), button.get("callback_data")):
                        if "callback_data" not in button:
                            raise AssertionError(f"button {label!r} is not a callback button")
                        return message, str(button["callback_data"])
        shown = [(m.message_id, m.button_texts) for m in candidates if m.inline_keyboard]
        raise AssertionError(
            f"no inline button {label!r} in chat {target.id}; buttons by message: {shown!r}"
        )

    async def _press(
        self,
        message: EmuMessage,
        data: str,
        settle: float | None,
        timeout: float | None,
        expect_reaction: bool,
    ) -> Reaction:
        emu = self.emulator
        query_id = emu._new_callback_query_id(self.id)
        query = {
            "id": query_id,
            "from": self.as_dict(),
            "message": copy.deepcopy(message.raw),
            "chat_instance": str(abs(hash((message.chat_id, emu.bot_id))) % 10**18),
            "data": data,
        }
        update = emu._enqueue({"callback_query": query})
        return await emu._await_reaction(
            [update], settle=settle, timeout=timeout, expect_reaction=expect_reaction
        )

    async def press(
        self,
        text: str,
        *,
        message_id: int | None = None,
        chat: EmuChat | int | None = None,
        settle: float | None = None,
        timeout: float | None = None,
        expect_reaction: bool = True,
    ) -> Reaction:
        """Presses the inline button labelled ``text`` (or with exactly that callback_data).

        Without ``message_id`` the newest bot message in the chat that has such a button is used.
        """
        target = self._chat(chat)
        message, data = self._find_button(target, text, message_id)
        return await self._press(message, data, settle, timeout, expect_reaction)

    async def press_data(
        self,
        data: str,
        *,
        message_id: int | None = None,
        chat: EmuChat | int | None = None,
        settle: float | None = None,
        timeout: float | None = None,
        expect_reaction: bool = True,
    ) -> Reaction:
        """Sends a forged callback query with arbitrary ``data`` for a bot message.

        Without ``message_id`` the newest bot message with an inline keyboard (else the newest
        bot message) in the chat is used.
        """
        target = self._chat(chat)
        if message_id is not None:
            message = target.messages.get(message_id)
            if message is None:
                raise AssertionError(f"no message {message_id} in chat {target.id}")
        else:
            bot_messages = target.bot_messages()
            keyboards = [m for m in bot_messages if m.inline_keyboard]
            if not bot_messages:
                raise AssertionError(f"the bot has no message in chat {target.id}")
            message = (keyboards or bot_messages)[-1]
        return await self._press(message, data, settle, timeout, expect_reaction)

    def chat_messages(self, chat: EmuChat | int | None = None) -> list[EmuMessage]:
        """The messages currently in the (private) chat, oldest first, edits applied."""
        return self._chat(chat).chat_messages()

    def last_bot_message(self, chat: EmuChat | int | None = None) -> EmuMessage | None:
        """The newest bot message in the (private) chat."""
        return self._chat(chat).last_bot_message()

    def __repr__(self) -> str:
        return f"<EmuUser {self.id} {self.first_name!r}>"


def _without_reply(raw: JSONDict) -> JSONDict:
    replied = copy.deepcopy(raw)
    replied.pop("reply_to_message", None)
    return replied


# --------------------------------------------------------------------------------------------
# HTML parse mode
# --------------------------------------------------------------------------------------------

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class _TelegramHtml(HTMLParser):
    """Turns Telegram-flavoured HTML into plain text plus entities (UTF-16 offsets)."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._chunks: list[str] = []
        self._offset = 0
        self._stack: list[tuple[str, int, dict[str, str | None]]] = []
        self._entities: list[JSONDict] = []

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        lines = self._source.split("\n")
        prefix = "".join(part + "\n" for part in lines[: line - 1]) + lines[line - 1][:column]
        return len(prefix.encode("utf-8"))

    def _fail(self, reason: str) -> ApiError:
        return _bad_request(f"can't parse entities: {reason}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Opens an entity."""
        attributes = dict(attrs)
        if tag not in _HTML_TAGS or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            raise self._fail(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
        self._stack.append((tag, self._offset, attributes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A self-closing tag: an empty entity, dropped (unsupported tags fail)."""
        self.handle_starttag(tag, attrs)
        self._stack.pop()

    def handle_endtag(self, tag: str) -> None:
        """Closes an entity."""
        if not self._stack:
            raise self._fail(f'Unexpected end tag "{tag}" at byte offset {self._byte_offset()}')
        open_tag, start, attributes = self._stack.pop()
        if open_tag != tag:
            raise self._fail(
                f"Unmatched end tag at byte offset {self._byte_offset()}, "
                f'expected "</{open_tag}>", found "</{tag}>"'
            )
        css_class = attributes.get("class") or ""
        if (
            tag == "code"
            and self._stack
            and self._stack[-1][0] == "pre"
            and css_class.startswith("language-")
        ):
            self._stack[-1][2]["language"] = css_class[len("language-") :]
            return
        length = self._offset - start
        if length == 0:
            return
        entity: JSONDict = {"type": _HTML_TAGS[tag], "offset": start, "length": length}
        if tag == "a":
            entity["url"] = attributes.get("href") or ""
        elif tag == "pre" and attributes.get("language"):
            entity["language"] = attributes["language"]
        elif tag == "blockquote" and "expandable" in attributes:
            entity["type"] = "expandable_blockquote"
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = attributes.get("emoji-id") or ""
        self._entities.append(entity)

    def handle_data(self, data: str) -> None:
        """Plain text between tags."""
        self._chunks.append(data)
        self._offset += utf16_len(data)

    def parse(self) -> tuple[str, list[JSONDict]]:
        """Parses the source; raises :class:`ApiError` like Telegram for bad markup."""
        self.feed(self._source)
        self.close()
        if self._stack:
            raise self._fail(
                f'Can\'t find end tag corresponding to start tag "{self._stack[-1][0]}"'
            )
        entities = sorted(self._entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self._chunks), entities


def parse_html(source: str) -> tuple[str, list[JSONDict]]:
    """Plain text and entities for a ``parse_mode=HTML`` text, as Telegram computes them."""
    return _TelegramHtml(source).parse()


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def validate_reply_markup(markup: Any, *, inline_only: bool = False) -> JSONDict | None:
    """Checks a reply_markup like Telegram; returns it (``None`` for no markup)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request("can't parse inline keyboard button: field must be an Array")
        count = 0
        for row in rows:
            for button in row:
                _validate_inline_button(button)
                count += 1
        if count > MAX_INLINE_BUTTONS:
            raise _bad_request("reply markup is too long")
        return {"inline_keyboard": rows}
    if inline_only:
        raise _bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request("can't parse keyboard button: field must be an Array")
        for row in rows:
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not isinstance(text, str) or not text:
                    raise _bad_request("can't parse keyboard button: Text must be non-empty")
        return dict(markup)
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return dict(markup)
    raise _bad_request("can't parse reply keyboard markup JSON object")


def _validate_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = button.get("text")
    if not isinstance(text, str) or not text:
        raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
    actions = [key for key in _INLINE_ACTIONS if key in button]
    if not actions:
        raise _bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise _bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be used"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise _bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not _URL_RE.fullmatch(url):
            raise _bad_request("BUTTON_URL_INVALID")


def _inline_markup_or_none(markup: JSONDict | None) -> JSONDict | None:
    """The markup Telegram echoes in a Message: only non-empty inline keyboards."""
    if markup and any(markup.get("inline_keyboard") or []):
        return markup
    return None


def _decode_params(raw: dict[str, Any]) -> JSONDict:
    params: JSONDict = {}
    for key, value in raw.items():
        if isinstance(value, str):
            if key in _JSON_PARAMS:
                try:
                    value = json.loads(value)
                except ValueError:
                    what = "reply keyboard markup" if key == "reply_markup" else key
                    raise _bad_request(f"can't parse {what} JSON object") from None
            elif key in _INT_PARAMS and _INT_RE.fullmatch(value.strip()):
                value = int(value)
            elif key in _FLOAT_PARAMS:
                with contextlib.suppress(ValueError):
                    value = float(value)
            elif key in _BOOL_PARAMS and value.lower() in ("true", "false", "1", "0"):
                value = value.lower() in ("true", "1")
        params[key] = value
    return params


def _int_param(params: JSONDict, key: str, *, default: int | None = None) -> int:
    value = params.get(key)
    if value is None or value == "":
        if default is not None:
            return default
        raise _bad_request(f"{key} is empty")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad_request(f'field "{key}" must be of type Integer')
    try:
        return int(value)
    except ValueError:
        raise _bad_request(f'field "{key}" must be of type Integer') from None


def _png_size(data: bytes) -> tuple[int | None, int | None]:
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return None, None


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


# --------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------


class BotApiEmulator:
    """An in-process Telegram Bot API server for end-to-end tests (see the module docstring).

    ``settle`` is how long the bot must stay quiet before a :class:`Reaction` is complete;
    ``timeout`` the overall limit for the bot to fetch an update and react.
    """

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

        handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getMyCommands": self._get_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendVoice": self._send_voice,
            "getFile": self._get_file,
            "sendChatAction": self._send_chat_action,
            "getChat": self._get_chat,
            "leaveChat": self._leave_chat,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
        }
        for field_name, limit in (("name", 64), ("description", 512), ("short_description", 120)):
            camel = "".join(part.title() for part in field_name.split("_"))
            handlers[f"setMy{camel}"] = self._profile_setter(field_name, limit)
            handlers[f"getMy{camel}"] = self._profile_getter(field_name)
        self._handlers = {name.lower(): (name, fn) for name, fn in handlers.items()}

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Starts the HTTP server on 127.0.0.1 with a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        site = web.SockSite(self._runner, sock)
        await site.start()
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        """Stops the server; pending long polls return at once."""
        self._closing = True
        self._notify()
        if self._webhook and self._webhook.task:
            self._webhook.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook.task
        if self._session:
            await self._session.close()
            self._session = None
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

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

    # ---- test-side API ---------------------------------------------------------------------

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

    # ---- internals: updates and waiting ----------------------------------------------------

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

    # ---- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            return await self._handle_file(request, path[len("/file/bot") :])
        if not path.startswith("/bot"):
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        token, _, method_name = path[len("/bot") :].partition("/")
        entry = self._handlers.get(method_name.lower())
        call = ApiCall(method=entry[0] if entry else method_name, params={}, time=time.monotonic())
        self.calls.append(call)
        self._notify()
        try:
            try:
                call.params = await self._read_params(request)
                call.params = _decode_params(call.params)
                if token != self.token:
                    raise ApiError(401, "Unauthorized")
                if entry is None:
                    raise ApiError(404, "Not Found: method not found")
                delay = self._take(self._delays, call.method)
                if delay and not delay.execute_first:
                    await asyncio.sleep(delay.seconds)
                fault = self._take(self._faults, call.method)
                if fault:
                    raise ApiError(fault.error_code, fault.description, fault.parameters)
                result = await entry[1](call.params, call)
                payload: JSONDict = {"ok": True, "result": result}
                call.status, call.response = 200, payload
                if delay and delay.execute_first:
                    await asyncio.sleep(delay.seconds)
            except ApiError as err:
                payload = err.payload()
                call.status, call.response = err.error_code, payload
            return web.json_response(payload, status=call.status or 200)
        except asyncio.CancelledError:
            call.cancelled = True
            raise
        finally:
            call.finished_at = time.monotonic()
            self._notify()

    @staticmethod
    def _take(queues: dict[str, deque[Any]], method: str) -> Any:
        queue = queues.get(method.lower())
        return queue.popleft() if queue else None

    async def _read_params(self, request: web.Request) -> JSONDict:
        """The raw parameters: query string plus form fields, files or a JSON object body."""
        raw: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad_request("can't parse JSON") from None
                if not isinstance(body, dict):
                    raise _bad_request("can't parse JSON")
                raw.update(body)
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        raw[key] = UploadedFile(
                            filename=value.filename,
                            mime_type=value.content_type,
                            data=value.file.read(),
                        )
                    else:
                        raw[key] = value
        return raw

    async def _handle_file(self, request: web.Request, rest: str) -> web.StreamResponse:
        token, _, file_path = rest.partition("/")
        call = ApiCall(method="file", params={"file_path": file_path}, time=time.monotonic())
        self.calls.append(call)
        try:
            if token != self.token:
                call.status = 401
                return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
            stored = next((f for f in self.files.values() if f.file_path == file_path), None)
            if stored is None:
                call.status = 404
                return web.json_response(ApiError(404, "Not Found").payload(), status=404)
            call.status = 200
            return web.Response(
                body=stored.data, content_type=stored.mime_type or "application/octet-stream"
            )
        finally:
            call.finished_at = time.monotonic()
            self._notify()

    # ---- chats -----------------------------------------------------------------------------

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

    # ---- text ------------------------------------------------------------------------------

    @staticmethod
    def _render(
        text: Any, parse_mode: Any, entities: Any, *, caption: bool
    ) -> tuple[str, list[JSONDict], str]:
        """Plain text, entities and HTML for a text or caption parameter."""
        source = "" if text is None else str(text)
        mode = str(parse_mode or "").lower()
        if mode == "html":
            plain, parsed = parse_html(source)
            html_text = source
        else:
            plain = source
            parsed = list(entities) if isinstance(entities, list) else []
            html_text = html.escape(source, quote=False)
        if caption:
            if len(plain) > MAX_CAPTION_LENGTH:
                raise _bad_request("message caption is too long")
        else:
            if not plain.strip():
                raise _bad_request("message text is empty")
            if len(plain) > MAX_TEXT_LENGTH:
                raise _bad_request("message is too long")
        return plain, parsed, html_text

    def _reply_target(self, chat: EmuChat, params: JSONDict) -> JSONDict | None:
        reply = params.get("reply_parameters")
        message_id: Any = None
        allow = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow = allow or bool(reply.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            message_id = params["reply_to_message_id"]
        if message_id is None:
            return None
        replied = chat.messages.get(int(message_id))
        if replied is None:
            if allow:
                return None
            raise _bad_request("message to be replied not found")
        return _without_reply(replied.raw)

    def _store_bot_message(
        self,
        chat: EmuChat,
        call: ApiCall,
        params: JSONDict,
        content: JSONDict,
        *,
        html_text: str,
        markup: JSONDict | None,
        document: StoredFile | None = None,
        photo: StoredFile | None = None,
        voice: StoredFile | None = None,
    ) -> JSONDict:
        reply_to = self._reply_target(chat, params)
        raw: JSONDict = {
            "message_id": chat.take_message_id(),
            "from": self._bot_user(),
            "chat": chat.as_dict(),
            "date": int(self.clock()),
            **content,
        }
        if reply_to is not None:
            raw["reply_to_message"] = reply_to
        inline = _inline_markup_or_none(markup)
        if inline:
            raw["reply_markup"] = inline
        message = EmuMessage(
            raw=raw,
            from_bot=True,
            html=html_text,
            markup=markup,
            document=document,
            photo=photo,
            voice=voice,
        )
        chat.messages[message.message_id] = message
        call.message = message
        return copy.deepcopy(raw)

    def _caption_content(self, params: JSONDict) -> tuple[JSONDict, str]:
        if params.get("caption") is None:
            return {}, ""
        plain, entities, html_text = self._render(
            params.get("caption"),
            params.get("parse_mode"),
            params.get("caption_entities"),
            caption=True,
        )
        content: JSONDict = {"caption": plain}
        if entities:
            content["caption_entities"] = entities
        return content, html_text

    def _input_file(self, params: JSONDict, key: str, kind: str) -> StoredFile:
        value = params.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value[len("attach://") :])
        if isinstance(value, UploadedFile):
            return self._store_file(kind, value.data, value.filename, value.mime_type)
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and re.match(r"https?://", value):
            name = value.rsplit("/", 1)[-1] or None
            return self._store_file(kind, b"", name, mimetypes.guess_type(value)[0])
        if value is None or value == "":
            raise _bad_request(f"there is no {kind} in the request")
        raise _bad_request("wrong file identifier/HTTP URL specified")

    # ---- methods ---------------------------------------------------------------------------

    async def _true(self, params: JSONDict, call: ApiCall) -> Any:
        return True

    async def _get_me(self, params: JSONDict, call: ApiCall) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSONDict, call: ApiCall) -> Any:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int_param(params, "offset", default=0)
        limit = min(max(_int_param(params, "limit", default=100), 1), 100)
        raw_timeout = params.get("timeout") or 0
        if isinstance(raw_timeout, bool) or not isinstance(raw_timeout, int | float):
            raise _bad_request('field "timeout" must be of type Integer')
        timeout = max(float(raw_timeout), 0.0)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older long poll is terminated with 409, as on Telegram
        if offset > 0:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            batch = self._queue[offset:] if offset < 0 else self._queue
            batch = batch[:limit]
            if batch or self._closing or time.monotonic() >= deadline:
                break
            await self._wait_change(deadline - time.monotonic())
        for update in batch:
            self._mark_delivered(int(update["update_id"]))
        return copy.deepcopy(batch)

    async def _set_webhook(self, params: JSONDict, call: ApiCall) -> Any:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params, call)
        if not re.match(r"https?://", url):
            raise _bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._queue.clear()
        old = self._webhook
        self._webhook = _Webhook(
            url=url,
            secret_token=None if secret is None else str(secret),
            max_connections=_int_param(params, "max_connections", default=40),
        )
        self._webhook.task = old.task if old and old.task and not old.task.done() else None
        if self._webhook.task is None:
            self._webhook.task = asyncio.create_task(self._deliver_webhooks())
        self._poll_generation += 1  # a running long poll ends with 409
        self._notify()
        return True

    async def _delete_webhook(self, params: JSONDict, call: ApiCall) -> Any:
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self._webhook = None
        self._notify()
        return True

    async def _get_webhook_info(self, params: JSONDict, call: ApiCall) -> Any:
        info: JSONDict = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self._webhook:
            info["max_connections"] = self._webhook.max_connections
            info["ip_address"] = "127.0.0.1"
            if self._webhook.last_error_date:
                info["last_error_date"] = self._webhook.last_error_date
                info["last_error_message"] = self._webhook.last_error_message
        return info

    async def _deliver_webhooks(self) -> None:
        """Posts queued updates to the webhook in order, retrying until HTTP 200."""
        backoff = 0.05
        while not self._closing and self._webhook is not None:
            hook = self._webhook
            if not self._queue or self._session is None:
                await self._wait_change(1.0)
                continue
            update = self._queue[0]
            url = self.webhook_router(update) if self.webhook_router else hook.url
            began = (len(self.calls), time.monotonic())
            status = await self._post_webhook(update, url, hook.secret_token)
            error: str | None = None
            if status is None:
                error = "Connection failed"
            elif status != 200:
                error = f"Wrong response from the webhook: {status}"
            if error is None:
                self._mark_delivered(int(update["update_id"]), began)
                if self._queue and self._queue[0] is update:
                    self._queue.pop(0)
                backoff = 0.05
                continue
            hook.last_error_date = int(self.clock())
            hook.last_error_message = error
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    async def _post_webhook(self, update: JSONDict, url: str, secret: str | None) -> int | None:
        """POSTs one update to a webhook URL; returns the HTTP status (None: no answer)."""
        assert self._session is not None
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        status: int | None = None
        try:
            async with self._session.post(
                url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = None
        self.webhook_deliveries.append((int(update["update_id"]), url, status))
        return status

    async def redeliver(self, update_id: int, url: str | None = None) -> int | None:
        """Posts an update that was already delivered to the webhook again, as Telegram does
        when it got no 200 in time (to ``url``, or where ``webhook_router`` sends it); returns
        the HTTP status. The bot's calls are in ``emu.calls`` as usual."""
        if self._webhook is None:
            raise AssertionError("no webhook is set")
        update = next((u for u in self.updates if u["update_id"] == update_id), None)
        if update is None:
            raise AssertionError(f"no update {update_id}")
        if url is None:
            url = self.webhook_router(update) if self.webhook_router else self._webhook.url
        status = await self._post_webhook(copy.deepcopy(update), url, self._webhook.secret_token)
        self._notify()
        return status

    async def _set_my_commands(self, params: JSONDict, call: ApiCall) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand: BotCommand must be an Object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not _COMMAND_RE.fullmatch(name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params)
        if commands:
            self.commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self.commands.pop(key, None)
        return True

    def _commands_key(self, params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope")
        if scope is not None and (
            not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES
        ):
            raise _bad_request("can't parse BotCommandScope JSON object")
        language = params.get("language_code")
        if language and not re.fullmatch(r"[a-z]{2}", str(language)):
            raise _bad_request("invalid language code specified")
        return _commands_key(scope, language)

    async def _delete_my_commands(self, params: JSONDict, call: ApiCall) -> Any:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _get_my_commands(self, params: JSONDict, call: ApiCall) -> Any:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    async def _send_message(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=True)
        plain, entities, html_text = self._render(
            params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
        )
        markup = validate_reply_markup(params.get("reply_markup"))
        content: JSONDict = {"text": plain}
        if entities:
            content["entities"] = entities
        return self._store_bot_message(
            chat, call, params, content, html_text=html_text, markup=markup
        )

    async def _send_document(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=True)
        markup = validate_reply_markup(params.get("reply_markup"))
        content, html_text = self._caption_content(params)
        stored = self._input_file(params, "document", "document")
        content["document"] = stored.as_file()
        return self._store_bot_message(
            chat, call, params, content, html_text=html_text, markup=markup, document=stored
        )

    async def _send_photo(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=True)
        markup = validate_reply_markup(params.get("reply_markup"))
        content, html_text = self._caption_content(params)
        stored = self._input_file(params, "photo", "photo")
        content["photo"] = [stored.as_photo_size()]
        return self._store_bot_message(
            chat, call, params, content, html_text=html_text, markup=markup, photo=stored
        )

    async def _send_voice(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=True)
        markup = validate_reply_markup(params.get("reply_markup"))
        content, html_text = self._caption_content(params)
        stored = self._input_file(params, "voice", "voice")
        voice = stored.as_file()
        voice.pop("file_name", None)
        voice["duration"] = _int_param(params, "duration", default=0)
        voice.setdefault("mime_type", "audio/ogg")
        content["voice"] = voice
        return self._store_bot_message(
            chat, call, params, content, html_text=html_text, markup=markup, voice=stored
        )

    def _apply_edit(
        self,
        chat: EmuChat,
        old: EmuMessage,
        call: ApiCall,
        changes: JSONDict,
        markup: JSONDict | None,
        html_text: str | None,
    ) -> JSONDict:
        raw = copy.deepcopy(old.raw)
        for key, value in changes.items():
            if value is None:
                raw.pop(key, None)
            else:
                raw[key] = value
        inline = _inline_markup_or_none(markup)
        if inline:
            raw["reply_markup"] = inline
        else:
            raw.pop("reply_markup", None)
        unchanged = dict(raw)
        unchanged.pop("edit_date", None)
        previous = dict(old.raw)
        previous.pop("edit_date", None)
        if unchanged == previous:
            raise _bad_request(_NOT_MODIFIED)
        raw["edit_date"] = int(self.clock())
        message = dataclasses.replace(
            old,
            raw=raw,
            markup=inline,
            html=old.html if html_text is None else html_text,
        )
        chat.messages[message.message_id] = message
        call.message = message
        return copy.deepcopy(raw)

    def _editable(self, params: JSONDict) -> tuple[EmuChat, EmuMessage]:
        chat = self._chat_for(params, sending=True)
        message = self._message_for(chat, params, "message to edit not found")
        if not message.from_bot:
            raise _bad_request("message can't be edited")
        return chat, message

    async def _edit_message_text(self, params: JSONDict, call: ApiCall) -> Any:
        chat, message = self._editable(params)
        plain, entities, html_text = self._render(
            params.get("text"), params.get("parse_mode"), params.get("entities"), caption=False
        )
        if "text" not in message.raw:
            raise _bad_request("there is no text in the message to edit")
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        changes = {"text": plain, "entities": entities or None}
        return self._apply_edit(chat, message, call, changes, markup, html_text)

    async def _edit_message_caption(self, params: JSONDict, call: ApiCall) -> Any:
        chat, message = self._editable(params)
        if "text" in message.raw:
            raise _bad_request("there is no caption in the message to edit")
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        content, html_text = self._caption_content(params)
        changes = {
            "caption": content.get("caption"),
            "caption_entities": content.get("caption_entities"),
        }
        return self._apply_edit(chat, message, call, changes, markup, html_text)

    async def _edit_message_reply_markup(self, params: JSONDict, call: ApiCall) -> Any:
        chat, message = self._editable(params)
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        return self._apply_edit(chat, message, call, {}, markup, None)

    def _delete(self, chat: EmuChat, message_id: int) -> None:
        message = chat.messages.get(message_id)
        if message is None:
            raise _bad_request("message to delete not found")
        if not message.from_bot and chat.type != "private" and not chat.bot_is_admin:
            raise _bad_request("message can't be deleted")
        del chat.messages[message_id]
        chat.deleted.append(message_id)

    async def _delete_message(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=False)
        self._delete(chat, _int_param(params, "message_id"))
        return True

    async def _delete_messages(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=False)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad_request("message_ids must be a non-empty list of at most 100 ids")
        deleted = 0
        for message_id in ids:
            if int(message_id) in chat.messages:
                self._delete(chat, int(message_id))
                deleted += 1
        if not deleted:
            raise _bad_request("message to delete not found")
        return True

    async def _answer_callback_query(self, params: JSONDict, call: ApiCall) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if self._callback_queries.get(query_id, True):
            raise _bad_request(_CALLBACK_TOO_OLD)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        self._callback_queries[query_id] = True
        self.callback_answers[query_id] = dict(params)
        return True

    async def _get_file(self, params: JSONDict, call: ApiCall) -> Any:
        stored = self.files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    async def _send_chat_action(self, params: JSONDict, call: ApiCall) -> Any:
        self._chat_for(params, sending=True)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    async def _get_chat(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=False)
        return {
            **chat.as_dict(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _leave_chat(self, params: JSONDict, call: ApiCall) -> Any:
        chat = self._chat_for(params, sending=False)
        if chat.type == "private":
            raise _bad_request("chat member status can't be changed in private chats")
        chat.bot_is_member = False
        return True

    def _profile_setter(self, field_name: str, limit: int) -> Handler:
        async def setter(params: JSONDict, call: ApiCall) -> Any:
            value = str(params.get(field_name) or "")
            if len(value) > limit:
                raise _bad_request(f"{field_name.upper()}_INVALID")
            key = (field_name, str(params.get("language_code") or ""))
            if value:
                self.profile[key] = value
            else:
                self.profile.pop(key, None)
            return True

        return setter

    def _profile_getter(self, field_name: str) -> Handler:
        async def getter(params: JSONDict, call: ApiCall) -> Any:
            language = str(params.get("language_code") or "")
            value = self.profile.get((field_name, language), self.profile.get((field_name, "")))
            if value is None and field_name == "name":
                value = self.first_name
            return {field_name: value or ""}

        return getter

    async def _set_chat_menu_button(self, params: JSONDict, call: ApiCall) -> Any:
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "default",
            "commands",
            "web_app",
        ):
            raise _bad_request("can't parse menu button JSON object")
        if params.get("chat_id") is None:
            self.default_menu_button = (
                {"type": "commands"} if button["type"] == "default" else button
            )
        else:
            self._chat_for(params, sending=False).menu_button = (
                None if button["type"] == "default" else button
            )
        return True

    async def _get_chat_menu_button(self, params: JSONDict, call: ApiCall) -> Any:
        if params.get("chat_id") is None:
            return self.default_menu_button
        chat = self._chat_for(params, sending=False)
        return chat.menu_button or self.default_menu_button


def _commands_key(scope: JSONDict | None, language_code: str | None) -> tuple[str, str]:
    canonical = json.dumps(scope or {"type": "default"}, sort_keys=True, separators=(",", ":"))
    return canonical, language_code or ""


__all__ = [
    "ApiCall",
    "ApiError",
    "BotApiEmulator",
    "EmuChat",
    "EmuMessage",
    "EmuUser",
    "Reaction",
    "StoredFile",
    "UploadedFile",
    "parse_html",
    "utf16_len",
    "validate_reply_markup",
]
