"""The sandbox's web chat in a real headless Chromium at phone size: a micro-moment noted by
presses, a vote by two personas, the clock moved to a meeting's reminder, the pulse chart.

Each scenario runs the unmodified bot against the emulator with the web chat in front of it
(``tests.sandbox_chat``) and plays it the way a person would: choosing a persona, typing,
pressing the buttons the page shows. Screenshots go to docs/ for the README.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from storage.models import Note
from tests.sandbox_chat import RESIDENTS, running_chat

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
PHONE = {"width": 390, "height": 844}


async def phone_page(browser: Any, url: str, persona: str) -> Any:
    """A phone-sized page showing ``persona``'s chat."""
    context = await browser.new_context(viewport=PHONE, device_scale_factor=2)
    page = await context.new_page()
    await page.goto(f"{url}#{persona}")
    await page.wait_for_selector("#banner:not(:empty)")
    return page


async def type_and_send(page: Any, text: str) -> None:
    await page.fill("#text", text)
    await page.click("#send")


async def press(page: Any, label: str, counter: dict[str, int] | None = None) -> None:
    """Presses the newest inline button with that label."""
    button = page.locator(".keyboard button", has_text=label).last
    await button.wait_for()
    await button.click()
    if counter is not None:
        counter["n"] += 1


async def bot_says(page: Any, text: str, wait_ms: float = 15_000) -> None:
    """Waits until a bot message containing ``text`` is shown."""
    await page.locator(".msg.in .text", has_text=text).last.wait_for(timeout=wait_ms)


async def test_a_staff_member_notes_a_micro_moment_in_a_few_presses(
    browser: Any, tmp_path: Path
) -> None:
    async with running_chat(tmp_path) as sandbox:
        page = await phone_page(browser, sandbox.url, "omar")
        presses = {"n": 0}
        await type_and_send(page, "/note")
        await bot_says(page, "Hvem handler det om?")
        await press(page, RESIDENTS[0], presses)
        await bot_says(page, "Hvad skete der")
        await type_and_send(page, "Hun lyste op, da jeg satte hendes musik på.")
        await bot_says(page, "Vælg op til 3 markører")
        await press(page, "Tryghed", presses)
        await press(page, "Gem ✔", presses)
        await bot_says(page, "Gemt ✔ mikroøjeblik #")
        assert presses["n"] <= 5
        with Session(sandbox.engine) as session:
            notes = session.exec(select(Note)).all()
        assert [n.text for n in notes] == ["Hun lyste op, da jeg satte hendes musik på."]
        # The typed text does not stay in the chat (chat hygiene), as in Telegram.
        await page.wait_for_timeout(300)
        await page.screenshot(path=str(DOCS / "sandbox-chat.png"))

        # The lead sees it on the resident's card.
        await page.select_option("#persona", "lise")
        await type_and_send(page, "/card")
        await press(page, RESIDENTS[0])
        await bot_says(page, f"Det betyder noget for {RESIDENTS[0]}")
        assert "Tryghed · 1" in await page.locator(".msg.in .text").last.inner_text()
