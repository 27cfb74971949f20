"""The Bot API transport (bot/transport.py) against the emulator over loopback: what it sends
arrives as Telegram would read it, and its failures say whether the request was sent."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import NetworkError, TimedOut

from bot.transport import NOT_SENT, AiohttpRequest
from sandbox.emulator import BotApiEmulator
from tests.e2e.conftest import TOKEN


async def test_messages_with_buttons_and_uploaded_files_arrive_as_sent(
    emulator: BotApiEmulator,
) -> None:
    emulator.user(7201, "Anna")
    request = AiohttpRequest(connection_pool_size=4)
    async with Bot(TOKEN, base_url=emulator.base_url, request=request) as bot:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Fru H. 🌷", callback_data="r:1")]])
        message = await bot.send_message(7201, "Hvem drejer det sig om? æøå", reply_markup=markup)
        document = await bot.send_document(
            7201,
            InputFile(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", filename="møde.ics"),
            caption="Mødet",
        )
    chat = emulator.chat(7201).bot_messages()
    assert [m.text for m in chat][0] == "Hvem drejer det sig om? æøå"
    assert chat[0].buttons == [[("Fru H. 🌷", "r:1")]]
    # Telegram's echo of the message comes back complete but for the keyboard, which the
    # bot never reads back (bot/transport.py).
    assert (message.message_id, message.chat_id) == (chat[0].message_id, 7201)
    assert message.text == "Hvem drejer det sig om? æøå" and message.reply_markup is None
    assert document.document is not None
    assert document.document.file_name == "møde.ics"
    stored = emulator.calls_for("sendDocument")[-1]
    assert stored.status == 200


async def test_a_late_answer_is_a_timeout_that_may_have_been_sent(
    emulator: BotApiEmulator,
) -> None:
    emulator.user(7202, "Bo")
    request = AiohttpRequest(read_timeout=0.3)
    async with Bot(TOKEN, base_url=emulator.base_url, request=request) as bot:
        emulator.delay_next("sendMessage", 1.0, execute_first=True)
        with pytest.raises(TimedOut) as raised:
            await bot.send_message(7202, "Husk mødet")
    assert not isinstance(raised.value.__cause__, NOT_SENT)


async def test_no_free_connection_is_a_timeout_that_was_not_sent(
    emulator: BotApiEmulator,
) -> None:
    emulator.user(7203, "Carl")
    request = AiohttpRequest(connection_pool_size=1, pool_timeout=0.1, read_timeout=5)
    async with Bot(TOKEN, base_url=emulator.base_url, request=request) as bot:
        emulator.delay_next("sendMessage", 1.0)
        first = asyncio.create_task(bot.send_message(7203, "Første"))
        await asyncio.sleep(0.2)  # the first call holds the only connection
        with pytest.raises(TimedOut) as raised:
            await bot.send_message(7203, "Anden")
        assert isinstance(raised.value.__cause__, NOT_SENT)
        await first
    assert [m.text for m in emulator.chat(7203).bot_messages()] == ["Første"]


async def test_a_refused_connection_is_a_network_error_that_was_not_sent() -> None:
    request = AiohttpRequest(connect_timeout=0.5)
    bot = Bot(TOKEN, base_url="http://127.0.0.1:9/bot", request=request)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await bot.get_me()
    finally:
        await request.shutdown()
    assert isinstance(raised.value.__cause__, NOT_SENT)


async def test_the_proxy_comes_from_the_environment_and_no_proxy_is_honoured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.kommune.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    request = AiohttpRequest()
    await request.initialize()
    try:
        telegram = request._proxy("https://api.telegram.org/botTOKEN/getMe")
        local = request._proxy("https://127.0.0.1:8443/botTOKEN/getMe")
    finally:
        await request.shutdown()
    assert telegram == "http://proxy.kommune.example:3128"
    assert local is None
