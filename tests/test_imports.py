"""The bot process stays small: large libraries load only when they are used."""

from __future__ import annotations

import subprocess
import sys


def test_starting_the_bot_does_not_load_the_chart_or_pdf_libraries() -> None:
    code = (
        "import sys, zoneinfo, bot.app, bot.cli, flows.core.i18n; "
        "bot.cli.build_parser(flows.core.i18n.texts('da', zoneinfo.ZoneInfo('UTC'))); "
        "print(sorted(m for m in ('matplotlib', 'fpdf') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
