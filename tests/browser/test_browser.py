"""The browser fixture itself: a page is rendered and read back by a real Chromium."""

from __future__ import annotations

from typing import Any


async def test_chromium_renders_a_page_with_danish_text(browser: Any) -> None:
    page = await browser.new_page()
    await page.set_content("<main><h1>Borgerens stemme</h1><p>Gemt ✔</p></main>")
    assert await page.inner_text("h1") == "Borgerens stemme"
    assert await page.inner_text("p") == "Gemt ✔"
