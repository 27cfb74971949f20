"""The whole Borgerens stemme loop with a lead and three staff, from Telegram only:
an interview with voice and text answers, two perspectives, the lead takes the case to a
decision, three proposals, a vote with a changed vote and a tie broken by the lead, the
trial action on the resident card, check-ins from two members, the evaluation "adjust",
and the second iteration of the same case at step 3 in /cases."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.app import DISPATCHER_KEY, StemmeApplication
from bot.prompts import Dispatcher
from flows.core.i18n import texts
from sandbox.emulator import BotApiEmulator, EmuChat, EmuMessage, EmuUser
from storage import cases, decisions, trials
from storage.db import require_id, utcnow
from storage.models import (
    CaseAnswer,
    CasePerspective,
    Checkin,
    Decision,
    Prompt,
    PromptStatus,
    Proposal,
    ResidentCase,
)
from tests.e2e.conftest import Admin
from tests.e2e.people import (
    METTE_ID,
    OMAR_ID,
    join,
    member_of,
    staff_invite_code,
    team_with_residents,
)

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
SARA_ID = 5_000_000_004
ALIAS = "Fru H., stue 12"
da = texts("da", COPENHAGEN)._


def _wake(application: StemmeApplication) -> None:
    """Starts the dispatcher's next round now instead of after its idle wait."""
    dispatcher: Dispatcher = application.bot_data[DISPATCHER_KEY]
    dispatcher.wake()


async def _bot_message(
    chat: EmuChat, needle: str, *, after: int = 0, seconds: float = 15
) -> EmuMessage:
    """The newest bot message containing ``needle`` with an id above ``after`` (timed
    prompts arrive from the dispatcher on their own: this polls the emulator)."""
    for _ in range(int(seconds * 20)):
        for message in reversed(chat.bot_messages()):
            if message.message_id > after and needle in message.text:
                return message
        await asyncio.sleep(0.05)
    shown = [m.text[:80] for m in chat.bot_messages()[-4:]]
    raise AssertionError(f"no bot message with {needle!r} in chat {chat.id}; last: {shown!r}")


def _last_id(chat: EmuChat) -> int:
    messages = chat.chat_messages()
    return messages[-1].message_id if messages else 0


def _member_id(engine: Engine, telegram_id: int) -> int:
    member = member_of(engine, telegram_id)
    assert member is not None
    return require_id(member)


def _due_now(engine: Engine, kind: str, member_ids: list[int] | None = None) -> int:
    """Moves pending prompts of a kind to now (time passing); check-ins of the first day."""
    with Session(engine) as session:
        rows = session.exec(
            select(Prompt)
            .where(col(Prompt.kind) == kind, col(Prompt.status) == PromptStatus.PENDING)
            .order_by(col(Prompt.due_at))
        ).all()
        if kind == trials.KIND_CHECKIN and rows:
            first_day = rows[0].payload["day"]
            rows = [row for row in rows if row.payload["day"] == first_day]
        if member_ids is not None:
            rows = [row for row in rows if row.member_id in member_ids]
        ids = [require_id(row) for row in rows]
        session.execute(
            update(Prompt).where(col(Prompt.id).in_(ids)).values(due_at=utcnow() - timedelta(1))
        )
        session.commit()
        return len(ids)


async def _propose(user: EmuUser, decision_id: int, text: str) -> None:
    await user.send("/proposals")
    await user.press(f"dec:show:{decision_id}")
    reaction = await user.press(da("➕ Propose"))
    assert ALIAS in reaction.text
    reaction = await user.send(text)
    assert da("Thank you, your proposal is saved.") in reaction.text


async def test_the_whole_loop_from_listening_to_the_second_iteration(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)
    code = await staff_invite_code(lise)
    mette, _ = await join(emulator, METTE_ID, "Mette", code, "da")
    sara, _ = await join(emulator, SARA_ID, "Sara", code, "da")

    # Step 1: Omar listens; a voice answer and two text answers, then the summary.
    await omar.send("/voice")
    await omar.press(ALIAS)
    await omar.press("💬 Samtale")
    await omar.send_voice(11)
    await omar.send("Når jeg selv må bestemme, hvornår jeg står op.")
    await omar.send("I skal ikke vække mig kl. 7.")
    reaction = await omar.send("Hun vil selv bestemme over sin morgen.")
    await emulator.wait_idle(settle=0.3)
    with Session(e2e_engine) as session:
        case = session.exec(select(ResidentCase)).one()
        stored = session.exec(select(CaseAnswer).order_by(col(CaseAnswer.position))).all()
    case_id = require_id(case)
    assert [(a.voice_duration, a.text is not None) for a in stored] == [
        (11, False),
        (None, True),
        (None, True),
    ]
    assert case.step == 2

    # Step 2: two perspectives from the invitations.
    _wake(bot)
    for user in (mette, sara):
        invitation = await _bot_message(user.chat, "hvad ser du, når du hjælper")
        await user.press("✍️ Giv mit perspektiv", message_id=invitation.message_id)
    await mette.send("Hun er glad, når hun får lov at sove længe.")
    await sara.send_voice(7)
    with Session(e2e_engine) as session:
        assert len(session.exec(select(CasePerspective)).all()) == 2

    # Step 3: the lead takes the case to a decision; three proposals.
    reaction = await lise.send("/cases")
    assert f"{ALIAS} · Trin 2 af 4: i teamet" in reaction.text
    await lise.press(ALIAS)
    reaction = await lise.press("Gå til beslutning ▶")
    await emulator.wait_idle(settle=0.3)  # the answer can come before the step's commit
    with Session(e2e_engine) as session:
        decision = decisions.latest_decision(session=session, origin="case", origin_id=case_id)
    assert decision is not None and decision.iteration == 1
    did = require_id(decision)
    reaction = await lise.press("Foreslå en prøvehandling")
    assert ALIAS in reaction.text
    await lise.send("/cancel")
    await _propose(omar, did, "Vi banker på og venter på svar, før vi går ind.")
    await _propose(mette, did, "Hun vælger selv, hvornår hun vil op.")
    await _propose(sara, did, "Vi sætter hendes radio på, når vi kommer ind.")
    with Session(e2e_engine) as session:
        first, second, third = (
            require_id(p) for p in decisions.proposals_of(session=session, decision_id=did)
        )

    # The vote: Omar 1, Mette 2, Sara 3 then 2, Lise 1: a tie the lead breaks for 2.
    await lise.send("/proposals")
    await lise.press(f"dec:show:{did}")
    await lise.press(da("🗳 Open the vote"))
    marks = {user.id: _last_id(user.chat) for user in (lise, omar, mette, sara)}
    await lise.press(f"dec:dl:{did}:3d")
    reaction = await lise.send("/cases")
    assert "Afstemningen lukker" in reaction.text
    _wake(bot)
    for user in (lise, omar, mette, sara):
        await _bot_message(user.chat, ALIAS, after=marks[user.id])
    await omar.press(f"dec:vote:{did}:{first}")
    await mette.press(f"dec:vote:{did}:{second}")
    await sara.press(f"dec:vote:{did}:{third}")
    reaction = await sara.press(f"dec:vote:{did}:{second}")
    assert reaction.answer is not None
    assert da("Your vote is changed to {number}.").format(number=2) == reaction.answer.get("text")
    before_tie = _last_id(lise.chat)
    await lise.press(f"dec:vote:{did}:{first}")
    _wake(bot)
    tie = await _bot_message(
        lise.chat,
        da("It is a tie. As the lead, you choose which proposal the team tries."),
        after=before_tie,
    )
    marks = {user.id: _last_id(user.chat) for user in (lise, omar, mette, sara)}
    await lise.press(f"dec:tie:{did}:{second}", message_id=tie.message_id)
    _wake(bot)
    result = await _bot_message(lise.chat, "Hun vælger selv", after=marks[lise.id])

    # Step 4: the trial action, on the resident card for everyone.
    await lise.press(f"dec:plan:{did}", message_id=result.message_id)
    await lise.send("Fru H. bestemmer selv over sin morgen.")
    await lise.send("Hun siger selv, hvornår hun vil op, 5 af 7 dage.")
    await lise.press(da("Keep it as it is"))
    await lise.press("Omar")
    await lise.press(da("▶ Start the trial"))
    with Session(e2e_engine) as session:
        trying = session.get(Decision, did)
        assert trying is not None and trying.status == "trying"
    reaction = await lise.send("/cases")
    assert f"{ALIAS} · Trin 4 af 4: afprøve" in reaction.text
    assert "Forsøget slutter" in reaction.text
    await sara.send("/card")
    reaction = await sara.press(ALIAS)
    assert da("How we meet {alias} now").format(alias=ALIAS) in reaction.text
    assert "Hun vælger selv, hvornår hun vil op." in reaction.text

    # Check-ins from Omar and Mette.
    omar_id, mette_id = _member_id(e2e_engine, OMAR_ID), _member_id(e2e_engine, METTE_ID)
    marks = {user.id: _last_id(user.chat) for user in (omar, mette)}
    assert _due_now(e2e_engine, trials.KIND_CHECKIN, [omar_id, mette_id]) == 2
    _wake(bot)
    for user, answer in ((omar, "Tried it, it helped"), (mette, "Tried it, it did not help")):
        question = await _bot_message(user.chat, "Hun vælger selv", after=marks[user.id])
        await user.press(da(answer), message_id=question.message_id)
    with Session(e2e_engine) as session:
        assert sorted((c.member_id, c.answer) for c in session.exec(select(Checkin))) == sorted(
            [(omar_id, "helped"), (mette_id, "not_helped")]
        )

    # The evaluation "adjust": the same case, iteration 2, back at step 3.
    mark = _last_id(lise.chat)
    assert _due_now(e2e_engine, trials.KIND_EVALUATE) == 1
    _wake(bot)
    evaluation = await _bot_message(lise.chat, da("What does the team decide?"), after=mark)
    await lise.press(da("Adjust it and try again"), message_id=evaluation.message_id)
    await lise.send("Vi spørger hende aftenen før, hvornår hun vil vækkes.")
    with Session(e2e_engine) as session:
        latest = decisions.latest_decision(session=session, origin="case", origin_id=case_id)
        assert latest is not None and (latest.iteration, latest.status) == (2, "proposing")
        first_decision = session.get(Decision, did)
        assert first_decision is not None and first_decision.outcome == "adjust"
        assert [
            p.text
            for p in session.exec(select(Proposal).where(col(Proposal.decision_id) == latest.id))
        ] == ["Vi spørger hende aftenen før, hvornår hun vil vækkes."]
        [line] = cases.open_cases(session=session, team_id=team_id, today=utcnow().date())
        assert (line.case.id, line.step) == (case_id, cases.CaseStep.DECIDING)
    reaction = await lise.send("/cases")
    assert "Åbne sager (1):" in reaction.text
    assert f"{ALIAS} · Trin 3 af 4: beslutte" in reaction.text
    assert "Venter på forslag til en prøvehandling." in reaction.text
