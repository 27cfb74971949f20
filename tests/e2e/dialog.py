"""Conversation tests as tables: what the user sends, what the bot should answer.

Answers are given as msgids (with their placeholder values) and matched in the
user's language, so a test states the meaning, not fragile Danish wording.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from flows.core.i18n import texts
from sandbox.emulator import BotApiEmulator, EmuUser, Reaction

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


@dataclass(frozen=True)
class Says:
    """An expected answer: a msgid and the values of its placeholders."""

    msgid: str
    values: dict[str, Any] = field(default_factory=dict)


def says(msgid: str, **values: Any) -> Says:
    """Builds an expected answer."""
    return Says(msgid, values)


async def act(user: EmuUser, sent: str) -> Reaction:
    """Sends text, or presses a button when ``sent`` starts with "press:"."""
    if sent.startswith("press:"):
        return await user.press(sent.removeprefix("press:"))
    return await user.send(sent)


async def converse(user: EmuUser, language: str, steps: Sequence[tuple[str, Says]]) -> None:
    """Plays the steps and checks every answer, in the user's language."""
    for number, (sent, expected) in enumerate(steps, start=1):
        reaction = await act(user, sent)
        want = texts(language, COPENHAGEN)._(expected.msgid).format(**expected.values)
        seen = [reaction.text, reaction.alert or ""]
        assert any(want in text for text in seen), (
            f"step {number}, after {sent!r}: expected {want!r}, the bot said {seen!r}"
        )


def texts_in(emulator: BotApiEmulator, chat_id: int) -> list[str]:
    """The texts of the messages the bot sent to a chat, oldest first."""
    return [message.text or "" for message in emulator.chat(chat_id).bot_messages()]
