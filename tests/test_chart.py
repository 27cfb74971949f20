"""The pulse chart is a real PNG of a sensible size, in the reader's language."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flows.core.i18n import texts
from flows.safety.chart import format_score, render_chart
from storage.pulse import ItemResult

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TZ = ZoneInfo("Europe/Copenhagen")


def _dimensions(png: bytes) -> tuple[int, int]:
    assert png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def test_the_chart_is_an_800_by_600_png_under_200_kb() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    history = [(start + timedelta(days=30 * n), 4.2 + 0.4 * n) for n in range(4)]
    items = [ItemResult(item=n, mean=3 + n / 2, spread=0.8, previous=None) for n in range(1, 8)]

    png = render_chart(
        texts=texts("da", TZ), team="Team Syd", history=history, items=items, weakest=[1, 2]
    )

    assert png.startswith(PNG_SIGNATURE)
    assert _dimensions(png) == (800, 600)
    assert 5_000 < len(png) < 200_000


def test_a_first_pulse_has_a_single_point_and_still_draws() -> None:
    items = [ItemResult(item=n, mean=5.0, spread=0.0, previous=None) for n in range(1, 8)]

    png = render_chart(
        texts=texts("en", TZ),
        team="Team Nord",
        history=[(datetime(2026, 3, 2, 9, tzinfo=UTC), 5.0)],
        items=items,
    )

    assert png.startswith(PNG_SIGNATURE) and _dimensions(png) == (800, 600)


def test_scores_use_the_language_s_decimal_mark() -> None:
    assert format_score(texts("da", TZ), 5.44) == "5,4"
    assert format_score(texts("en", TZ), 5.46) == "5.5"
