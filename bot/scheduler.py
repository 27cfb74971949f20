"""Housekeeping on APScheduler's asyncio scheduler, started and stopped with the bot.

Today one job: abandoned conversation drafts (a note's text typed but never saved)
are deleted once they are older than the conversation timeout, so draft text does
not stay in the database because its author never wrote again.

Every active meeting series is generated at start and daily at 03:00 local
(``generate_meetings``), so its 8-week window of occurrences and prompts keeps rolling.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import Engine

from flows.core.engine import CONVERSATION_TIMEOUT, Services
from storage import conversations, meetings, privacy, rhythm
from storage.db import session_scope, utcnow

logger = logging.getLogger(__name__)

PURGE_JOB = "purge-abandoned-drafts"
PURGE_EVERY = timedelta(minutes=30)
RETENTION_JOB = "apply-retention"
RETENTION_AT = (2, 30)
PLAN_RHYTHM_JOB = "plan-rhythm"
PLAN_RHYTHM_EVERY = timedelta(minutes=30)
GENERATE_MEETINGS_JOB = "generate-meetings"
# Local time (STEMME_TIMEZONE) of the daily run that keeps each series' window rolling.
GENERATE_MEETINGS_AT = (3, 0)


def purge_abandoned(engine: Engine) -> int:
    """Deletes conversations idle for longer than the timeout; returns how many."""
    with session_scope(engine) as session:
        purged = conversations.purge_stale(
            session=session, older_than=utcnow() - CONVERSATION_TIMEOUT
        )
    if purged:
        logger.info("Purged %s abandoned conversations", purged)
    return purged


def generate_meetings(engine: Engine, tz: ZoneInfo, now: datetime | None = None) -> int:
    """Generates the window ahead of every active meeting series (idempotent: occurrences
    and prompts that exist stay as they are); returns how many upcoming occurrences."""
    with session_scope(engine) as session:
        count = meetings.generate_all(session=session, tz=tz, now=now or utcnow())
    logger.info("Meeting series generated: %s upcoming occurrences", count)
    return count


def plan_rhythm(engine: Engine, tz: ZoneInfo, now: datetime | None = None) -> int:
    """Schedules the shift handovers, end-of-shift nudges and monthly focus posts of the
    next day (idempotent: prompts that exist stay as they are); returns how many."""
    with session_scope(engine) as session:
        count = rhythm.plan(session=session, now=now or utcnow(), tz=tz)
    logger.debug("Rhythm planned: %s prompts ahead", count)
    return count


def apply_retention(engine: Engine) -> int:
    """Removes the text of notes older than their site's retention period (docs/privacy.md)."""
    with session_scope(engine) as session:
        return privacy.apply_retention(session=session)


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
    hour, minute = GENERATE_MEETINGS_AT
    scheduler.add_job(
        generate_meetings,
        "cron",
        hour=hour,
        minute=minute,
        args=[services.engine, services.settings.tz],
        id=GENERATE_MEETINGS_JOB,
        next_run_time=utcnow(),
        coalesce=True,
        max_instances=1,
        misfire_grace_time=6 * 3600,
    )
    # The rhythm's plan reaches a day ahead; every 30 minutes keeps it there, and picks up
    # new preferences, members and days off soon.
    scheduler.add_job(
        plan_rhythm,
        "interval",
        seconds=PLAN_RHYTHM_EVERY.total_seconds(),
        args=[services.engine, services.settings.tz],
        id=PLAN_RHYTHM_JOB,
        next_run_time=utcnow(),
        coalesce=True,
        max_instances=1,
    )
    # Retention: every night, and at start so a bot that was down catches up.
    scheduler.add_job(
        apply_retention,
        "cron",
        hour=RETENTION_AT[0],
        minute=RETENTION_AT[1],
        args=[services.engine],
        id=RETENTION_JOB,
        next_run_time=utcnow(),
        coalesce=True,
        max_instances=1,
        misfire_grace_time=6 * 3600,
    )
    scheduler.start()
    return scheduler
