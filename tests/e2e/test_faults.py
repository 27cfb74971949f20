"""Telegram's, the network's and the database's faults, each injected through the emulator,
with nothing lost: the answer arrives once, what was typed is stored once.

- 429 on a reply: repeated after Telegram's retry-after;
- 5xx on a reply: repeated with backoff; a read timeout on a send: not repeated (it may have
  arrived), on a safe call: repeated; a refused connection: repeated;
- the database briefly unavailable: the webhook answers 503 and the redelivered update is
  processed once; polling processes the update once the database is back, and does not
  confirm it before (a restart in between fetches it again);
- a blocked or deleted user: logged without personal data, nothing else breaks (replies and
  timed prompts);
- a group turned into a supergroup: the send goes to the new chat id.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from telegram import Bot
from telegram.error import NetworkError, TimedOut

from bot import metrics
from bot.app import StemmeApplication, build_application
from bot.faults import TelegramRequest
from sandbox.emulator import BotApiEmulator, EmuUser
from storage import prompts
from storage.db import utcnow
from storage.models import Member, Prompt, PromptStatus
from storage.residents import list_residents
from tests.e2e.conftest import TOKEN, Admin, e2e_settings, running
from tests.e2e.dialog import texts_in
from tests.e2e.people import LEAD_ID, OMAR_ID, join, setup_team, staff_invite_code
from tests.e2e.workers import database_down, polling_bot, webhook_worker
from tests.factories import id_of, make_member

ALIAS = "Fru H., stue 12"
ADDED = "Tilføjet: Fru H., stue 12"


async def lead_adding_a_resident(emulator: BotApiEmulator, admin: Admin) -> tuple[int, EmuUser]:
    """A team lead who has pressed "add resident" and is asked for the alias."""
    team_id, code = setup_team(admin)
    lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
    await lise.send("/residents")
    reaction = await lise.press("➕ Tilføj borger")
    assert "Skriv borgerens kaldenavn" in reaction.text
    return team_id, lise


def aliases(engine: Engine, team_id: int) -> list[str]:
    with Session(engine) as session:
        return [resident.alias for resident in list_residents(session=session, team_id=team_id)]


async def answered(emulator: BotApiEmulator, chat_id: int, text: str, seconds: float = 10) -> None:
    """Waits until the bot sent ``text`` to the chat, then until it is quiet."""
    for _ in range(int(seconds * 20)):
        if any(text in sent for sent in texts_in(emulator, chat_id)):
            await emulator.wait_idle(settle=0.3)
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the bot did not send {text!r}")


# ---------------------------------------------------------------- Telegram refuses a reply


async def test_a_reply_refused_with_429_is_sent_after_the_retry_after(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise = await lead_adding_a_resident(emulator, admin)
    retries = metrics.TELEGRAM_RETRIES.value(kind="RetryAfter")
    emulator.fail_next("sendMessage", error_code=429, retry_after=1)

    reaction = await lise.send(ALIAS, settle=1.5)

    sends = [call for call in reaction.calls if call.method == "sendMessage"]
    assert [call.status for call in sends] == [429, 200]
    assert sends[1].time - sends[0].finished_at >= 0.95  # type: ignore[operator]
    assert [m.text for m in reaction.messages if ADDED in m.text] == [reaction.messages[0].text]
    assert aliases(e2e_engine, team_id) == [ALIAS]
    assert metrics.TELEGRAM_RETRIES.value(kind="RetryAfter") == retries + 1


async def test_a_reply_failing_with_5xx_is_repeated_with_backoff(
    bot: StemmeApplication, emulator: BotApiEmulator, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise = await lead_adding_a_resident(emulator, admin)
    errors = metrics.TELEGRAM_ERRORS.value(kind="5xx")
    emulator.fail_next("sendMessage", error_code=502, times=2)

    reaction = await lise.send(ALIAS, settle=2.0)

    sends = [call for call in reaction.calls if call.method == "sendMessage"]
    assert [call.status for call in sends] == [502, 502, 200]
    assert sum(ADDED in text for text in texts_in(emulator, LEAD_ID)) == 1
    assert aliases(e2e_engine, team_id) == [ALIAS]
    assert metrics.TELEGRAM_ERRORS.value(kind="5xx") == errors + 2


async def test_a_send_that_timed_out_is_not_repeated_but_a_safe_call_is(
    emulator: BotApiEmulator,
) -> None:
    emulator.user(7101, "Anna")
    request = TelegramRequest(read_timeout=0.3, backoff=0.01)
    async with Bot(TOKEN, base_url=emulator.base_url, request=request) as bot:
        # The message arrives, but the answer is late: repeating could post it twice.
        emulator.delay_next("sendMessage", 1.0, execute_first=True)
        with pytest.raises(TimedOut):
            await bot.send_message(7101, "Husk mødet kl. 14")
        await emulator.wait_idle(settle=0.2)
        assert len(emulator.calls_for("sendMessage")) == 1
        assert texts_in(emulator, 7101) == ["Husk mødet kl. 14"]

        # getMe changes nothing: after a timeout it is simply asked again.
        emulator.delay_next("getMe", 1.0)
        me = await bot.get_me()
        assert me.username == emulator.username
        assert [call.cancelled for call in emulator.calls_for("getMe")][-2:] == [True, False]


async def test_a_request_that_never_reached_telegram_is_repeated_then_given_up() -> None:
    retries = metrics.TELEGRAM_RETRIES.value(kind="NetworkError")
    request = TelegramRequest(backoff=0.01, attempts=3, connect_timeout=0.5)
    bot = Bot(TOKEN, base_url="http://127.0.0.1:9/bot", request=request)
    with pytest.raises(NetworkError):
        await bot.initialize()  # getMe on a port where nothing listens
    assert metrics.TELEGRAM_RETRIES.value(kind="NetworkError") == retries + 3


# ---------------------------------------------------------------- the database goes away


async def test_webhook_the_database_unavailable_gets_503_and_the_update_is_processed_once(
    emulator: BotApiEmulator, admin: Admin, e2e_database_url: str, e2e_engine: Engine
) -> None:
    async with webhook_worker(emulator, e2e_database_url) as worker:
        team_id, lise = await lead_adding_a_resident(emulator, admin)
        with database_down(worker.application):
            typing = asyncio.create_task(lise.send(ALIAS, timeout=30))
            for _ in range(400):
                if any(status == 503 for _id, _url, status in emulator.webhook_deliveries):
                    break
                await asyncio.sleep(0.025)
            else:
                raise AssertionError("the webhook never answered 503")
            assert texts_in(emulator, LEAD_ID)[-1].startswith("Skriv borgerens kaldenavn")
        reaction = await typing

    update_id = reaction.update_id
    statuses = [status for uid, _url, status in emulator.webhook_deliveries if uid == update_id]
    assert statuses[0] == 503 and statuses[-1] == 200 and statuses.count(200) == 1
    assert ADDED in reaction.text
    assert sum(ADDED in text for text in texts_in(emulator, LEAD_ID)) == 1
    assert not any("Beklager" in text for text in texts_in(emulator, LEAD_ID))
    assert aliases(e2e_engine, team_id) == [ALIAS]


async def test_polling_processes_the_update_once_the_database_is_back_and_confirms_it_after(
    emulator: BotApiEmulator, admin: Admin, e2e_database_url: str, e2e_engine: Engine
) -> None:
    async with polling_bot(emulator, e2e_database_url) as application:
        team_id, lise = await lead_adding_a_resident(emulator, admin)
        with database_down(application):
            reaction = await lise.send(ALIAS, expect_reaction=False, settle=0.5)
            assert reaction.messages == []
            assert texts_in(emulator, LEAD_ID)[-1].startswith("Skriv borgerens kaldenavn")
        await answered(emulator, LEAD_ID, ADDED)

    assert sum(ADDED in text for text in texts_in(emulator, LEAD_ID)) == 1
    assert aliases(e2e_engine, team_id) == [ALIAS]
    reply = next(
        call for call in emulator.calls_for("sendMessage") if ADDED in str(call.params["text"])
    )
    confirming = [
        call
        for call in emulator.calls_for("getUpdates")
        if int(call.params.get("offset") or 0) > reaction.update_id
    ]
    assert confirming and confirming[0].time >= reply.time, "confirmed only after processing"


async def test_polling_a_restart_during_the_outage_loses_nothing(
    emulator: BotApiEmulator, admin: Admin, e2e_database_url: str, e2e_engine: Engine
) -> None:
    async with polling_bot(emulator, e2e_database_url) as application:
        team_id, lise = await lead_adding_a_resident(emulator, admin)
        with database_down(application):
            await lise.send(ALIAS, expect_reaction=False, settle=0.3)
    # The process stopped while the update waited; it was never confirmed to Telegram.
    assert [u["update_id"] for u in emulator.pending_updates][-1:] == [
        emulator.updates[-1]["update_id"]
    ]

    async with polling_bot(emulator, e2e_database_url):
        await answered(emulator, LEAD_ID, ADDED)

    assert sum(ADDED in text for text in texts_in(emulator, LEAD_ID)) == 1
    assert aliases(e2e_engine, team_id) == [ALIAS]
    assert emulator.pending_updates == []


async def test_polling_runs_on_after_getupdates_fails(
    emulator: BotApiEmulator, admin: Admin, e2e_database_url: str
) -> None:
    async with polling_bot(emulator, e2e_database_url):
        emulator.fail_next("getUpdates", error_code=502, times=2)
        team_id, code = setup_team(admin)
        _lise, reaction = await join(emulator, LEAD_ID, "Lise", code, "da")
        assert "Velkommen til Team Syd, Lise!" in reaction.text
    assert [c.status for c in emulator.calls_for("getUpdates")].count(502) == 2


# ---------------------------------------------------------------- blocked and deleted users


async def test_a_user_who_cannot_be_reached_is_logged_without_personal_data_and_others_go_on(
    bot: StemmeApplication,
    emulator: BotApiEmulator,
    admin: Admin,
    e2e_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    team_id, code = setup_team(admin)
    lise, _ = await join(emulator, LEAD_ID, "Lise", code, "da")
    omar, _ = await join(emulator, OMAR_ID, "Omar", await staff_invite_code(lise), "da")
    await lise.send("/residents")
    await lise.press("➕ Tilføj borger")
    emulator.fail_next("sendMessage", error_code=403, description="Forbidden: user is deactivated")

    with caplog.at_level(logging.INFO):
        reaction = await lise.send(ALIAS)

    assert [call.status for call in reaction.calls if call.method == "sendMessage"] == [403]
    assert "does not accept messages" in caplog.text
    assert "Lise" not in caplog.text and "Fru H." not in caplog.text
    assert aliases(e2e_engine, team_id) == []  # the step was undone: nobody saw it saved
    reaction = await omar.send("/help")
    assert "/note" in reaction.text
    reaction = await lise.send(ALIAS)
    assert ADDED in reaction.text
    assert aliases(e2e_engine, team_id) == [ALIAS]


KIND = "test.faults"


async def render(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Sends the member one line naming the prompt."""
    assert prompt.member_id is not None
    member = session.get(Member, prompt.member_id)
    assert member is not None
    await bot.send_message(member.telegram_id, f"påmindelse {prompt.dedupe_key}")


async def test_a_timed_prompt_to_a_member_who_blocked_the_bot_is_unreachable_and_others_are_sent(
    emulator: BotApiEmulator, e2e_database_url: str, e2e_engine: Engine
) -> None:
    emulator.user(7201, "Anna")
    emulator.user(7202, "Bo")
    emulator.block(7201)
    now = utcnow()
    with Session(e2e_engine, expire_on_commit=False) as session:
        anna = make_member(session=session, telegram_id=7201)
        bo = make_member(session=session, telegram_id=7202)
        ids = [
            prompts.schedule(
                session=session,
                kind=KIND,
                team_id=who.membership.team_id,
                member_id=id_of(who.member),
                dedupe_key=key,
                due_at=now - timedelta(seconds=30),
            ).id
            for who, key in ((anna, "a"), (bo, "b"))
        ]
        session.commit()
    unreachable = metrics.PROMPTS.value(kind=KIND, status="unreachable")
    delays = metrics.QUEUE_DELAY.count

    application = build_application(
        e2e_settings(emulator, e2e_database_url), renderers={KIND: render}
    )
    async with running(application):
        for _ in range(200):
            with Session(e2e_engine) as session:
                rows = [session.get(Prompt, prompt_id) for prompt_id in ids]
                statuses = [row.status for row in rows if row is not None]
            if PromptStatus.PENDING not in statuses and PromptStatus.CLAIMED not in statuses:
                break
            await asyncio.sleep(0.05)

    assert statuses == [PromptStatus.UNREACHABLE, PromptStatus.SENT]
    assert texts_in(emulator, 7202) == ["påmindelse b"]
    assert metrics.PROMPTS.value(kind=KIND, status="unreachable") == unreachable + 1
    assert metrics.QUEUE_DELAY.count == delays + 1


# ---------------------------------------------------------------- a group becomes a supergroup


async def test_a_send_to_a_group_that_became_a_supergroup_goes_to_the_new_chat(
    bot: StemmeApplication, emulator: BotApiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    group = emulator.group(-4001, "Team Syd")
    await group.migrate_to_supergroup(-1_004_001)
    migrated = metrics.TELEGRAM_ERRORS.value(kind="ChatMigrated")

    with caplog.at_level(logging.INFO):
        message = await bot.bot.send_message(-4001, "Mødet er flyttet til kl. 14")

    assert message.chat.id == -1_004_001
    assert texts_in(emulator, -1_004_001) == ["Mødet er flyttet til kl. 14"]
    assert texts_in(emulator, -4001) == []
    assert "chat -4001 became supergroup -1004001" in caplog.text
    assert metrics.TELEGRAM_ERRORS.value(kind="ChatMigrated") == migrated + 1

    # The dispatcher's bot repeats nothing else, but follows the group too.
    request = TelegramRequest(retry=False)
    async with Bot(TOKEN, base_url=emulator.base_url, request=request) as dispatcher_bot:
        await dispatcher_bot.send_message(-4001, "Påmindelse: møde i morgen")
    assert texts_in(emulator, -1_004_001)[-1] == "Påmindelse: møde i morgen"
