"""Tests of the Bot API emulator against a real, unmodified python-telegram-bot Application."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import struct
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from sandbox.emulator import BotApiEmulator, parse_html

TOKEN = "123456:TEST-TOKEN"
App = Application[Any, Any, Any, Any, Any, Any]

ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Bes\xc3\xb8g\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)
PNG = (
    b"\x89PNG\r\n\x1a\n"
    + struct.pack(">I", 13)
    + b"IHDR"
    + struct.pack(">II", 40, 30)
    + b"\x08\x02\x00\x00\x00\x00\x00\x00\x00"
)


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    """A running emulator."""
    async with BotApiEmulator(token=TOKEN) as emulator:
        yield emulator


def build_app(emu: BotApiEmulator, token: str = TOKEN) -> App:
    """A plain PTB Application pointed at the emulator."""
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )


@contextlib.asynccontextmanager
async def polling(app: App) -> AsyncIterator[App]:
    """Runs the application with long polling, as ``stemme run`` does."""
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


def message_of(update: Update) -> Message:
    """The update's message (the handlers below only get message updates)."""
    assert update.effective_message is not None
    return update.effective_message


def query_of(update: Update) -> CallbackQuery:
    """The update's callback query."""
    assert update.callback_query is not None
    return update.callback_query


async def test_commands_and_text_reach_handlers_and_replies_come_back(
    emu: BotApiEmulator,
) -> None:
    received: list[tuple[str, list[str]]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        received.append(("start", list(context.args or [])))
        name = update.effective_user.first_name if update.effective_user else "?"
        await message_of(update).reply_html(
            f"Hej <b>{name}</b>!",
            reply_markup=ReplyKeyboardMarkup([["Ja", "Nej"]], resize_keyboard=True),
        )

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        text = message_of(update).text or ""
        received.append(("text", [text]))
        await message_of(update).reply_text(f"echo: {text}", reply_markup=ReplyKeyboardRemove())

    app = build_app(emu)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    anna = emu.user(1001, "Anna", language_code="da")

    async with polling(app):
        started = await anna.send("/start abc123")
        echoed = await anna.send("hello")
        ignored = await anna.send_sticker(expect_reaction=False)

    assert received == [("start", ["abc123"]), ("text", ["hello"])]
    assert [c.method for c in started.calls] == ["sendMessage"]
    reply = started.message
    assert (reply.chat_id, reply.message_id, reply.text) == (1001, 2, "Hej Anna!")
    assert reply.html == "Hej <b>Anna</b>!"
    assert reply.entities == [{"type": "bold", "offset": 4, "length": 4}]
    assert reply.reply_keyboard == [["Ja", "Nej"]]
    assert echoed.text == "echo: hello"
    assert echoed.message.message_id == 4
    assert echoed.message.removes_keyboard
    assert ignored.calls == []
    assert [m.text for m in anna.chat_messages()] == [
        "/start abc123",
        "Hej Anna!",
        "hello",
        "echo: hello",
        "",
    ]
    first_update = emu.updates[0]["message"]
    assert first_update["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert first_update["from"]["language_code"] == "da"


async def test_inline_buttons_are_pressed_answered_and_edited(emu: BotApiEmulator) -> None:
    pressed: list[str] = []
    second_answer_errors: list[str] = []

    async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = [
            [InlineKeyboardButton("Dansk", callback_data="lang:da")],
            [InlineKeyboardButton("English", callback_data="lang:en")],
            [InlineKeyboardButton("Twice", callback_data="twice")],
        ]
        await message_of(update).reply_text("Sprog?", reply_markup=InlineKeyboardMarkup(keyboard))

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = query_of(update)
        pressed.append(query.data or "")
        if query.data == "twice":
            await query.answer()
            try:
                await query.answer()
            except BadRequest as exc:
                second_answer_errors.append(exc.message)
            return
        await query.answer(f"Valgt {query.data}", show_alert=query.data == "lang:en")
        await query.edit_message_text(f"Sprog: {query.data}")

    app = build_app(emu)
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CallbackQueryHandler(button))
    anna = emu.user(1001, "Anna")

    async with polling(app):
        shown = await anna.send("/menu")
        twice = await anna.press("Twice")
        chosen = await anna.press("Dansk")
        with pytest.raises(AssertionError, match="no inline button 'English'"):
            await anna.press("English")  # the edit removed the keyboard
        forged = await anna.press_data("lang:en", message_id=shown.message.message_id)

    assert shown.message.buttons == [
        [("Dansk", "lang:da")],
        [("English", "lang:en")],
        [("Twice", "twice")],
    ]
    assert pressed == ["twice", "lang:da", "lang:en"]
    assert second_answer_errors == [
        "Query is too old and response timeout expired or query id is invalid"
    ]
    assert [c.status for c in twice.calls] == [200, 400]
    assert chosen.answer is not None and chosen.answer["text"] == "Valgt lang:da"
    assert chosen.alert is None
    assert [e.text for e in chosen.edits] == ["Sprog: lang:da"]
    assert chosen.edits[0].buttons == []
    assert chosen.text == "Sprog: lang:da"
    assert forged.alert == "Valgt lang:en"
    last = anna.last_bot_message()
    assert last is not None and last.text == "Sprog: lang:en" and last.edited
    assert emu.updates[-1]["callback_query"]["message"]["text"] == "Sprog: lang:da"


async def test_edit_and_delete_errors_surface_as_bad_request(emu: BotApiEmulator) -> None:
    anna = emu.user(1001, "Anna")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ok", callback_data="ok")]])

    async with polling(build_app(emu)) as app:
        bot = app.bot
        sent = await bot.send_message(1001, "Eins", reply_markup=keyboard)
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("Eins", 1001, sent.message_id, reply_markup=keyboard)
        edited = await bot.edit_message_text(
            "<i>Zwei</i>", 1001, sent.message_id, parse_mode=ParseMode.HTML
        )
        assert isinstance(edited, Message) and edited.text == "Zwei"
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_reply_markup(1001, sent.message_id)
        assert anna.chat_messages()[0].text == "Zwei"
        assert anna.chat_messages()[0].buttons == []

        await anna.send("geheim", expect_reaction=False)
        with pytest.raises(BadRequest, match="Message can't be edited"):
            await bot.edit_message_text("x", 1001, 2)
        assert await bot.delete_message(1001, 2)  # the user's message, in a private chat
        assert await bot.delete_message(1001, sent.message_id)
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(1001, sent.message_id)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("Drei", 1001, sent.message_id)
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(1001, "x" * 4097)
        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(1001, "   ")
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(
                1001,
                "Knap",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("Ok", callback_data="x" * 65)]]
                ),
            )
        with pytest.raises(BadRequest, match='unsupported start tag "anna"'):
            await bot.send_message(1001, "Hej <Anna>", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(4242, "hvem?")
        assert (await bot.send_message(1001, "x" * 4096)).text == "x" * 4096

    assert anna.chat_messages()[-1].text == "x" * 4096
    assert len(anna.chat_messages()) == 1
    assert anna.chat.deleted == [2, 1]
    statuses = [c.status for c in emu.calls_for("editMessageText")]
    assert statuses == [400, 200, 400, 400]


async def test_blocked_user_makes_ptb_raise_forbidden(emu: BotApiEmulator) -> None:
    anna = emu.user(1001, "Anna")
    bob = emu.user(1002, "Bob")
    outcome: list[str] = []

    async def notify(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await context.bot.send_message(1001, "Bob wants you")
        except Forbidden as exc:
            outcome.append(exc.message)
            await message_of(update).reply_text("Anna cannot be reached")

    app = build_app(emu)
    app.add_handler(CommandHandler("notify", notify))
    emu.block(1001)
    async with polling(app):
        reaction = await bob.send("/notify")
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await app.bot.send_chat_action(1001, "typing")
        emu.unblock(1001)
        await app.bot.send_message(1001, "back again")

    assert outcome == ["Forbidden: bot was blocked by the user"]
    assert [(c.method, c.status) for c in reaction.calls] == [
        ("sendMessage", 403),
        ("sendMessage", 200),
    ]
    assert reaction.message.chat_id == 1002
    assert [m.text for m in anna.chat_messages()] == ["back again"]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_fail_next_surfaces_retry_after_and_server_errors(emu: BotApiEmulator) -> None:
    emu.user(1001, "Anna")
    async with polling(build_app(emu)) as app:
        emu.fail_next("sendMessage", error_code=429, retry_after=3)
        with pytest.raises(RetryAfter) as caught:
            await app.bot.send_message(1001, "first")
        emu.fail_next("SENDMESSAGE", error_code=502, times=2)
        for _ in range(2):
            with pytest.raises(NetworkError, match="Bad Gateway"):
                await app.bot.send_message(1001, "second")
        sent = await app.bot.send_message(1001, "third")

    assert caught.value.retry_after in (3, dtm.timedelta(seconds=3))
    calls = emu.calls_for("sendMessage")
    assert calls[0].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    assert [c.status for c in calls] == [429, 502, 502, 200]
    assert sent.message_id == 1  # failed calls sent nothing


async def test_delay_next_provokes_client_timeouts(emu: BotApiEmulator) -> None:
    anna = emu.user(1001, "Anna")
    async with polling(build_app(emu)) as app:
        emu.delay_next("sendMessage", 1.0)
        with pytest.raises(TimedOut):
            await app.bot.send_message(1001, "lost", read_timeout=0.2)
        emu.delay_next("sendMessage", 1.0, execute_first=True)
        with pytest.raises(TimedOut):
            await app.bot.send_message(1001, "slow", read_timeout=0.2)
        await emu.wait_idle(settle=0.05)

    assert [m.text for m in anna.chat_messages()] == ["slow"]
    first, second = emu.calls_for("sendMessage")
    assert first.cancelled and first.status is None
    assert second.status == 200


async def test_documents_photos_and_voice_files_are_kept(emu: BotApiEmulator) -> None:
    downloaded: list[bytes] = []

    async def ics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = message_of(update)
        await message.reply_document(InputFile(ICS, filename="besog.ics"), caption="Besøg")
        await message.reply_photo(PNG)

    async def voice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = message_of(update)
        assert message.voice is not None
        file = await message.voice.get_file()
        data = bytes(await file.download_as_bytearray())
        downloaded.append(data)
        with warnings.catch_warnings():  # int until PTB makes durations timedeltas
            warnings.simplefilter("ignore")
            duration = message.voice.duration
        seconds = duration if isinstance(duration, int) else int(duration.total_seconds())
        await message.reply_text(f"{seconds} s, {len(data)} bytes")

    app = build_app(emu)
    app.add_handler(CommandHandler("ics", ics))
    app.add_handler(MessageHandler(filters.VOICE, voice))
    anna = emu.user(1001, "Anna")

    async with polling(app):
        sent = await anna.send("/ics")
        spoken = await anna.send_voice(duration=7, data=b"OggS-voice-bytes")
        document = sent.messages[0].document
        assert document is not None
        again = await app.bot.send_document(1001, document.file_id)

    assert document.filename == "besog.ics"
    assert document.mime_type == "text/calendar"
    assert document.data == ICS
    assert "SUMMARY:Besøg" in document.text
    assert sent.messages[0].text == "Besøg"
    photo = sent.messages[1].photo
    assert photo is not None and (photo.width, photo.height, photo.data) == (40, 30, PNG)
    assert downloaded == [b"OggS-voice-bytes"]
    assert spoken.text == "7 s, 16 bytes"
    assert [c.method for c in spoken.calls] == ["getFile", "file", "sendMessage"]
    assert again.document is not None and again.document.file_id == document.file_id


async def test_wrong_token_gets_invalid_token_at_initialize(emu: BotApiEmulator) -> None:
    app = build_app(emu, token="999:WRONG-TOKEN")
    with pytest.raises(InvalidToken):
        await app.initialize()
    call = emu.calls[-1]
    assert (call.method, call.status) == ("getMe", 401)
    assert call.response == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_unknown_method_is_not_found_and_recorded(emu: BotApiEmulator) -> None:
    async with polling(build_app(emu)) as app:
        with pytest.raises(EndPointNotFound):
            await app.bot.do_api_request("frobnicate", api_kwargs={"x": 1})
        me = await app.bot.get_me()

    (call,) = emu.calls_for("frobnicate")
    assert (call.status, call.error) == (404, "Not Found: method not found")
    assert call.params == {"x": "1"}
    assert (me.id, me.username, me.can_join_groups) == (123456, "stemme_test_bot", True)


async def test_set_my_commands_is_stored_per_scope_and_language(emu: BotApiEmulator) -> None:
    group = emu.group(-100123, "Team Rosen")
    async with polling(build_app(emu)) as app:
        bot = app.bot
        await bot.set_my_commands([BotCommand("start", "Start")])
        await bot.set_my_commands([BotCommand("start", "Begynd")], language_code="da")
        await bot.set_my_commands(
            [BotCommand("hjaelp", "Hjælp")],
            scope=BotCommandScopeAllPrivateChats(),
            language_code="da",
        )
        await bot.set_my_commands(
            [BotCommand("team", "Team")], scope=BotCommandScopeChat(group.id)
        )
        da = await bot.get_my_commands(language_code="da")
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Start", "Start")])
        await bot.delete_my_commands(language_code="da")
        await bot.set_my_description("Borgerens stemme", language_code="da")
        description = await bot.get_my_description(language_code="da")

    assert [(c.command, c.description) for c in da] == [("start", "Begynd")]
    assert description.description == "Borgerens stemme"
    assert emu.profile == {("description", "da"): "Borgerens stemme"}
    assert emu.commands_for({"type": "default"}, None) == [
        {"command": "start", "description": "Start"}
    ]
    assert emu.commands_for({"type": "default"}, "da") == []
    assert emu.commands_for({"type": "all_private_chats"}, "da") == [
        {"command": "hjaelp", "description": "Hjælp"}
    ]
    assert emu.commands_for({"type": "all_private_chats"}, None) == []
    assert emu.commands_for({"chat_id": -100123, "type": "chat"}, None) == [
        {"command": "team", "description": "Team"}
    ]


async def test_group_migration_gives_update_and_chat_migrated(emu: BotApiEmulator) -> None:
    seen: list[tuple[int, int | None, int | None]] = []

    async def migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = message_of(update)
        seen.append((message.chat_id, message.migrate_to_chat_id, message.migrate_from_chat_id))

    async def hello(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await message_of(update).reply_text(f"hej {message_of(update).chat.type}")

    app = build_app(emu)
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, migrated))
    app.add_handler(MessageHandler(filters.TEXT, hello))
    anna = emu.user(1001, "Anna")
    group = emu.group(-100123, "Team Rosen")
    new_id = -1001234567890

    async with polling(app):
        before = await anna.send("hi", chat=group)
        reaction = await group.migrate_to_supergroup(new_id, by=anna)
        with pytest.raises(ChatMigrated) as caught:
            await app.bot.send_message(group.id, "still there?")
        after = await anna.send("hi", chat=new_id)

    assert before.text == "hej group" and before.message.chat_id == -100123
    assert seen == [(-100123, new_id, None), (new_id, None, -100123)]
    assert reaction.calls == []
    assert caught.value.new_chat_id == new_id
    failed = emu.calls_for("sendMessage")[-2]
    assert failed.response is not None
    assert failed.response["description"] == (
        "Bad Request: group chat was upgraded to a supergroup chat"
    )
    assert after.text == "hej supergroup" and after.message.chat_id == new_id


async def test_getupdates_long_polls_redelivers_and_confirms(emu: BotApiEmulator) -> None:
    anna = emu.user(1001, "Anna")
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
        started = time.monotonic()
        pending = asyncio.create_task(anna.send("hello", expect_reaction=False, settle=0.05))
        updates = await bot.get_updates(timeout=5)
        assert time.monotonic() - started < 1.0  # returned on arrival, not after 5 s
        reaction = await pending
        assert [u.update_id for u in updates] == [reaction.update_id]
        assert updates[0].message is not None and updates[0].message.text == "hello"

        # A restarted poller that starts from offset 0 gets the unconfirmed update again.
        again = await bot.get_updates(timeout=0)
        assert [u.update_id for u in again] == [reaction.update_id]
        assert await bot.get_updates(offset=reaction.update_id + 1, timeout=0) == ()
        assert emu.pending_updates == []

        # A second poller (another process) terminates the first one, as on Telegram.
        first = asyncio.create_task(bot.get_updates(timeout=3))
        await asyncio.sleep(0.1)
        async with Bot(TOKEN, base_url=emu.base_url) as other:
            assert await other.get_updates(timeout=0) == ()
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await first


async def test_webhook_delivery_retries_until_accepted(emu: BotApiEmulator) -> None:
    anna = emu.user(1001, "Anna")
    received: list[tuple[str | None, int]] = []

    async def hook(request: web.Request) -> web.Response:
        body = await request.json()
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), body["update_id"])
        )
        return web.Response(status=500 if len(received) == 1 else 200)

    server = web.Application()
    server.router.add_post("/hook", hook)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as bot:
            url = f"http://127.0.0.1:{port}/hook"
            assert await bot.set_webhook(url, secret_token="s3cret")
            reaction = await anna.send("hi", expect_reaction=False, settle=0.05)
            with pytest.raises(Conflict, match="webhook is active"):
                await bot.get_updates()
            info = await bot.get_webhook_info()
            assert await bot.delete_webhook()
            assert await bot.get_updates(timeout=0) == ()
    finally:
        await runner.cleanup()

    assert received == [("s3cret", reaction.update_id), ("s3cret", reaction.update_id)]
    assert info.url == url and info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500"


async def test_reaction_timeout_when_the_bot_ignores_an_update(emu: BotApiEmulator) -> None:
    anna = emu.user(1001, "Anna")
    with pytest.raises(AssertionError, match="it was not fetched"):
        await anna.send("anybody?", timeout=0.3)
    async with polling(build_app(emu)):
        with pytest.raises(AssertionError, match="bot made no API call"):
            await anna.send("still nobody?", timeout=0.5)


def test_html_parse_mode_gives_plain_text_and_utf16_entities() -> None:
    text, entities = parse_html(
        '😀 <b>Fed <i>kursiv</i></b> &amp; <a href="https://example.org">link</a>'
        '\n<pre><code class="language-python">x = 1</code></pre>'
    )
    assert text == "😀 Fed kursiv & link\nx = 1"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 10},
        {"type": "italic", "offset": 7, "length": 6},
        {"type": "text_link", "offset": 16, "length": 4, "url": "https://example.org"},
        {"type": "pre", "offset": 21, "length": 5, "language": "python"},
    ]
