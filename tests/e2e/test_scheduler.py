"""Housekeeping jobs: abandoned drafts leave the database on their own."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.app import SCHEDULER_KEY, StemmeApplication
from bot.scheduler import PURGE_JOB, purge_abandoned
from storage import conversations
from storage.db import utcnow
from tests.factories import make_draft


def test_abandoned_drafts_are_purged_and_current_ones_kept(engine: Engine) -> None:
    with Session(engine) as session:
        make_draft(session=session, telegram_id=11, idle=timedelta(hours=13))
        make_draft(session=session, telegram_id=12, idle=timedelta(hours=11))
    assert purge_abandoned(engine) == 1
    with Session(engine) as session:
        assert conversations.load(session=session, telegram_id=11, chat_id=11) is None
        assert conversations.load(session=session, telegram_id=12, chat_id=12) is not None


async def test_the_running_bot_schedules_the_purge_soon_and_every_half_hour(
    bot: StemmeApplication,
) -> None:
    running = bot.bot_data[SCHEDULER_KEY]
    job = running.get_job(PURGE_JOB)
    assert job is not None
    assert job.trigger.interval == timedelta(minutes=30)
    assert job.next_run_time - utcnow() <= timedelta(minutes=30)
