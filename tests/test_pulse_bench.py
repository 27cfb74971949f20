"""The pulse benchmark section counts every answer and draws the chart (a smoke run)."""

from __future__ import annotations

from pathlib import Path

from bench.pulse import render, run_pulse
from storage.migrate import upgrade


def test_the_pulse_section_counts_every_answer_and_draws_the_chart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pulse.db'}"
    upgrade(url)

    result = run_pulse(database_url=url, database="sqlite", members=8, charts=1)

    assert result.counted == 8
    assert result.answers.count == 8 and result.chart.count == 1
    assert "8 of 8 counted" in render([result])
