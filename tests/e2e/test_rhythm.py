"""The team's rhythm end to end: /me toggles stored, /away and /focus, the shift handover
sent once with the previous shift's micro-moments and not at all without them, /mute
holding a prompt, and a member who blocked the bot listed for the lead in /team until they
write again.

The dispatcher is the application's own; its clock is set to the next shift start
instead of waiting for it (``dispatcher.now``), and the test polls the database for the
prompt's status, never sleeping for timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.app import DISPATCHER_KEY, SCHEDULER_KEY, StemmeApplication
from bot.prompts import Dispatcher
from bot.scheduler import PLAN_RHYTHM_EVERY, PLAN_RHYTHM_JOB, plan_rhythm
from flows.core.i18n import texts
from flows.team.rhythm import parse_dates, tomorrow_morning
from sandbox.emulator import BotApiEmulator, EmuUser
from storage import prompts, rhythm
from storage.db import utcnow
from storage.models import (
    Absence,
    AbsenceKind,
    MemberPreference,
    MonthlyFocus,
    Prompt,
    PromptStatus,
    Team,
)
from tests.e2e.conftest import Admin
from tests.e2e.people import LEAD_ID, OMAR_ID, member_of, take_note, team_with_residents

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
T = TypeVar("T")
CPR_REFUSED = texts("da", COPENHAGEN)._(
    "That looks like a CPR number. stemme must never hold CPR numbers, so nothing was "
    'saved. Refer to the resident by the team\'s alias (e.g. "Mrs H., room 12") and '
    "send it again without the number."
)
ALIAS = "Fru H., stue 12"


def _member_id(engine: Engine, telegram_id: int) -> int:
    member = member_of(engine, telegram_id)
    assert member is not None and member.id is not None
    return member.id


def _preference(engine: Engine, member_id: int, team_id: int) -> MemberPreference:
    with Session(engine) as session:
        preference = rhythm.get_preference(session=session, member_id=member_id, team_id=team_id)
        session.expunge_all()
        return preference


def _next_shift_starts(engine: Engine, team_id: int, after: datetime) -> list[datetime]:
    with Session(engine) as session:
        team = session.get(Team, team_id)
        assert team is not None
        windows = rhythm.shift_windows(team, COPENHAGEN, around=after)
    return [w.starts_at for w in windows if w.starts_at > after]


def _handover_key(team_id: int, member_id: int, start: datetime) -> str:
    return f"shift.handover:{team_id}:{member_id}:{start:%Y%m%dT%H%MZ}"


async def _until(condition: Callable[[], bool], seconds: float = 10) -> None:
    """Polls until ``condition`` holds (the dispatcher works in its own task)."""
    for _ in range(int(seconds * 20)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def _write(work: Callable[[], T]) -> T:
    """Runs the test's own database writes in a thread: the bot shares this event loop, and
    a write waiting for SQLite's lock there would stop the bot that holds it."""
    return await asyncio.to_thread(work)


def _prompt(engine: Engine, key: str) -> Prompt | None:
    with Session(engine) as session:
        prompt = prompts.get_by_key(session=session, dedupe_key=key)
        if prompt is not None:
            session.expunge(prompt)
        return prompt


async def _dispatch_at(
    bot: StemmeApplication, engine: Engine, moment: datetime, key: str
) -> Prompt:
    """Moves the dispatcher's clock to ``moment`` and waits until the prompt is handled."""

    def plan() -> None:
        with Session(engine) as session:
            rhythm.plan(session=session, now=moment - timedelta(minutes=1), tz=COPENHAGEN)
            session.commit()

    await _write(plan)
    dispatcher: Dispatcher = bot.bot_data[DISPATCHER_KEY]
    dispatcher.now = lambda: moment
    dispatcher.wake()

    def handled() -> bool:
        prompt = _prompt(engine, key)
        return prompt is not None and (
            prompt.status not in (PromptStatus.PENDING, PromptStatus.CLAIMED)
            or prompt.due_at > moment
        )

    await _until(handled)
    prompt = _prompt(engine, key)
    assert prompt is not None
    return prompt


def _bot_texts(user: EmuUser) -> list[str]:
    return [m.text for m in user.chat_messages() if m.from_bot]


async def test_me_toggles_are_stored_per_team(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, _lise, omar = await team_with_residents(emulator, admin, ALIAS)
    omar_id = _member_id(e2e_engine, OMAR_ID)

    reaction = await omar.send("/me")
    assert "Mine indstillinger i Team Syd" in reaction.text
    assert "Mine vagter: ikke valgt" in reaction.text
    await omar.press("Dag")
    reaction = await omar.press("Aften")
    assert "Mine vagter: Dag, Aften." in reaction.text
    assert _preference(e2e_engine, omar_id, team_id).shifts == "day,evening"
    reaction = await omar.press("✅ Dag")
    assert _preference(e2e_engine, omar_id, team_id).shifts == "evening"

    reaction = await omar.press("Slå vagtoverlap til")
    assert "Vagtoverlap: til." in reaction.text
    await omar.press("Slå påmindelse til")
    stored = _preference(e2e_engine, omar_id, team_id)
    assert (stored.handover, stored.end_nudge) == (True, True)
    reaction = await omar.press("Slå påmindelse fra")
    assert "Påmindelse ved vagtens slut: fra." in reaction.text
    stored = _preference(e2e_engine, omar_id, team_id)
    assert (stored.shifts, stored.handover, stored.end_nudge) == ("evening", True, False)
    # Turned on, the handover is planned right away at the start of Omar's evening shifts.
    with Session(e2e_engine) as session:
        planned = session.exec(
            select(Prompt).where(Prompt.member_id == omar_id, Prompt.kind == rhythm.HANDOVER)
        ).all()
    assert planned
    assert {p.due_at.astimezone(COPENHAGEN).hour for p in planned} == {15}

    # A forged button for another team changes nothing.
    reaction = await omar.press_data(f"me:handover:{team_id + 1}:0")
    assert reaction.alert is not None
    assert _preference(e2e_engine, omar_id, team_id).handover is True


async def test_away_and_focus_are_stored_and_the_lead_marks_team_days_off(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)
    omar_id = _member_id(e2e_engine, OMAR_ID)

    reaction = await omar.send("/away")
    assert "Hvornår er du væk?" in reaction.text
    assert "Fridage for hele teamet" not in " ".join(reaction.messages[0].button_texts)
    await omar.press("Skriv datoer")
    reaction = await omar.send("en gang i næste uge")
    assert "Jeg kunne ikke læse de datoer" in reaction.text
    today = utcnow().astimezone(COPENHAGEN).date()
    first, last = today + timedelta(days=3), today + timedelta(days=5)
    reaction = await omar.send(f"{first.day}/{first.month}-{last.day}/{last.month}")
    assert "Gemt ✔ Du er væk" in reaction.text
    with Session(e2e_engine) as session:
        [away] = session.exec(select(Absence)).all()
    assert (away.kind, away.member_id, away.team_id) == (AbsenceKind.AWAY, omar_id, None)
    assert away.starts_at == rhythm.day_start(first, COPENHAGEN)
    assert away.ends_at == rhythm.day_start(last + timedelta(days=1), COPENHAGEN)

    await lise.send("/away")
    await lise.press("👥 Fridage for hele teamet")
    reaction = await lise.press("I morgen")
    assert "Gemt ✔ Team Syd har fri" in reaction.text
    with Session(e2e_engine) as session:
        team_off = session.exec(select(Absence).where(Absence.kind == AbsenceKind.TEAM_OFF)).one()
    assert team_off.team_id == team_id and team_off.member_id is None
    # Staff cannot forge the team's days off.
    reaction = await omar.press_data(f"away:team:{team_id}:today")
    assert reaction.alert is not None
    with Session(e2e_engine) as session:
        assert len(session.exec(select(Absence)).all()) == 2

    reaction = await lise.send("/focus")
    month = rhythm.add_months(rhythm.month_of(today), 1)
    buttons = reaction.messages[0].button_texts
    assert len(buttons) == 3
    await lise.press(buttons[1])
    reaction = await lise.send("Fokus på borgeren 010190-1234")
    assert CPR_REFUSED in reaction.text
    with Session(e2e_engine) as session:
        assert session.exec(select(MonthlyFocus)).all() == []
    reaction = await lise.send("Ro ved måltiderne")
    assert "Gemt ✔ Fokus i" in reaction.text and "Ro ved måltiderne" in reaction.text
    with Session(e2e_engine) as session:
        focus = session.exec(select(MonthlyFocus)).one()
    assert (focus.team_id, focus.month, focus.text) == (team_id, month, "Ro ved måltiderne")
    reaction = await omar.send("/focus")
    assert "Ro ved måltiderne" in reaction.text
    assert reaction.messages[0].inline_keyboard == []


async def test_the_handover_brings_the_previous_shifts_moments_once_and_nothing_without_them(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)
    lise_id = _member_id(e2e_engine, LEAD_ID)
    await take_note(omar, ALIAS, "Hun nynnede med, da vi sang ved frokosten.", "Nærvær")
    await omar.send_voice(65)
    await omar.press(ALIAS)
    await omar.press("Gem ✔")
    await lise.send("/me")
    await lise.press("Slå vagtoverlap til")
    before = len(_bot_texts(lise))
    start, following = _next_shift_starts(e2e_engine, team_id, utcnow())[:2]

    prompt = await _dispatch_at(bot, e2e_engine, start, _handover_key(team_id, lise_id, start))

    assert prompt.status == PromptStatus.SENT
    await emulator.wait_idle(settle=0.2)
    new = _bot_texts(lise)[before:]
    assert len(new) == 1
    assert "Vagtoverlap fra" in new[0] and "2 mikroøjeblikke" in new[0]
    assert "🎤 1:05" in new[0]
    assert ALIAS in new[0] and "Nærvær" in new[0]
    assert "Hun nynnede med" in new[0]
    assert not any("Vagtoverlap fra" in text for text in _bot_texts(omar))

    # The next shift had no micro-moments: the prompt is done and nothing is sent.
    prompt = await _dispatch_at(
        bot, e2e_engine, following, _handover_key(team_id, lise_id, following)
    )
    assert prompt.status == PromptStatus.SENT
    await emulator.wait_idle(settle=0.2)
    assert len(_bot_texts(lise)) == before + 1


async def test_a_muted_member_gets_no_prompt(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)
    omar_id = _member_id(e2e_engine, OMAR_ID)
    await take_note(lise, ALIAS, "Han ville selv vælge skjorte i dag.", "Selvbestemmelse")
    await omar.send("/me")
    await omar.press("Slå vagtoverlap til")
    reaction = await omar.send("/mute")
    assert "på pause" in reaction.text
    reaction = await omar.press("1 uge")
    assert "Dine påmindelser er sat på pause til" in reaction.text
    with Session(e2e_engine) as session:
        until = rhythm.muted_until(session=session, member_id=omar_id, now=utcnow())
    assert until is not None and timedelta(days=6, hours=23) < until - utcnow() <= timedelta(
        days=7
    )
    before = len(_bot_texts(omar))
    start = _next_shift_starts(e2e_engine, team_id, utcnow())[0]

    prompt = await _dispatch_at(bot, e2e_engine, start, _handover_key(team_id, omar_id, start))

    assert (prompt.status, prompt.due_at, prompt.attempts) == (PromptStatus.PENDING, until, 0)
    await emulator.wait_idle(settle=0.2)
    assert len(_bot_texts(omar)) == before

    reaction = await omar.send("/mute")
    reaction = await omar.press("Slå til igen")
    assert "Dine påmindelser er slået til igen." in reaction.text
    with Session(e2e_engine) as session:
        assert rhythm.muted_until(session=session, member_id=omar_id, now=utcnow()) is None


async def test_the_lead_sees_a_member_who_blocked_the_bot_until_they_write_again(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)
    omar_id = _member_id(e2e_engine, OMAR_ID)
    await omar.send("/me")
    await omar.press("Aften")
    await omar.press("Slå påmindelse til")
    reaction = await lise.send("/team")
    assert "Kan ikke nås" not in reaction.text
    emulator.block(OMAR_ID)
    now = utcnow()

    def schedule() -> None:
        with Session(e2e_engine) as session:
            prompts.schedule(
                session=session,
                kind=rhythm.END_NUDGE,
                team_id=team_id,
                member_id=omar_id,
                dedupe_key="test:nudge",
                due_at=now - timedelta(minutes=1),
                expires_at=now + timedelta(hours=1),
            )
            session.commit()

    await _write(schedule)
    dispatcher: Dispatcher = bot.bot_data[DISPATCHER_KEY]
    dispatcher.wake()

    def unreachable() -> bool:
        prompt = _prompt(e2e_engine, "test:nudge")
        return prompt is not None and prompt.status == PromptStatus.UNREACHABLE

    await _until(unreachable)

    reaction = await lise.send("/team")
    assert "⚠ Kan ikke nås: Omar." in reaction.text
    reaction = await omar.send("/team")
    assert "Kan ikke nås" not in reaction.text  # staff do not see the list

    await omar.send("/note")  # Omar writes to the bot again
    reaction = await lise.send("/team")
    assert "Kan ikke nås" not in reaction.text
    with Session(e2e_engine) as session:
        stored = session.exec(select(Prompt).where(col(Prompt.dedupe_key) == "test:nudge")).one()
    assert stored.status == PromptStatus.UNREACHABLE


async def test_the_nudge_ends_a_marked_shift_and_the_focus_reaches_every_member(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)
    omar_id, lise_id = _member_id(e2e_engine, OMAR_ID), _member_id(e2e_engine, LEAD_ID)
    await omar.send("/me")
    await omar.press("Nat")
    await omar.press("Slå påmindelse til")
    with Session(e2e_engine) as session:
        team = session.get(Team, team_id)
        assert team is not None
        night = [
            w
            for w in rhythm.shift_windows(team, COPENHAGEN, around=utcnow())
            if w.shift == "night" and w.ends_at > utcnow()
        ][0]
    before = len(_bot_texts(omar))

    prompt = await _dispatch_at(
        bot,
        e2e_engine,
        night.ends_at,
        f"shift.nudge:{team_id}:{omar_id}:{night.ends_at:%Y%m%dT%H%MZ}",
    )

    assert prompt.status == PromptStatus.SENT
    await emulator.wait_idle(settle=0.2)
    nudge = [m for m in omar.chat_messages() if m.from_bot][before:]
    assert len(nudge) == 1
    assert "Så du et mikroøjeblik i dag" in nudge[0].text
    assert nudge[0].reply_keyboard == [["Mikroøjeblik"]]

    # The focus of next month, set by the lead, on its first working day at 08:00.
    month = rhythm.add_months(rhythm.month_of(utcnow().astimezone(COPENHAGEN).date()), 1)

    def set_focus() -> datetime:
        with Session(e2e_engine) as session:
            rhythm.set_focus(
                session=session,
                team_id=team_id,
                month=month,
                text="Ro ved måltiderne",
                member_id=lise_id,
            )
            due = rhythm.focus_due(session=session, team_id=team_id, month=month, tz=COPENHAGEN)
            session.commit()
            return due

    due = await _write(set_focus)
    counts = {user.id: len(_bot_texts(user)) for user in (lise, omar)}

    prompt = await _dispatch_at(
        bot, e2e_engine, due, f"team.focus:{team_id}:{month:%Y-%m}:{lise_id}"
    )
    assert prompt.status == PromptStatus.SENT
    # Omar works nights only: his copy waits for the start of his night shift.
    omar_key = f"team.focus:{team_id}:{month:%Y-%m}:{omar_id}"
    prompt = await _dispatch_at(bot, e2e_engine, due, omar_key)
    night_start = datetime.combine(
        due.astimezone(COPENHAGEN).date(), time(23, 0), tzinfo=COPENHAGEN
    )
    assert (prompt.status, prompt.due_at) == (PromptStatus.PENDING, night_start)
    prompt = await _dispatch_at(bot, e2e_engine, prompt.due_at, omar_key)
    assert prompt.status == PromptStatus.SENT
    await emulator.wait_idle(settle=0.2)
    for user in (lise, omar):
        [focus] = _bot_texts(user)[counts[user.id] :]
        assert "Teamets fokus i" in focus and "Ro ved måltiderne" in focus


def test_typed_dates_are_read_from_today_on() -> None:
    today = date(2026, 11, 20)
    assert parse_dates("24/11-28/11", today) == (date(2026, 11, 24), date(2026, 11, 28))
    assert parse_dates("24/11", today) == (date(2026, 11, 24), date(2026, 11, 24))
    assert parse_dates(" 24.11 - 2.12 ", today) == (date(2026, 11, 24), date(2026, 12, 2))
    assert parse_dates("28/12 til 3/1", today) == (date(2026, 12, 28), date(2027, 1, 3))
    # A date earlier in the year is next year's.
    assert parse_dates("3/2", today) == (date(2027, 2, 3), date(2027, 2, 3))
    assert parse_dates("1/12/2026-5/12/2026", today) == (date(2026, 12, 1), date(2026, 12, 5))
    assert parse_dates("20/11", today) == (today, today)
    for unreadable in ("i morgen", "31/11", "24/13", "24-11", ""):
        assert parse_dates(unreadable, today) is None


def test_untiltomorrow_morning_is_the_next_day_shift_start() -> None:
    team = Team(site_id=1, name="Team Syd")
    evening = datetime(2026, 3, 28, 21, 0, tzinfo=COPENHAGEN)
    small_hours = datetime(2026, 3, 29, 2, 30, tzinfo=COPENHAGEN)
    morning = datetime(2026, 3, 29, 7, 0, tzinfo=COPENHAGEN)
    assert tomorrow_morning(team, evening, COPENHAGEN) == morning
    # In the night, the morning that is coming (here the first one in summer time).
    assert tomorrow_morning(team, small_hours, COPENHAGEN) == morning
    assert tomorrow_morning(team, morning, COPENHAGEN) == morning + timedelta(days=1)


async def test_the_running_bot_plans_the_rhythm_at_start_and_every_half_hour(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, _lise, _omar = await team_with_residents(emulator, admin, ALIAS)
    lise_id = _member_id(e2e_engine, LEAD_ID)
    job = bot.bot_data[SCHEDULER_KEY].get_job(PLAN_RHYTHM_JOB)
    assert job is not None
    assert job.trigger.interval == PLAN_RHYTHM_EVERY == timedelta(minutes=30)

    def lise_turns_handover_on_elsewhere() -> int:
        with Session(e2e_engine) as session:
            rhythm.set_preference(
                session=session, member_id=lise_id, team_id=team_id, handover=True
            )
            session.commit()
        # What the job runs: everything of the next 24 hours, once.
        first = plan_rhythm(e2e_engine, COPENHAGEN)
        assert plan_rhythm(e2e_engine, COPENHAGEN) == first
        return first

    assert await _write(lise_turns_handover_on_elsewhere) == 3
    with Session(e2e_engine) as session:
        planned = session.exec(select(Prompt).where(Prompt.kind == rhythm.HANDOVER)).all()
    assert len(planned) == 3 and {p.member_id for p in planned} == {lise_id}
