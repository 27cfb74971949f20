"""Telegram refusing things, steps failing, and the commands that always work."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.app import StemmeApplication
from sandbox.emulator import BotApiEmulator
from storage import conversations
from storage.residents import list_residents
from tests.e2e.conftest import Admin
from tests.e2e.dialog import converse, says, texts_in
from tests.e2e.people import LEAD_ID, OMAR_ID, join, setup_team, staff_invite_code


async def test_help_and_cancel_work_from_any_step_in_either_language(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin
) -> None:
    _team_id, code = setup_team(admin)
    lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
    omar, _ = await join(emulator, OMAR_ID, "Omar", await staff_invite_code(lise), "en")
    await converse(
        lise,
        "da",
        [
            (
                "/residents",
                says(
                    "{team} has no residents yet. Add them by the alias the team uses.",
                    team="Team Syd",
                ),
            ),
            (
                "press:➕ Tilføj borger",
                says(
                    "Write the resident's alias, as the team knows them, "
                    'e.g. "Mrs H., room 12". Never a CPR number or full name. (/cancel to stop)'
                ),
            ),
            ("/help", says("/cancel always stops what you are doing; nothing you saved is lost.")),
            ("/cancel", says("Stopped. What you had already saved is kept.")),
            # Outside a flow, plain text is kept and offered as a micro-moment.
            ("Fru H., stue 12", says("The team has no residents yet. Add the first one:")),
            ("/cancel", says("Stopped. What you had already saved is kept.")),
            ("/cancel", says("There is nothing to stop.")),
        ],
    )
    await converse(
        omar,
        "en",
        [
            (
                "/residents",
                says("{team} has no residents yet. Your team lead adds them.", team="Team Syd"),
            ),
            ("/invite", says("Only the team lead can do that.")),
            (
                "/start",
                says(
                    "Hello again, {name}. You are in {team} as {role}. "
                    "Send /help to see what you can do.",
                    name="Omar",
                    team="Team Syd",
                    role="staff member",
                ),
            ),
        ],
    )


async def test_the_bot_runs_on_when_telegram_refuses_the_command_menu(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin
) -> None:
    _team_id, code = setup_team(admin)
    emulator.fail_next(
        "setMyCommands", error_code=500, description="Internal Server Error", times=5
    )
    lise, reaction = await join(emulator, LEAD_ID, "Lise", code, "da")
    assert "Velkommen til Team Syd, Lise!" in reaction.text
    assert any(call.status == 500 for call in emulator.calls_for("setMyCommands"))
    reaction = await lise.send("/help")
    assert "/invite" in reaction.text


async def test_a_failing_step_is_undone_the_user_is_told_and_can_try_again(
    bot: StemmeApplication,
    emulator: BotApiEmulator,
    admin: Admin,
    e2e_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    team_id, code = setup_team(admin)
    lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
    await lise.send("/residents")
    await lise.press("➕ Tilføj borger")

    emulator.fail_next("sendMessage", error_code=400, description="Bad Request: something odd")
    with caplog.at_level(logging.INFO):
        await lise.send("Fru H., stue 12")
        # The apology follows the rollback; under load it may come after the reaction's
        # quiet period, so wait for the bot to be idle.
        await emulator.wait_idle(settle=0.5)
    assert "Beklager, der gik noget galt hos mig" in texts_in(emulator, LEAD_ID)[-1]
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors, "the error is logged"
    assert all("Fru H." not in record.getMessage() for record in caplog.records)
    with Session(e2e_engine) as session:
        assert list_residents(session=session, team_id=team_id) == []
        state = conversations.load(session=session, telegram_id=LEAD_ID, chat_id=LEAD_ID)
        assert state is not None and state.state == "residents.alias"

    reaction = await lise.send("Fru H., stue 12")
    assert "Tilføjet: Fru H., stue 12" in reaction.text


async def test_the_apology_is_in_the_users_language_and_edits_are_not_answers(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, code = setup_team(admin)
    lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
    omar, _ = await join(emulator, OMAR_ID, "Omar", await staff_invite_code(lise), "en")
    emulator.fail_next("sendMessage", error_code=400, description="Bad Request: something odd")
    await omar.send("/team")
    await emulator.wait_idle(settle=0.5)
    assert "Sorry, something went wrong on my side" in texts_in(emulator, OMAR_ID)[-1]

    # Editing an old message while a step waits for text is not an answer to that step.
    await lise.send("/residents")
    await lise.press("➕ Tilføj borger")
    old = [m for m in lise.chat_messages() if not m.from_bot][0]
    await emulator.inject_update(
        {
            "edited_message": old.raw | {"text": "Fru X", "edit_date": 1_800_000_000},
        },
        expect_reaction=False,
    )
    with Session(e2e_engine) as session:
        assert list_residents(session=session, team_id=team_id) == []
    reaction = await lise.send("Fru H., stue 12")
    assert "Tilføjet: Fru H., stue 12" in reaction.text


async def test_a_step_left_alone_for_half_a_day_is_over(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    from datetime import timedelta

    from storage.db import utcnow
    from storage.models import Conversation

    team_id, code = setup_team(admin)
    lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
    await lise.send("/residents")
    await lise.press("➕ Tilføj borger")
    with Session(e2e_engine) as session:
        row = conversations.load(session=session, telegram_id=LEAD_ID, chat_id=LEAD_ID)
        assert row is not None and row.flow == "residents"
        session.execute(
            update(Conversation)
            .where(col(Conversation.id) == row.id)
            .values(updated_at=utcnow() - timedelta(hours=13))
        )
        session.commit()
    reaction = await lise.send("Fru H., stue 12")
    assert "Tilføjet" not in reaction.text
    with Session(e2e_engine) as session:
        assert list_residents(session=session, team_id=team_id) == []
        row = conversations.load(session=session, telegram_id=LEAD_ID, chat_id=LEAD_ID)
        assert row is not None and row.flow == "note", "the text is offered as a micro-moment"
