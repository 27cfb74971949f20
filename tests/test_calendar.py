"""Calendar files: parsed back with icalendar, they carry Copenhagen time (13:00Z for
14:00 in winter, 12:00Z in summer), a VTIMEZONE, a stable UID, and a SEQUENCE that
grows with each move; a cancelled meeting is METHOD:CANCEL with STATUS:CANCELLED."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlmodel import Session, select
from telegram import Bot

from flows.meetings.calendar import (
    ICS_FILENAME,
    CalendarEvent,
    meeting_ics,
    meeting_uid,
    meetings_ics,
)
from flows.meetings.invitations import render_notice
from flows.meetings.meeting_views import NotUnderstood, parse_time, parse_when
from storage import meetings
from storage.db import require_id
from storage.models import MeetingOccurrence, Membership, Prompt, Repetition, Role
from tests.factories import id_of, make_member, make_team

TZ = ZoneInfo("Europe/Copenhagen")


def _ics(
    day: date, *, occurrence_id: int = 7, sequence: int = 0, cancelled: bool = False
) -> bytes:
    start = datetime.combine(day, time(14, 0), tzinfo=TZ)
    return meeting_ics(
        occurrence_id=occurrence_id,
        starts_at=start.astimezone(UTC),
        ends_at=(start + timedelta(minutes=60)).astimezone(UTC),
        summary="Refleksionsmøde – Team Syd",
        location="Mødelokalet",
        sequence=sequence,
        tz=TZ,
        cancelled=cancelled,
    )


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [(date(2026, 11, 24), 13), (date(2026, 6, 16), 12)],
    ids=["winter", "summer"],
)
def test_a_meeting_at_14_local_is_written_in_copenhagen_time(day: date, utc_hour: int) -> None:
    calendar = Calendar.from_ical(_ics(day))

    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(calendar["PRODID"]).startswith("-//stemme//")
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "Europe/Copenhagen"
    [event] = calendar.walk("VEVENT")
    assert event["DTSTART"].params["TZID"] == "Europe/Copenhagen"
    assert event["DTEND"].params["TZID"] == "Europe/Copenhagen"
    start = event.decoded("DTSTART")
    assert start.replace(tzinfo=None) == datetime.combine(day, time(14, 0))
    assert start.astimezone(UTC) == datetime.combine(day, time(utc_hour, 0), tzinfo=UTC)
    assert event.decoded("DTEND").astimezone(UTC) == datetime.combine(
        day, time(utc_hour + 1, 0), tzinfo=UTC
    )
    assert str(event["SUMMARY"]) == "Refleksionsmøde – Team Syd"
    assert str(event["LOCATION"]) == "Mødelokalet"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert "DTSTAMP" in event
    assert "TZID:Europe/Copenhagen" in _ics(day).decode()


def test_a_moved_meeting_keeps_its_uid_and_raises_the_sequence() -> None:
    before = Calendar.from_ical(_ics(date(2026, 11, 24), sequence=0)).walk("VEVENT")[0]
    after = Calendar.from_ical(_ics(date(2026, 11, 26), sequence=1)).walk("VEVENT")[0]

    assert str(before["UID"]) == str(after["UID"]) == meeting_uid(7) == "meeting-7@stemme"
    assert after.decoded("SEQUENCE") > before.decoded("SEQUENCE")
    assert after.decoded("DTSTART").date() == date(2026, 11, 26)


def test_another_meeting_has_another_uid() -> None:
    one = Calendar.from_ical(_ics(date(2026, 11, 24), occurrence_id=7)).walk("VEVENT")[0]
    two = Calendar.from_ical(_ics(date(2026, 12, 1), occurrence_id=8)).walk("VEVENT")[0]

    assert str(one["UID"]) != str(two["UID"])


def test_a_cancelled_meeting_is_a_cancel_with_the_same_uid() -> None:
    calendar = Calendar.from_ical(_ics(date(2026, 11, 24), sequence=2, cancelled=True))

    assert str(calendar["METHOD"]) == "CANCEL"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == "meeting-7@stemme"
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.decoded("SEQUENCE") == 2


def test_cancelling_a_series_puts_every_meeting_in_one_file() -> None:
    starts = [datetime(2026, 10, 19, 14, tzinfo=TZ), datetime(2026, 10, 26, 14, tzinfo=TZ)]
    data = meetings_ics(
        events=[
            CalendarEvent(10 + n, start, start + timedelta(hours=1), 1)
            for n, start in enumerate(starts)
        ],
        summary="Refleksionsmøde – Team Syd",
        location="",
        tz=TZ,
        cancelled=True,
    )

    calendar = Calendar.from_ical(data)
    events = calendar.walk("VEVENT")
    assert [str(event["UID"]) for event in events] == ["meeting-10@stemme", "meeting-11@stemme"]
    # Across the October change: both at 14:00 local, 12:00Z and then 13:00Z.
    assert [event.decoded("DTSTART").astimezone(UTC).hour for event in events] == [12, 13]
    assert "LOCATION" not in events[0]


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        meeting_ics(
            occurrence_id=1,
            starts_at=datetime(2026, 11, 24, 14),  # noqa: DTZ001 - the point of the test
            ends_at=datetime(2026, 11, 24, 15, tzinfo=TZ),
            summary="x",
            location="",
            sequence=0,
            tz=TZ,
        )


def test_the_file_name_is_the_danish_meeting_name() -> None:
    assert ICS_FILENAME == "refleksionsmode.ics"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("24/11 14:00", (date(2026, 11, 24), time(14, 0))),
        ("24.11 14.00", (date(2026, 11, 24), time(14, 0))),
        ("24/11/2026 14:00", (date(2026, 11, 24), time(14, 0))),
        ("24-11-26 kl. 9", (date(2026, 11, 24), time(9, 0))),
        ("24/11", (date(2026, 11, 24), None)),
        # Without a year, a date before today is next year's.
        ("5/1 10:30", (date(2027, 1, 5), time(10, 30))),
        # Today stays today (a past time is refused by the flow, not moved a year).
        ("23/11 08:00", (date(2026, 11, 23), time(8, 0))),
    ],
)
def test_typed_dates_and_times_are_read(typed: str, expected: tuple[date, time | None]) -> None:
    assert parse_when(typed, today=date(2026, 11, 23)) == expected


@pytest.mark.parametrize("typed", ["31/2 14:00", "tomorrow", "24/11 25:00", "24/13", "24/11 14:7"])
def test_what_is_not_a_date_is_not_understood(typed: str) -> None:
    with pytest.raises(NotUnderstood):
        parse_when(typed, today=date(2026, 11, 23))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("14:00", time(14)), ("14.30", time(14, 30)), ("1345", time(13, 45)), ("kl. 9", time(9))],
)
def test_typed_times_are_read(typed: str, expected: time) -> None:
    assert parse_time(typed) == expected


# ------------------------------------------------------------------ the notices that carry them


class RecordingBot:
    """Records what a renderer sends instead of talking to Telegram."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_document(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)


def _notice(session: Session, **changes: Any) -> tuple[Prompt, MeetingOccurrence, int]:
    """A weekly series, its first occurrence, and a new-meeting notice to an English member."""
    team = make_team(session=session, name="Team Syd")
    lead = make_member(session=session, team=team, role=Role.LEAD, language="en")
    series = meetings.create_series(
        session=session,
        team_id=id_of(team),
        created_by_member_id=id_of(lead.member),
        first_date=date(2026, 11, 24),
        start_time=time(14, 0),
        duration_minutes=45,
        place="Staff room",
        repetition=Repetition.WEEKLY,
    )
    now = datetime(2026, 11, 20, 9, tzinfo=UTC)
    first = meetings.generate(session=session, series=series, tz=TZ, now=now)[0]
    meetings.schedule_notices(
        session=session,
        team_id=id_of(team),
        notice=meetings.Notice.NEW,
        now=now,
        occurrence_ids=[require_id(first)],
        expires_at=first.starts_at,
        tz=TZ,
    )
    session.commit()
    prompt = session.exec(select(Prompt).where(Prompt.kind == meetings.KIND_INVITATION)).one()
    return prompt, first, lead.member.telegram_id


async def test_a_new_meeting_notice_is_one_document_in_the_members_language(
    session: Session,
) -> None:
    prompt, first, telegram_id = _notice(session)
    bot = RecordingBot()

    await render_notice(cast(Bot, bot), prompt, session)

    [sent] = bot.sent
    assert sent["chat_id"] == telegram_id
    assert sent["filename"] == ICS_FILENAME
    assert sent["caption"].startswith("📅 Team Syd has a reflection meeting Tuesday 24 November")
    assert "Place: Staff room" in sent["caption"]
    [event] = Calendar.from_ical(sent["document"]).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Reflection meeting – Team Syd"
    assert str(event["UID"]) == f"meeting-{first.id}@stemme"
    assert event.decoded("DTSTART").astimezone(UTC) == datetime(2026, 11, 24, 13, tzinfo=UTC)


async def test_a_notice_is_not_sent_when_superseded_cancelled_or_the_member_left(
    session: Session,
) -> None:
    prompt, first, _telegram_id = _notice(session)
    bot = RecordingBot()
    meetings.move_occurrence(
        session=session,
        occurrence_id=require_id(first),
        starts_at=datetime(2026, 11, 25, 14, tzinfo=TZ),
        tz=TZ,
        now=datetime(2026, 11, 20, 9, tzinfo=UTC),
    )
    await render_notice(cast(Bot, bot), prompt, session)  # a newer move superseded it
    meetings.cancel_occurrence(session=session, occurrence_id=require_id(first))
    await render_notice(cast(Bot, bot), prompt, session)
    assert bot.sent == []

    prompt.payload = {**prompt.payload, "notice": "cancelled", "sequence": 2}
    membership = session.exec(select(Membership)).one()
    membership.active = False
    session.add(membership)
    session.flush()
    await render_notice(cast(Bot, bot), prompt, session)
    assert bot.sent == []
    membership.active = True
    session.add(membership)
    session.flush()
    await render_notice(cast(Bot, bot), prompt, session)
    [sent] = bot.sent
    assert str(Calendar.from_ical(sent["document"])["METHOD"]) == "CANCEL"
