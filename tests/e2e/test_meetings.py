"""Reflection meetings in the running application: a lead plans a weekly meeting by
buttons or by typing, moves one meeting and cancels the series; every member gets one
message with a calendar file that parses and carries Copenhagen time; staff and forged
buttons change nothing."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.app import SCHEDULER_KEY, StemmeApplication
from bot.scheduler import GENERATE_MEETINGS_JOB
from flows.meetings import meeting_views
from flows.meetings.calendar import ICS_FILENAME
from sandbox.emulator import BotApiEmulator, EmuMessage, EmuUser
from storage import meetings
from storage.db import utcnow
from storage.models import (
    Conversation,
    MeetingOccurrence,
    MeetingSeries,
    OccurrenceStatus,
    Prompt,
    PromptStatus,
    Repetition,
)
from tests.e2e.conftest import Admin
from tests.e2e.people import (
    LEAD_ID,
    METTE_ID,
    join,
    member_of,
    setup_team,
    staff_invite_code,
    team_with_residents,
)

TZ = ZoneInfo("Europe/Copenhagen")
NORA_ID = 5_000_000_011


async def _crew(emulator: BotApiEmulator, admin: Admin) -> tuple[int, EmuUser, EmuUser, EmuUser]:
    """Team Syd: Lise (lead), Omar and Mette (staff)."""
    team_id, lise, omar = await team_with_residents(emulator, admin)
    mette, _ = await join(emulator, METTE_ID, "Mette", await staff_invite_code(lise), "da")
    return team_id, lise, omar, mette


def _today() -> date:
    return utcnow().astimezone(TZ).date()


def _documents(user: EmuUser) -> list[EmuMessage]:
    return [m for m in user.chat_messages() if m.from_bot and m.document is not None]


async def _wait_documents(users: list[EmuUser], count: int, seconds: float = 15) -> None:
    """Waits (polling, with a deadline) until each user has ``count`` calendar files."""
    deadline = asyncio.get_running_loop().time() + seconds
    while any(len(_documents(user)) < count for user in users):
        if asyncio.get_running_loop().time() > deadline:
            seen = {user.first_name: len(_documents(user)) for user in users}
            raise AssertionError(f"expected {count} calendar files each, got {seen}")
        await asyncio.sleep(0.05)


def _calendar(message: EmuMessage) -> Calendar:
    assert message.document is not None
    assert message.document.filename == ICS_FILENAME
    return Calendar.from_ical(message.document.data)


def _series(engine: Engine) -> list[tuple[MeetingSeries, list[MeetingOccurrence]]]:
    with Session(engine) as session:
        rows = session.exec(select(MeetingSeries).order_by(col(MeetingSeries.id))).all()
        result = []
        for series in rows:
            session.expunge(series)
            occurrences = meetings.occurrences(session=session, series_id=series.id or 0)
            for occurrence in occurrences:
                session.expunge(occurrence)
            result.append((series, occurrences))
        return result


async def _plan_weekly(lise: EmuUser, day: date) -> None:
    """Lise plans a weekly 60-minute meeting at 14:00 on ``day`` by buttons only."""
    reaction = await lise.send("/meeting")
    assert "Ingen refleksionsmøder er planlagt" in reaction.text
    reaction = await lise.press("➕ Planlæg et møde")
    assert "Hvilken dag er refleksionsmødet?" in reaction.text
    await lise.press(f"mtg:day:{day:%Y%m%d}")
    await lise.press("14:00")
    await lise.press("60 min.")
    await lise.press("Intet sted")
    reaction = await lise.press("Hver uge")
    assert "Gentages: Hver uge" in reaction.text
    reaction = await lise.press("Gem ✔")
    assert "Gemt ✔" in reaction.text


async def test_a_lead_plans_a_weekly_meeting_by_buttons_and_everyone_gets_a_calendar_file(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar, mette = await _crew(emulator, admin)
    day = _today() + timedelta(days=3)

    await _plan_weekly(lise, day)

    [(series, occurrences)] = _series(e2e_engine)
    assert series.team_id == team_id
    assert series.repetition == Repetition.WEEKLY
    assert series.first_date == day and series.start_time == time(14, 0)
    assert len(occurrences) == 8
    for number, occurrence in enumerate(occurrences):
        local = occurrence.starts_at.astimezone(TZ)
        assert local.date() == day + timedelta(weeks=number)
        assert local.time() == time(14, 0)
        assert occurrence.ends_at - occurrence.starts_at == timedelta(minutes=60)

    await _wait_documents([lise, omar, mette], 1)
    await emulator.wait_idle(settle=0.3)
    first = occurrences[0]
    for user in (lise, omar, mette):
        [message] = _documents(user)
        assert "refleksionsmøde" in (message.caption or "")
        [event] = _calendar(message).walk("VEVENT")
        assert event["DTSTART"].params["TZID"] == "Europe/Copenhagen"
        assert event.decoded("DTSTART") == datetime.combine(day, time(14, 0), tzinfo=TZ)
        assert event.decoded("DTEND") == datetime.combine(day, time(15, 0), tzinfo=TZ)
        assert str(event["UID"]) == f"meeting-{first.id}@stemme"
        assert event.decoded("SEQUENCE") == 0
    sends = [call for call in emulator.calls_for("sendDocument") if call.ok]
    assert len(sends) == 3


async def test_a_typed_date_works_and_a_past_one_is_refused_keeping_the_step(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, _omar = await team_with_residents(emulator, admin)
    await lise.send("/meeting")
    await lise.press("➕ Planlæg et møde")
    yesterday = _today() - timedelta(days=1)

    reaction = await lise.send(f"{yesterday:%d/%m/%Y} 14:00")

    assert "Det tidspunkt er allerede gået" in reaction.text
    with Session(e2e_engine) as session:
        conversation = session.exec(
            select(Conversation).where(Conversation.telegram_id == LEAD_ID)
        ).one()
        assert conversation.state == "meeting.day"
    ahead = _today() + timedelta(days=10)
    reaction = await lise.send(f"{ahead.day}/{ahead.month} 14.30")
    assert "Hvor lang tid varer mødet?" in reaction.text
    await lise.press("45 min.")
    await lise.send("Mødelokalet")
    await lise.press("Kun én gang")
    reaction = await lise.press("Gem ✔")
    assert "Gemt ✔" in reaction.text

    [(series, [occurrence])] = _series(e2e_engine)
    assert series.place == "Mødelokalet"
    assert occurrence.starts_at.astimezone(TZ) == datetime.combine(ahead, time(14, 30), tzinfo=TZ)
    assert occurrence.ends_at - occurrence.starts_at == timedelta(minutes=45)


async def test_moving_one_meeting_sends_the_same_uid_with_a_higher_sequence(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar, mette = await _crew(emulator, admin)
    day = _today() + timedelta(days=2)
    await _plan_weekly(lise, day)
    await _wait_documents([lise, omar, mette], 1)
    [(_series_row, occurrences)] = _series(e2e_engine)
    second = occurrences[1]
    new_day = day + timedelta(days=8)

    await lise.send("/meeting")
    await lise.press(f"mtg:move:{second.id}")
    await lise.press("mtg:days:7")
    await lise.press(f"mtg:day:{new_day:%Y%m%d}")
    reaction = await lise.press("15:00")

    assert "Flyttet ✔" in reaction.text
    await _wait_documents([lise, omar, mette], 2)
    [(_series_row, after)] = _series(e2e_engine)
    moved = next(row for row in after if row.id == second.id)
    assert moved.status == OccurrenceStatus.MOVED and moved.sequence == 1
    assert moved.starts_at.astimezone(TZ) == datetime.combine(new_day, time(15), tzinfo=TZ)
    for user in (lise, omar, mette):
        message = _documents(user)[-1]
        assert "flyttet" in (message.caption or "")
        calendar = _calendar(message)
        assert str(calendar["METHOD"]) == "REQUEST"
        [event] = calendar.walk("VEVENT")
        assert str(event["UID"]) == f"meeting-{second.id}@stemme"
        assert event.decoded("SEQUENCE") == 1
        assert event.decoded("DTSTART") == datetime.combine(new_day, time(15), tzinfo=TZ)


async def test_cancelling_the_series_cancels_every_future_meeting_and_tells_everyone(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar, mette = await _crew(emulator, admin)
    await _plan_weekly(lise, _today() + timedelta(days=4))
    await _wait_documents([lise, omar, mette], 1)
    [(series, occurrences)] = _series(e2e_engine)

    await lise.send("/meeting")
    reaction = await lise.press(f"mtg:stop:{series.id}")
    assert "Aflys alle fremtidige møder i serien?" in reaction.text
    reaction = await lise.press("Ja, aflys dem alle")

    assert "Aflyst ✔ 8 fremtidige møder" in reaction.text
    await _wait_documents([lise, omar, mette], 2)
    [(series, after)] = _series(e2e_engine)
    assert series.cancelled
    assert {row.status for row in after} == {OccurrenceStatus.CANCELLED}
    with Session(e2e_engine) as session:
        pending = session.exec(
            select(Prompt).where(
                col(Prompt.kind).startswith("meeting."),
                col(Prompt.kind) != meetings.KIND_INVITATION,
                Prompt.status == PromptStatus.PENDING,
            )
        ).all()
        assert pending == []
    for user in (lise, omar, mette):
        message = _documents(user)[-1]
        assert "aflyst" in (message.caption or "")
        calendar = _calendar(message)
        assert str(calendar["METHOD"]) == "CANCEL"
        events = calendar.walk("VEVENT")
        assert [str(event["UID"]) for event in events] == [
            f"meeting-{row.id}@stemme" for row in occurrences
        ]
        assert {str(event["STATUS"]) for event in events} == {"CANCELLED"}


async def test_moving_the_series_cancels_its_meetings_and_invites_to_the_new_time(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar, mette = await _crew(emulator, admin)
    await _plan_weekly(lise, _today() + timedelta(days=4))
    await _wait_documents([lise, omar, mette], 1)
    [(old, old_occurrences)] = _series(e2e_engine)
    new_day = _today() + timedelta(days=9)

    await lise.send("/meeting")
    await lise.press(f"mtg:moveall:{old.id}")
    await lise.press("mtg:days:7")
    await lise.press(f"mtg:day:{new_day:%Y%m%d}")
    reaction = await lise.press("15:00")

    assert "Flyttet ✔ Serien mødes nu fra" in reaction.text
    await _wait_documents([lise, omar, mette], 3)
    rows = _series(e2e_engine)
    [(cancelled, before)] = [row for row in rows if row[0].id == old.id]
    [(moved, after)] = [row for row in rows if row[0].id != old.id]
    assert cancelled.cancelled
    assert {row.status for row in before} == {OccurrenceStatus.CANCELLED}
    assert (moved.repetition, moved.duration_minutes, moved.place) == (
        old.repetition,
        old.duration_minutes,
        old.place,
    )
    assert [row.starts_at.astimezone(TZ).time() for row in after] == [time(15)] * len(after)
    assert after[0].starts_at.astimezone(TZ).date() == new_day
    for user in (lise, omar, mette):
        # Two separate notices: the dispatcher may deliver them in either order.
        files = {
            str(calendar["METHOD"]): calendar
            for calendar in (_calendar(message) for message in _documents(user)[-2:])
        }
        cancelling, inviting = files["CANCEL"], files["REQUEST"]
        assert [str(event["UID"]) for event in cancelling.walk("VEVENT")] == [
            f"meeting-{row.id}@stemme" for row in old_occurrences
        ]
        [event] = inviting.walk("VEVENT")
        assert event.decoded("DTSTART") == datetime.combine(new_day, time(15), tzinfo=TZ)


async def test_cancelling_one_meeting_sends_a_cancelling_file_with_the_same_uid(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar, mette = await _crew(emulator, admin)
    await _plan_weekly(lise, _today() + timedelta(days=5))
    await _wait_documents([lise, omar, mette], 1)
    [(_series_row, occurrences)] = _series(e2e_engine)
    first = occurrences[0]

    await lise.send("/meeting")
    await lise.press(f"mtg:cancel:{first.id}")
    reaction = await lise.press("Ja, aflys det")

    assert "Aflyst ✔" in reaction.text
    await _wait_documents([omar], 2)
    [(series, after)] = _series(e2e_engine)
    assert not series.cancelled
    assert [row.status for row in after][:2] == [
        OccurrenceStatus.CANCELLED,
        OccurrenceStatus.SCHEDULED,
    ]
    calendar = _calendar(_documents(omar)[-1])
    assert str(calendar["METHOD"]) == "CANCEL"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"meeting-{first.id}@stemme"
    assert str(event["STATUS"]) == "CANCELLED"
    assert event.decoded("SEQUENCE") == 1


async def test_a_blocked_member_does_not_stop_the_others_nor_lose_the_series(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar, mette = await _crew(emulator, admin)
    emulator.block(omar.id)

    await _plan_weekly(lise, _today() + timedelta(days=3))

    await _wait_documents([lise, mette], 1)
    assert len(_series(e2e_engine)) == 1
    omar_member = member_of(e2e_engine, omar.id)
    assert omar_member is not None
    with Session(e2e_engine) as session:
        for _ in range(200):
            prompt = session.exec(
                select(Prompt).where(
                    Prompt.kind == meetings.KIND_INVITATION,
                    Prompt.member_id == omar_member.id,
                )
            ).one()
            if prompt.status == PromptStatus.UNREACHABLE:
                break
            session.expire_all()
            await asyncio.sleep(0.05)
        assert prompt.status == PromptStatus.UNREACHABLE
    assert _documents(omar) == []


async def test_staff_see_the_meetings_but_cannot_plan_or_cancel(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar, mette = await _crew(emulator, admin)
    day = _today() + timedelta(days=3)
    await _plan_weekly(lise, day)
    [(_series_row, occurrences)] = _series(e2e_engine)

    reaction = await omar.send("/meeting")
    assert "Kun teamlederen kan planlægge eller ændre møder." in reaction.text
    assert reaction.message.inline_keyboard == []
    reaction = await omar.press_data("mtg:new")
    assert reaction.alert == "Det kan kun teamlederen."
    reaction = await omar.press_data(f"mtg:cancel!:{occurrences[0].id}")
    assert reaction.alert == "Det kan kun teamlederen."

    assert {row.status for _s, rows in _series(e2e_engine) for row in rows} == {
        OccurrenceStatus.SCHEDULED
    }


async def test_a_forged_button_for_another_teams_meeting_changes_nothing(
    emulator: BotApiEmulator,
    bot: StemmeApplication,
    admin: Admin,
    e2e_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _team_id, lise, _omar = await team_with_residents(emulator, admin)
    _other_team, code = setup_team(admin, "Team Nord")
    nora, _ = await join(emulator, NORA_ID, "Nora", code, "da")
    await _plan_weekly(nora, _today() + timedelta(days=3))
    [(other_series, other_occurrences)] = _series(e2e_engine)
    target = other_occurrences[0]
    await lise.send("/meeting")
    caplog.set_level(logging.WARNING, logger="flows.meetings.meeting_views")

    for data in (
        f"mtg:cancel!:{target.id}",
        f"mtg:cancel:{target.id}",
        f"mtg:move:{target.id}",
        f"mtg:stop!:{other_series.id}",
    ):
        reaction = await lise.press_data(data)
        assert reaction.alert == "Den knap er ikke længere aktiv. Intet blev ændret."

    refusals = [r for r in caplog.records if r.getMessage().startswith("Meeting button")]
    assert len(refusals) == 4
    lise_member = member_of(e2e_engine, lise.id)
    assert lise_member is not None
    assert all(f"member {lise_member.id} " in r.getMessage() for r in refusals)
    [(series, after)] = _series(e2e_engine)
    assert not series.cancelled
    assert [(row.status, row.starts_at, row.sequence) for row in after] == [
        (row.status, row.starts_at, row.sequence) for row in other_occurrences
    ]


async def test_the_running_bot_generates_the_meetings_at_start_and_daily_at_three(
    bot: StemmeApplication,
) -> None:
    job = bot.bot_data[SCHEDULER_KEY].get_job(GENERATE_MEETINGS_JOB)

    assert job is not None
    fields = {field.name: str(field) for field in job.trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("3", "0")
    assert str(job.trigger.timezone) == "Europe/Copenhagen"
    assert job.next_run_time - utcnow() <= timedelta(days=1)


async def test_a_meeting_months_ahead_is_stored_and_one_over_a_year_ahead_refused(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, _omar = await team_with_residents(emulator, admin)
    await lise.send("/meeting")
    await lise.press("➕ Planlæg et møde")
    too_far = _today() + timedelta(days=400)

    reaction = await lise.send(f"{too_far:%d/%m/%Y} 10:00")

    assert "mere end et år frem" in reaction.text
    assert _series(e2e_engine) == []
    months = _today() + timedelta(days=100)
    await lise.send(f"{months:%d/%m/%Y} 10:00")
    await lise.press("90 min.")
    await lise.press("Intet sted")
    await lise.press("Hver måned")
    reaction = await lise.press("Gem ✔")

    assert "1 møde er planlagt indtil videre" in reaction.text
    [(series, [occurrence])] = _series(e2e_engine)
    assert series.repetition == Repetition.MONTHLY and series.place == ""
    assert occurrence.starts_at.astimezone(TZ) == datetime.combine(months, time(10), tzinfo=TZ)


async def test_on_a_controlled_clock_24_11_is_read_and_a_weekly_meeting_keeps_14_local(
    emulator: BotApiEmulator,
    bot: StemmeApplication,
    admin: Admin,
    e2e_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _team_id, lise, _omar = await team_with_residents(emulator, admin)
    # Monday 22 March 2027; summer time starts on Sunday 28 March.
    monkeypatch.setattr(
        meeting_views,
        "clock",
        lambda: datetime(2027, 3, 22, 10, tzinfo=TZ).astimezone(UTC),
    )
    await lise.send("/meeting")
    reaction = await lise.press("➕ Planlæg et møde")
    # The days offered are counted from the controlled clock.
    # The days offered are counted from the controlled clock: a whole week, so the same
    # weekday next week is there too, and a week further per press.
    assert reaction.edits[-1].button_texts == [
        "I morgen",
        "ons. 24. mar.",
        "tors. 25. mar.",
        "fre. 26. mar.",
        "lør. 27. mar.",
        "søn. 28. mar.",
        "man. 29. mar.",
        "Næste uge ▶",
    ]
    reaction = await lise.press("Næste uge ▶")
    assert reaction.edits[-1].button_texts[0] == "tirs. 30. mar."
    await lise.press("◀ Før")

    reaction = await lise.send("1/3/2027 14:00")
    assert "Det tidspunkt er allerede gået" in reaction.text
    await lise.press("tors. 25. mar.")
    await lise.press("14:00")
    await lise.press("90 min.")
    await lise.press("Intet sted")
    await lise.press("Hver uge")
    await lise.press("Gem ✔")

    [(_series_row, occurrences)] = _series(e2e_engine)
    assert [row.starts_at.astimezone(UTC).hour for row in occurrences[:3]] == [13, 12, 12]
    assert {row.starts_at.astimezone(TZ).time() for row in occurrences} == {time(14)}

    # "24/11 14:00" typed in November 2027 is 24 November 2027 (winter: 13:00Z).
    monkeypatch.setattr(
        meeting_views,
        "clock",
        lambda: datetime(2027, 11, 10, 9, tzinfo=TZ).astimezone(UTC),
    )
    await lise.send("/meeting")
    await lise.press("➕ Planlæg et møde")
    reaction = await lise.send("24/11 14:00")
    assert "onsdag den 24. november kl. 14:00. Hvor lang tid varer mødet?" in reaction.text
    await lise.press("60 min.")
    await lise.press("Intet sted")
    await lise.press("Kun én gang")
    await lise.press("Gem ✔")
    [_first, (_single, [occurrence])] = _series(e2e_engine)
    assert occurrence.starts_at == datetime(2027, 11, 24, 13, tzinfo=UTC)


async def test_each_member_is_told_in_their_own_language(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar = await team_with_residents(emulator, admin)
    mette, _ = await join(emulator, METTE_ID, "Mette", await staff_invite_code(lise), "en")

    await lise.send("/meeting")
    await lise.press("➕ Planlæg et møde")
    await lise.press("I morgen")
    await lise.press("09:00")
    await lise.press("30 min.")
    await lise.send("Personalestuen")
    await lise.press("Hver anden uge")
    await lise.press("Gem ✔")

    await _wait_documents([omar, mette], 1)
    [danish], [english] = _documents(omar), _documents(mette)
    assert (danish.caption or "").startswith("📅 Team Syd holder refleksionsmøde")
    assert "Gentages: Hver anden uge" in (danish.caption or "")
    assert (english.caption or "").startswith("📅 Team Syd has a reflection meeting")
    assert "Repeats: Every second week" in (english.caption or "")
    assert "Place: Personalestuen" in (english.caption or "")
    [event_da] = _calendar(danish).walk("VEVENT")
    [event_en] = _calendar(english).walk("VEVENT")
    assert str(event_da["SUMMARY"]) == "Refleksionsmøde – Team Syd"
    assert str(event_en["SUMMARY"]) == "Reflection meeting – Team Syd"
    assert str(event_en["LOCATION"]) == "Personalestuen"
    assert event_da["UID"] == event_en["UID"]
    tomorrow_nine = datetime.combine(_today() + timedelta(days=1), time(9), tzinfo=TZ)
    assert event_en.decoded("DTSTART") == tomorrow_nine
