"""Dilemmas end to end: raised anonymously, a dilemma reaches the team's list and the
next meeting's agenda without its author, for everyone, the lead included."""

from __future__ import annotations

import asyncio
from datetime import time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.app import StemmeApplication
from flows.core.i18n import texts
from sandbox.emulator import BotApiEmulator, EmuUser
from storage import meetings
from storage.db import utcnow
from storage.models import Conversation, Dilemma, Member
from tests.e2e.conftest import Admin
from tests.e2e.people import LEAD_ID, OMAR_ID, member_of, team_with_residents

TZ = ZoneInfo("Europe/Copenhagen")
da = texts("da", TZ)._
# How the agenda names the two dilemmas, in Danish ("Dilemma nr. 1").
FIRST, SECOND = (texts("da", TZ)._("Dilemma #{number}").format(number=n) for n in (1, 2))
ANONYMOUS = "Fru H. vil ikke i bad om morgenen, men hendes datter insisterer på det."
NAMED = "Hr. J. vil gerne blive oppe om natten og se fjernsyn i fællesstuen."


async def _raise(user: EmuUser, text: str, who: str) -> str:
    reaction = await user.send("/dilemma")
    assert "/cancel" in reaction.text
    reaction = await user.send(text)
    assert "dil:who:anon" in str(reaction.message.buttons)
    # The member is told what anonymous means before choosing.
    assert "teamleder" in reaction.text or "team lead" in reaction.text
    reaction = await user.press(f"dil:who:{who}")
    return reaction.text


def _first_without_author(agenda: str) -> None:
    """The anonymous dilemma's agenda line: its text, "anonym", and no name."""
    [line] = [line for line in agenda.splitlines() if FIRST in line]
    assert "anonym" in line and "Omar" not in line and "Lise" not in line
    assert "Fru H. vil ikke i bad" in line


async def _agenda_of(user: EmuUser, seconds: float = 15) -> str:
    for _ in range(int(seconds * 20)):
        found = [m.text for m in user.chat_messages() if m.from_bot and FIRST in m.text]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError("no agenda arrived")


async def test_an_anonymous_dilemma_reaches_the_agenda_without_its_author(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, "Fru H., stue 12")
    omar_member = member_of(e2e_engine, OMAR_ID)
    assert omar_member is not None

    saved = await _raise(omar, ANONYMOUS, "anon")
    assert "#1" in saved
    saved = await _raise(omar, NAMED, "named")
    assert "#2" in saved

    with Session(e2e_engine) as session:
        anonymous, named = session.exec(select(Dilemma).order_by(col(Dilemma.id))).all()
        assert (anonymous.author_member_id, anonymous.anonymous) == (None, True)
        assert anonymous.created_at.minute == anonymous.created_at.second == 0
        assert named.author_member_id == omar_member.id
        assert (
            session.exec(select(Conversation).where(col(Conversation.flow) == "dilemma")).all()
            == []
        )

    # The team's list: the anonymous one without a name, for the lead as for Omar.
    for user in (lise, omar):
        listing = (await user.send("/dilemmas")).text
        first, second = listing.split("#2", 1)
        assert "#1" in first and "Omar" not in first
        assert "anonym" in first
        assert "Omar" in second

    # A staff member cannot mark it discussed; the lead can.
    reaction = await omar.press_data("dil:done:1")
    assert reaction.alert is not None
    with Session(e2e_engine) as session:
        lead = session.exec(select(Member).where(col(Member.telegram_id) == LEAD_ID)).one()
        series = meetings.create_series(
            session=session,
            team_id=team_id,
            created_by_member_id=lead.id or 0,
            first_date=(utcnow() + timedelta(days=3)).astimezone(TZ).date(),
            start_time=time(14, 0),
            duration_minutes=60,
        )
        meetings.generate(session=session, series=series, tz=TZ, now=utcnow())
        session.commit()

    # The next meeting's agenda, as the lead sees it and as the team receives it.
    reaction = await lise.send("/agenda")
    _first_without_author(reaction.text)
    sent = [data for row in reaction.message.buttons for _, data in row if data and "send" in data]
    await lise.press(sent[0])
    received = await _agenda_of(omar)
    _first_without_author(received)
    assert SECOND in received

    await lise.send("/dilemmas")
    reaction = await lise.press("dil:done:1")
    assert "#1" not in reaction.text and "#2" in reaction.text


async def test_an_over_long_dilemma_is_kept_and_a_voice_one_warns_that_a_voice_is_known(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar = await team_with_residents(emulator, admin)
    long_text = "Fru H. vil selv bestemme, hvornår hun skal i bad. " * 30

    await omar.send("/dilemma")
    reaction = await omar.send(long_text)
    assert "dil:trim" in str(reaction.message.buttons)
    with Session(e2e_engine) as session:
        assert session.exec(select(Dilemma)).all() == []
    await omar.press("dil:trim")
    await omar.press("dil:who:named")

    await omar.send("/dilemma")
    reaction = await omar.send_voice(42)
    assert da(
        "Note: in a voice message your voice can be recognised. Write it if that matters."
    ) in (reaction.text)
    await omar.press("dil:who:anon")
    with Session(e2e_engine) as session:
        trimmed, voice = session.exec(select(Dilemma).order_by(col(Dilemma.id))).all()
    assert trimmed.text is not None and len(trimmed.text) <= 1000
    assert long_text.startswith(trimmed.text)
    assert (voice.voice_duration, voice.author_member_id, voice.text) == (42, None, None)
    listing = (await lise.send("/dilemmas")).text
    assert "0:42" in listing or "42" in listing
