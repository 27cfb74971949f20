"""Reflection meetings: a series, its occurrences in UTC, and the prompts of each.

A series holds wall-clock time in the team's zone (``STEMME_TIMEZONE``, passed as
``tz``): a weekly meeting at 14:00 is at 14:00 local in winter and in summer, so its
stored UTC start moves by an hour at each daylight-saving change. The dates come from:

- **weekly**: APScheduler's ``CronTrigger(day_of_week, hour, minute, timezone=tz)``,
  which keeps the wall-clock time across the changes;
- **biweekly**: the same weekly trigger, keeping every second week counted from the
  first date (cron's ``week="*/2"`` counts ISO weeks and would put two meetings in a
  row at the turn of a year with 53 weeks, such as 2026 into 2027);
- **monthly**: wall-clock arithmetic with ``zoneinfo`` (APScheduler 3 has no calendar
  trigger, and cron's ``day=31`` skips the months without one). Each month is counted
  from the first date: on a day the month lacks, the meeting is on its last day, and
  the next month returns to the first date's day (31 Jan, 28 Feb, 31 Mar, 30 Apr).

``generate`` stores the occurrences of a window ahead (8 weeks by default) and
schedules each one's prompts in the prompt queue; both are idempotent, so it can run
daily, after a restart and in two processes. An occurrence keeps its number in the
series, so a moved or cancelled one is never generated again. Every prompt key starts
with ``meeting:<occurrence id>:``, which is what moving or cancelling cancels.

Moving or cancelling an occurrence raises its ``sequence`` (the calendar file's
SEQUENCE). ``schedule_notices`` queues one ``meeting.invitation`` prompt per active
member when a meeting is planned, moved or cancelled, under ``meeting-notice:`` keys that
later changes leave alone; ``generate_all`` is the daily job's work.
docs/scheduling.md has the kinds and their late policy.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from storage import directory, prompts
from storage.cpr import refuse_cpr
from storage.db import require_id
from storage.models import (
    PLACE_MAX_LENGTH,
    MeetingOccurrence,
    MeetingSeries,
    OccurrenceStatus,
    Prompt,
    Repetition,
)

logger = logging.getLogger(__name__)

KIND_LEAD_PREPARE = "meeting.lead_prepare"
KIND_DAY_BEFORE = "meeting.day_before"
KIND_HOUR_BEFORE = "meeting.hour_before"
KIND_MINUTES = "meeting.minutes"
KINDS = (KIND_LEAD_PREPARE, KIND_DAY_BEFORE, KIND_HOUR_BEFORE, KIND_MINUTES)
# A new, moved or cancelled meeting told to one member, with its calendar file.
KIND_INVITATION = "meeting.invitation"

DEFAULT_HORIZON = timedelta(weeks=8)
DEFAULT_LEAD_PREPARE_DAYS = 2
HOUR_BEFORE = timedelta(hours=1)
# The lead can still record the minutes this long after the meeting ended.
MINUTES_EXPIRE_AFTER = timedelta(days=7)
MAX_DURATION_MINUTES = 8 * 60
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class MeetingNotFound(LookupError):
    """Raised when a series or an occurrence does not exist."""


class Notice(StrEnum):
    """What a ``meeting.invitation`` prompt tells a member."""

    NEW = "new"
    MOVED = "moved"
    CANCELLED = "cancelled"
    SERIES_CANCELLED = "series_cancelled"


@dataclass(frozen=True)
class PlannedPrompt:
    """One prompt an occurrence needs: what, to whom, when, and until when it is useful."""

    kind: str
    dedupe_key: str
    member_id: int
    due_at: datetime
    expires_at: datetime


def create_series(
    *,
    session: Session,
    team_id: int,
    created_by_member_id: int,
    first_date: date,
    start_time: time,
    duration_minutes: int,
    place: str = "",
    repetition: Repetition = Repetition.NONE,
    lead_prepare_days: int = DEFAULT_LEAD_PREPARE_DAYS,
) -> MeetingSeries:
    """Stores a meeting series (no occurrences yet: ``generate`` makes them).

    ``start_time`` is wall-clock time in the team's zone. Refuses a place holding a CPR
    number (``CprNumberRefused``) and out-of-range durations or preparation days.
    """
    place = refuse_cpr(place.strip())
    if len(place) > PLACE_MAX_LENGTH:
        raise ValueError(f"a place has at most {PLACE_MAX_LENGTH} characters")
    if not 0 < duration_minutes <= MAX_DURATION_MINUTES:
        raise ValueError("a meeting lasts between one minute and eight hours")
    if lead_prepare_days < 1:
        raise ValueError("the lead is reminded at least one day before")
    series = MeetingSeries(
        team_id=team_id,
        created_by_member_id=created_by_member_id,
        first_date=first_date,
        start_time=start_time.replace(second=0, microsecond=0, tzinfo=None),
        duration_minutes=duration_minutes,
        place=place,
        repetition=Repetition(repetition),
        lead_prepare_days=lead_prepare_days,
    )
    session.add(series)
    session.flush()
    return series


def get_series(*, session: Session, series_id: int) -> MeetingSeries | None:
    """Returns one series by id."""
    return session.get(MeetingSeries, series_id)


def get_occurrence(*, session: Session, occurrence_id: int) -> MeetingOccurrence | None:
    """Returns one occurrence by id."""
    return session.get(MeetingOccurrence, occurrence_id)


def active_series(*, session: Session, team_id: int | None = None) -> list[MeetingSeries]:
    """Every series not cancelled (of one team, or of all for the job that generates the
    window ahead)."""
    query = select(MeetingSeries).where(col(MeetingSeries.cancelled).is_(False))
    if team_id is not None:
        query = query.where(col(MeetingSeries.team_id) == team_id)
    return list(session.exec(query.order_by(col(MeetingSeries.id))).all())


def latest_series(*, session: Session, team_id: int) -> MeetingSeries | None:
    """The team's most recently created series (cancelled ones too): its weekday, time
    and place are offered as the quick choice for the next one."""
    return session.exec(
        select(MeetingSeries)
        .where(col(MeetingSeries.team_id) == team_id)
        .order_by(col(MeetingSeries.id).desc())
        .limit(1)
    ).first()


def get_team_series(*, session: Session, team_id: int, series_id: int) -> MeetingSeries | None:
    """One series of the team; ``None`` for another team's (a forged button)."""
    series = session.get(MeetingSeries, series_id)
    return series if series is not None and series.team_id == team_id else None


def get_team_occurrence(
    *, session: Session, team_id: int, occurrence_id: int
) -> tuple[MeetingOccurrence, MeetingSeries] | None:
    """One occurrence with its series, when it belongs to the team; ``None`` otherwise."""
    row = session.exec(
        select(MeetingOccurrence, MeetingSeries)
        .join(MeetingSeries, col(MeetingSeries.id) == col(MeetingOccurrence.series_id))
        .where(
            col(MeetingOccurrence.id) == occurrence_id,
            col(MeetingSeries.team_id) == team_id,
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


def upcoming(
    *, session: Session, team_id: int, now: datetime, limit: int = 5
) -> list[tuple[MeetingOccurrence, MeetingSeries]]:
    """The team's next meetings not cancelled, starting after ``now``, soonest first."""
    rows = session.exec(
        select(MeetingOccurrence, MeetingSeries)
        .join(MeetingSeries, col(MeetingSeries.id) == col(MeetingOccurrence.series_id))
        .where(
            col(MeetingSeries.team_id) == team_id,
            col(MeetingOccurrence.starts_at) > now,
            col(MeetingOccurrence.status) != OccurrenceStatus.CANCELLED,
        )
        .order_by(col(MeetingOccurrence.starts_at), col(MeetingOccurrence.id))
        .limit(limit)
    ).all()
    return [(occurrence, series) for occurrence, series in rows]


def generate_all(
    *, session: Session, tz: ZoneInfo, now: datetime, horizon: timedelta = DEFAULT_HORIZON
) -> int:
    """Runs ``generate`` for every active series (the daily job) and returns how many
    upcoming occurrences they have. A series that fails is logged and skipped (its
    savepoint rolled back), so one bad row never stops the others."""
    count = 0
    for series in active_series(session=session):
        try:
            with session.begin_nested():
                count += len(
                    generate(session=session, series=series, tz=tz, now=now, horizon=horizon)
                )
        except Exception:
            logger.exception("Generating meeting series %s failed", series.id)
    return count


def schedule_notices(
    *,
    session: Session,
    team_id: int,
    notice: Notice,
    now: datetime,
    occurrence_ids: list[int],
    expires_at: datetime,
    tz: ZoneInfo,
    series_id: int | None = None,
    sequence: int = 0,
) -> int:
    """Schedules one ``meeting.invitation`` prompt per active member of the team, due now,
    and returns how many. The dispatcher sends them (rate-limited, a blocked member marked
    unreachable without stopping the others); they commit with the change they announce.

    Keys start with ``meeting-notice:`` (not ``meeting:<id>:``), so moving or cancelling
    the meeting later never deletes a notice that still has to go out.
    """
    if not occurrence_ids:
        return 0
    subject = f"series:{series_id}" if series_id is not None else f"{occurrence_ids[0]}"
    payload = {
        "occurrence_ids": occurrence_ids,
        "notice": str(notice),
        "sequence": sequence,
        "tz": tz.key,
    }
    member_ids = _member_ids(session, team_id)
    for member_id in member_ids:
        prompts.schedule(
            session=session,
            kind=KIND_INVITATION,
            team_id=team_id,
            member_id=member_id,
            dedupe_key=f"meeting-notice:{subject}:{notice}:{sequence}:member:{member_id}",
            due_at=now,
            expires_at=max(expires_at, now + timedelta(minutes=1)),
            payload=payload,
        )
    return len(member_ids)


def occurrences(*, session: Session, series_id: int) -> list[MeetingOccurrence]:
    """The series' stored occurrences, cancelled ones included, by start."""
    return list(
        session.exec(
            select(MeetingOccurrence)
            .where(col(MeetingOccurrence.series_id) == series_id)
            .order_by(col(MeetingOccurrence.starts_at), col(MeetingOccurrence.number))
        ).all()
    )


def local_starts(
    series: MeetingSeries, tz: ZoneInfo, *, after: datetime, until: datetime
) -> list[tuple[int, datetime]]:
    """The series' (number, local start) by its rule, starting after ``after`` and at the
    latest at ``until``; moved or cancelled occurrences are not looked at."""
    starts: list[tuple[int, datetime]] = []
    for number, start in _rule(series, tz, after=after):
        if start > until:
            break
        if start > after:
            starts.append((number, start))
    return starts


def generate(
    *,
    session: Session,
    series: MeetingSeries,
    tz: ZoneInfo,
    now: datetime,
    horizon: timedelta = DEFAULT_HORIZON,
) -> list[MeetingOccurrence]:
    """Stores the occurrences starting within ``horizon`` after ``now`` that are missing,
    schedules the prompts of every upcoming occurrence, and returns those occurrences.

    Idempotent: an existing occurrence (moved or cancelled ones too) is left as it is,
    and prompts already scheduled are not scheduled again. A cancelled series gets none.
    """
    series_id = require_id(series)
    if series.cancelled:
        return []
    duration = timedelta(minutes=series.duration_minutes)
    rows = [
        {
            "series_id": series_id,
            "number": number,
            "starts_at": start.astimezone(UTC),
            "ends_at": (start + duration).astimezone(UTC),
            "status": OccurrenceStatus.SCHEDULED,
            "created_at": now,
        }
        for number, start in local_starts(series, tz, after=now, until=now + horizon)
    ]
    if rows:
        insert = postgresql_insert if _dialect(session) == "postgresql" else sqlite_insert
        session.execute(
            insert(MeetingOccurrence)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["series_id", "number"])
        )
    upcoming = list(
        session.exec(
            select(MeetingOccurrence)
            .where(
                col(MeetingOccurrence.series_id) == series_id,
                col(MeetingOccurrence.starts_at) > now,
                col(MeetingOccurrence.status) != OccurrenceStatus.CANCELLED,
            )
            .order_by(col(MeetingOccurrence.starts_at))
            .execution_options(populate_existing=True)
        ).all()
    )
    member_ids = _member_ids(session, series.team_id)
    for occurrence in upcoming:
        _schedule(session, series, occurrence, tz, now, member_ids)
    return upcoming


def plan_prompts(
    series: MeetingSeries,
    occurrence: MeetingOccurrence,
    tz: ZoneInfo,
    member_ids: list[int],
) -> list[PlannedPrompt]:
    """The prompts one occurrence needs; ``member_ids`` are the team's active members.

    The lead's preparation reminder is ``lead_prepare_days`` before at the meeting's local
    time, and the day-before reminder the day before at that time (wall-clock: across a
    daylight-saving change the UTC gap is a day plus or minus an hour); the hour-before
    reminder is one hour before; the minutes prompt at the end. Reminders expire when the
    meeting starts, the minutes prompt ``MINUTES_EXPIRE_AFTER`` after its end.
    """
    starts_at, ends_at = occurrence.starts_at, occurrence.ends_at
    local = starts_at.astimezone(tz)
    prefix = f"{key_prefix(require_id(occurrence))}{starts_at.astimezone(UTC):%Y%m%dT%H%MZ}:"
    lead = series.created_by_member_id
    planned = [
        PlannedPrompt(
            kind=KIND_LEAD_PREPARE,
            dedupe_key=f"{prefix}lead_prepare",
            member_id=lead,
            due_at=_utc(local - timedelta(days=series.lead_prepare_days)),
            expires_at=starts_at,
        ),
        PlannedPrompt(
            kind=KIND_MINUTES,
            dedupe_key=f"{prefix}minutes",
            member_id=lead,
            due_at=ends_at,
            expires_at=ends_at + MINUTES_EXPIRE_AFTER,
        ),
    ]
    for member_id in member_ids:
        planned.append(
            PlannedPrompt(
                kind=KIND_DAY_BEFORE,
                dedupe_key=f"{prefix}day_before:member:{member_id}",
                member_id=member_id,
                due_at=_utc(local - timedelta(days=1)),
                expires_at=starts_at,
            )
        )
        planned.append(
            PlannedPrompt(
                kind=KIND_HOUR_BEFORE,
                dedupe_key=f"{prefix}hour_before:member:{member_id}",
                member_id=member_id,
                due_at=starts_at - HOUR_BEFORE,
                expires_at=starts_at,
            )
        )
    return planned


def move_occurrence(
    *,
    session: Session,
    occurrence_id: int,
    starts_at: datetime,
    tz: ZoneInfo,
    now: datetime,
    duration_minutes: int | None = None,
) -> MeetingOccurrence:
    """Moves one occurrence (the series stays as it is): its prompts not yet sent are
    cancelled and its new ones scheduled. ``starts_at`` is aware, in any zone."""
    occurrence = _occurrence(session, occurrence_id)
    if starts_at.tzinfo is None:
        raise ValueError("naive datetime given for a meeting's start")
    if starts_at <= now:
        raise ValueError("a meeting can only be moved to a time ahead")
    if occurrence.status == OccurrenceStatus.CANCELLED:
        raise ValueError("a cancelled meeting cannot be moved")
    duration = (
        timedelta(minutes=duration_minutes)
        if duration_minutes is not None
        else occurrence.ends_at - occurrence.starts_at
    )
    if not timedelta(0) < duration <= timedelta(minutes=MAX_DURATION_MINUTES):
        raise ValueError("a meeting lasts between one minute and eight hours")
    series = _series(session, occurrence.series_id)
    occurrence.starts_at = starts_at.astimezone(UTC)
    occurrence.ends_at = (starts_at + duration).astimezone(UTC)
    occurrence.status = OccurrenceStatus.MOVED
    occurrence.sequence += 1
    session.add(occurrence)
    session.flush()
    prompts.cancel(session=session, key_prefix=key_prefix(occurrence_id))
    _schedule(session, series, occurrence, tz, now, _member_ids(session, series.team_id))
    return occurrence


def cancel_occurrence(*, session: Session, occurrence_id: int) -> MeetingOccurrence:
    """Cancels one occurrence and its prompts not yet sent; the series goes on. Its
    calendar SEQUENCE is raised, as for a move."""
    occurrence = _occurrence(session, occurrence_id)
    occurrence.status = OccurrenceStatus.CANCELLED
    occurrence.sequence += 1
    session.add(occurrence)
    session.flush()
    prompts.cancel(session=session, key_prefix=key_prefix(occurrence_id))
    return occurrence


def cancel_series(*, session: Session, series_id: int, now: datetime) -> list[MeetingOccurrence]:
    """Cancels the series and each occurrence that has not started by ``now``, with their
    prompts; returns the occurrences cancelled. Past meetings keep their minutes prompt."""
    series = _series(session, series_id)
    series.cancelled = True
    session.add(series)
    future = session.exec(
        select(MeetingOccurrence).where(
            col(MeetingOccurrence.series_id) == series_id,
            col(MeetingOccurrence.starts_at) > now,
            col(MeetingOccurrence.status) != OccurrenceStatus.CANCELLED,
        )
    ).all()
    cancelled = [
        cancel_occurrence(session=session, occurrence_id=require_id(row)) for row in future
    ]
    logger.info("Meeting series %s cancelled with %s occurrences", series_id, len(cancelled))
    return cancelled


def key_prefix(occurrence_id: int) -> str:
    """The start of every prompt key of one occurrence (the trailing colon keeps
    occurrence 1 from matching occurrence 12)."""
    return f"meeting:{occurrence_id}:"


def _schedule(
    session: Session,
    series: MeetingSeries,
    occurrence: MeetingOccurrence,
    tz: ZoneInfo,
    now: datetime,
    member_ids: list[int],
) -> list[Prompt]:
    """Schedules the occurrence's prompts whose time is still ahead of ``now``.

    A prompt whose time passed before it was first computed (a meeting set or moved at
    short notice) is not scheduled: the flow that set or moved it tells the members.
    Prompts stored earlier and due during downtime follow the late policy instead.
    """
    stored = []
    for plan in plan_prompts(series, occurrence, tz, member_ids):
        if plan.due_at <= now:
            continue
        stored.append(
            prompts.schedule(
                session=session,
                kind=plan.kind,
                team_id=series.team_id,
                member_id=plan.member_id,
                dedupe_key=plan.dedupe_key,
                due_at=plan.due_at,
                expires_at=plan.expires_at,
                payload={"occurrence_id": require_id(occurrence)},
            )
        )
    return stored


def _rule(
    series: MeetingSeries, tz: ZoneInfo, *, after: datetime
) -> Iterator[tuple[int, datetime]]:
    """The series' (number, local start) in order, from about ``after`` on (possibly a few
    earlier ones first); endless unless the series does not repeat."""
    first = datetime.combine(series.first_date, series.start_time, tzinfo=tz)
    repetition = Repetition(series.repetition)
    if repetition == Repetition.NONE:
        yield 1, first
        return
    if repetition == Repetition.MONTHLY:
        local_after = after.astimezone(tz)
        skipped = (local_after.year - first.year) * 12 + local_after.month - first.month - 1
        index = max(0, skipped)
        while True:
            yield index + 1, _months_later(first, index)
            index += 1
    weeks = 2 if repetition == Repetition.BIWEEKLY else 1
    trigger = CronTrigger(
        day_of_week=_WEEKDAYS[series.first_date.weekday()],
        hour=series.start_time.hour,
        minute=series.start_time.minute,
        timezone=tz,
        start_date=first,
    )
    fire = trigger.get_next_fire_time(None, max(after, first))
    while fire is not None:
        local = fire.astimezone(tz)
        week, rest = divmod((local.date() - series.first_date).days, 7)
        assert rest == 0, "the weekly trigger fires on the first date's weekday"
        if week % weeks == 0:
            yield week // weeks + 1, local
        fire = trigger.get_next_fire_time(fire, fire)


def _months_later(first: datetime, months: int) -> datetime:
    """The same wall-clock time ``months`` later, on the first date's day or, when the
    month is shorter, on its last day."""
    year, month = divmod(first.month - 1 + months, 12)
    year += first.year
    month += 1
    day = min(first.day, calendar.monthrange(year, month)[1])
    return first.replace(year=year, month=month, day=day)


def _utc(local: datetime) -> datetime:
    """UTC for an aware local time (a time skipped by the spring change is read with the
    offset before it, i.e. an hour later in summer time)."""
    return local.astimezone(UTC)


def _member_ids(session: Session, team_id: int) -> list[int]:
    return [
        require_id(row.member) for row in directory.team_members(session=session, team_id=team_id)
    ]


def _occurrence(session: Session, occurrence_id: int) -> MeetingOccurrence:
    occurrence = session.get(MeetingOccurrence, occurrence_id)
    if occurrence is None:
        raise MeetingNotFound(f"no meeting occurrence {occurrence_id}")
    return occurrence


def _series(session: Session, series_id: int) -> MeetingSeries:
    series = session.get(MeetingSeries, series_id)
    if series is None:
        raise MeetingNotFound(f"no meeting series {series_id}")
    return series


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name
