"""The agenda, the meeting reminders and the minutes in the running application.

A micro-moment taken to the team (by the real /note flow) appears in the lead's agenda;
the lead sends it to the team and every active member receives it once; the members are
reminded the day before and an hour before; the lead records the minutes and the members
receive the decisions. A removed member gets nothing; a cancelled meeting's reminder sends
nothing. The dispatcher is the application's own; its clock is moved forward instead of
waiting (``Dispatcher.now``), and the test polls the emulator with a deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.app import DISPATCHER_KEY, StemmeApplication
from bot.prompts import Dispatcher
from sandbox.emulator import BotApiEmulator, EmuMessage, EmuUser
from storage import agenda, directory, meetings
from storage import decisions as decisions_store
from storage.db import require_id, utcnow
from storage.models import (
    AgendaExclusion,
    DecisionStatus,
    MeetingMinutes,
    MeetingOccurrence,
    Note,
    OccurrenceStatus,
    Prompt,
    PromptStatus,
    Repetition,
)
from tests.e2e.conftest import Admin
from tests.e2e.people import (
    METTE_ID,
    join,
    member_of,
    setup_team,
    staff_invite_code,
    take_note,
    team_with_residents,
)

TZ = ZoneInfo("Europe/Copenhagen")
AGENDA_TO_MEMBER = "Dagsordenen til næste refleksionsmøde:"
DAY_BEFORE = "Husk: teamets refleksionsmøde er i morgen."
HOUR_BEFORE = "Husk: teamets refleksionsmøde starter om en time."
DECISIONS = "Beslutninger fra refleksionsmødet"
KAREN_ID = 5_000_000_031


class Clock:
    """The dispatcher's clock: real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def jump_to(self, moment: datetime) -> None:
        """Makes the clock read ``moment`` plus a minute (and keep running from there)."""
        self.offset = moment + timedelta(minutes=1) - utcnow()


def _dispatcher(bot: StemmeApplication, clock: Clock) -> Dispatcher:
    """The application's dispatcher on the test's clock, running a round only when woken
    (by the test after moving the clock, or by a flow that scheduled prompts), so the test
    decides what is due when."""
    dispatcher: Dispatcher = bot.bot_data[DISPATCHER_KEY]
    dispatcher.now = clock
    dispatcher.idle_wait = 3600
    return dispatcher


def _texts(user: EmuUser) -> list[str]:
    return [m.text or m.caption or "" for m in user.chat_messages() if m.from_bot]


def _with(user: EmuUser, fragment: str) -> list[EmuMessage]:
    return [
        m for m in user.chat_messages() if m.from_bot and fragment in (m.text or m.caption or "")
    ]


async def _until(condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    """Polls until ``condition`` holds (the dispatcher works in its own task)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def _prompts(engine: Engine, kind: str) -> list[Prompt]:
    with Session(engine) as session:
        rows = list(session.exec(select(Prompt).where(col(Prompt.kind) == kind)).all())
        for row in rows:
            session.expunge(row)
        return rows


async def _settled(engine: Engine, kind: str, count: int) -> list[Prompt]:
    """The prompts of ``kind`` once ``count`` exist and none is pending or claimed."""
    found: list[Prompt] = []

    def done() -> bool:
        nonlocal found
        found = _prompts(engine, kind)
        return len(found) >= count and all(
            row.status not in (PromptStatus.PENDING, PromptStatus.CLAIMED) for row in found
        )

    await _until(done, f"{count} {kind} prompts to be handled")
    return found


def _plan_meeting(engine: Engine, team_id: int, lead_telegram_id: int) -> MeetingOccurrence:
    """A one-off meeting three days ahead at 14:00 local, with its prompts scheduled now."""
    lead = directory.get_member_by_telegram_id
    with Session(engine, expire_on_commit=False) as session:
        member = lead(session=session, telegram_id=lead_telegram_id)
        assert member is not None
        day = (utcnow() + timedelta(days=3)).astimezone(TZ).date()
        series = meetings.create_series(
            session=session,
            team_id=team_id,
            created_by_member_id=require_id(member),
            first_date=day,
            start_time=time(14, 0),
            duration_minutes=60,
            place="Mødelokalet",
            repetition=Repetition.NONE,
        )
        [occurrence] = meetings.generate(session=session, series=series, tz=TZ, now=utcnow())
        session.commit()
        return occurrence


def _lead_prepare_due(engine: Engine, occurrence: MeetingOccurrence) -> datetime:
    with Session(engine) as session:
        prompt = session.exec(
            select(Prompt).where(
                col(Prompt.kind) == meetings.KIND_LEAD_PREPARE,
                col(Prompt.dedupe_key).startswith(meetings.key_prefix(require_id(occurrence))),
            )
        ).one()
        return prompt.due_at


async def test_agenda_reminders_and_minutes_reach_the_active_members_once(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    clock = Clock()
    dispatcher = _dispatcher(bot, clock)
    team_id, lise, omar = await team_with_residents(emulator, admin, "Fru H., stue 12")
    mette, _ = await join(emulator, METTE_ID, "Mette", await staff_invite_code(lise), "da")
    note_id = await take_note(omar, "Fru H., stue 12", "Hun smilede, da vi sang.", "note:team")
    private_id = await take_note(omar, "Fru H., stue 12", "Hun sov til middag.")
    occurrence = _plan_meeting(e2e_engine, team_id, lise.id)
    # Mette leaves after her reminders were scheduled: at send time she gets nothing.
    mette_member = member_of(e2e_engine, METTE_ID)
    lise_member = member_of(e2e_engine, lise.id)
    assert mette_member is not None and lise_member is not None
    with Session(e2e_engine) as session:
        assert directory.remove_member(
            session=session,
            team_id=team_id,
            member_id=require_id(mette_member),
            actor_member_id=require_id(lise_member),
        )
        session.commit()

    # Two days before: the lead's agenda, with the note taken to the team only.
    clock.jump_to(_lead_prepare_due(e2e_engine, occurrence))
    dispatcher.wake()
    await _until(lambda: bool(_with(lise, "Tid til at forberede")), "the lead's agenda")
    [prepared] = _with(lise, "Tid til at forberede")
    assert "Refleksionsmøde" in prepared.text and "Mødelokalet" in prepared.text
    assert "1. Fru H., stue 12: »Hun smilede, da vi sang.«" in prepared.text
    assert "Hun sov til middag" not in prepared.text
    assert "Fru H., stue 12 (2)" in prepared.text  # both notes counted for the resident
    assert prepared.button_texts == ["Send til teamet", "Tilføj punkt", "Fjern punkt"]

    # The lead adds a point, then sends the agenda; pressing again sends nothing more.
    await lise.press("Tilføj punkt", message_id=prepared.message_id)
    reaction = await lise.send("Om borgeren 010190-1234")  # refused by the router's guard
    assert "CPR" in reaction.text
    reaction = await lise.send("Ny vagtplan i december")
    assert "Punkt tilføjet ✔" in reaction.text
    assert "2. Punkt: Ny vagtplan i december" in reaction.text
    reaction = await lise.press("Send til teamet", message_id=prepared.message_id)
    assert "Dagsordenen er på vej til 2 i teamet." in reaction.text
    sent = await _settled(e2e_engine, agenda.KIND_AGENDA, 2)
    assert {row.status for row in sent} == {PromptStatus.SENT}
    reaction = await lise.press("Send til teamet", message_id=prepared.message_id)
    assert "allerede sendt" in reaction.text
    [to_omar] = _with(omar, AGENDA_TO_MEMBER)
    assert "Hun smilede, da vi sang." in to_omar.text and "Ny vagtplan" in to_omar.text
    assert len(_with(lise, AGENDA_TO_MEMBER)) == 1
    assert _with(mette, AGENDA_TO_MEMBER) == []

    # The day before and the hour before: Lise and Omar, never Mette.
    clock.jump_to(occurrence.starts_at - timedelta(days=1))
    dispatcher.wake()
    await _settled(e2e_engine, meetings.KIND_DAY_BEFORE, 3)
    clock.jump_to(occurrence.starts_at - timedelta(hours=1))
    dispatcher.wake()
    await _settled(e2e_engine, meetings.KIND_HOUR_BEFORE, 3)
    for user in (lise, omar):
        [day_before] = _with(user, DAY_BEFORE)
        assert "Der er 2 punkter på dagsordenen." in (day_before.text or day_before.caption or "")
        assert len(_with(user, HOUR_BEFORE)) == 1
    assert _with(mette, DAY_BEFORE) == [] and _with(mette, HOUR_BEFORE) == []

    # After the end: the lead records the minutes; the team gets the decisions.
    clock.jump_to(occurrence.ends_at)
    dispatcher.wake()
    await _until(lambda: bool(_with(lise, "er slut")), "the minutes prompt")
    # A vote of the team chose a proposal: the meeting can start its trial action.
    with Session(e2e_engine) as session:
        ready = decisions_store.start_decision(
            session=session,
            team_id=team_id,
            resident_id=None,
            origin="team",
            origin_id=None,
            title="Fælles morgenrutine",
            created_by_member_id=require_id(lise_member),
        )
        ready.status = DecisionStatus.PLANNING
        session.add(ready)
        session.commit()
        ready_id = require_id(ready)
    reaction = await lise.press("Skriv referat")
    assert "sæt flueben" in reaction.text
    assert "▫️ Starter: Fælles morgenrutine" in reaction.edits[-1].button_texts
    reaction = await lise.press_data(f"agenda:start:{ready_id}")
    assert "✅ Starter: Fælles morgenrutine" in reaction.edits[-1].button_texts
    reaction = await lise.press(f"agenda:tick:note:{note_id}")
    assert any(label.startswith("✅ Fru H.") for label in reaction.edits[-1].button_texts)
    reaction = await lise.press("Næste ▶")
    assert "1 punkt drøftet." in reaction.text
    reaction = await lise.send("x" * 1001)  # kept, and a shorter one asked for
    assert "1001 tegn" in reaction.text and "Behold de første 1000 tegn" in str(
        reaction.message.buttons
    )
    reaction = await lise.send("Vi synger med Fru H. hver formiddag.")
    assert "Vi synger med Fru H. hver formiddag." in reaction.text
    reaction = await lise.press("Gem ✔")
    assert "Referat gemt ✔ Beslutningerne sendes til 2 i teamet." in reaction.text
    await emulator.wait_idle(settle=0.3)
    [to_plan] = [m for m in _with(lise, "Fælles morgenrutine") if m.text == "Fælles morgenrutine"]
    assert to_plan.button_texts == ["Forslag og afstemning"]
    await _settled(e2e_engine, agenda.KIND_DECISIONS, 2)
    [decisions] = _with(omar, DECISIONS)
    assert "Vi synger med Fru H. hver formiddag." in decisions.text
    assert "Forsøg der starter:\n• Fælles morgenrutine" in decisions.text
    assert "Fru H., stue 12: »Hun smilede, da vi sang.«" in decisions.text
    assert "Ny vagtplan" not in decisions.text  # not ticked as discussed
    assert _with(mette, DECISIONS) == []
    # The minutes are saved once: the button (pressed again) no longer starts them.
    reaction = await lise.press_data(f"agenda:min:{occurrence.id}")
    assert reaction.alert == "Referatet af dette møde er allerede gemt."
    with Session(e2e_engine) as session:
        minutes = session.exec(select(MeetingMinutes)).one()
        assert minutes.discussed == [["start", ready_id], ["note", note_id]]
        assert minutes.decision == "Vi synger med Fru H. hver formiddag."
    assert private_id != note_id


async def test_a_cancelled_meetings_reminders_send_nothing(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    clock = Clock()
    dispatcher = _dispatcher(bot, clock)
    team_id, lise, omar = await team_with_residents(emulator, admin, "Fru H., stue 12")
    occurrence = _plan_meeting(e2e_engine, team_id, lise.id)
    before = {user.id: len(_texts(user)) for user in (lise, omar)}
    # Cancelled after a worker could have claimed its prompts: the renderers check again.
    with Session(e2e_engine) as session:
        row = session.get(MeetingOccurrence, occurrence.id)
        assert row is not None
        row.status = OccurrenceStatus.CANCELLED
        session.add(row)
        session.commit()

    clock.jump_to(occurrence.starts_at - timedelta(hours=1))
    dispatcher.wake()
    handled = await _settled(e2e_engine, meetings.KIND_HOUR_BEFORE, 2)
    await _settled(e2e_engine, meetings.KIND_DAY_BEFORE, 2)
    await _settled(e2e_engine, meetings.KIND_LEAD_PREPARE, 1)

    assert {row.status for row in handled} == {PromptStatus.SENT}
    assert {user.id: len(_texts(user)) for user in (lise, omar)} == before


async def test_staff_and_forged_agenda_buttons_change_nothing(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    _dispatcher(bot, Clock())
    team_id, lise, omar = await team_with_residents(emulator, admin, "Fru H., stue 12")
    occurrence = _plan_meeting(e2e_engine, team_id, lise.id)
    other_team, code = setup_team(admin, "Team Nord")
    other_lead, _ = await join(emulator, KAREN_ID, "Karen", code, "da")

    reaction = await omar.press_data(f"agenda:send:{occurrence.id}")
    assert reaction.alert == "Det kan kun teamlederen."
    reaction = await lise.send("/agenda")
    assert "Intet på dagsordenen endnu" in reaction.text
    # Another team's lead cannot reach this meeting.
    reaction = await other_lead.press_data(f"agenda:send:{occurrence.id}")
    assert reaction.alert is not None and "ikke længere aktiv" in reaction.alert
    reaction = await other_lead.send("/agenda")
    assert "ikke planlagt noget møde" in reaction.text
    assert _prompts(e2e_engine, agenda.KIND_AGENDA) == []
    assert other_team != team_id


async def test_the_lead_removes_a_note_from_this_agenda_and_the_note_stays(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    _dispatcher(bot, Clock())
    team_id, lise, omar = await team_with_residents(emulator, admin, "Fru H., stue 12")
    note_id = await take_note(omar, "Fru H., stue 12", "Hun smilede, da vi sang.", "note:team")
    occurrence = _plan_meeting(e2e_engine, team_id, lise.id)

    reaction = await lise.send("/agenda")
    assert "1. Fru H., stue 12: »Hun smilede, da vi sang.«" in reaction.text
    reaction = await lise.press("Fjern punkt")
    assert "Hvilket punkt skal af dagsordenen" in reaction.text
    reaction = await lise.press(f"agenda:del:{occurrence.id}:note:{note_id}")
    assert "Dagsordenen er tom." in reaction.text
    # Pressed again (an old message): nothing left to remove.
    reaction = await lise.press_data(f"agenda:del:{occurrence.id}:note:{note_id}")
    assert reaction.alert is not None and "ikke længere aktiv" in reaction.alert
    reaction = await lise.press("Færdig")
    assert "Intet på dagsordenen endnu" in reaction.text
    assert "Fru H., stue 12 (1)" in reaction.text  # still counted

    with Session(e2e_engine) as session:
        assert session.get(Note, note_id) is not None
        exclusions = session.exec(select(AgendaExclusion)).all()
        assert [(row.occurrence_id, row.kind, row.ref_id) for row in exclusions] == [
            (occurrence.id, "note", note_id)
        ]
