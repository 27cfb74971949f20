"""A bot process for tests/e2e/test_two_processes.py: ``python -m tests.e2e.prompt_bot``.

It runs exactly what ``stemme run`` runs (``bot.polling.run`` with the settings from the
``STEMME_*`` environment), with one timed-prompt kind registered for the test in place
of the flows' kinds: ``test.process`` sends the member one message naming the prompt and
this process's id.
"""

from __future__ import annotations

import os
from zoneinfo import ZoneInfo

from sqlmodel import Session
from telegram import Bot

from bot import app, polling
from bot.config import Settings
from flows.core.engine import Renderer
from storage.models import Member, Prompt

KIND = "test.process"


async def render(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Sends the member one message naming the prompt and this process."""
    assert prompt.member_id is not None
    member = session.get(Member, prompt.member_id)
    assert member is not None
    await bot.send_message(member.telegram_id, f"prompt {prompt.id} from {os.getpid()}")


def renderers(tz: ZoneInfo) -> dict[str, Renderer]:
    """The test's kind only (``tz`` as the bot's own renderers get it, unused here)."""
    return {KIND: render}


if __name__ == "__main__":
    app.build_renderers = renderers
    polling.run(Settings())
