"""The sandbox's web chat: a page that looks like Telegram on a phone, and the JSON API behind
it (documented in docs/sandbox.md).

The page talks only to this app; the app turns what a person does on the page into real
updates on the Bot API emulator (a typed message, a pressed button, a voice message), and
shows the emulator's chats back as view models (``sandbox.views``). A change feed
(``GET /api/chats/{chat_id}/messages?after=<version>``) long-polls until the chat changed.
A user action returns as soon as its update is injected; the bot's reaction arrives through
the feed. The clock's fast-forward exists only when the sandbox gives a
:class:`~sandbox.clock.FastForward`; without one ``/api/clock`` is a 404.

Nothing a person types is logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from sqlalchemy.engine import Engine

from flows.core.i18n import LANGUAGES
from sandbox import miniapp
from sandbox.clock import STEPS, FastForward
from sandbox.emulator import BotApiEmulator, EmuChat, EmuMessage, EmuUser
from sandbox.texts import page_texts
from sandbox.views import COPENHAGEN, chat_view
from storage import directory
from storage.db import session_scope
from webapp.api import Dashboard

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SAMPLE_VOICE = STATIC_DIR / "sample-voice.ogg"
SAMPLE_DURATION = 3
# Telegram's limit for a message's text.
MAX_TEXT = 4096
# A recorded voice message from the page: at most this many bytes and seconds.
MAX_VOICE_BYTES = 2_000_000
MAX_VOICE_SECONDS = 300
# How long the change feed waits before it answers "nothing new".
FEED_WAIT = 25.0
CLOCK_STEPS = (*STEPS, "next", "meeting")

Role = Literal["lead", "staff", "stranger", "group"]


@dataclass(frozen=True)
class ChatPersona:
    """Someone the page can be: who sends (``user_id``) and which chat they see (``chat_id``:
    their private chat, i.e. ``user_id``, or the group's id for the group, where the lead
    writes)."""

    key: str
    name: str
    role: Role
    user_id: int
    chat_id: int
    language: str = "da"
    detail: str = ""


class SandboxChat:
    """The emulator, the personas on the page, and the clock's fast-forward (if any)."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        personas: list[ChatPersona],
        fast_forward: FastForward | None = None,
        *,
        engine: Engine | None = None,
        dashboard: Dashboard | None = None,
    ) -> None:
        self.emulator = emulator
        self.dashboard = dashboard
        self.personas = {p.key: p for p in personas}
        self.fast_forward = fast_forward
        self.engine = engine or (fast_forward.engine if fast_forward else None)
        self.language = personas[0].language if personas else "da"
        self._versions: dict[int, tuple[int, list[EmuMessage], int]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    def create(
        cls,
        emulator: BotApiEmulator,
        personas: list[ChatPersona],
        fast_forward: FastForward | None = None,
        *,
        engine: Engine | None = None,
        dashboard: Dashboard | None = None,
    ) -> SandboxChat:
        """Registers every persona's user (and the group) with the emulator; synchronous."""
        for persona in personas:
            if persona.role != "group":
                emulator.user(persona.user_id, persona.name, language_code=persona.language)
        for persona in personas:
            if persona.role == "group":
                if persona.user_id not in emulator.users:
                    emulator.user(persona.user_id, persona.name, language_code=persona.language)
                emulator.group(persona.chat_id, persona.name)
        return cls(emulator, personas, fast_forward, engine=engine, dashboard=dashboard)

    @property
    def bot_name(self) -> str:
        """The bot's name as the chat header shows it."""
        return self.emulator.first_name

    def persona(self, key: str) -> ChatPersona:
        """The persona with that key (404 when unknown)."""
        persona = self.personas.get(key)
        if persona is None:
            raise web.HTTPNotFound(text=_error("unknown persona"), content_type="application/json")
        return persona

    def mini_app_user(self, key: str) -> tuple[int, str] | None:
        """Who opens the Mini App as this persona (None for the group, which has no user)."""
        persona = self.persona(key)
        return None if persona.role == "group" else (persona.user_id, persona.language)

    def user_of(self, persona: ChatPersona) -> EmuUser:
        """The emulated user who sends for the persona."""
        return self.emulator.users[persona.user_id]

    def chat_of(self, persona: ChatPersona) -> EmuChat:
        """The chat the persona sees."""
        return self.emulator.chat(persona.chat_id)

    def version(self, chat: EmuChat) -> int:
        """A number that grows whenever the chat changes: a message new, edited or deleted,
        or a button's answer (a notice)."""
        current = chat.chat_messages()
        notices = len(self.notices(chat))
        number, seen, seen_notices = self._versions.get(chat.id, (0, [], 0))
        same = len(seen) == len(current) and all(
            a is b for a, b in zip(seen, current, strict=True)
        )
        if not same or notices != seen_notices:
            number += 1
            self._versions[chat.id] = (number, current, notices)
        return number

    def notices(self, chat: EmuChat) -> list[dict[str, Any]]:
        """The bot's answers with a text to buttons pressed in the chat (Telegram shows them
        as a toast or an alert), oldest first."""
        queries = {
            str(update["callback_query"]["id"])
            for update in self.emulator.updates
            if "callback_query" in update
            and update["callback_query"].get("message", {}).get("chat", {}).get("id") == chat.id
        }
        return [
            {"id": query_id, "text": str(answer["text"]), "alert": bool(answer.get("show_alert"))}
            for query_id, answer in self.emulator.callback_answers.items()
            if query_id in queries and answer.get("text")
        ]

    async def wait_for_change(self, chat: EmuChat, after: int, seconds: float) -> int:
        """Waits until the chat's version differs from ``after`` or ``seconds`` pass."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (version := self.version(chat)) == after:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await self.emulator.wait_for_change(remaining)
        return version

    def in_background(self, action: Any, what: str) -> None:
        """Runs a user action's wait for the bot without holding the HTTP request."""

        async def run() -> None:
            try:
                await action
            except AssertionError as error:  # the emulator's "the bot did not react"
                logger.warning("Sandbox %s: %s", what, str(error).split(":", 1)[0])

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def set_language(self, language: str) -> None:
        """Every persona's Telegram language and stored member language become ``language``."""
        self.language = language
        for persona in self.personas.values():
            user = self.emulator.users.get(persona.user_id)
            if user is not None:
                user.language_code = language
        if self.engine is not None:
            await asyncio.to_thread(self._store_language, language)

    def _store_language(self, language: str) -> None:
        assert self.engine is not None
        with session_scope(self.engine) as session:
            for user_id in {p.user_id for p in self.personas.values()}:
                member = directory.get_member_by_telegram_id(session=session, telegram_id=user_id)
                if member is not None:
                    directory.set_language(session=session, member=member, language=language)

    async def close(self) -> None:
        """Cancels the actions still waiting for the bot."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _error(message: str) -> str:
    return json.dumps({"error": message})


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=_error(message), content_type="application/json")


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _bad("the body is not valid JSON") from error
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    return body


CHAT_KEY = web.AppKey("sandbox_chat", SandboxChat)


def _chat(request: web.Request) -> SandboxChat:
    return request.app[CHAT_KEY]


async def index(request: web.Request) -> web.FileResponse:
    """The page."""
    return web.FileResponse(STATIC_DIR / "index.html")


async def get_personas(request: web.Request) -> web.Response:
    """The personas, the bot's name, the language and whether the clock can be moved."""
    chat = _chat(request)
    return web.json_response(
        {
            "bot": {"name": chat.bot_name, "username": chat.emulator.username},
            "personas": [asdict(p) for p in chat.personas.values()],
            "language": chat.language,
            "clock": chat.fast_forward is not None,
            # The chat's menu button opens the dashboard (the bot set it, as in Telegram).
            "dashboard": chat.dashboard is not None
            and chat.emulator.default_menu_button.get("type") == "web_app",
        }
    )


async def get_texts(request: web.Request) -> web.Response:
    """The page's own texts in ``?lang=`` (default: the sandbox's language)."""
    language = request.query.get("lang") or _chat(request).language
    return web.json_response(page_texts(language))


async def get_messages(request: web.Request) -> web.Response:
    """A chat's messages; with ``?after=<version>`` it waits (up to ~25 s) for a change."""
    chat = _chat(request)
    try:
        chat_id = int(request.match_info["chat_id"])
        after = int(request.query["after"]) if "after" in request.query else None
    except ValueError as error:
        raise _bad("chat id and after must be integers") from error
    known = {p.chat_id for p in chat.personas.values()}
    if chat_id not in known or chat_id not in chat.emulator.chats:
        raise web.HTTPNotFound(text=_error("unknown chat"), content_type="application/json")
    target = chat.emulator.chat(chat_id)
    version = chat.version(target)
    if after is not None and after == version:
        version = await chat.wait_for_change(target, after, FEED_WAIT)
    view = chat_view(target, bot_name=chat.bot_name, version=version, language=chat.language)
    view["notices"] = chat.notices(target)[-5:]
    return web.json_response(view)


async def send_text(request: web.Request) -> web.Response:
    """The persona sends a text message (a real update); the reaction comes through the feed."""
    chat = _chat(request)
    persona = chat.persona(request.match_info["key"])
    body = await _json_body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _bad("text must be a non-empty string")
    if len(text) > MAX_TEXT:
        raise _bad(f"text is too long: at most {MAX_TEXT} characters")
    user = chat.user_of(persona)
    chat.in_background(user.send(text, chat=persona.chat_id, expect_reaction=False), "message")
    await asyncio.sleep(0)  # the message is in the chat before the answer
    return web.json_response({"ok": True}, status=202)


def _find_button(message: EmuMessage, data: str) -> bool:
    return any(
        button.get("callback_data") == data for row in message.inline_keyboard for button in row
    )


async def press_button(request: web.Request) -> web.Response:
    """The persona presses an inline button of a bot message in its chat."""
    chat = _chat(request)
    persona = chat.persona(request.match_info["key"])
    body = await _json_body(request)
    message_id, data = body.get("message_id"), body.get("data")
    if (
        not isinstance(message_id, int)
        or isinstance(message_id, bool)
        or not isinstance(data, str)
    ):
        raise _bad("message_id (an integer) and data (a string) are required")
    target = chat.chat_of(persona)
    message = target.messages.get(message_id)
    if message is None or not message.from_bot:
        raise _bad(f"there is no bot message {message_id} in this chat")
    if not _find_button(message, data):
        raise _bad(f"message {message_id} has no button with that callback data")
    user = chat.user_of(persona)
    chat.in_background(
        user.press_data(data, message_id=message_id, chat=target, expect_reaction=False), "press"
    )
    await asyncio.sleep(0)
    return web.json_response({"ok": True}, status=202)


async def send_voice(request: web.Request) -> web.Response:
    """The persona sends a voice message: the request's body (a recording), or with
    ``?sample=1`` the bundled sample."""
    chat = _chat(request)
    persona = chat.persona(request.match_info["key"])
    if request.query.get("sample"):
        data, duration = SAMPLE_VOICE.read_bytes(), SAMPLE_DURATION
    else:
        data = await request.read()
        if not data:
            raise _bad("the body must be the recording (or use ?sample=1)")
        try:
            duration = int(float(request.query.get("duration", "1")) + 0.5)
        except ValueError as error:
            raise _bad("duration must be a number of seconds") from error
        duration = min(max(duration, 1), MAX_VOICE_SECONDS)
    user = chat.user_of(persona)
    chat.in_background(
        user.send_voice(duration, data=data, chat=persona.chat_id, expect_reaction=False),
        "voice message",
    )
    await asyncio.sleep(0)
    return web.json_response({"ok": True, "duration": duration}, status=202)


async def get_file(request: web.Request) -> web.Response:
    """A file the bot sent or a user uploaded, from the emulator's store."""
    stored = _chat(request).emulator.files.get(request.match_info["file_id"])
    if stored is None:
        raise web.HTTPNotFound(text=_error("unknown file"), content_type="application/json")
    headers = {}
    if stored.filename:
        headers["Content-Disposition"] = f"inline; filename*=UTF-8''{_quote(stored.filename)}"
    return web.Response(
        body=stored.data,
        content_type=stored.mime_type or "application/octet-stream",
        headers=headers,
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


async def post_language(request: web.Request) -> web.Response:
    """Switches the page and every persona (their Telegram language and stored one)."""
    body = await _json_body(request)
    language = body.get("language")
    if language not in LANGUAGES:
        raise _bad(f"language must be one of {', '.join(LANGUAGES)}")
    await _chat(request).set_language(str(language))
    return web.json_response({"language": language})


def _clock_view(moment: datetime) -> dict[str, str]:
    local = moment.astimezone(COPENHAGEN)
    return {"now": moment.isoformat(), "local": local.strftime("%Y-%m-%d %H:%M")}


async def get_clock(request: web.Request) -> web.Response:
    """The sandbox's time."""
    fast_forward = _chat(request).fast_forward
    assert fast_forward is not None
    return web.json_response({**_clock_view(fast_forward.now()), "steps": list(CLOCK_STEPS)})


async def post_clock(request: web.Request) -> web.Response:
    """Moves the sandbox's clock by a named step ("hour", "day", "week", "next", "meeting")."""
    fast_forward = _chat(request).fast_forward
    assert fast_forward is not None
    step = request.match_info["step"]
    if step not in CLOCK_STEPS:
        raise web.HTTPNotFound(text=_error("unknown step"), content_type="application/json")
    moved = await fast_forward.step(step)
    return web.json_response({**_clock_view(fast_forward.now()), "moved": moved is not None})


def build_web_app(chat: SandboxChat) -> web.Application:
    """The web chat's aiohttp application (the page, its static files and the API)."""
    app = web.Application(client_max_size=MAX_VOICE_BYTES)
    app[CHAT_KEY] = chat
    app.router.add_get("/", index)
    app.router.add_get("/api/personas", get_personas)
    app.router.add_get("/api/texts", get_texts)
    app.router.add_get("/api/chats/{chat_id}/messages", get_messages)
    app.router.add_post("/api/personas/{key}/text", send_text)
    app.router.add_post("/api/personas/{key}/press", press_button)
    app.router.add_post("/api/personas/{key}/voice", send_voice)
    app.router.add_get("/api/files/{file_id}", get_file)
    app.router.add_post("/api/language", post_language)
    if chat.fast_forward is not None:
        app.router.add_get("/api/clock", get_clock)
        app.router.add_post("/api/clock/{step}", post_clock)
    app.router.add_static("/static/", STATIC_DIR)
    if chat.dashboard is not None:
        miniapp.add_routes(app, chat.dashboard, chat.mini_app_user)

    async def close(_: web.Application) -> None:
        await chat.close()

    app.on_cleanup.append(close)
    return app
