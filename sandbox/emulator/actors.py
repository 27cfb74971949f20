"""The people and chats on the emulator's side: a user sends, presses, forwards; a chat holds
its messages. Both reach the emulator through :class:`Emulator`."""

# The test-side API takes ``timeout=`` (seconds to wait for the bot) by design.
# ruff: noqa: ASYNC109

from __future__ import annotations

import copy
import mimetypes
from typing import Protocol

from sandbox.emulator.records import EmuMessage, Reaction, StoredFile
from sandbox.emulator.wire import _FAKE_JPEG, _FAKE_OGG, JSONDict, _without_reply, utf16_len


class Emulator(Protocol):
    """What users and chats need of the emulator (:class:`~sandbox.emulator.base.EmulatorBase`
    provides it): the people and chats it knows, and injecting an update and awaiting the
    bot's reaction."""

    bot_id: int
    users: dict[int, EmuUser]
    chats: dict[int, EmuChat]
    blocked: set[int]

    def chat(self, chat_id: int) -> EmuChat: ...

    async def wait_idle(
        self, settle: float | None = None, timeout: float | None = None
    ) -> None: ...

    def _enqueue(self, body: JSONDict) -> JSONDict: ...

    async def _await_reaction(
        self,
        updates: list[JSONDict],
        *,
        settle: float | None,
        timeout: float | None,
        expect_reaction: bool,
    ) -> Reaction: ...

    def _new_user_message(
        self, user: EmuUser | None, chat: EmuChat, content: JSONDict, *, store: bool
    ) -> EmuMessage: ...

    def _new_callback_query_id(self, user_id: int) -> str: ...

    def _store_file(
        self, kind: str, data: bytes, filename: str | None, mime_type: str | None
    ) -> StoredFile: ...


class EmuChat:
    """A chat the emulator knows: a user's private chat, a group or a supergroup."""

    def __init__(
        self,
        emulator: Emulator,
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
        emulator: Emulator,
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
