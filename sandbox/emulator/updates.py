"""Updates as the Bot API hands them out: long polling with getUpdates, or a webhook the
emulator posts to (one URL, or routed to several workers)."""

from __future__ import annotations

import asyncio
import copy
import re
import time
from typing import Any

import aiohttp

from sandbox.emulator.base import EmulatorBase
from sandbox.emulator.records import ApiCall, _Webhook
from sandbox.emulator.wire import _SECRET_RE, ApiError, JSONDict, _bad_request, _int_param


class UpdateMethods(EmulatorBase):
    """getUpdates, setWebhook, deleteWebhook, getWebhookInfo and webhook delivery."""

    async def _get_updates(self, params: JSONDict, call: ApiCall) -> Any:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int_param(params, "offset", default=0)
        limit = min(max(_int_param(params, "limit", default=100), 1), 100)
        raw_timeout = params.get("timeout") or 0
        if isinstance(raw_timeout, bool) or not isinstance(raw_timeout, int | float):
            raise _bad_request('field "timeout" must be of type Integer')
        timeout = max(float(raw_timeout), 0.0)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older long poll is terminated with 409, as on Telegram
        if offset > 0:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            batch = self._queue[offset:] if offset < 0 else self._queue
            batch = batch[:limit]
            if batch or self._closing or time.monotonic() >= deadline:
                break
            await self._wait_change(deadline - time.monotonic())
        for update in batch:
            self._mark_delivered(int(update["update_id"]))
        return copy.deepcopy(batch)

    async def _set_webhook(self, params: JSONDict, call: ApiCall) -> Any:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params, call)
        if not re.match(r"https?://", url):
            raise _bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._queue.clear()
        old = self._webhook
        self._webhook = _Webhook(
            url=url,
            secret_token=None if secret is None else str(secret),
            max_connections=_int_param(params, "max_connections", default=40),
        )
        self._webhook.task = old.task if old and old.task and not old.task.done() else None
        if self._webhook.task is None:
            self._webhook.task = asyncio.create_task(self._deliver_webhooks())
        self._poll_generation += 1  # a running long poll ends with 409
        self._notify()
        return True

    async def _delete_webhook(self, params: JSONDict, call: ApiCall) -> Any:
        if params.get("drop_pending_updates"):
            self._queue.clear()
        self._webhook = None
        self._notify()
        return True

    async def _get_webhook_info(self, params: JSONDict, call: ApiCall) -> Any:
        info: JSONDict = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }
        if self._webhook:
            info["max_connections"] = self._webhook.max_connections
            info["ip_address"] = "127.0.0.1"
            if self._webhook.last_error_date:
                info["last_error_date"] = self._webhook.last_error_date
                info["last_error_message"] = self._webhook.last_error_message
        return info

    async def _deliver_webhooks(self) -> None:
        """Posts queued updates to the webhook in order, retrying until HTTP 200."""
        backoff = 0.05
        while not self._closing and self._webhook is not None:
            hook = self._webhook
            if not self._queue or self._session is None:
                await self._wait_change(1.0)
                continue
            update = self._queue[0]
            url = self.webhook_router(update) if self.webhook_router else hook.url
            began = (len(self.calls), time.monotonic())
            status = await self._post_webhook(update, url, hook.secret_token)
            error: str | None = None
            if status is None:
                error = "Connection failed"
            elif status != 200:
                error = f"Wrong response from the webhook: {status}"
            if error is None:
                self._mark_delivered(int(update["update_id"]), began)
                if self._queue and self._queue[0] is update:
                    self._queue.pop(0)
                backoff = 0.05
                continue
            hook.last_error_date = int(self.clock())
            hook.last_error_message = error
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 1.0)

    async def _post_webhook(self, update: JSONDict, url: str, secret: str | None) -> int | None:
        """POSTs one update to a webhook URL; returns the HTTP status (None: no answer)."""
        assert self._session is not None
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        status: int | None = None
        try:
            async with self._session.post(
                url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = None
        self.webhook_deliveries.append((int(update["update_id"]), url, status))
        return status

    async def redeliver(self, update_id: int, url: str | None = None) -> int | None:
        """Posts an update that was already delivered to the webhook again, as Telegram does
        when it got no 200 in time (to ``url``, or where ``webhook_router`` sends it); returns
        the HTTP status. The bot's calls are in ``emu.calls`` as usual."""
        if self._webhook is None:
            raise AssertionError("no webhook is set")
        update = next((u for u in self.updates if u["update_id"] == update_id), None)
        if update is None:
            raise AssertionError(f"no update {update_id}")
        if url is None:
            url = self.webhook_router(update) if self.webhook_router else self._webhook.url
        status = await self._post_webhook(copy.deepcopy(update), url, self._webhook.secret_token)
        self._notify()
        return status
