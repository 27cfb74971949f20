"""The sandbox as a person meets it: ``sandbox.run.running`` (what ``stemme sandbox`` runs)
with its seeded care home, driven over HTTP through the web chat's API.

A staff member notes a micro-moment and the lead sees it on the resident's card; the clock
moves to the next meeting notice and the lead gets it; a restart finds everything again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bot.config import Settings
from sandbox import run
from storage.db import utcnow
from webapp.initdata import validate

pytestmark = pytest.mark.e2e

Message = dict[str, Any]


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' init-only option
        database_url=f"sqlite:///{tmp_path / 'sandbox.db'}",
        locale="da",
    )


class Page:
    """What the page does: read a chat, send, press, move the clock."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http = http
        self.url = url

    async def messages(self, chat_id: int) -> list[Message]:
        async with self.http.get(f"{self.url}api/chats/{chat_id}/messages") as response:
            assert response.status == 200
            body: dict[str, Any] = await response.json()
            return list(body["messages"])

    async def wait_for(
        self, chat_id: int, found: Callable[[Message], bool], *, after: int = 0
    ) -> Message:
        for _ in range(150):
            for message in await self.messages(chat_id):
                if message["id"] > after and message["from_bot"] and found(message):
                    return message
            await asyncio.sleep(0.1)
        raise AssertionError(f"the bot never answered as expected in chat {chat_id}")

    async def send(self, persona: str, text: str) -> None:
        async with self.http.post(
            f"{self.url}api/personas/{persona}/text", json={"text": text}
        ) as response:
            assert response.status == 202, await response.text()

    async def press(self, persona: str, message: Message, label: str) -> None:
        data = next(
            button["data"]
            for row in message["keyboard"]
            for button in row
            if button["text"] == label
        )
        async with self.http.post(
            f"{self.url}api/personas/{persona}/press",
            json={"message_id": message["id"], "data": data},
        ) as response:
            assert response.status == 202, await response.text()


def _has_button(label: str) -> Callable[[Message], bool]:
    return lambda message: any(b["text"] == label for row in message["keyboard"] for b in row)


async def test_a_staff_member_notes_a_moment_and_the_lead_sees_it_on_the_card(
    tmp_path: Path,
) -> None:
    async with (
        run.running(_settings(tmp_path), address=("127.0.0.1", 0)) as sandbox,
        aiohttp.ClientSession() as http,
    ):
        page = Page(http, sandbox.url)
        async with http.get(sandbox.url) as response:
            assert response.status == 200 and "<html" in (await response.text()).lower()
        async with http.get(f"{sandbox.url}api/personas") as response:
            keys = {p["key"]: p["role"] for p in (await response.json())["personas"]}
        assert list(keys.values()).count("staff") == 4
        assert {"lead", "stranger", "group"} <= set(keys.values())

        home = sandbox.care_home
        ahmed = home.staff[0]
        resident = home.residents[0].alias
        await page.send(ahmed.key, "/note")
        asked = await page.wait_for(ahmed.telegram_id, _has_button(resident))
        await page.press(ahmed.key, asked, resident)
        await page.wait_for(ahmed.telegram_id, lambda m: "Hvad skete der" in m["html"])
        await page.send(ahmed.key, "Hun nynnede med, da vi sang Den blå anemone ved kaffen.")
        markers = await page.wait_for(ahmed.telegram_id, _has_button("Tryghed"))
        await page.press(ahmed.key, markers, "Tryghed")
        saving = await page.wait_for(ahmed.telegram_id, _has_button("Gem ✔"))
        await page.press(ahmed.key, saving, "Gem ✔")
        await page.wait_for(ahmed.telegram_id, lambda m: "Gemt ✔ mikroøjeblik" in m["html"])

        lead = home.lead
        await page.send(lead.key, "/card")
        card_choice = await page.wait_for(lead.telegram_id, _has_button(resident))
        await page.press(lead.key, card_choice, resident)
        card = await page.wait_for(lead.telegram_id, lambda m: "Den blå anemone" in m["html"])
        assert "Det betyder noget for" in card["html"]


async def test_fast_forward_brings_the_next_meeting_notice_and_a_restart_keeps_all(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    async with (
        run.running(settings, address=("127.0.0.1", 0)) as sandbox,
        aiohttp.ClientSession() as http,
    ):
        page = Page(http, sandbox.url)
        lead = sandbox.care_home.lead
        before = utcnow()
        last = max([m["id"] for m in await page.messages(lead.telegram_id)], default=0)

        async with http.post(f"{sandbox.url}api/clock/meeting") as response:
            assert response.status == 200
            assert (await response.json())["moved"] is True
        assert utcnow() - before > timedelta(days=2)

        notice = await page.wait_for(lead.telegram_id, lambda m: "øde" in m["html"], after=last)
        assert notice["from_bot"]
        first = sandbox.care_home

    async with run.running(settings, address=("127.0.0.1", 0)) as again:
        assert again.care_home == first


async def test_the_sandbox_serves_the_dashboard_signed_for_each_persona(tmp_path: Path) -> None:
    """The menu button opens the dashboard on the web chat's own address; each persona's way
    in carries initData the dashboard accepts for that persona only."""
    async with (
        run.running(_settings(tmp_path), address=("127.0.0.1", 0)) as sandbox,
        aiohttp.ClientSession() as http,
    ):
        assert sandbox.emulator.default_menu_button == {
            "type": "web_app",
            "text": "Overblik",
            "web_app": {"url": f"{sandbox.url}app/"},
        }
        async with http.get(f"{sandbox.url}api/personas") as response:
            assert (await response.json())["dashboard"] is True
        lead = sandbox.care_home.lead
        async with http.get(f"{sandbox.url}api/personas/{lead.key}/webapp") as response:
            opened = (await response.json())["url"]
        fragment = parse_qs(urlsplit(opened).fragment)
        init_data = fragment["tgWebAppData"][0]
        user = validate(init_data, sandbox.emulator.token, now=utcnow())
        assert user.telegram_id == lead.telegram_id
        headers = {"Authorization": f"tma {init_data}"}
        async with http.get(f"{sandbox.url}app/api/me", headers=headers) as response:
            me = await response.json()
        assert response.status == 200
        assert (me["team"]["name"], me["role"]) == ("Team Rosen", "lead")
        async with http.get(f"{sandbox.url}app/") as response:
            assert response.status == 200 and "text/html" in response.headers["Content-Type"]
        async with http.get(f"{sandbox.url}app/api/me") as response:
            assert response.status == 401
        group = next(p for p in sandbox.chat.personas.values() if p.role == "group")
        async with http.get(f"{sandbox.url}api/personas/{group.key}/webapp") as response:
            assert response.status == 404
