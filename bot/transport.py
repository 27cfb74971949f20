"""The Bot API transport: python-telegram-bot's ``BaseRequest`` on aiohttp.

PTB's default transport (``HTTPXRequest``) spends about 0.8 ms of CPU on each Bot API
call in httpx, httpcore, h11 and anyio; aiohttp, with its C HTTP parser, about 0.25 ms
(measured on loopback with ``bench``). A member's step costs one or two calls, and the
bot is CPU-bound under load, so the transport is a large share of what one process can
handle. ``bot/faults.py`` builds its retry policy on top of this class.

Behaviour kept from ``HTTPXRequest``:

- the same default timeouts (connect 5 s, read 5 s, write 5 s, 20 s for uploads, 1 s to
  wait for a free connection) and the same per-call overrides;
- HTTP/1.1 with kept-alive connections, at most ``connection_pool_size`` at once;
- the proxy from ``HTTPS_PROXY``/``HTTP_PROXY`` and ``NO_PROXY``, read once when the
  request starts (aiohttp's own ``trust_env`` reads the environment in a worker thread
  on every call, which costs more than the call), and certificates checked against
  certifi's bundle, as httpx does;
- errors raised as PTB's ``TimedOut`` and ``NetworkError``. Their ``__cause__`` tells
  whether the request can have reached Telegram: :data:`NOT_SENT` lists the causes that
  mean it did not (no connection, or no free connection in time).

One departure: the message Telegram returns for a message sent or edited comes back
without its ``reply_markup``. Telegram echoes the whole message, keyboard included;
stemme never reads a keyboard back (it knows what it sent), and python-telegram-bot's
objects for a keyboard of a dozen buttons cost more CPU than the rest of the answer.

aiohttp has no separate write timeout: once it has a connection slot, a request is
bounded by ``total`` = connect + write + read, and the wait for the answer by the read
timeout.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import certifi
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import JSONDict
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from storage.db import waiting

DEFAULT_POOL_SIZE = 256
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 5.0
DEFAULT_WRITE_TIMEOUT = 5.0
DEFAULT_MEDIA_WRITE_TIMEOUT = 20.0
DEFAULT_POOL_TIMEOUT = 1.0


class PoolTimeout(Exception):
    """Every connection was busy for the whole pool timeout; nothing was sent."""


# Causes of a failed request that mean Telegram cannot have received it.
NOT_SENT: tuple[type[BaseException], ...] = (
    PoolTimeout,
    aiohttp.ClientConnectorError,  # refused, unreachable, name not found, TLS handshake
    aiohttp.ConnectionTimeoutError,  # no connection within the connect timeout
)


class AiohttpRequest(BaseRequest):
    """``BaseRequest`` on an ``aiohttp.ClientSession`` (see the module docstring)."""

    def __init__(
        self,
        connection_pool_size: int = DEFAULT_POOL_SIZE,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
        write_timeout: float | None = DEFAULT_WRITE_TIMEOUT,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        pool_timeout: float | None = DEFAULT_POOL_TIMEOUT,
        media_write_timeout: float | None = DEFAULT_MEDIA_WRITE_TIMEOUT,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        # Made in ``initialize``: a session belongs to the event loop it was made in.
        self._session: aiohttp.ClientSession | None = None
        # Requests in progress, at most one per connection: waiting here is the pool
        # timeout (aiohttp's own wait for a connection shares the connect timeout).
        self._slots = asyncio.Semaphore(connection_pool_size)
        self._env_proxies: dict[str, str] = {}
        self._proxy_for: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds the long-polling time to it for getUpdates)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Opens the connection pool."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size,
                ssl=ssl.create_default_context(cafile=certifi.where()),
            )
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )
            self._env_proxies = urllib.request.getproxies_environment()
            self._proxy_for = {}

    async def shutdown(self) -> None:
        """Closes the connection pool."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Sends one request; returns the status code and the body."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data is not None else None
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout
        timeout = self._timeout(read_timeout, write_timeout, connect_timeout, uploads=bool(files))
        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            if files:
                # File names as UTF-8, as httpx sends them (aiohttp would %-encode them).
                form = aiohttp.FormData(quote_fields=False)
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mimetype) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                data = form
            else:
                data = request_data.json_parameters
        # On SQLite, other steps may work while this one waits for Telegram (storage/db.py).
        async with waiting():
            return await self._send(session, method, url, data, timeout, pool_timeout)

    async def _send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        data: aiohttp.FormData | dict[str, str] | None,
        limits: aiohttp.ClientTimeout,
        pool_timeout: float | None,
    ) -> tuple[int, bytes]:
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
            # of this task that arrives as the slot is granted, and the cancelled step
            # would carry on (found by a webhook step that outlived its time limit).
            async with asyncio.timeout(pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise TimedOut(
                "Pool timeout: every connection to Telegram is busy; the request was not sent."
            ) from PoolTimeout()
        try:
            async with session.request(
                method, url, data=data, timeout=limits, proxy=self._proxy(url)
            ) as response:
                return response.status, await response.read()
        except aiohttp.ConnectionTimeoutError as error:
            raise TimedOut(
                "No connection to Telegram within the timeout; the request was not sent."
            ) from error
        except (TimeoutError, aiohttp.ServerTimeoutError) as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error
        finally:
            self._slots.release()

    @staticmethod
    def parse_json_payload(payload: bytes) -> JSONDict:
        """Telegram's answer, parsed; a message sent or edited without its keyboard (see the
        module docstring)."""
        parsed = BaseRequest.parse_json_payload(payload)
        result = parsed.get("result")
        if isinstance(result, dict) and "message_id" in result:
            result.pop("reply_markup", None)
        return parsed

    def _proxy(self, url: str) -> str | None:
        """The proxy for ``url`` from the environment (``NO_PROXY`` honoured), if any."""
        if not self._env_proxies:
            return None
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxy_for:
            host = parts.hostname or ""
            # Not in typeshed, but public and documented with getproxies_environment.
            bypass = urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
                host, self._env_proxies
            )
            self._proxy_for[key] = None if bypass else self._env_proxies.get(parts.scheme)
        return self._proxy_for[key]

    def _timeout(
        self, read: Any, write: Any, connect: Any, *, uploads: bool
    ) -> aiohttp.ClientTimeout:
        """The call's timeouts once it has a connection slot; ``DEFAULT_NONE`` takes this
        request's defaults."""
        if isinstance(read, DefaultValue):
            read = self._read_timeout
        if isinstance(write, DefaultValue):
            write = self._media_write_timeout if uploads else self._write_timeout
        if isinstance(connect, DefaultValue):
            connect = self._connect_timeout
        parts = (read, write, connect)
        total = None if any(part is None for part in parts) else sum(parts)
        return aiohttp.ClientTimeout(
            total=total, connect=connect, sock_connect=connect, sock_read=read
        )
