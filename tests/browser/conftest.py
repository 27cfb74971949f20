"""A real headless Chromium for the tests of what a person sees in a browser.

The browser is Debian's ``chromium`` package (``make browser`` installs it; ``.ci/run``
calls that), driven by Playwright's Python client; Playwright's own browser downloads
are never used. Without a Chromium the browser tests skip with a message saying how to
get one, except under CI (``CI`` set), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    """Debian's Chromium: ``STEMME_TEST_CHROMIUM`` or the first of its names on PATH."""
    configured = os.environ.get("STEMME_TEST_CHROMIUM")
    if configured:
        return configured
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    """A headless Chromium (``playwright.async_api.Browser``), closed after the test."""
    path = chromium_path()
    if path is None:
        message = "no Chromium: run `make browser` (Debian's chromium package)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=path,
            # Root in CI containers: Chromium's sandbox needs user namespaces it may lack.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            await launched.close()
