"""The pulse end to end: five members answer, the lead gets the result and a real PNG
chart, shares it with the team, and starts a team trial action; nothing in the database
or the logs holds a member's answers afterwards."""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import logs
from bot.app import DISPATCHER_KEY, StemmeApplication, build_application
from bot.cli import main as cli_main
from bot.prompts import Dispatcher
from flows.core.i18n import texts
from flows.safety.chart import ITEM_LABELS
from sandbox.emulator import BotApiEmulator, EmuMessage, EmuUser
from storage import decisions, trials
from storage import pulse as pulses
from storage.db import utcnow
from storage.models import (
    Checkin,
    Conversation,
    Member,
    Prompt,
    Proposal,
    Pulse,
    PulseParticipation,
    Role,
    Team,
)
from tests.e2e.conftest import TOKEN, Admin, e2e_settings, running
from tests.e2e.people import join, setup_team, staff_invite_code, team_with_residents
from tests.factories import id_of, make_member

T = TypeVar("T")
TZ = ZoneInfo("Europe/Copenhagen")
da = texts("da", TZ)._
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
QUIET_LOGGERS = ("telegram", "telegram.ext", "apscheduler", "httpx", "httpcore")


@pytest.fixture(autouse=True)
def _restore_log_levels() -> Iterator[None]:
    """``logs.configure`` sets levels on shared loggers: put them back afterwards."""
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


MORE_STAFF = ((5_000_000_011, "Sara"), (5_000_000_012, "Ahmed"), (5_000_000_013, "Birgit"))
# Each member's seven answers as pressed (1 = helt uenig ... 7 = helt enig).
ANSWERS = [
    [2, 6, 1, 5, 3, 6, 7],
    [1, 5, 2, 6, 2, 7, 6],
    [3, 4, 2, 5, 4, 5, 5],
    [2, 6, 1, 6, 2, 6, 6],
    [1, 7, 1, 7, 1, 7, 7],
]


async def _button(user: EmuUser, data: str, seconds: float = 15) -> EmuMessage:
    """The bot message carrying a button with ``data``, once the dispatcher sent it."""
    for _ in range(int(seconds * 20)):
        for message in reversed(user.chat_messages()):
            if any(value == data for row in message.buttons for _, value in row):
                return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"no button {data!r} for {user.first_name}")


async def _photo(user: EmuUser, seconds: float = 15) -> EmuMessage:
    for _ in range(int(seconds * 20)):
        photos = [m for m in user.chat_messages() if m.photo is not None]
        if photos:
            return photos[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no photo for {user.first_name}")


def _png_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


async def _five_answer(emulator: BotApiEmulator, admin: Admin) -> tuple[int, EmuUser, list]:
    team_id, lise, omar = await team_with_residents(emulator, admin)
    code = await staff_invite_code(lise)
    others = [(await join(emulator, uid, name, code, "da"))[0] for uid, name in MORE_STAFF]
    members = [lise, omar, *others]

    reaction = await lise.send("/pulse")
    assert "pul:new:none" in [data for row in reaction.message.buttons for _, data in row]
    reaction = await lise.press("pul:new:none")
    assert "5" in reaction.text  # five members invited
    return team_id, lise, members


async def test_five_answer_the_lead_gets_the_chart_shares_it_and_starts_a_trial(
    bot: StemmeApplication,
    emulator: BotApiEmulator,
    admin: Admin,
    e2e_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Logging as ``stemme run`` sets it up, at its most talkative level.
    caplog.set_level(logging.DEBUG)
    logs.configure("DEBUG", [TOKEN])
    team_id, lise, members = await _five_answer(emulator, admin)
    with Session(e2e_engine) as session:
        pulse = session.exec(select(Pulse)).one()
    pulse_id = pulse.id
    assert pulse.invited == 5

    for member, answers in zip(members, ANSWERS, strict=True):
        await _button(member, f"pul:go:{pulse_id}")
        reaction = await member.press(f"pul:go:{pulse_id}")
        assert "1 af 7" in reaction.text or "1 of 7" in reaction.text
        for item, value in enumerate(answers, start=1):
            reaction = await member.press(f"pul:a:{item}:{value}")
        assert "5" in reaction.text  # the threshold is named in the thanks
        # Pressing "Answer now" again (the invitation was edited away) changes nothing.
        reaction = await member.press_data(f"pul:go:{pulse_id}")
        assert reaction.alert is not None

    with Session(e2e_engine) as session:
        assert pulses.answer_count(session=session, pulse_id=pulse_id or 0) == 5
        # No conversation holds answers any more: the rows ended with the seventh press.
        assert (
            session.exec(select(Conversation).where(col(Conversation.flow) == "pulse")).all() == []
        )
        for row in session.exec(select(Conversation)).all():
            assert "answers" not in row.data
        # Participation: members and the day, nothing else; the reminders were cancelled.
        assert len(session.exec(select(PulseParticipation)).all()) == 5
        assert session.exec(select(Prompt).where(col(Prompt.kind) == "pulse.reminder")).all() == []
    # No log line holds an answer: no callback data with values, no list of values.
    for record in caplog.records:
        message = record.getMessage()
        assert "pul:a:" not in message, record.name
        for answers in ANSWERS:
            assert ", ".join(map(str, answers)) not in message, record.name

    await lise.send("/pulse")
    await lise.press(f"pul:close:{pulse_id}")
    reaction = await lise.press(f"pul:close!:{pulse_id}")
    await emulator.wait_idle(settle=0.3)
    photo = await _photo(lise)
    assert photo.photo is not None and photo.photo.data.startswith(PNG_SIGNATURE)
    assert _png_size(photo.photo.data) == (800, 600)
    assert 5_000 < photo.photo.size < 200_000
    result = await _button(lise, f"pul:share:{pulse_id}")
    assert "5 medlemmer svarede" in result.text or "5 members answered" in result.text
    score = sum(pulses.score(i + 1, a[i]) for a in ANSWERS for i in range(7)) / 35
    assert f"{score:.1f}".replace(".", ",") in result.text

    reaction = await lise.press(f"pul:share:{pulse_id}")
    assert reaction.alert is not None and "4" in reaction.alert
    for member in members[1:]:
        shared = await _photo(member)
        assert shared.photo is not None and shared.photo.data.startswith(PNG_SIGNATURE)
    reaction = await lise.press(f"pul:share:{pulse_id}", message_id=result.message_id)
    with Session(e2e_engine) as session:
        shared_prompts = session.exec(
            select(Prompt).where(col(Prompt.kind) == "pulse.shared")
        ).all()
    assert (
        sorted(p.member_id or 0 for p in shared_prompts)
        == sorted({p.member_id or 0 for p in shared_prompts})
        and len(shared_prompts) == 4
    )

    reaction = await lise.press(f"pul:trial:{pulse_id}")
    [decision_button] = [
        data
        for message in reaction.messages
        for row in message.buttons
        for _, data in row
        if data is not None and data.startswith("dec:show:")
    ]
    await _trial_voted_and_checked_in(e2e_engine, bot, lise, members, decision_button)


async def _trial_voted_and_checked_in(
    engine: Engine, application: StemmeApplication, lise: EmuUser, members: list, button: str
) -> None:
    """The team trial action goes through the vote engineer's flow: a proposal, everyone
    votes, the lead plans and starts it, and a member checks in."""
    decision_id = int(button.rsplit(":", 1)[1])
    with Session(engine) as session:
        decision = decisions.get_decision(session=session, decision_id=decision_id)
        assert decision is not None
        assert (decision.origin, decision.resident_id) == ("pulse", None)
    omar = members[1]
    await omar.send("/proposals")
    await omar.press(button)
    await omar.press(da("➕ Propose"))
    await omar.send("Vi siger højt på vagtskiftet, når vi er i tvivl om noget.")
    # The vote's flow answers before it commits: wait for the proposal to be stored.
    proposal = await _eventually(lambda: _only_proposal(engine, decision_id))
    await lise.send("/proposals")
    await lise.press(button)
    await lise.press(da("🗳 Open the vote"))
    await lise.press(f"dec:dl:{decision_id}:3d")
    _wake(application)
    for member in members:
        await _button(member, f"dec:vote:{decision_id}:{proposal.id}")
        await member.press(f"dec:vote:{decision_id}:{proposal.id}")
    _wake(application)
    result = await _button(lise, f"dec:plan:{decision_id}")
    await lise.press(f"dec:plan:{decision_id}", message_id=result.message_id)
    await lise.send("Alle tør sige, når de er i tvivl.")
    await lise.send("Vi tæller på hvert møde, hvor mange der har sagt det.")
    await lise.press(da("Keep it as it is"))
    await lise.press("Omar")
    await lise.press(da("▶ Start the trial"))
    await _eventually(lambda: _status(engine, decision_id) == "trying")
    with Session(engine, expire_on_commit=False) as session:
        omar_member = session.exec(select(Member).where(col(Member.telegram_id) == omar.id)).one()
        checkins = session.exec(
            select(Prompt).where(
                col(Prompt.kind) == trials.KIND_CHECKIN,
                col(Prompt.member_id) == omar_member.id,
            )
        ).all()
        first = min(checkins, key=lambda row: row.due_at)
        first.due_at = utcnow() - timedelta(minutes=1)
        session.add(first)
        session.commit()
    _wake(application)
    question = await _button(omar, f"dec:ci:{decision_id}:{first.payload['day']}:h")
    await omar.press(da("Tried it, it helped"), message_id=question.message_id)
    checkin = await _eventually(lambda: _only_checkin(engine))
    assert (checkin.member_id, checkin.answer) == (omar_member.id, "helped")


async def _eventually(read: Callable[[], T | None | bool], seconds: float = 15) -> T:
    """The first truthy result of ``read`` (polling the database while the bot commits)."""
    for _ in range(int(seconds * 20)):
        value = read()
        if value:
            return value  # type: ignore[return-value]  # truthy: a T (or True)
        await asyncio.sleep(0.05)
    raise AssertionError("the bot did not store it in time")


def _only_proposal(engine: Engine, decision_id: int) -> Proposal | None:
    with Session(engine) as session:
        rows = decisions.proposals_of(session=session, decision_id=decision_id)
        return rows[0] if len(rows) == 1 else None


def _status(engine: Engine, decision_id: int) -> str | None:
    with Session(engine) as session:
        decision = decisions.get_decision(session=session, decision_id=decision_id)
        return decision.status if decision is not None else None


def _only_checkin(engine: Engine) -> Checkin | None:
    with Session(engine) as session:
        rows = session.exec(select(Checkin)).all()
        return rows[0] if len(rows) == 1 else None


def _wake(application: StemmeApplication) -> None:
    dispatcher: Dispatcher = application.bot_data[DISPATCHER_KEY]
    dispatcher.wake()


async def test_four_answers_give_the_lead_only_the_count(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, members = await _five_answer(emulator, admin)
    with Session(e2e_engine) as session:
        pulse_id = session.exec(select(Pulse)).one().id
    for member, answers in zip(members[:4], ANSWERS[:4], strict=True):
        await _button(member, f"pul:go:{pulse_id}")
        await member.press(f"pul:go:{pulse_id}")
        for item, value in enumerate(answers, start=1):
            await member.press(f"pul:a:{item}:{value}")

    await lise.send("/pulse")
    await lise.press(f"pul:close:{pulse_id}")
    reaction = await lise.press(f"pul:close!:{pulse_id}")
    await emulator.wait_idle(settle=0.3)

    assert "4" in reaction.text
    assert not [m for m in lise.chat_messages() if m.photo is not None]
    assert "pul:share" not in str([m.buttons for m in lise.chat_messages()])


async def test_the_site_view_shows_scores_only_from_the_threshold_and_never_items(
    emulator: BotApiEmulator, e2e_database_url: str, admin: Admin, e2e_engine: Engine
) -> None:
    south, _code = setup_team(admin, "Team Syd")
    north, _code = setup_team(admin, "Team Nord")
    start = utcnow() - timedelta(days=40)
    with Session(e2e_engine, expire_on_commit=False) as session:
        for team_id, answering in ((south, 5), (north, 4)):
            team = session.get(Team, team_id)
            assert team is not None
            lead = make_member(session=session, team=team, role=Role.LEAD)
            members = [make_member(session=session, team=team) for _ in range(answering)]
            for days, answers in ((0, [4] * 7), (30, [2, 6, 2, 6, 2, 6, 6])):
                pulse = pulses.start_pulse(
                    session=session,
                    team_id=team_id,
                    lead_member_id=id_of(lead.member),
                    now=start + timedelta(days=days),
                    tz=TZ,
                )
                for member in members:
                    pulses.record_answers(
                        session=session,
                        pulse=pulse,
                        member_id=id_of(member.member),
                        values=answers,
                        now=start + timedelta(days=days),
                        tz=TZ,
                    )
        session.commit()
    settings = e2e_settings(emulator, e2e_database_url).model_copy(update={"admins": [42]})
    async with running(build_application(settings, renderers={})):
        consultant = emulator.user(42, "Konsulent", language_code="da")
        text = (await consultant.send("/safety")).text

    south_line = next(line for line in text.splitlines() if "Team Syd" in line)
    north_line = next(line for line in text.splitlines() if "Team Nord" in line)
    assert "6,0" in south_line and "4,0" in south_line and "5" in south_line
    assert "4" in north_line and "6,0" not in north_line and "4,0" not in north_line
    danish = texts("da", TZ)
    for label in ITEM_LABELS.values():
        assert danish._(label) not in text and label not in text


def test_a_site_lowers_its_threshold_from_the_command_line_but_never_below_three(
    admin: Admin, e2e_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    _team_id, _code = setup_team(admin, "Team Syd")
    site = admin("site", "list")["sites"][0]

    shown = admin("site", "pulse-threshold", str(site["id"]), "3")

    assert shown["pulse_threshold"] == 3
    with Session(e2e_engine) as session:
        assert pulses.threshold_for_site(session=session, site_id=site["id"]) == 3
    assert cli_main(["site", "pulse-threshold", site["name"], "2", "--json"]) != 0
    capsys.readouterr()
    with Session(e2e_engine) as session:
        assert pulses.threshold_for_site(session=session, site_id=site["id"]) == 3


def _due_now(engine: Engine, kind: str) -> list[int]:
    """Moves the pending prompts of a kind to now (time passing); returns their members."""
    with Session(engine) as session:
        rows = session.exec(
            select(Prompt).where(col(Prompt.kind) == kind, col(Prompt.status) == "pending")
        ).all()
        for row in rows:
            row.due_at = utcnow() - timedelta(minutes=1)
            session.add(row)
        session.commit()
        return sorted(row.member_id or 0 for row in rows)


async def test_a_monthly_pulse_reminds_those_who_have_not_answered_and_opens_the_next_by_itself(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar = await team_with_residents(emulator, admin)
    await lise.send("/pulse")
    reaction = await lise.press("pul:new:monthly")
    assert "2" in reaction.text
    with Session(e2e_engine) as session:
        first, planned = session.exec(select(Pulse).order_by(col(Pulse.id))).all()
        assert (first.opened, planned.opened) == (True, False)
    await _button(omar, f"pul:go:{first.id}")
    await omar.press(f"pul:go:{first.id}")
    await omar.press("pul:a:1:4")
    # Text instead of a press: a hint, and the questionnaire stays at statement 2.
    reaction = await omar.send("ved ikke")
    assert da("Answer with one of the buttons 1 to 7, or send /cancel.") in reaction.text
    for item in range(2, 8):
        await omar.press(f"pul:a:{item}:4")

    # Two days later: only Lise, who has not answered, is reminded.
    lise_member = session_member(e2e_engine, lise.id)
    assert _due_now(e2e_engine, pulses.KIND_REMINDER) == [lise_member]
    _wake(bot)
    reminder = await _button(lise, f"pul:go:{first.id}")
    assert da("Answer now") in reminder.button_texts

    # A month later the planned pulse opens by itself: invitations, and the next one planned.
    with Session(e2e_engine) as session:
        month_later = session.get(Pulse, planned.id)
        assert month_later is not None
        month_later.opens_at = utcnow() - timedelta(minutes=1)
        month_later.closes_at = month_later.opens_at + pulses.OPEN_FOR
        session.add(month_later)
        session.commit()
    assert _due_now(e2e_engine, pulses.KIND_OPEN) == [lise_member]
    _wake(bot)
    await _button(omar, f"pul:go:{planned.id}")
    with Session(e2e_engine) as session:
        rows = session.exec(select(Pulse).order_by(col(Pulse.id))).all()
        assert [row.opened for row in rows] == [True, True, False]
        assert rows[2].opens_at > rows[1].opens_at


def session_member(engine: Engine, telegram_id: int) -> int:
    with Session(engine) as session:
        member = session.exec(select(Member).where(col(Member.telegram_id) == telegram_id)).one()
        return member.id or 0
