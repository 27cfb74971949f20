"""What the meeting flow's parts share (planning.py, upcoming.py, invitations.py): the
flow's clock, reading typed dates and times, the labels of durations and repetitions, and
the checks that find a pressed button's meeting or series within the lead's team.

``clock`` lives here alone; the other modules call ``meeting_views.clock()`` through the
module, so a test that replaces ``meeting_views.clock`` moves every part of the flow.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from babel.dates import format_date
from telegram import Update

from flows.core.engine import StemmeContext, respond
from flows.core.guard import stale_button
from flows.core.i18n import N_, Texts
from storage import meetings
from storage.db import require_id, utcnow
from storage.models import MeetingOccurrence, MeetingSeries, OccurrenceStatus, Repetition

logger = logging.getLogger(__name__)

# The flow's clock; tests replace it to plan meetings relative to a fixed "now".
clock: Callable[[], datetime] = utcnow

REPETITION_LABELS = {
    Repetition.NONE: N_("Only once"),
    Repetition.WEEKLY: N_("Every week"),
    Repetition.BIWEEKLY: N_("Every second week"),
    Repetition.MONTHLY: N_("Every month"),
}

_DATE = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})(?:\s*[/.\-]\s*(\d{4}|\d{2}))?")
_TIME = re.compile(r"(?:kl\.?\s*)?(\d{1,2})(?:\s*[:.]\s*(\d{2}))?")


class NotUnderstood(ValueError):
    """Raised when typed text is not a date and time."""


# ------------------------------------------------------------------ reading typed times


def parse_time(text: str) -> time:
    """Reads "14:00", "14.00", "kl. 14" or "1400"; raises ``NotUnderstood`` otherwise."""
    text = text.strip().lower()
    compact = re.fullmatch(r"(\d{2})(\d{2})", text)
    match = compact or _TIME.fullmatch(text)
    if match is None:
        raise NotUnderstood(text)
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        raise NotUnderstood(text)
    return time(hour, minute)


def parse_when(text: str, *, today: date) -> tuple[date, time | None]:
    """Reads "24/11", "24/11 14:00", "24.11 14.00" or "24/11/2026 14:00".

    Without a year the date is the next 24/11 from ``today`` on (today included, so a
    time earlier today is refused as past, not moved a year ahead).
    """
    text = text.strip().lower()
    match = _DATE.match(text)
    if match is None:
        raise NotUnderstood(text)
    day, month, year_text = int(match.group(1)), int(match.group(2)), match.group(3)
    rest = text[match.end() :].strip()
    try:
        if year_text is None:
            chosen = date(today.year, month, day)
            if chosen < today:
                chosen = date(today.year + 1, month, day)
        else:
            year = int(year_text)
            chosen = date(year + 2000 if year < 100 else year, month, day)
    except ValueError as error:
        raise NotUnderstood(text) from error
    return chosen, parse_time(rest) if rest else None


# ------------------------------------------------------------------ formatting


def zone_of(context: StemmeContext) -> ZoneInfo:
    """The zone meetings are planned and shown in (``STEMME_TIMEZONE``)."""
    return context.services.settings.tz


def local_now(context: StemmeContext) -> datetime:
    """The flow's clock in that zone."""
    return clock().astimezone(zone_of(context))


def weekday_name(texts: Texts, day: date) -> str:
    """The weekday's full name, e.g. "tirsdag"."""
    return format_date(day, "EEEE", locale=texts.babel_locale)


def repetition_label(texts: Texts, value: str) -> str:
    """How a series repeats, e.g. "Hver uge"."""
    return texts._(REPETITION_LABELS.get(Repetition(value), REPETITION_LABELS[Repetition.NONE]))


def minutes_label(texts: Texts, minutes: int) -> str:
    """A meeting's length, e.g. "45 min."."""
    return texts._("{minutes} min").format(minutes=minutes)


def meeting_title(texts: Texts, team_name: str) -> str:
    """The calendar event's title, e.g. "Refleksionsmøde – Team Syd"."""
    return texts._("Reflection meeting – {team}").format(team=team_name)


# ------------------------------------------------------------------ buttons and answers


def team_id_of(context: StemmeContext) -> int:
    """The id of the member's current team."""
    _member, _membership, team = context.require_member()
    return require_id(team)


def changeable(occurrence: MeetingOccurrence, now: datetime) -> bool:
    """Only a meeting ahead and not cancelled can be moved or cancelled."""
    return occurrence.status != OccurrenceStatus.CANCELLED and occurrence.starts_at > now


def occurrence_from_button(
    context: StemmeContext,
) -> tuple[MeetingOccurrence, MeetingSeries] | None:
    """The occurrence named by the button, within the lead's team and still changeable."""
    assert context.matches
    found = meetings.get_team_occurrence(
        session=context.session,
        team_id=team_id_of(context),
        occurrence_id=int(context.matches[0].group(1)),
    )
    if found is None or not changeable(found[0], clock()):
        return None
    return found


def series_from_button(context: StemmeContext) -> MeetingSeries | None:
    """The series named by the button, within the lead's team and not cancelled."""
    assert context.matches
    series = meetings.get_team_series(
        session=context.session,
        team_id=team_id_of(context),
        series_id=int(context.matches[0].group(1)),
    )
    return series if series is not None and not series.cancelled else None


async def refuse_stale(update: Update, context: StemmeContext, action: str) -> None:
    """Refuses a press on another team's, a past or a cancelled meeting (logged)."""
    member, _membership, team = context.require_member()
    logger.warning(
        "Meeting button %s refused for member %s in team %s: not this team's or no longer open",
        action,
        member.id,
        team.id,
    )
    await stale_button(update, context)


def after_commit(update: Update, context: StemmeContext, text: str) -> None:
    """Once the change and its notices are committed: wakes the dispatcher, so the members
    are told at once, and answers the lead (no lock is held while Telegram answers)."""
    wake_prompts = context.services.wake_prompts

    async def aftermath() -> None:
        wake_prompts()
        await respond(update, text)

    context.after_commit(aftermath)
