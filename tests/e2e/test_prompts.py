"""Timed prompts in the running application: a prompt due while the bot was down is
sent after the start when still useful, and dropped when it expired."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session
from telegram import Bot

from bot.app import DISPATCHER_KEY, build_application
from bot.prompts import Dispatcher
from sandbox.emulator import BotApiEmulator
from storage import prompts
from storage.db import utcnow
from storage.models import Member, Prompt, PromptStatus
from tests.e2e.conftest import e2e_settings, running
from tests.factories import id_of, make_member

KIND = "test.reminder"


async def render_reminder(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Sends the member a message naming the prompt."""
    assert prompt.member_id is not None
    member = session.get(Member, prompt.member_id)
    assert member is not None
    await bot.send_message(member.telegram_id, f"reminder {prompt.dedupe_key}")


async def _settled(engine: Engine, prompt_ids: list[int], seconds: float = 10) -> list[Prompt]:
    """The prompts once none is pending or claimed any more (polls the database)."""
    for _ in range(int(seconds * 20)):
        with Session(engine) as session:
            rows = [session.get(Prompt, prompt_id) for prompt_id in prompt_ids]
            current = [row for row in rows if row is not None]
            for row in current:
                session.expunge(row)
        if all(row.status not in (PromptStatus.PENDING, PromptStatus.CLAIMED) for row in current):
            return current
        await asyncio.sleep(0.05)
    raise AssertionError(f"prompts still open: {[row.status for row in current]}")


async def test_prompts_due_while_the_bot_was_down_follow_their_expiry(
    emulator: BotApiEmulator, e2e_database_url: str, e2e_engine: Engine
) -> None:
    emulator.user(7001, "Anna")
    emulator.user(7002, "Bo")
    now = utcnow()
    with Session(e2e_engine, expire_on_commit=False) as session:
        anna = make_member(session=session, telegram_id=7001)
        bo = make_member(session=session, telegram_id=7002)
        late_but_useful = prompts.schedule(
            session=session,
            kind=KIND,
            team_id=anna.membership.team_id,
            member_id=id_of(anna.member),
            dedupe_key="lead.prepare",
            due_at=now - timedelta(hours=3),
            expires_at=now + timedelta(days=1),
        )
        too_late = prompts.schedule(
            session=session,
            kind=KIND,
            team_id=bo.membership.team_id,
            member_id=id_of(bo.member),
            dedupe_key="hour.before",
            due_at=now - timedelta(hours=2),
            expires_at=now - timedelta(hours=1),
        )
        session.commit()
    assert late_but_useful.id is not None and too_late.id is not None

    application = build_application(
        e2e_settings(emulator, e2e_database_url), renderers={KIND: render_reminder}
    )
    async with running(application):
        settled = await _settled(e2e_engine, [late_but_useful.id, too_late.id])
        dispatcher: Dispatcher = application.bot_data[DISPATCHER_KEY]
        assert dispatcher.renderers.keys() == {KIND}

    assert [row.status for row in settled] == [PromptStatus.SENT, PromptStatus.DROPPED]
    assert [m.text for m in emulator.chat(7001).messages.values()] == ["reminder lead.prepare"]
    assert list(emulator.chat(7002).messages.values()) == []


async def test_the_running_bot_dispatches_every_kind_the_flows_schedule(
    emulator: BotApiEmulator, e2e_database_url: str
) -> None:
    application = build_application(e2e_settings(emulator, e2e_database_url))
    async with running(application):
        dispatcher: Dispatcher = application.bot_data[DISPATCHER_KEY]
        kinds = set(dispatcher.renderers)
        assert {
            "meeting.lead_prepare",
            "meeting.day_before",
            "meeting.hour_before",
            "meeting.minutes",
            "shift.handover",
            "team.monthly_focus",
            "case.perspective",
            "vote.deadline",
            "trial.checkin",
        } <= kinds
        assert await dispatcher.run_once() == 0  # nothing is due in an empty database
