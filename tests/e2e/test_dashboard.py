"""The dashboard from Telegram's side: ``/dashboard`` and the chat's menu button open the
Mini App, which the same ASGI server as the webhook serves over real HTTP, and which
answers only signed initData. Also served when polling, on ``STEMME_LISTEN``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy.engine import Engine

from bot.app import build_application
from sandbox.emulator import BotApiEmulator
from storage.db import utcnow
from tests.conftest import TEST_DATA_KEY
from tests.e2e.conftest import TOKEN, Admin, e2e_settings, running
from tests.e2e.people import LEAD_ID, OMAR_ID, STRANGER_ID, team_with_residents
from tests.e2e.workers import free_port, webhook_worker
from webapp.initdata import sign

ROOT = Path(__file__).resolve().parents[2]


def _signed(telegram_id: int, token: str = TOKEN) -> str:
    return "tma " + sign(
        telegram_id=telegram_id, bot_token=token, auth_date=utcnow() - timedelta(minutes=1)
    )


async def _get(url: str, authorization: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": authorization} if authorization else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.text()


def _web_app_url(markup: dict[str, Any] | None) -> str | None:
    rows: list[list[dict[str, Any]]] = (markup or {}).get("inline_keyboard") or []
    for row in rows:
        for button in row:
            if "web_app" in button:
                return str(button["web_app"]["url"])
    return None


async def test_the_webhook_server_serves_the_dashboard_and_dashboard_opens_it(
    emulator: BotApiEmulator, admin: Admin, e2e_database_url: str, e2e_engine: Engine
) -> None:
    async with webhook_worker(emulator, e2e_database_url) as worker:
        parts = urlsplit(worker.url)
        origin = f"{parts.scheme}://{parts.netloc}"
        _team, lise, omar = await team_with_residents(emulator, admin, "Fru H., stue 12")
        # The chat's menu button opens the dashboard at the webhook's origin + /app/.
        assert emulator.default_menu_button == {
            "type": "web_app",
            "text": "Overblik",
            "web_app": {"url": f"{origin}/app/"},
        }
        reaction = await omar.send("/dashboard")
        assert "Teamets overblik" in reaction.text
        assert _web_app_url(reaction.messages[-1].markup) == f"{origin}/app/"

        status, page = await _get(f"{origin}/app/")
        assert status == 200 and "<html" in page.lower()
        status, body = await _get(f"{origin}/app/api/me", _signed(OMAR_ID))
        me = json.loads(body)
        assert status == 200 and me["team"]["name"] == "Team Syd" and me["role"] == "staff"
        status, body = await _get(f"{origin}/app/api/residents", _signed(LEAD_ID))
        assert status == 200
        assert [r["alias"] for r in json.loads(body)["residents"]] == ["Fru H., stue 12"]

        status, body = await _get(f"{origin}/app/api/residents", _signed(LEAD_ID, "1:forged"))
        assert status == 401 and "Fru H." not in body
        status, body = await _get(f"{origin}/app/api/residents", _signed(STRANGER_ID))
        assert status == 401 and "Fru H." not in body
        status, _body = await _get(f"{origin}/app/api/residents")
        assert status == 401
    del lise, e2e_engine


async def test_without_an_address_dashboard_says_it_is_not_set_up(
    emulator: BotApiEmulator, admin: Admin, e2e_database_url: str
) -> None:
    async with running(build_application(e2e_settings(emulator, e2e_database_url))):
        _team, _lise, omar = await team_with_residents(emulator, admin)
        reaction = await omar.send("/dashboard")
        assert "ikke sat op" in reaction.text
        assert _web_app_url(reaction.messages[-1].markup) is None
        assert emulator.default_menu_button == {"type": "commands"}
        stranger = emulator.user(STRANGER_ID, "Kim", language_code="da")
        reaction = await stranger.send("/dashboard")
        assert "invitationslink" in reaction.text
        assert _web_app_url(reaction.messages[-1].markup) is None


async def test_polling_serves_the_dashboard_on_listen(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("STEMME_")} | {
        "STEMME_BOT_TOKEN": TOKEN,
        "STEMME_DATA_KEY": TEST_DATA_KEY,
        "STEMME_DATABASE_URL": f"sqlite:///{tmp_path / 'polling.db'}",
        "STEMME_API_BASE_URL": emulator.base_url,
        "STEMME_LISTEN": f"127.0.0.1:{port}",
        "STEMME_DASHBOARD_URL": "https://stemme.example.dk/app/",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        anna = emulator.user(7303, "Anna", language_code="da")
        assert (await anna.send("/start", timeout=30)).messages
        assert emulator.default_menu_button["web_app"] == {"url": "https://stemme.example.dk/app/"}
        status, page = await _get(f"http://127.0.0.1:{port}/app/")
        assert status == 200 and "<html" in page.lower()
        status, body = await _get(f"http://127.0.0.1:{port}/app/api/me", _signed(7303))
        assert status == 401 and "Telegram" in json.loads(body)["message"]
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
        log = (await process.stderr.read()).decode() if process.stderr else ""
    assert process.returncode in (0, -signal.SIGTERM), log[-2000:]
    assert TOKEN not in log
