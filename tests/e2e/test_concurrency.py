"""Members do not wait for each other: within a batch of updates, the polling loop handles
different members' updates at once and each member's in the order sent (bot/polling.py),
and on SQLite a step lets others work while it waits for Telegram with nothing written
(storage/db.py, ``one_writer``). Nothing is lost or handled twice on the way."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.app import StemmeApplication
from sandbox.emulator import ApiCall, BotApiEmulator
from storage import conversations
from storage.models import ProcessedUpdate
from tests.e2e.conftest import Admin
from tests.e2e.people import LEAD_ID, OMAR_ID, team_with_residents

SLOW = 1.5


def sends_to(emulator: BotApiEmulator, chat_id: int, since: int) -> list[ApiCall]:
    return [
        call
        for call in emulator.calls[since:]
        if call.method == "sendMessage" and int(call.params.get("chat_id", 0)) == chat_id
    ]


async def test_one_members_slow_answer_does_not_hold_up_another(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar = await team_with_residents(emulator, admin, "Fru H.")
    since = len(emulator.calls)
    # Lise's answer is slow to reach Telegram; both /note arrive in the same batch.
    emulator.delay_next("sendMessage", SLOW)
    lise_reaction, omar_reaction = await asyncio.gather(lise.send("/note"), omar.send("/note"))

    [to_lise] = sends_to(emulator, LEAD_ID, since)
    [to_omar] = sends_to(emulator, OMAR_ID, since)
    assert to_lise.finished_at is not None and to_omar.finished_at is not None
    # Omar had his answer while Lise's was still on its way, not after it.
    assert to_omar.finished_at < to_lise.finished_at - SLOW / 2
    assert to_omar.time < to_lise.time + SLOW / 2
    # Both got the resident buttons, and both are at that step in the database.
    assert "Fru H." in lise.last_bot_message().button_texts  # type: ignore[union-attr]
    assert "Fru H." in omar.last_bot_message().button_texts  # type: ignore[union-attr]
    with Session(e2e_engine) as session:
        for telegram_id in (LEAD_ID, OMAR_ID):
            conversation = conversations.load(
                session=session, telegram_id=telegram_id, chat_id=telegram_id
            )
            assert conversation is not None and conversation.flow == "note"
        # Recorded as processed, so a redelivery after a restart is skipped.
        recorded = session.exec(
            select(ProcessedUpdate.update_id).where(
                col(ProcessedUpdate.update_id).in_(
                    [lise_reaction.update_id, omar_reaction.update_id]
                )
            )
        ).all()
    assert sorted(recorded) == sorted([lise_reaction.update_id, omar_reaction.update_id])


async def test_one_members_updates_in_a_batch_are_handled_in_the_order_sent(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin
) -> None:
    _team_id, lise, _omar = await team_with_residents(emulator, admin, "Fru H.")
    since = len(emulator.calls)
    emulator.delay_next("sendMessage", SLOW)
    # Two messages in quick succession, one batch: the first one's answer is slow.
    await asyncio.gather(lise.send("/help"), lise.send("/note"))

    first, second = sends_to(emulator, LEAD_ID, since)
    assert first.finished_at is not None
    # The second is handled only once the first is done, and its answer comes after.
    assert second.time >= first.finished_at
    assert "Fru H." not in (first.message.button_texts if first.message else [])
    assert second.message is not None and "Fru H." in second.message.button_texts
