"""Deciding together end to end: three proposals, a vote with a changed vote and a tie the
lead breaks, the trial action on the resident card, check-ins, evaluation "adjust"; a
restart in the middle of a vote; a forged vote for another team's decision."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.app import DISPATCHER_KEY, StemmeApplication, build_application
from bot.prompts import Dispatcher
from flows.core.i18n import texts
from sandbox.emulator import BotApiEmulator, EmuChat, EmuMessage, EmuUser
from storage import decisions, meetings, trials, voting
from storage.db import require_id, utcnow
from storage.directory import remove_member
from storage.models import Checkin, Decision, Prompt, PromptStatus, Proposal, Vote
from storage.residents import list_residents
from tests.e2e.conftest import Admin, e2e_settings, running
from tests.e2e.people import (
    METTE_ID,
    OMAR_ID,
    join,
    member_of,
    setup_team,
    staff_invite_code,
    team_with_residents,
)

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
SARA_ID = 5_000_000_004
ALIAS = "Fru H., stue 12"
da = texts("da", COPENHAGEN)._


def toast(reaction: Any) -> str:
    """The text of the (non-alert) answer to a button press."""
    answer = reaction.answer
    assert answer is not None, "the press was not answered"
    return str(answer.get("text", ""))


def wake(application: StemmeApplication) -> None:
    """Starts the dispatcher's next round now instead of after its idle wait."""
    dispatcher: Dispatcher = application.bot_data[DISPATCHER_KEY]
    dispatcher.wake()


async def bot_message(
    chat: EmuChat, needle: str, *, after: int = 0, seconds: float = 30
) -> EmuMessage:
    """The newest bot message in the chat containing ``needle`` with an id above ``after``
    (timed prompts arrive from the dispatcher on their own: this polls the emulator)."""
    for _ in range(int(seconds * 20)):
        for message in reversed(chat.bot_messages()):
            if message.message_id > after and needle in message.text:
                return message
        await asyncio.sleep(0.05)
    shown = [m.text[:80] for m in chat.bot_messages()[-4:]]
    raise AssertionError(f"no bot message with {needle!r} in chat {chat.id}; last: {shown!r}")


def last_id(chat: EmuChat) -> int:
    """The id of the newest message in the chat (0 when empty)."""
    messages = chat.chat_messages()
    return messages[-1].message_id if messages else 0


async def team_of_four(
    emulator: BotApiEmulator, admin: Admin
) -> tuple[int, EmuUser, EmuUser, EmuUser, EmuUser]:
    """Lise (lead), Omar, Mette and Sara in Team Syd with the resident Fru H."""
    team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)
    code = await staff_invite_code(lise)
    mette, _ = await join(emulator, METTE_ID, "Mette", code, "da")
    sara, _ = await join(emulator, SARA_ID, "Sara", code, "da")
    return team_id, lise, omar, mette, sara


def start_case_decision(engine: Engine, team_id: int, lead_telegram_id: int) -> int:
    """What the case flow does at step 3: a decision about Fru H. (storage, directly)."""
    lead = member_of(engine, lead_telegram_id)
    assert lead is not None
    with Session(engine) as session:
        (resident,) = list_residents(session=session, team_id=team_id)
        decision = decisions.start_decision(
            session=session,
            team_id=team_id,
            resident_id=require_id(resident),
            origin="case",
            origin_id=41,
            title="Morgenen",
            created_by_member_id=require_id(lead),
        )
        session.commit()
        return require_id(decision)


def proposals(engine: Engine, decision_id: int) -> list[Proposal]:
    with Session(engine) as session:
        return list(decisions.proposals_of(session=session, decision_id=decision_id))


def votes(engine: Engine, decision_id: int) -> dict[int, int]:
    """member id -> proposal id."""
    with Session(engine) as session:
        rows = session.exec(select(Vote).where(col(Vote.decision_id) == decision_id)).all()
        return {row.member_id: row.proposal_id for row in rows}


def decision_row(engine: Engine, decision_id: int) -> Decision:
    with Session(engine) as session:
        decision = session.get(Decision, decision_id)
        assert decision is not None
        return decision


def member_id(engine: Engine, telegram_id: int) -> int:
    member = member_of(engine, telegram_id)
    assert member is not None
    return require_id(member)


async def propose(user: EmuUser, decision_id: int, text: str) -> Any:
    await user.send("/proposals")
    await user.press(f"dec:show:{decision_id}")
    reaction = await user.press(da("➕ Propose"))
    assert "Morgenen" in reaction.text or "vagtskifte" in reaction.text
    return await user.send(text)


async def open_vote(lise: EmuUser, decision_id: int, deadline: str = "3d") -> Any:
    await lise.send("/proposals")
    await lise.press(f"dec:show:{decision_id}")
    reaction = await lise.press(da("🗳 Open the vote"))
    assert da("When does the vote close? Everyone gets a message now.") in reaction.text
    return await lise.press(f"dec:dl:{decision_id}:{deadline}")


def due_now(engine: Engine, kind: str, member_ids: list[int] | None = None) -> int:
    """Moves prompts of a kind to now (time passing), returns how many: the earliest day
    only for check-ins."""
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


async def test_the_whole_loop_from_proposals_to_an_adjusted_second_round(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar, mette, sara = await team_of_four(emulator, admin)
    did = start_case_decision(e2e_engine, team_id, lise.id)

    # Three proposals; an over-long one is kept and a shorter version asked for.
    reaction = await propose(omar, did, "Vi banker på og venter på svar. " * 20)
    long_text = ("Vi banker på og venter på svar. " * 20).strip()
    assert (
        da(
            "Your proposal has {length} characters; at most {limit} fit. I have kept it: "
            "send a shorter version, or keep the first {limit} characters."
        ).format(length=len(long_text), limit=500)
        in reaction.text
    )
    assert proposals(e2e_engine, did) == []
    reaction = await omar.send("Vi banker på og venter på svar, før vi går ind.")
    assert da("Thank you, your proposal is saved.") in reaction.text
    await propose(mette, did, "Hun vælger selv, hvornår hun vil op.")
    await propose(sara, did, "Vi sætter hendes radio på, når vi kommer ind.")
    first, second, third = (require_id(p) for p in proposals(e2e_engine, did))

    # The lead opens the vote; every member gets a ballot with one button per proposal.
    marks = {user.id: last_id(user.chat) for user in (lise, omar, mette, sara)}
    reaction = await open_vote(lise, did)
    assert (
        da("The vote is open until {when}. Every member gets a message with the proposals.").split(
            "{when}"
        )[0]
        in reaction.text
    )
    wake(bot)
    ballots = {
        user.id: await bot_message(user.chat, "Morgenen", after=marks[user.id])
        for user in (lise, omar, mette, sara)
    }
    assert all(len(b.inline_keyboard) == 3 for b in ballots.values())
    closes_at = decision_row(e2e_engine, did).closes_at
    assert closes_at is not None

    # Votes: Omar 1, Mette 2, Sara 3 and then changes to 2, Lise 1: a tie between 1 and 2.
    reaction = await omar.press(f"dec:vote:{did}:{first}")
    assert reaction.answer is not None and "1" in str(reaction.answer.get("text"))
    assert da("{voted} of {eligible} have voted.").format(voted=1, eligible=4) in reaction.text
    await mette.press(f"dec:vote:{did}:{second}")
    await sara.press(f"dec:vote:{did}:{third}")
    reaction = await sara.press(f"dec:vote:{did}:{second}")
    assert da("Your vote is changed to {number}.").format(number=2) == toast(reaction)
    assert votes(e2e_engine, did)[member_id(e2e_engine, SARA_ID)] == second
    before_tie = last_id(lise.chat)
    reaction = await lise.press(f"dec:vote:{did}:{first}")
    assert da("Everyone has voted: the vote is closed.") in toast(reaction)
    # A vote after the close is refused and changes nothing.
    reaction = await omar.press(f"dec:vote:{did}:{second}")
    assert reaction.alert == da("The vote is closed. Nothing was changed.")
    assert sorted(votes(e2e_engine, did).values()) == sorted([first, first, second, second])

    # The tie goes to the lead, who chooses 2; the result goes to every member.
    wake(bot)
    tie = await bot_message(
        lise.chat,
        da("It is a tie. As the lead, you choose which proposal the team tries."),
        after=before_tie,
    )
    assert len(tie.inline_keyboard) == 2
    marks = {user.id: last_id(user.chat) for user in (lise, omar, mette, sara)}
    await lise.press(f"dec:tie:{did}:{second}", message_id=tie.message_id)
    assert decision_row(e2e_engine, did).chosen_proposal_id == second
    wake(bot)
    for user in (omar, mette, sara):
        await bot_message(user.chat, "Hun vælger selv", after=marks[user.id])
    result = await bot_message(lise.chat, "Hun vælger selv", after=marks[lise.id])
    assert result.button_texts == [da("Plan the trial action")]

    # The lead fills in the trial action; the action is the winning proposal.
    reaction = await lise.press(f"dec:plan:{did}", message_id=result.message_id)
    reaction = await lise.send("Fru H. skal have en god morgen. " * 20)
    assert (
        da(
            "That has {length} characters; at most {limit} fit. I have kept it: copy it from "
            "your message above and send a shorter version."
        ).format(length=639, limit=500)
        == reaction.text
    )
    reaction = await lise.send("Fru H. bestemmer selv over sin morgen.")
    reaction = await lise.send("Hun siger selv, hvornår hun vil op, 5 af 7 dage.")
    assert "Hun vælger selv, hvornår hun vil op." in reaction.text
    reaction = await lise.press(da("Keep it as it is"))
    reaction = await lise.press("Omar")
    marks = {user.id: last_id(user.chat) for user in (lise, omar, mette, sara)}
    reaction = await lise.press(da("▶ Start the trial"))
    assert decision_row(e2e_engine, did).status == "trying"
    with Session(e2e_engine) as session:
        trial = trials.get_trial(session=session, decision_id=did)
        assert trial is not None
        assert (trial.action, trial.aim, trial.checkin_every_days) == (
            "Hun vælger selv, hvornår hun vil op.",
            "Fru H. bestemmer selv over sin morgen.",
            3,
        )
        assert trial.follow_up_member_id == member_id(e2e_engine, OMAR_ID)
        assert trial.ends_on - trial.starts_on == timedelta(days=14)
    wake(bot)
    await bot_message(mette.chat, "Hun vælger selv", after=marks[mette.id])

    # The resident card shows it to a staff member.
    await mette.send("/card")
    reaction = await mette.press(ALIAS)
    assert da("How we meet {alias} now").format(alias=ALIAS) in reaction.text
    assert "Hun vælger selv, hvornår hun vil op." in reaction.text

    # Check-ins from Omar (with a note) and Mette.
    omar_id, mette_id = member_id(e2e_engine, OMAR_ID), member_id(e2e_engine, METTE_ID)
    marks = {user.id: last_id(user.chat) for user in (omar, mette)}
    assert due_now(e2e_engine, trials.KIND_CHECKIN, [omar_id, mette_id]) == 2
    wake(bot)
    question = await bot_message(omar.chat, "Hun vælger selv", after=marks[omar.id])
    reaction = await omar.press(da("Tried it, it helped"), message_id=question.message_id)
    assert da("Thank you! Your answer: {answer}.").format(answer=da("Tried it, it helped")) in (
        reaction.text
    )
    await omar.press(da("✏️ Add a short note"))
    reaction = await omar.send("Hun smilede og sagde godmorgen.")
    assert da("Your note is saved with the check-in.") in reaction.text
    question = await bot_message(mette.chat, "Hun vælger selv", after=marks[mette.id])
    await mette.press(da("Tried it, it did not help"), message_id=question.message_id)
    with Session(e2e_engine) as session:
        answers = sorted(
            (row.member_id, row.answer, row.note) for row in session.exec(select(Checkin)).all()
        )
    assert answers == sorted(
        [(omar_id, "helped", "Hun smilede og sagde godmorgen."), (mette_id, "not_helped", None)]
    )

    # The evaluation: the summary to the lead, "adjust", and round 2 at proposing.
    mark = last_id(lise.chat)
    assert due_now(e2e_engine, trials.KIND_EVALUATE) == 1
    wake(bot)
    evaluation = await bot_message(lise.chat, da("What does the team decide?"), after=mark)
    assert da("Tried it, it helped: {count}").format(count=1) in evaluation.text
    assert "Hun smilede og sagde godmorgen." in evaluation.text
    await lise.press(da("Adjust it and try again"), message_id=evaluation.message_id)
    reaction = await lise.send("Vi spørger hende aftenen før, hvornår hun vil vækkes.")
    assert da("Proposals:") in reaction.text
    with Session(e2e_engine) as session:
        latest = decisions.latest_decision(session=session, origin="case", origin_id=41)
        assert latest is not None and latest.id != did
        assert (latest.iteration, latest.status) == (2, "proposing")
        assert [
            p.text for p in decisions.proposals_of(session=session, decision_id=require_id(latest))
        ] == ["Vi spørger hende aftenen før, hvornår hun vil vækkes."]
    assert decision_row(e2e_engine, did).outcome == "adjust"


async def test_a_restart_in_the_middle_of_a_vote_keeps_every_vote_and_the_deadline(
    emulator: BotApiEmulator, admin: Admin, e2e_database_url: str, e2e_engine: Engine
) -> None:
    async with running(build_application(e2e_settings(emulator, e2e_database_url))) as first:
        team_id, lise, omar, mette, sara = await team_of_four(emulator, admin)
        did = start_case_decision(e2e_engine, team_id, lise.id)
        await propose(omar, did, "Radio om morgenen.")
        await propose(mette, did, "Hun vælger selv.")
        a, b = (require_id(p) for p in proposals(e2e_engine, did))
        await open_vote(lise, did, "7d")
        wake(first)
        await bot_message(sara.chat, "Morgenen")
        await omar.press(f"dec:vote:{did}:{a}")
        await mette.press(f"dec:vote:{did}:{b}")
        before = decision_row(e2e_engine, did)

    async with running(build_application(e2e_settings(emulator, e2e_database_url))):
        after = decision_row(e2e_engine, did)
        assert (after.status, after.closes_at) == ("voting", before.closes_at)
        assert len(votes(e2e_engine, did)) == 2
        await sara.press(f"dec:vote:{did}:{a}")
        reaction = await mette.press(f"dec:vote:{did}:{a}")
        assert da("Your vote is changed to {number}.").format(number=1) == toast(reaction)

    assert sorted(votes(e2e_engine, did).values()) == [a, a, a]
    with Session(e2e_engine) as session:
        deadline = session.exec(
            select(Prompt).where(col(Prompt.dedupe_key) == f"decision:{did}:deadline")
        ).one()
    assert deadline.status == PromptStatus.PENDING and deadline.due_at == before.closes_at


async def test_a_forged_vote_for_another_teams_decision_changes_nothing_and_is_logged(
    bot: StemmeApplication,
    emulator: BotApiEmulator,
    admin: Admin,
    e2e_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)
    other_team, other_lise = await _other_team(emulator, admin)
    theirs = start_case_decision(e2e_engine, other_team, other_lise.id)
    with Session(e2e_engine) as session:
        proposal = decisions.add_proposal(
            session=session, decision_id=theirs, author_member_id=None, text="Deres forslag"
        )
        voting.open_vote(
            session=session,
            decision_id=theirs,
            closes_at=utcnow() + timedelta(days=1),
            now=utcnow(),
        )
        session.commit()
        pid = require_id(proposal)

    await omar.send("/proposals")
    with caplog.at_level(logging.INFO):
        reaction = await omar.press_data(f"dec:vote:{theirs}:{pid}")
        shown = await omar.press_data(f"dec:show:{theirs}")

    assert reaction.alert == da("That button is no longer active. Nothing was changed.")
    assert shown.alert == reaction.alert
    assert votes(e2e_engine, theirs) == {}
    logged = [r.getMessage() for r in caplog.records if "Refused vote button" in r.getMessage()]
    assert logged == [
        f"Refused vote button for decision {theirs} from member "
        f"{member_id(e2e_engine, OMAR_ID)} (update {reaction.update_id})"
    ]
    assert all("Deres forslag" not in r.getMessage() for r in caplog.records)


async def _other_team(emulator: BotApiEmulator, admin: Admin) -> tuple[int, EmuUser]:
    team_id, code = setup_team(admin, "Team Nord")
    other_lise, _ = await join(emulator, 5_000_000_101, "Karen", code, "da")
    await other_lise.send("/residents")
    await other_lise.press(da("➕ Add resident"))
    await other_lise.send(ALIAS)
    return team_id, other_lise


async def test_a_lead_starts_a_team_action_from_telegram(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)

    reaction = await omar.send("/proposals")
    assert da("The team has no open proposals or trial actions.") in reaction.text
    assert reaction.message.inline_keyboard == []
    await lise.send("/proposals")
    await lise.press(da("➕ New trial action for the team"))
    reaction = await lise.send("Roligere vagtskifte")

    with Session(e2e_engine) as session:
        (decision,) = session.exec(select(Decision)).all()
    assert (decision.origin, decision.resident_id, decision.title) == (
        "team",
        None,
        "Roligere vagtskifte",
    )
    assert "Roligere vagtskifte" in reaction.text
    reaction = await omar.send("/proposals")
    assert "Roligere vagtskifte" in reaction.text


async def test_a_vote_opens_by_itself_and_closes_at_its_deadline_keeping_a_leavers_vote(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar, mette, sara = await team_of_four(emulator, admin)
    did = start_case_decision(e2e_engine, team_id, lise.id)
    await propose(omar, did, "Radio om morgenen.")
    await propose(mette, did, "Hun vælger selv.")
    a, b = (require_id(p) for p in proposals(e2e_engine, did))

    # The lead lets the vote open by itself tomorrow at 08:00; proposals stay open.
    await lise.send("/proposals")
    await lise.press(f"dec:show:{did}")
    await lise.press(da("🗳 Open the vote"))
    reaction = await lise.press(f"dec:auto:{did}:1")
    assert decision_row(e2e_engine, did).status == "proposing"
    assert (
        da("The vote opens by itself {when}. Until then everyone can still propose.").split(
            "{when}"
        )[1]
        in reaction.text
    )
    # Tomorrow comes: the vote opens and every member gets the ballot.
    mark = last_id(sara.chat)
    assert due_now(e2e_engine, voting.KIND_OPEN) == 1
    wake(bot)
    await bot_message(sara.chat, "Morgenen", after=mark)
    assert decision_row(e2e_engine, did).status == "voting"

    # Sara votes and then leaves the team: her vote stays, she cannot vote again.
    await sara.press(f"dec:vote:{did}:{a}")
    await omar.press(f"dec:vote:{did}:{a}")
    await mette.press(f"dec:vote:{did}:{b}")
    with Session(e2e_engine) as session:
        assert remove_member(
            session=session,
            team_id=team_id,
            member_id=member_id(e2e_engine, SARA_ID),
            actor_member_id=member_id(e2e_engine, lise.id),
        )
        session.commit()
    reaction = await sara.press(f"dec:vote:{did}:{b}")
    assert reaction.alert is not None
    assert sorted(votes(e2e_engine, did).values()) == [a, a, b]

    # The deadline passes before Lise voted: the vote closes, "a" wins with Sara's vote.
    marks = {user.id: last_id(user.chat) for user in (lise, omar)}
    assert due_now(e2e_engine, voting.KIND_DEADLINE) == 1
    wake(bot)
    await bot_message(omar.chat, "Radio om morgenen.", after=marks[omar.id])
    result = await bot_message(lise.chat, "Radio om morgenen.", after=marks[lise.id])
    assert result.button_texts == [da("Plan the trial action")]
    row = decision_row(e2e_engine, did)
    assert (row.status, row.chosen_proposal_id) == ("planning", a)
    reaction = await lise.press(f"dec:vote:{did}:{b}")
    assert reaction.alert == da("The vote is closed. Nothing was changed.")


async def test_a_kept_team_action_is_shown_under_proposals(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)
    lead_id, omar_id = member_id(e2e_engine, lise.id), member_id(e2e_engine, omar.id)
    now = utcnow()
    with Session(e2e_engine) as session:
        decision = decisions.start_decision(
            session=session,
            team_id=team_id,
            resident_id=None,
            origin="pulse",
            origin_id=9,
            title="Tryghed i teamet",
            created_by_member_id=lead_id,
        )
        did = require_id(decision)
        proposal = decisions.add_proposal(
            session=session, decision_id=did, author_member_id=omar_id, text="Vi spørger ind."
        )
        voting.open_vote(
            session=session, decision_id=did, closes_at=now + timedelta(days=1), now=now
        )
        for voter in (lead_id, omar_id):
            voting.cast_vote(
                session=session,
                decision_id=did,
                member_id=voter,
                proposal_id=require_id(proposal),
                now=now,
            )
        voting.close_vote(session=session, decision_id=did, now=now)
        trials.start_trial(
            session=session,
            decision_id=did,
            aim="Alle tør sige noget",
            measure="Flere siger noget på mødet",
            action="Vi spørger ind.",
            starts_on=now.date(),
            ends_on=now.date() + timedelta(days=14),
            follow_up_member_id=lead_id,
            checkin_every_days=3,
            by_member_id=lead_id,
            now=now,
            tz=COPENHAGEN,
        )
        trials.evaluate(session=session, decision_id=did, outcome="keep", by_member_id=lead_id)
        session.commit()

    reaction = await omar.send("/proposals")

    assert da("The team has no open proposals or trial actions.") in reaction.text
    assert da("What we keep doing as a team:") + "\n✅ Vi spørger ind." in reaction.text


async def test_the_vote_can_close_at_the_start_of_the_next_meeting(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, omar = await team_with_residents(emulator, admin, ALIAS)
    did = start_case_decision(e2e_engine, team_id, lise.id)
    await propose(omar, did, "Radio om morgenen.")
    in_four_days = (utcnow() + timedelta(days=4)).astimezone(COPENHAGEN).date()
    with Session(e2e_engine) as session:
        series = meetings.create_series(
            session=session,
            team_id=team_id,
            created_by_member_id=member_id(e2e_engine, lise.id),
            first_date=in_four_days,
            start_time=time(14, 0),
            duration_minutes=60,
        )
        (occurrence,) = meetings.generate(
            session=session, series=series, tz=COPENHAGEN, now=utcnow()
        )
        session.commit()
        meeting_starts = occurrence.starts_at

    await lise.send("/proposals")
    await lise.press(f"dec:show:{did}")
    reaction = await lise.press(da("🗳 Open the vote"))
    (shown,) = reaction.edits
    assert f"dec:dl:{did}:meet" in [data for row in shown.buttons for _t, data in row]
    await lise.press(f"dec:dl:{did}:meet")

    row = decision_row(e2e_engine, did)
    assert (row.status, row.closes_at) == ("voting", meeting_starts)
    assert row.closes_at == datetime.combine(in_four_days, time(14, 0), tzinfo=COPENHAGEN)
