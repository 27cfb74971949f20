"""Calendar files (.ics) for reflection meetings, built with the ``icalendar`` package.

One file holds one meeting: a VCALENDAR with PRODID, VERSION and METHOD (``REQUEST``
for a new or moved meeting, ``CANCEL`` for a cancelled one), a VTIMEZONE for the
team's zone and a VEVENT whose DTSTART/DTEND carry ``TZID=Europe/Copenhagen`` (so
the phone shows 14:00 whatever zone it is in and a weekly meeting stays at 14:00
across daylight saving). The UID is stable per occurrence
(``meeting-<occurrence id>@stemme``) and SEQUENCE is the occurrence's stored
``sequence``, raised at each move: a calendar app that already has the event replaces
it with the moved one, or removes it on ``CANCEL``.

The file holds no names of people or residents: only the team's meeting title and the
place the lead typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from storage.db import utcnow

ICS_FILENAME = "refleksionsmode.ics"
ICS_MIME_TYPE = "text/calendar"
PRODID = "-//stemme//Refleksionsmøder//DA"


def meeting_uid(occurrence_id: int) -> str:
    """The UID of one occurrence's event, the same in every file sent for it."""
    return f"meeting-{occurrence_id}@stemme"


@dataclass(frozen=True)
class CalendarEvent:
    """One meeting as it goes into a calendar file."""

    occurrence_id: int
    starts_at: datetime
    ends_at: datetime
    sequence: int


def meeting_ics(
    *,
    occurrence_id: int,
    starts_at: datetime,
    ends_at: datetime,
    summary: str,
    location: str,
    sequence: int,
    tz: ZoneInfo,
    cancelled: bool = False,
    stamp: datetime | None = None,
) -> bytes:
    """Builds the .ics for one meeting; ``starts_at``/``ends_at`` are aware (any zone) and
    written in ``tz``. ``stamp`` (DTSTAMP, UTC) defaults to now."""
    event = CalendarEvent(occurrence_id, starts_at, ends_at, sequence)
    return meetings_ics(
        events=[event],
        summary=summary,
        location=location,
        tz=tz,
        cancelled=cancelled,
        stamp=stamp,
    )


def meetings_ics(
    *,
    events: Sequence[CalendarEvent],
    summary: str,
    location: str,
    tz: ZoneInfo,
    cancelled: bool = False,
    stamp: datetime | None = None,
) -> bytes:
    """Builds one .ics with a VEVENT per meeting (each its own UID): used to cancel every
    future meeting of a series with one file."""
    if not events:
        raise ValueError("a calendar file needs at least one meeting")
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    stamp = (stamp or utcnow()).astimezone(UTC)
    for meeting in events:
        if meeting.starts_at.tzinfo is None or meeting.ends_at.tzinfo is None:
            raise ValueError("naive datetime given for a meeting's time")
        event = Event()
        event.add("uid", meeting_uid(meeting.occurrence_id))
        event.add("sequence", meeting.sequence)
        event.add("dtstamp", stamp)
        event.add("dtstart", meeting.starts_at.astimezone(tz))
        event.add("dtend", meeting.ends_at.astimezone(tz))
        event.add("summary", summary)
        if location:
            event.add("location", location)
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())
