"""The sandbox's web chat: a page that looks like Telegram on a phone, and the JSON API it
uses (``docs/sandbox.md``), served by aiohttp in the same event loop as the emulator.

What the page does reaches the bot as real updates through the emulator's users (a text, a
button press, a voice message); the page sees the bot's reaction through a long-polled change
feed. The clock's endpoints exist only when the chat was given a :class:`FastForward`.
Nothing the page sends is logged with its text.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import mimetypes
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from sqlalchemy.engine import Engine

from flows.core.i18n import LANGUAGES
from sandbox.clock import FastForward
from sandbox.emulator import BotApiEmulator, EmuChat, EmuUser
from sandbox.texts import page_texts
from sandbox.views import chat_view
from storage import directory
from storage.db import session_scope

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SAMPLE_VOICE = STATIC_DIR / "sample-voice.ogg"
MAX_TEXT = 4096  # Telegram's limit for a message's text
MAX_VOICE_BYTES = 5 * 1024 * 1024
POLL_SECONDS = 25.0
STEPS = ("hour", "day", "week", "next", "meeting")

Role = Literal["lead", "staff", "stranger", "group"]


@dataclass(frozen=True)
class ChatPersona:
    """Someone the page can be: who sends (``user_id``) and which chat they see (``chat_id``:
    the user's private chat, or the group's id for the group persona, where the lead sends)."""

    key: str
    name: str
    role: Role
    user_id: int
    chat_id: int
    language: str = "da"
    detail: str = ""
    group_title: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "role": self.role,
            "chat_id": self.chat_id,
            "detail": self.detail,
            "title": self.group_title if self.role == "group" else self.name,
        }


class SandboxChat:
    """The emulator, the personas the page offers, and (sandbox only) the clock."""

    def __init__(
        self,
        emulator: BotApiEmulator,
        personas: list[ChatPersona],
        fast_forward: FastForward | None = None,
        *,
        engine: Engine | None = None,
        language: str = "da",
    ) -> None:
        self.emulator = emulator
        self.personas = list(personas)
        self.fast_forward = fast_forward
        self.engine = engine or (fast_forward.engine if fast_forward else None)
        self.language = language
        self._versions: dict[int, tuple[str, int]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    def create(
        cls,
        emulator: BotApiEmulator,
        personas: list[ChatPersona],
        fast_forward: FastForward | None = None,
        *,
        engine: Engine | None = None,
    ) -> SandboxChat:
        """Registers every persona's user (and the group chats) with the emulator."""
        people = [p for p in personas if p.role != "group"]
        for persona in people:
            first, _, last = persona.name.partition(" ")
            emulator.user(
                persona.user_id, first, last_name=last or None, language_code=persona.language
            )
        for persona in personas:
            if persona.role == "group":
                if persona.user_id not in emulator.users:
                    emulator.user(persona.user_id, persona.name, language_code=persona.language)
                emulator.group(persona.chat_id, persona.group_title or persona.name)
        language = personas[0].language if personas else "da"
        return cls(emulator, personas, fast_forward, engine=engine, language=language)

    def persona(self, key: str) -> ChatPersona:
        for persona in self.personas:
            if persona.key == key:
                return persona
        raise web.HTTPNotFound(text=json.dumps({"error": "unknown persona"}), content_type=JSON)

    def user_of(self, persona: ChatPersona) -> EmuUser:
        return self.emulator.users[persona.user_id]

    def chat_of(self, persona: ChatPersona) -> EmuChat:
        return self.emulator.chat(persona.chat_id)

    def version(self, chat: EmuChat) -> int:
        """A number that grows whenever what the chat shows changes (new, edited, deleted)."""
        raw = [m.raw for m in chat.chat_messages()]
        digest = hashlib.sha1(
            json.dumps(raw, sort_keys=True, default=str).encode(), usedforsecurity=False
        ).hexdigest()
        known = self._versions.get(chat.id)
        if known is None:
            number = 1
        elif known[0] == digest:
            return known[1]
        else:
            number = known[1] + 1
        self._versions[chat.id] = (digest, number)
        return number

    def spawn(self, action: Coroutine[Any, Any, Any]) -> None:
        """Runs a user action (inject an update, wait for the bot) without holding the request."""
        task = asyncio.create_task(action)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("A web chat action failed: %s", type(task.exception()).__name__)

    def set_language(self, language: str) -> None:
        """Switches every persona's Telegram language and their member's stored language."""
        self.language = language
        self.personas = [replace(p, language=language) for p in self.personas]
        for persona in self.personas:
            user = self.emulator.users.get(persona.user_id)
            if user is not None:
                user.language_code = language
        if self.engine is None:
            return
        with session_scope(self.engine) as session:
            for user_id in {p.user_id for p in self.personas}:
                member = directory.get_member_by_telegram_id(session=session, telegram_id=user_id)
                if member is not None:
                    directory.set_language(session=session, member=member, language=language)


JSON = "application/json"
CHAT_KEY: web.AppKey[SandboxChat] = web.AppKey("sandbox_chat", SandboxChat)


def _error(status: type[web.HTTPException], message: str) -> web.HTTPException:
    return status(text=json.dumps({"error": message}), content_type=JSON)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise _error(web.HTTPBadRequest, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _error(web.HTTPBadRequest, "the body must be a JSON object")
    return body


def _chat(request: web.Request) -> SandboxChat:
    return request.app[CHAT_KEY]


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def texts(request: web.Request) -> web.Response:
    language = request.query.get("lang", _chat(request).language)
    return web.json_response(page_texts(language))


async def personas(request: web.Request) -> web.Response:
    chat = _chat(request)
    return web.json_response(
        {
            "bot_name": chat.emulator.first_name,
            "language": chat.language,
            "languages": list(LANGUAGES),
            "clock": chat.fast_forward is not None,
            "personas": [p.as_dict() for p in chat.personas],
        }
    )


async def messages(request: web.Request) -> web.Response:
    chat = _chat(request)
    try:
        chat_id = int(request.match_info["chat_id"])
        after = int(request.query.get("after", "0"))
    except ValueError:
        raise _error(web.HTTPBadRequest, "chat id and after must be numbers") from None
    if chat_id not in {p.chat_id for p in chat.personas}:
        raise _error(web.HTTPNotFound, "unknown chat")
    emu_chat = chat.emulator.chat(chat_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(float(request.query.get("wait", POLL_SECONDS)), POLL_SECONDS)
    version = chat.version(emu_chat)
    while version <= after and loop.time() < deadline:
        await chat.emulator.wait_for_change(deadline - loop.time())
        version = chat.version(emu_chat)
    return web.json_response(chat_view(emu_chat, bot_name=chat.emulator.first_name, version=version))


async def send_text(request: web.Request) -> web.Response:
    chat = _chat(request)
    persona = chat.persona(request.match_info["key"])
    body = await _json_body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _error(web.HTTPBadRequest, "text must be a non-empty string")
    if len(text.encode("utf-16-le")) // 2 > MAX_TEXT:
        raise _error(web.HTTPBadRequest, f"text is longer than Telegram's {MAX_TEXT} characters")
    user = chat.user_of(persona)
    chat.spawn(user.send(text, chat=persona.chat_id, expect_reaction=False))
    await asyncio.sleep(0)  # the message is in the chat before the answer
    return web.json_response({"ok": True})


async def press(request: web.Request) -> web.Response:
    chat = _chat(request)
    persona = chat.persona(request.match_info["key"])
    body = await _json_body(request)
    message_id, data = body.get("message_id"), body.get("data")
    if not isinstance(message_id, int) or not isinstance(data, str):
        raise _error(web.HTTPBadRequest, "message_id (a number) and data (a string) are needed")
    message = chat.chat_of(persona).messages.get(message_id)
    if message is None or not message.from_bot:
        raise _error(web.HTTPBadRequest, "no such message of the bot in this chat")
    known = {b.get("callback_data") for row in message.inline_keyboard for b in row}
    if data not in known:
        raise _error(web.HTTPBadRequest, "that message has no such button")
    user = chat.user_of(persona)
    chat.spawn(
        user.press_data(data, message_id=message_id, chat=persona.chat_id, expect_reaction=False)
    )
    await asyncio.sleep(0)
    return web.json_response({"ok": True})


async def voice(request: web.Request) -> web.Response:
    chat = _chat(request)
    persona = chat.persona(request.match_info["key"])
    duration = 3
    if request.content_type == JSON:
        body = await _json_body(request)
        if body.get("sample") is not True:
            raise _error(web.HTTPBadRequest, 'send a recording, or {"sample": true}')
        data = SAMPLE_VOICE.read_bytes()
    else:
        data = await request.content.read(MAX_VOICE_BYTES + 1)
        if not data:
            raise _error(web.HTTPBadRequest, "the recording is empty")
        if len(data) > MAX_VOICE_BYTES:
            raise _error(web.HTTPRequestEntityTooLarge, "the recording is too long")
        try:
            duration = max(1, min(int(request.query.get("duration", "3")), 600))
        except ValueError:
            raise _error(web.HTTPBadRequest, "duration must be a number") from None
    user = chat.user_of(persona)
    chat.spawn(
        user.send_voice(duration, data=data, chat=persona.chat_id, expect_reaction=False)
    )
    await asyncio.sleep(0)
    return web.json_response({"ok": True})


async def file(request: web.Request) -> web.Response:
    stored = _chat(request).emulator.files.get(request.match_info["file_id"])
    if stored is None:
        raise _error(web.HTTPNotFound, "unknown file")
    name = stored.filename or stored.file_path.rsplit("/", 1)[-1]
    mime = stored.mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    headers = {"Content-Disposition": f'inline; filename="{name.replace(chr(34), "")}"'}
    return web.Response(body=stored.data, content_type=mime, headers=headers)


async def language(request: web.Request) -> web.Response:
    chat = _chat(request)
    body = await _json_body(request)
    chosen = body.get("language")
    if chosen not in LANGUAGES:
        raise _error(web.HTTPBadRequest, f"language must be one of {', '.join(LANGUAGES)}")
    await asyncio.to_thread(chat.set_language, str(chosen))
    return web.json_response({"language": chosen})


def _clock_state(fast_forward: FastForward) -> dict[str, Any]:
    return {"now": fast_forward.now().isoformat()}


async def clock(request: web.Request) -> web.Response:
    fast_forward = _chat(request).fast_forward
    assert fast_forward is not None  # the route exists only with one
    return web.json_response(_clock_state(fast_forward))


async def clock_step(request: web.Request) -> web.Response:
    fast_forward = _chat(request).fast_forward
    assert fast_forward is not None
    step = request.match_info["step"]
    if step not in STEPS:
        raise _error(web.HTTPNotFound, "unknown step")
    moved = await fast_forward.step(step)
    return web.json_response({**_clock_state(fast_forward), "moved": moved is not None})


def build_web_app(chat: SandboxChat) -> web.Application:
    """The web chat's app: the page, its static files and the JSON API."""
    app = web.Application(client_max_size=MAX_VOICE_BYTES + 1024)
    app[CHAT_KEY] = chat
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR)
    app.router.add_get("/api/texts", texts)
    app.router.add_get("/api/personas", personas)
    app.router.add_get("/api/chats/{chat_id}/messages", messages)
    app.router.add_post("/api/personas/{key}/messages", send_text)
    app.router.add_post("/api/personas/{key}/press", press)
    app.router.add_post("/api/personas/{key}/voice", voice)
    app.router.add_get("/api/files/{file_id}", file)
    app.router.add_post("/api/language", language)
    if chat.fast_forward is not None:
        app.router.add_get("/api/clock", clock)
        app.router.add_post("/api/clock/{step}", clock_step)
    return app
