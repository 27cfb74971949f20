"""The dashboard's charts as SVG drawn on the server: no charting library, no CDN, and the
same picture in every browser. Every text in a chart is escaped; colours come from the
page's CSS variables, so the chart follows Telegram's light or dark theme.

- ``run_chart``: counts per period as a line with the median as a dashed centre line,
  the run chart of improvement work (one chart per series).
- ``stacked_bars``: the check-ins of a trial per day, helped / did not help / not relevant.
- ``score_line``: the pulse score over time on its 1–7 scale, with the points labelled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from statistics import median

WIDTH = 340
HEIGHT = 160
LEFT = 28
RIGHT = 8
TOP = 12
BOTTOM = 28

# CSS classes the page colours (webapp/static/app.css).
SERIES_CLASSES = ("s0", "s1", "s2")


def _x(index: int, count: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (span * index / (count - 1) if count > 1 else span / 2)


def _y(value: float, top: float, bottom: float = 0.0) -> float:
    span = HEIGHT - TOP - BOTTOM
    share = (value - bottom) / (top - bottom) if top > bottom else 0.0
    return TOP + span * (1 - share)


def _frame(title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _axis(
    labels: Sequence[str],
    top: float,
    bottom: float = 0.0,
    every: int = 1,
    at: Callable[[int, int], float] | None = None,
) -> list[str]:
    parts = [
        f'<line class="axis" x1="{LEFT}" y1="{_y(bottom, top, bottom):.1f}" '
        f'x2="{WIDTH - RIGHT}" y2="{_y(bottom, top, bottom):.1f}"/>',
        f'<text class="tick" x="{LEFT - 4}" y="{_y(top, top, bottom) + 4:.1f}" '
        f'text-anchor="end">{top:g}</text>',
        f'<text class="tick" x="{LEFT - 4}" y="{_y(bottom, top, bottom) + 4:.1f}" '
        f'text-anchor="end">{bottom:g}</text>',
    ]
    for index, label in enumerate(labels):
        # Counted from the end, so the newest period is always labelled and none overlap.
        if (len(labels) - 1 - index) % every:
            continue
        parts.append(
            f'<text class="tick" x="{(at or _x)(index, len(labels)):.1f}" y="{HEIGHT - 10}" '
            f'text-anchor="{_anchor(index, len(labels), at)}">{escape(label)}</text>'
        )
    return parts


def _anchor(index: int, count: int, at: Callable[[int, int], float] | None) -> str:
    """Labels at a line's ends stay inside the picture; bar labels sit under their bars."""
    if at is None and count > 1 and index == 0:
        return "start"
    if at is None and count > 1 and index == count - 1:
        return "end"
    return "middle"


def _bar_centre(index: int, count: int) -> float:
    span = (WIDTH - LEFT - RIGHT) / max(count, 1)
    return LEFT + span * (index + 0.5)


def run_chart(title: str, labels: Sequence[str], values: Sequence[int], median_label: str) -> str:
    """Counts per period with their median as a dashed line (a run chart)."""
    top = max([*values, 1])
    parts = _axis(labels, top, every=max(len(labels) // 6, 1))
    if values:
        centre = median(values)
        parts.append(
            f'<line class="median" x1="{LEFT}" y1="{_y(centre, top):.1f}" '
            f'x2="{WIDTH - RIGHT}" y2="{_y(centre, top):.1f}"><title>'
            f"{escape(median_label)} {centre:g}</title></line>"
        )
        points = " ".join(
            f"{_x(i, len(values)):.1f},{_y(v, top):.1f}" for i, v in enumerate(values)
        )
        parts.append(f'<polyline class="line s0" points="{points}"/>')
        parts.extend(
            f'<circle class="dot s0" cx="{_x(i, len(values)):.1f}" cy="{_y(v, top):.1f}" r="2.5">'
            f"<title>{escape(labels[i])}: {v}</title></circle>"
            for i, v in enumerate(values)
        )
    return _frame(title, parts)


def stacked_bars(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]
) -> str:
    """One bar per period, stacked from the series (name, counts) in order."""
    totals = [sum(values[i] for _name, values in series) for i in range(len(labels))]
    top = max([*totals, 1])
    parts = _axis(labels, top, every=max(len(labels) // 5, 1), at=_bar_centre)
    span = (WIDTH - LEFT - RIGHT) / max(len(labels), 1)
    width = max(min(span * 0.6, 24), 2)
    for index, label in enumerate(labels):
        centre = _bar_centre(index, len(labels))
        base = 0
        for number, (name, values) in enumerate(series):
            value = values[index]
            if not value:
                continue
            y_top, y_base = _y(base + value, top), _y(base, top)
            parts.append(
                f'<rect class="bar {SERIES_CLASSES[number % len(SERIES_CLASSES)]}" '
                f'x="{centre - width / 2:.1f}" y="{y_top:.1f}" width="{width:.1f}" '
                f'height="{y_base - y_top:.1f}"><title>{escape(label)}: {escape(name)} '
                f"{value}</title></rect>"
            )
            base += value
    return _frame(title, parts)


# The pulse's scale (storage.pulse.VALUES): 7 is the safest.
SCORE_LOW, SCORE_HIGH = 1.0, 7.0


def score_line(
    title: str,
    labels: Sequence[str],
    scores: Sequence[float],
    label: Callable[[float], str] = lambda score: f"{score:.1f}",
) -> str:
    """The pulse score (1–7) over time, each point labelled with its score as ``label``
    writes it (with a decimal comma in Danish)."""
    parts = _axis(labels, SCORE_HIGH, SCORE_LOW)
    if scores:
        points = " ".join(
            f"{_x(i, len(scores)):.1f},{_y(s, SCORE_HIGH, SCORE_LOW):.1f}"
            for i, s in enumerate(scores)
        )
        parts.append(f'<polyline class="line s0" points="{points}"/>')
        for index, score in enumerate(scores):
            x, y = _x(index, len(scores)), _y(score, SCORE_HIGH, SCORE_LOW)
            parts.append(f'<circle class="dot s0" cx="{x:.1f}" cy="{y:.1f}" r="3"/>')
            parts.append(
                f'<text class="value" x="{x:.1f}" y="{y - 6:.1f}" text-anchor="middle">'
                f"{escape(label(score))}</text>"
            )
    return _frame(title, parts)
