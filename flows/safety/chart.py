"""The pulse chart: a PNG of the team's score over time and this pulse's seven items.

Drawn with matplotlib's Agg backend on a ``Figure`` of its own (no pyplot, no screen, no
global state), 800 x 600 pixels, in the reader's language. Only results that may be
shown (``storage.pulse.PulseResult.visible``) are ever drawn.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

from babel.numbers import format_decimal

from flows.core.i18n import N_, Texts
from storage.pulse import ItemResult

WIDTH_INCHES, HEIGHT_INCHES, DPI = 8, 6, 100
SAFE_COLOUR = "#2a7f62"
WEAK_COLOUR = "#d08c2b"
LINE_COLOUR = "#35618f"

# Short labels of Edmondson's seven statements, as they read after reverse scoring (higher
# is safer for every one): for the chart, the captions and the site view.
ITEM_LABELS = {
    1: N_("Mistakes are not held against you"),
    2: N_("Problems and tough issues can be raised"),
    3: N_("Being different is accepted"),
    4: N_("It is safe to take a risk"),
    5: N_("It is easy to ask for help"),
    6: N_("No one undermines my efforts"),
    7: N_("My skills are valued and used"),
}


def render_chart(
    *,
    texts: Texts,
    team: str,
    history: Sequence[tuple[datetime, float]],
    items: Sequence[ItemResult],
    weakest: Sequence[int] = (),
) -> bytes:
    """Returns the PNG: the score over time above, this pulse's items (mean and spread,
    the weakest in another colour) below."""
    _ = texts._
    # Imported on first use: matplotlib costs the bot process tens of MB, and most
    # processes never draw a chart (the memory target of make bench).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, gridspec_kw={"height_ratios": [2, 3]})
    figure.suptitle(_("Psychological safety in {team}").format(team=team), fontsize=13)

    labels = [texts.short_day(moment) for moment, _score in history]
    scores = [score for _moment, score in history]
    positions = list(range(len(history)))
    top.plot(positions, scores, marker="o", color=LINE_COLOUR, linewidth=2)
    for x, y in zip(positions, scores, strict=True):
        top.annotate(
            format_score(texts, y),
            (x, y),
            textcoords="offset points",
            xytext=(0, 7),
            ha="center",
            fontsize=9,
        )
    top.set_xticks(positions, labels)
    top.set_ylim(1, 7.6)
    top.set_xlim(-0.5, max(len(history) - 0.5, 0.5))
    top.set_ylabel(_("Team score (1-7)"))
    top.set_title(_("The team's score over time"), fontsize=10)
    top.grid(axis="y", alpha=0.3)

    ordered = sorted(items, key=lambda item: item.item, reverse=True)
    names = [f"{item.item}. {_(ITEM_LABELS[item.item])}" for item in ordered]
    means = [item.mean for item in ordered]
    spreads = [item.spread for item in ordered]
    colours = [WEAK_COLOUR if item.item in weakest else SAFE_COLOUR for item in ordered]
    bottom.barh(names, means, xerr=spreads, color=colours, capsize=3, alpha=0.9)
    bottom.set_xlim(1, 7)
    bottom.set_xlabel(_("Mean and spread (7 = safest)"))
    bottom.set_title(_("This pulse, statement by statement"), fontsize=10)
    bottom.tick_params(axis="y", labelsize=8)
    bottom.grid(axis="x", alpha=0.3)

    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def format_score(texts: Texts, value: float) -> str:
    """A score or mean with one decimal in the reader's language ("5,4" in Danish)."""
    return str(format_decimal(round(value, 1), "0.0", locale=texts.babel_locale))
