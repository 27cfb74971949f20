"""Borgerens stemme end to end: listening with voice, text and a skipped question, the
other members invited once each, two perspectives, /cases, and the lead's actions; and
what goes wrong: stray input, a resident deactivated mid-case, a member removed
mid-flow, a resident who already has a case, forged buttons."""

from __future__ import annotations

import asyncio
import logging
from datetime import time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from telegram import Bot

from bot.app import StemmeApplication
from flows.core.i18n import texts
from flows.loop.cases import renderers
from flows.meetings.agenda_views import entry_line
from sandbox.emulator import BotApiEmulator, EmuUser
from storage import cases, listening
from storage.agenda import build_agenda
from storage.db import require_id, utcnow
from storage.directory import remove_member
from storage.meetings import create_series, generate
from storage.models import (
    CaseAnswer,
    CaseKind,
    CaseMoment,
    CasePerspective,
    Decision,
    Prompt,
    PromptStatus,
    Resident,
    ResidentCase,
    Role,
)
from storage.residents import deactivate_resident
from tests.e2e.conftest import Admin
from tests.e2e.people import (
    LEAD_ID,
    METTE_ID,
    join,
    member_of,
    staff_invite_code,
    take_note,
    team_with_residents,
)
from tests.factories import make_member, make_resident, make_team

SARA_ID = 5_000_000_004
FRU_H = "Fru H., stue 12"
HR_B = "Hr. B., stue 3"
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


async def _four_people(
    emulator: BotApiEmulator, admin: Admin
) -> tuple[int, EmuUser, EmuUser, EmuUser, EmuUser]:
    """A lead (Lise) and three staff (Omar, Mette, Sara), two residents."""
    team_id, lise, omar = await team_with_residents(emulator, admin, FRU_H, HR_B)
    code = await staff_invite_code(lise)
    mette, _ = await join(emulator, METTE_ID, "Mette", code, "da")
    sara, _ = await join(emulator, SARA_ID, "Sara", code, "da")
    return team_id, lise, omar, mette, sara


async def _sent_invitations(engine: Engine, count: int, seconds: float = 10) -> list[Prompt]:
    """The case.perspective prompts once ``count`` of them are sent (polls the database)."""
    rows: list[Prompt] = []
    for _ in range(int(seconds * 20)):
        with Session(engine) as session:
            rows = list(
                session.exec(select(Prompt).where(col(Prompt.kind) == cases.KIND_PERSPECTIVE))
            )
        if len([row for row in rows if row.status == PromptStatus.SENT]) >= count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"invitations not sent: {[row.status for row in rows]}")


def _invitations_in(user: EmuUser) -> int:
    return sum(
        1
        for message in user.chat_messages()
        if message.from_bot and "hvad ser du, når du hjælper" in message.text
    )


async def _listen(user: EmuUser, alias: str, kind: str = "💬 Samtale") -> None:
    reaction = await user.send("/voice")
    assert "Hvem vil du lytte til?" in reaction.text
    await user.press(alias)
    reaction = await user.press(kind)
    assert "spørgsmål 1 af 3" in reaction.text


async def _confirmation(user: EmuUser) -> str:
    """The newest bot message once the bot is quiet (confirmations come after the commit)."""
    await user.emulator.wait_idle(settle=0.3)
    last = user.last_bot_message()
    assert last is not None
    return last.text


async def test_listening_perspectives_and_the_leads_overview(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar, mette, sara = await _four_people(emulator, admin)
    note_id = await take_note(omar, FRU_H, "Hun smilede, da kaffen kom før plejen.")

    # Step 1: a voice answer, a text answer and a skipped question.
    await _listen(omar, FRU_H)
    reaction = await omar.send_voice(9)
    assert "spørgsmål 2 af 3" in reaction.text
    assert "Hvornår er en god dag for dig?" in reaction.text
    reaction = await omar.send("Når jeg får kaffen i ro, før nogen vasker mig.")
    assert "Hvad skal vi gøre anderledes?" in reaction.text
    reaction = await omar.press("Spring over")
    assert "mikroøjeblikke om Fru H., stue 12" in reaction.text
    reaction = await omar.press(reaction.messages[0].button_texts[0])
    assert reaction.edits and reaction.edits[0].button_texts[0].startswith("✓ ")
    reaction = await omar.press("Næste ▶")
    assert "Sidste trin" in reaction.text
    await omar.send("Ro og kaffe om morgenen betyder mest for hende.")
    confirmation = await _confirmation(omar)
    assert "Gemt ✔ Det, Fru H., stue 12 fortalte dig, er nu hos teamet" in confirmation
    assert "Jeg har bedt 3 kolleger" in confirmation

    with Session(e2e_engine) as session:
        [case] = session.exec(select(ResidentCase)).all()
        answers = session.exec(select(CaseAnswer).order_by(col(CaseAnswer.position))).all()
        moments = session.exec(select(CaseMoment)).all()
    assert (case.step, case.summary) == (2, "Ro og kaffe om morgenen betyder mest for hende.")
    assert [(a.question, a.text, a.voice_duration) for a in answers] == [
        ("conversation.matters", None, 9),
        ("conversation.good_day", "Når jeg får kaffen i ro, før nogen vasker mig.", None),
    ]
    assert answers[0].voice_file_id
    assert [m.note_id for m in moments] == [note_id]

    # Step 2: every other member is invited exactly once, the listener not at all.
    invitations = await _sent_invitations(e2e_engine, 3)
    lead, mette_member, sara_member = (
        member_of(e2e_engine, user_id) for user_id in (LEAD_ID, METTE_ID, SARA_ID)
    )
    assert lead and mette_member and sara_member
    assert sorted(p.member_id or 0 for p in invitations) == sorted(
        [lead.id or 0, mette_member.id or 0, sara_member.id or 0]
    )
    await emulator.wait_idle(settle=0.3)
    assert [_invitations_in(user) for user in (lise, mette, sara, omar)] == [1, 1, 1, 0]

    reaction = await mette.press("✍️ Giv mit perspektiv")
    assert "Hvad ser du, når du hjælper Fru H., stue 12?" in reaction.text
    reaction = await mette.send_sticker()
    assert "Skriv, hvad du ser, som tekst" in reaction.text
    reaction = await mette.send("Hun bliver urolig, når vi kommer ind før kl. 8.")
    assert "Tak ✔ Dit perspektiv på Fru H., stue 12 er gemt" in reaction.text
    await sara.press("✍️ Giv mit perspektiv")
    reaction = await sara.send_voice(14)
    assert "Tak ✔" in reaction.text
    # The author changes her own perspective: still one per member.
    await mette.press("✍️ Giv mit perspektiv")
    reaction = await mette.send("Hun er rolig, når kaffen står klar først.")
    assert "Tak ✔" in reaction.text
    with Session(e2e_engine) as session:
        perspectives = session.exec(select(CasePerspective).order_by(col(CasePerspective.id)))
        assert [(p.member_id, p.text, p.voice_duration) for p in perspectives] == [
            (mette_member.id, "Hun er rolig, når kaffen står klar først.", None),
            (sara_member.id, None, 14),
        ]

    # The case is on the next meeting's agenda, with its summary and perspectives.
    with Session(e2e_engine) as session:
        series = create_series(
            session=session,
            team_id=team_id,
            created_by_member_id=lead.id or 0,
            first_date=(utcnow() + timedelta(days=3)).date(),
            start_time=time(14, 0),
            duration_minutes=60,
        )
        [meeting] = generate(session=session, series=series, tz=COPENHAGEN, now=utcnow())
        agenda = build_agenda(session=session, team_id=team_id, occurrence_id=meeting.id or 0)
        lines = [
            entry_line(session, texts("da", COPENHAGEN), entry, agenda)
            for entry in agenda.entries
            if entry.kind == "case"
        ]
    assert lines == [
        "Borgerens stemme, Fru H., stue 12: “Ro og kaffe om morgenen betyder mest for hende.” "
        "· 2 perspektiver"
    ]

    # /cases: the step and what the case waits for (the lead's own perspective).
    reaction = await lise.send("/cases")
    assert "Åbne sager (1):" in reaction.text
    assert "Fru H., stue 12 · Trin 2 af 4: i teamet" in reaction.text
    assert "Venter på 1 perspektiv." in reaction.text

    reaction = await lise.press(FRU_H)
    view = reaction.text
    assert "Samtale ved Omar" in view
    assert "Hvornår er en god dag for dig?\n“Når jeg får kaffen i ro" in view
    assert "Mette: “Hun er rolig, når kaffen står klar først.”" in view
    assert "Sara: 🎤 talebesked, 14 sek." in view
    assert "Hun smilede, da kaffen kom" in view
    reaction = await lise.press("▶ Svar 1")
    assert [c.params["voice"] for c in reaction.calls if c.method == "sendVoice"] == [
        answers[0].voice_file_id
    ]

    # The lead moves it to step 3: a decision with origin "case" and the propose button.
    reaction = await lise.press("Gå til beslutning ▶")
    assert "trin 3: beslutte" in reaction.text
    with Session(e2e_engine) as session:
        [decision] = session.exec(select(Decision)).all()
    assert (decision.origin, decision.origin_id, decision.resident_id) == (
        "case",
        case.id,
        case.resident_id,
    )
    assert ("Foreslå en prøvehandling", f"dec:propose:{decision.id}") in [
        button for row in reaction.edits[-1].buttons for button in row
    ]
    reaction = await lise.send("/cases")
    assert "Fru H., stue 12 · Trin 3 af 4: beslutte" in reaction.text
    assert "Venter på forslag til en prøvehandling." in reaction.text

    # ... and back to step 2: the decision is withdrawn.
    await lise.press(FRU_H)
    reaction = await lise.press("◀ Et trin tilbage")
    assert reaction.alert == "Flyttet tilbage til Trin 2 af 4: i teamet."
    with Session(e2e_engine) as session:
        refreshed = session.get(Decision, decision.id)
        assert refreshed is not None and refreshed.status == "withdrawn"
    reaction = await lise.send("/cases")
    assert "Trin 2 af 4: i teamet" in reaction.text
    # Nobody was invited a second time.
    await emulator.wait_idle(settle=0.3)
    assert [_invitations_in(user) for user in (lise, mette, sara, omar)] == [1, 1, 1, 0]

    # Another case, closed by the lead with a reason and a note.
    await _listen(lise, HR_B, "👀 Iagttagelse")
    for _ in range(3):
        await lise.press("Spring over")
    await lise.press("Spring over")  # the summary
    await _confirmation(lise)
    reaction = await lise.send("/cases")
    assert "Åbne sager (2):" in reaction.text
    await lise.press(HR_B)
    await lise.press("Luk sagen")
    reaction = await lise.press("Talt igennem, ingen prøvehandling nødvendig")
    assert "Skriv kort hvorfor" in reaction.text
    reaction = await lise.send("Vi fandt en løsning på mødet.")
    assert "Lukket ✔ Sagen om Hr. B., stue 3" in reaction.text
    await lise.emulator.wait_idle(settle=0.3)  # the answer can come before the commit
    with Session(e2e_engine) as session:
        closed = session.exec(
            select(ResidentCase).where(col(ResidentCase.closed_at).is_not(None))
        ).one()
    assert (closed.close_reason, closed.close_note) == ("settled", "Vi fandt en løsning på mødet.")
    reaction = await lise.send("/cases")
    assert "Åbne sager (1):" in reaction.text and HR_B not in reaction.text


async def test_bad_input_during_listening_loses_nothing(
    bot: StemmeApplication,
    emulator: BotApiEmulator,
    admin: Admin,
    e2e_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    team_id, lise, omar, mette, _sara = await _four_people(emulator, admin)
    await _listen(omar, FRU_H)

    # A sticker and a photo where an answer is expected get the hint; nothing is stored.
    reaction = await omar.send_sticker()
    assert "Skriv svaret som tekst, eller send en talebesked" in reaction.text
    reaction = await omar.send_photo()
    assert "Klistermærker, billeder og filer kan ikke gemmes" in reaction.text
    # An over-long answer is kept with a shorten request.
    reaction = await omar.send("a" * 1200)
    assert "Din tekst har 1200 tegn" in reaction.text
    reaction = await omar.press("Behold de første 1000 tegn")
    assert "spørgsmål 2 af 3" in reaction.text

    # Someone else cannot open a second case for the same resident.
    reaction = await mette.send("/voice")
    reaction = await mette.press(FRU_H)
    assert "Fru H., stue 12 har allerede en åben sag (Trin 1 af 4: lytte)" in reaction.text

    # The resident is deactivated mid-case: the listener is told, the flow ends cleanly.
    with Session(e2e_engine) as session:
        resident = session.exec(select(Resident).where(col(Resident.alias) == FRU_H)).one()
        lead = member_of(e2e_engine, LEAD_ID)
        assert lead is not None and lead.id is not None
        deactivate_resident(session=session, resident=resident, actor_member_id=lead.id)
        session.commit()
    reaction = await omar.send("Når solen skinner.")
    assert "Fru H., stue 12 er ikke længere på teamets liste" in reaction.text
    reaction = await omar.send("/cases")
    assert "Fru H., stue 12 · Trin 1 af 4: lytte" in reaction.text
    assert "(ikke længere på teamets liste)" in reaction.text
    with Session(e2e_engine) as session:
        [answer] = session.exec(select(CaseAnswer)).all()
    assert answer.text == "a" * 1000

    # A member removed from the team mid-flow cannot save anything.
    await _listen(mette, HR_B)
    with Session(e2e_engine) as session:
        gone = member_of(e2e_engine, METTE_ID)
        assert gone is not None and gone.id is not None and lead.id is not None
        remove_member(session=session, team_id=team_id, member_id=gone.id, actor_member_id=lead.id)
        session.commit()
    reaction = await mette.send("Han sang med på radioen.")
    assert "ikke længere medlem" in reaction.text
    with Session(e2e_engine) as session:
        assert session.exec(select(CaseAnswer)).all() == [answer]

    # Forged buttons for another team's case change nothing and are logged.
    with Session(e2e_engine, expire_on_commit=False) as session:
        other_team = make_team(session=session)
        outsider = make_member(session=session, team=other_team)
        other_case = listening.start_case(
            session=session,
            team_id=require_id(other_team),
            resident_id=require_id(make_resident(session=session, team=other_team)),
            listener_member_id=require_id(outsider.member),
            kind=CaseKind.CONVERSATION,
        )
        session.commit()
    caplog.set_level(logging.INFO, logger="flows.loop.case_views")
    for forged in ("view", "decide", "close", "back", "persp"):
        reaction = await lise.press_data(f"case:{forged}:{other_case.id}")
        assert reaction.alert == "Den knap er ikke længere aktiv. Intet blev ændret."
    assert f"Refused case button case:close:{other_case.id}" in caplog.text
    with Session(e2e_engine) as session:
        untouched = session.get(ResidentCase, other_case.id)
        assert untouched is not None and untouched.closed_at is None and untouched.step == 1
        assert session.exec(select(Decision)).all() == []
    # Staff cannot use the lead's buttons.
    with Session(e2e_engine) as session:
        open_case = session.exec(select(ResidentCase).order_by(col(ResidentCase.id))).first()
        assert open_case is not None
    reaction = await omar.press_data(f"case:close:{open_case.id}")
    assert reaction.alert == "Det kan kun teamlederen."
    with Session(e2e_engine) as session:
        unchanged = session.get(ResidentCase, open_case.id)
        assert unchanged is not None and unchanged.closed_at is None


class _RecordingBot:
    """Stands in for the dispatcher's bot: records what a renderer sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, list[str]]] = []

    async def send_message(self, chat_id: int, text: str, **kwargs: Any) -> None:
        markup = kwargs.get("reply_markup")
        data = [b.callback_data for row in markup.inline_keyboard for b in row] if markup else []
        self.sent.append((chat_id, text, data))


async def test_an_invitation_is_sent_only_while_the_case_waits_for_the_team(
    e2e_engine: Engine,
) -> None:
    with Session(e2e_engine, expire_on_commit=False) as session:
        team = make_team(session=session)
        lead = make_member(session=session, team=team, role=Role.LEAD, language="en")
        listener = make_member(session=session, team=team, name="Omar")
        staff = make_member(session=session, team=team)
        resident = make_resident(session=session, team=team, alias=FRU_H)
        case = listening.start_case(
            session=session,
            team_id=require_id(team),
            resident_id=require_id(resident),
            listener_member_id=require_id(listener.member),
            kind=CaseKind.OBSERVATION,
        )
        invitations = {
            p.member_id: p
            for p in listening.bring_to_team(
                session=session,
                case=case,
                member_id=require_id(listener.member),
                summary=None,
                tz="Europe/Copenhagen",
            )
        }
        session.commit()
        bot = _RecordingBot()
        render = renderers()[cases.KIND_PERSPECTIVE]

        await render(cast(Bot, bot), invitations[lead.member.id], session)
        remove_member(
            session=session,
            team_id=require_id(team),
            member_id=require_id(staff.member),
            actor_member_id=require_id(lead.member),
        )
        await render(cast(Bot, bot), invitations[staff.member.id], session)
        cases.go_to_decision(
            session=session, case=case, member_id=require_id(lead.member), title=FRU_H
        )
        await render(cast(Bot, bot), invitations[lead.member.id], session)

    assert bot.sent == [
        (
            lead.member.telegram_id,
            f"Borgerens stemme: Omar has listened to {FRU_H}. Before the team talks about it: "
            f"what do you see when you help {FRU_H}?",
            [f"case:persp:{case.id}", f"case:view:{case.id}"],
        )
    ]
