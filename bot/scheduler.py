"""Housekeeping on APScheduler's asyncio scheduler, started and stopped with the bot.

Today one job: abandoned conversation drafts (a note's text typed but never saved)
are deleted once they are older than the conversation timeout, so draft text does
not stay in the database because its author never wrote again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import Engine

from flows.engine import CONVERSATION_TIMEOUT, Services
from storage import conversations
from storage.db import session_scope, utcnow

logger = logging.getLogger(__name__)

PURGE_JOB = "purge-abandoned-drafts"
PURGE_EVERY = timedelta(minutes=30)


def purge_abandoned(engine: Engine) -> int:
    """Deletes conversations idle for longer than the timeout; returns how many."""
    with session_scope(engine) as session:
        purged = conversations.purge_stale(
            session=session, older_than=utcnow() - CONVERSATION_TIMEOUT
        )
    if purged:
        logger.info("Purged %s abandoned conversations", purged)
    return purged


def start(services: Services) -> AsyncIOScheduler:
    """Starts the scheduler with the housekeeping jobs; the first run is right away."""
    scheduler = AsyncIOScheduler(timezone=services.settings.tz)
    scheduler.add_job(
        purge_abandoned,
        "interval",
        seconds=PURGE_EVERY.total_seconds(),
        args=[services.engine],
        id=PURGE_JOB,
        next_run_time=utcnow(),
        coalesce=True,
        max_instances=1,
    )
    scheduler.start()
    return scheduler
