"""The emulator's HTTP server: one aiohttp app on loopback answering /bot<token>/<method> and
/file/bot<token>/<path>, each method handled by the part that emulates it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from sandbox.emulator.messages import MessageMethods
from sandbox.emulator.profile import ProfileMethods
from sandbox.emulator.records import ApiCall, Handler, UploadedFile
from sandbox.emulator.updates import UpdateMethods
from sandbox.emulator.wire import (
    DEFAULT_TOKEN,
    DEFAULT_USERNAME,
    ApiError,
    JSONDict,
    _bad_request,
    _decode_params,
)


class BotApiEmulator(MessageMethods, UpdateMethods, ProfileMethods):
    """An in-process Telegram Bot API server for end-to-end tests (see the module docstring).

    ``settle`` is how long the bot must stay quiet before a :class:`Reaction` is complete;
    ``timeout`` the overall limit for the bot to fetch an update and react.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        username: str = DEFAULT_USERNAME,
        *,
        first_name: str = "Stemme",
        settle: float = 0.15,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            token, username, first_name=first_name, settle=settle, timeout=timeout, clock=clock
        )
        handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getMyCommands": self._get_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "answerCallbackQuery": self._answer_callback_query,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendVoice": self._send_voice,
            "getFile": self._get_file,
            "sendChatAction": self._send_chat_action,
            "getChat": self._get_chat,
            "leaveChat": self._leave_chat,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
        }
        for field_name, limit in (("name", 64), ("description", 512), ("short_description", 120)):
            camel = "".join(part.title() for part in field_name.split("_"))
            handlers[f"setMy{camel}"] = self._profile_setter(field_name, limit)
            handlers[f"getMy{camel}"] = self._profile_getter(field_name)
        self._handlers = {name.lower(): (name, fn) for name, fn in handlers.items()}

    async def start(self) -> None:
        """Starts the HTTP server on 127.0.0.1 with a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        site = web.SockSite(self._runner, sock)
        await site.start()
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        """Stops the server; pending long polls return at once."""
        self._closing = True
        self._notify()
        if self._webhook and self._webhook.task:
            self._webhook.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook.task
        if self._session:
            await self._session.close()
            self._session = None
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith("/file/bot"):
            return await self._handle_file(request, path[len("/file/bot") :])
        if not path.startswith("/bot"):
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        token, _, method_name = path[len("/bot") :].partition("/")
        entry = self._handlers.get(method_name.lower())
        call = ApiCall(method=entry[0] if entry else method_name, params={}, time=time.monotonic())
        self.calls.append(call)
        self._notify()
        try:
            try:
                call.params = await self._read_params(request)
                call.params = _decode_params(call.params)
                if token != self.token:
                    raise ApiError(401, "Unauthorized")
                if entry is None:
                    raise ApiError(404, "Not Found: method not found")
                delay = self._take(self._delays, call.method)
                if delay and not delay.execute_first:
                    await asyncio.sleep(delay.seconds)
                fault = self._take(self._faults, call.method)
                if fault:
                    raise ApiError(fault.error_code, fault.description, fault.parameters)
                result = await entry[1](call.params, call)
                payload: JSONDict = {"ok": True, "result": result}
                call.status, call.response = 200, payload
                if delay and delay.execute_first:
                    await asyncio.sleep(delay.seconds)
            except ApiError as err:
                payload = err.payload()
                call.status, call.response = err.error_code, payload
            return web.json_response(payload, status=call.status or 200)
        except asyncio.CancelledError:
            call.cancelled = True
            raise
        finally:
            call.finished_at = time.monotonic()
            self._notify()

    @staticmethod
    def _take(queues: dict[str, deque[Any]], method: str) -> Any:
        queue = queues.get(method.lower())
        return queue.popleft() if queue else None

    async def _read_params(self, request: web.Request) -> JSONDict:
        """The raw parameters: query string plus form fields, files or a JSON object body."""
        raw: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad_request("can't parse JSON") from None
                if not isinstance(body, dict):
                    raise _bad_request("can't parse JSON")
                raw.update(body)
            elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        raw[key] = UploadedFile(
                            filename=value.filename,
                            mime_type=value.content_type,
                            data=value.file.read(),
                        )
                    else:
                        raw[key] = value
        return raw

    async def _handle_file(self, request: web.Request, rest: str) -> web.StreamResponse:
        token, _, file_path = rest.partition("/")
        call = ApiCall(method="file", params={"file_path": file_path}, time=time.monotonic())
        self.calls.append(call)
        try:
            if token != self.token:
                call.status = 401
                return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
            stored = next((f for f in self.files.values() if f.file_path == file_path), None)
            if stored is None:
                call.status = 404
                return web.json_response(ApiError(404, "Not Found").payload(), status=404)
            call.status = 200
            return web.Response(
                body=stored.data, content_type=stored.mime_type or "application/octet-stream"
            )
        finally:
            call.finished_at = time.monotonic()
            self._notify()
