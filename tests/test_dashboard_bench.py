"""The dashboard benchmark section times every view and the overview (a smoke run)."""

from __future__ import annotations

from pathlib import Path

from bench.dashboard import VIEWS, render, run_dashboard, targets
from storage.migrate import upgrade


def test_the_dashboard_section_times_every_view(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dashboard.db'}"
    upgrade(url)

    result = run_dashboard(
        database_url=url, database="sqlite", teams=3, notes=300, calls=3, seed=1
    )

    assert set(result.spreads) == {*VIEWS, "overview (administrator)"}
    assert all(spread.count == 3 for spread in result.spreads.values())
    assert result.notes == 300
    assert len(targets([result])) == len(VIEWS) + 1
    assert "overview (administrator)" in render([result])
