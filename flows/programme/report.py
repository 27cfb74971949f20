"""The indicators report (``stemme report``): what a consultant brings to the steering
group. ``build_report`` publishes a site's (or one team's) indicators
(``storage.indicators``) as JSON; ``report_pdf`` renders that JSON as a Danish PDF with a
run chart per indicator (the months' values and their median) and a table per team.

**What may be shown.** Nothing of an individual: no member, no resident, no note, only
counts per team and month. Counts that could point at a person (micro-moments, residents
noted, dilemmas brought and discussed; a dilemma can be anonymous) are published as
``"<5"`` from 1 to 4. A site's total of such a figure adds up only the teams' published
values and says how many teams had fewer than five (``{"shown": 12, "teams_under_5": 1}``),
so a team's hidden count can never be worked out from the total. The pulse score is only
there when the pulse met the site's threshold; the site's score pools the tallies of those
teams. Cases, trial actions and meetings are the team's joint work, agreed in its
meetings, and are shown as they are.

The PDF is built from the JSON alone, so the two always hold the same figures; it is
always in Danish (the steering group's language), whatever ``STEMME_LOCALE`` says.
"""

from __future__ import annotations

import io
import statistics
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlmodel import Session

from flows.core.i18n import N_, Texts
from flows.safety.chart import format_score
from storage import indicators, programme
from storage.db import require_id
from storage.indicators import Month, TeamMonth
from storage.models import Site, Team

SMALL = "<5"
SMALL_BELOW = 5
# The figures that could point at a person when they are small.
PERSONAL_FIELDS = ("moments", "residents_noted", "dilemmas_brought", "dilemmas_discussed")
TRIAL_FIELDS = ("trials_started", "trials_kept", "trials_adjusted", "trials_dropped")
MEETING_FIELDS = ("meetings_held", "meetings_with_minutes")

# The run charts, in order: (field, title). "cases.team" is a step of ``cases``.
CHARTS = (
    ("moments", N_("Micro-moments noted")),
    ("residents_noted", N_("Residents with at least one micro-moment")),
    ("cases.team", N_("Cases brought to the team")),
    ("trials_started", N_("Trial actions started")),
    ("trials_kept", N_("Trial actions kept")),
    ("meetings_with_minutes", N_("Meetings held with minutes")),
    ("dilemmas_discussed", N_("Dilemmas discussed")),
    ("pulse", N_("Pulse score (psychological safety, 1-7)")),
)
STEP_ROWS = (
    ("listen", N_("Cases: listening began")),
    ("team", N_("Cases: brought to the team")),
    ("decide", N_("Cases: deciding began")),
    ("try", N_("Cases: trial action planned")),
    ("evaluated", N_("Cases: evaluated")),
)
STEP_DAY_ROWS = (
    ("listen", N_("Days listening (median)")),
    ("team", N_("Days in the team (median)")),
    ("decide", N_("Days deciding (median)")),
    ("try", N_("Days trying (median)")),
)
FIELD_ROWS = (
    ("moments", N_("Micro-moments noted")),
    ("residents_noted", N_("Residents with micro-moments")),
    ("trials_started", N_("Trial actions started")),
    ("trials_kept", N_("Trial actions kept")),
    ("trials_adjusted", N_("Trial actions adjusted")),
    ("trials_dropped", N_("Trial actions dropped")),
    ("meetings_held", N_("Meetings held")),
    ("meetings_with_minutes", N_("Meetings with minutes")),
    ("dilemmas_brought", N_("Dilemmas brought")),
    ("dilemmas_discussed", N_("Dilemmas discussed")),
)
LINE_COLOUR = "#35618f"
MEDIAN_COLOUR = "#d08c2b"
MONTHS_PER_TABLE = 12


class ReportError(Exception):
    """The report cannot be made as asked (``code`` says why)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def published(count: int) -> int | str:
    """A count that could point at a person: "<5" from 1 to 4."""
    return SMALL if 0 < count < SMALL_BELOW else count


def report_teams(*, session: Session, site: Site, team: Team | None) -> list[Team]:
    """The team asked for, or every team of the site (the leadership team last)."""
    if team is not None:
        if team.site_id != site.id:
            raise ReportError("team_not_at_site")
        return [team]
    teams = programme.site_teams(session=session, site_id=require_id(site))
    leaders = programme.leadership_team(session=session, site_id=require_id(site))
    return teams + ([leaders] if leaders is not None else [])


def build_report(
    *,
    session: Session,
    site: Site,
    team: Team | None,
    first: Month,
    last: Month,
    tz: ZoneInfo,
    now: datetime,
) -> dict[str, Any]:
    """The report as JSON-ready data (see the module's rules on what may be shown)."""
    teams = report_teams(session=session, site=site, team=team)
    try:
        rows = indicators.team_indicators(
            session=session, teams=teams, first=first, last=last, tz=tz, now=now
        )
    except ValueError as error:
        raise ReportError("period") from error
    months = indicators.months_between(first, last)
    report: dict[str, Any] = {
        "site": site.name,
        "team": None if team is None else team.name,
        "from": str(first),
        "to": str(last),
        "months": [str(month) for month in months],
        "generated_at": now.astimezone(tz).isoformat(timespec="seconds"),
        "time_zone": str(tz),
        "small_counts": {"fields": list(PERSONAL_FIELDS), "shown_as": SMALL, "below": 5},
        "teams": [
            {"team": row.team.name, "months": [_team_month(month) for month in row.months]}
            for row in rows
        ],
    }
    if team is None:
        report["site_total"] = [
            _site_month(month, [row.months[index] for row in rows])
            for index, month in enumerate(months)
        ]
    return report


def _team_month(figures: TeamMonth) -> dict[str, Any]:
    published_month: dict[str, Any] = {"month": str(figures.month)}
    for name in PERSONAL_FIELDS:
        published_month[name] = published(getattr(figures, name))
    published_month["cases"] = dict(figures.cases)
    published_month["step_days"] = figures.step_days
    for name in TRIAL_FIELDS + MEETING_FIELDS:
        published_month[name] = getattr(figures, name)
    published_month["pulse"] = {"status": figures.pulse_status, "score": figures.pulse_score}
    return published_month


def _site_month(month: Month, teams: list[TeamMonth]) -> dict[str, Any]:
    total: dict[str, Any] = {"month": str(month)}
    for name in PERSONAL_FIELDS:
        values = [getattr(figures, name) for figures in teams]
        total[name] = {
            "shown": sum(value for value in values if published(value) == value),
            "teams_under_5": sum(1 for value in values if published(value) == SMALL),
        }
    total["cases"] = {
        step: sum(figures.cases[step] for figures in teams) for step in indicators.STEPS
    }
    total["step_days"] = {
        step: indicators.median_days(
            [days for figures in teams for days in figures.step_durations[step]]
        )
        for step in indicators.STEPS[:-1]
    }
    for name in TRIAL_FIELDS + MEETING_FIELDS:
        total[name] = sum(getattr(figures, name) for figures in teams)
    shown = [figures for figures in teams if figures.pulse_status == indicators.PULSE_SHOWN]
    if shown:
        status = indicators.PULSE_SHOWN
    elif any(figures.pulse_status == indicators.PULSE_BELOW_THRESHOLD for figures in teams):
        status = indicators.PULSE_BELOW_THRESHOLD
    else:
        status = indicators.PULSE_NONE
    total["pulse"] = {
        "status": status,
        "score": indicators.pooled_score(figures.pulse_tally for figures in shown),
        "teams_shown": len(shown),
    }
    return total


# ------------------------------------------------------------------------------- the PDF


def _value(cell: Any) -> tuple[float | None, bool]:
    """A published value as (what the chart plots, whether part of it is hidden)."""
    if cell == SMALL:
        return 2.5, True
    if isinstance(cell, dict) and "shown" in cell:
        return float(cell["shown"]), cell["teams_under_5"] > 0
    if isinstance(cell, dict):
        return cell.get("score"), False
    return float(cell), False


def _series(months: list[dict[str, Any]], field: str) -> list[tuple[float | None, bool]]:
    if field.startswith("cases."):
        return [(float(month["cases"][field[6:]]), False) for month in months]
    return [_value(month[field]) for month in months]


def render_run_chart(
    *,
    texts: Texts,
    labels: Sequence[str],
    values: Sequence[tuple[float | None, bool]],
    totals: bool = False,
    score: bool = False,
) -> bytes:
    """One run chart as PNG: the months' values joined by a line and the median of the
    plotted values as a dashed line. An open circle is a hidden small count (drawn at
    2.5, in the "<5" band), or in a site's ``totals`` a month whose total leaves out
    teams with fewer than five. Nothing but the months and the numbers is drawn (the
    chart's title is the PDF's text above it). A ``score`` (the pulse) is drawn on its
    scale, 1 to 7."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _ = texts._
    figure = Figure(figsize=(6.4, 3.0), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    positions = list(range(len(labels)))
    plotted = [(x, y, hidden) for x, (y, hidden) in zip(positions, values, strict=True)]
    known = [(x, y) for x, y, _hidden in plotted if y is not None]
    if known:
        axes.plot([x for x, _y in known], [y for _x, y in known], color=LINE_COLOUR, linewidth=1.8)
        axes.scatter(
            [x for x, y, hidden in plotted if y is not None and not hidden],
            [y for _x, y, hidden in plotted if y is not None and not hidden],
            color=LINE_COLOUR,
            zorder=3,
            s=22,
        )
        hidden_points = [(x, y) for x, y, hidden in plotted if y is not None and hidden]
        if hidden_points:
            axes.scatter(
                [x for x, _y in hidden_points],
                [y for _x, y in hidden_points],
                facecolors="white",
                edgecolors=LINE_COLOUR,
                zorder=3,
                s=30,
                label=(
                    _("plus teams with fewer than 5 (not added)")
                    if totals
                    else _("fewer than 5 (not shown)")
                ),
            )
        median = statistics.median(y for _x, y in known)
        axes.axhline(
            median,
            color=MEDIAN_COLOUR,
            linestyle="--",
            linewidth=1.4,
            label=_("Median {value}").format(value=format_number(texts, median)),
        )
        axes.legend(loc="upper left", fontsize=7, frameon=False)
    if score:
        axes.set_ylim(1, 7.6)
    else:
        axes.set_ylim(0, max([y for _x, y in known] + [5.0]) * 1.25)
    axes.set_xlim(-0.5, max(len(labels) - 0.5, 0.5))
    step = max(1, len(labels) // 12)
    axes.set_xticks(positions[::step], list(labels)[::step], fontsize=7)
    axes.tick_params(axis="y", labelsize=7)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def format_number(texts: Texts, value: float) -> str:
    """An integer as it is, else one decimal ("2,5" in Danish)."""
    if float(value).is_integer():
        return str(int(value))
    return format_score(texts, value)


def month_label(texts: Texts, month: str) -> str:
    """ "mar. 2026" for "2026-03"."""
    first = date(int(month[:4]), int(month[5:7]), 1)
    return str(format_date(first, "MMM yyyy", locale=texts.babel_locale))


def _cell_text(texts: Texts, cell: Any) -> str:
    _ = texts._
    if cell is None:
        return "–"
    if cell == SMALL:
        return SMALL
    if isinstance(cell, dict) and "shown" in cell:
        shown = str(cell["shown"])
        return f"{shown} + {SMALL}" if cell["teams_under_5"] else shown
    if isinstance(cell, dict):
        if cell["status"] == indicators.PULSE_SHOWN and cell["score"] is not None:
            return format_number(texts, cell["score"])
        if cell["status"] == indicators.PULSE_BELOW_THRESHOLD:
            return _("b.t.")
        return "–"
    if isinstance(cell, float):
        return format_number(texts, cell)
    return str(cell)


def _table_rows(texts: Texts, months: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    _ = texts._
    rows: list[tuple[str, list[str]]] = []
    for field, label in FIELD_ROWS[:2]:
        rows.append((_(label), [_cell_text(texts, month[field]) for month in months]))
    for step, label in STEP_ROWS:
        rows.append((_(label), [_cell_text(texts, month["cases"][step]) for month in months]))
    for step, label in STEP_DAY_ROWS:
        rows.append((_(label), [_cell_text(texts, month["step_days"][step]) for month in months]))
    for field, label in FIELD_ROWS[2:]:
        rows.append((_(label), [_cell_text(texts, month[field]) for month in months]))
    rows.append((_("Pulse score"), [_cell_text(texts, month["pulse"]) for month in months]))
    return rows


def report_pdf(report: dict[str, Any], texts: Texts) -> bytes:
    """The report as an A4 landscape PDF: the headline, the run charts of the site (or
    the team), then each team's table of figures by month."""
    import matplotlib
    from fpdf import FPDF

    _ = texts._
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdf = FPDF(orientation="L", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.set_margins(12, 12, 12)
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_title(_("Indicators: {site}").format(site=report["site"]))
    pdf.set_creator("stemme")
    labels = [month_label(texts, month) for month in report["months"]]

    pdf.add_page()
    pdf.set_font("DejaVu", "B", 18)
    heading = _("Indicators: {site}").format(site=report["site"])
    if report["team"]:
        heading = _("Indicators: {site}, {team}").format(site=report["site"], team=report["team"])
    pdf.multi_cell(0, 10, heading, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    for line in (
        _("Period: {first} to {last}").format(first=labels[0], last=labels[-1]),
        _("Made by stemme on {day} from what the teams stored.").format(
            day=texts.day(datetime.fromisoformat(report["generated_at"]))
        ),
        _(
            "No individual's data: counts per team and month only. Micro-moments, residents "
            'and dilemmas from 1 to 4 are shown as "<5"; a site total then adds up the '
            'shown values only ("12 + <5"). The pulse score is shown only where enough '
            'answered (the site\'s threshold); "b.t." means below the threshold.'
        ),
    ):
        pdf.multi_cell(0, 5.5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    focus = report.get("site_total") or report["teams"][0]["months"]
    pdf.set_font("DejaVu", "B", 13)
    chart_heading = (
        _("Run charts for the whole site")
        if "site_total" in report
        else _("Run charts for {team}").format(team=report["team"])
    )
    pdf.multi_cell(0, 8, chart_heading, new_x="LMARGIN", new_y="NEXT")
    width, height = 134.0, 134.0 * 3.0 / 6.4
    for index, (field, title) in enumerate(CHARTS):
        column = index % 2
        if column == 0 and pdf.get_y() + height + 8 > pdf.h - pdf.b_margin:
            pdf.add_page()
        x = pdf.l_margin + column * (width + 5)
        y = pdf.get_y()
        pdf.set_xy(x, y)
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(width, 5, _(title))
        png = render_run_chart(
            texts=texts,
            labels=labels,
            values=_series(focus, field),
            totals="site_total" in report,
            score=field == "pulse",
        )
        pdf.image(io.BytesIO(png), x=x, y=y + 5, w=width, h=height)
        if column == 1 or index == len(CHARTS) - 1:
            pdf.set_xy(pdf.l_margin, y + height + 7)

    tables = [(_("The whole site"), report["site_total"])] if "site_total" in report else []
    tables += [(team["team"], team["months"]) for team in report["teams"]]
    for name, months in tables:
        for start in range(0, len(months), MONTHS_PER_TABLE):
            chunk = months[start : start + MONTHS_PER_TABLE]
            pdf.add_page()
            pdf.set_font("DejaVu", "B", 13)
            pdf.multi_cell(0, 8, _("Figures by month: {name}").format(name=name), new_x="LMARGIN")
            _table(pdf, texts, labels[start : start + len(chunk)], _table_rows(texts, chunk))
    return bytes(pdf.output())


def _table(pdf: Any, texts: Texts, labels: list[str], rows: list[tuple[str, list[str]]]) -> None:
    label_width = 62.0
    cell_width = min(17.5, (pdf.w - pdf.l_margin - pdf.r_margin - label_width) / len(labels))
    pdf.set_font("DejaVu", "B", 7.5)
    pdf.cell(label_width, 6, "", border="B")
    for label in labels:
        pdf.cell(cell_width, 6, label, border="B", align="R")
    pdf.ln()
    pdf.set_font("DejaVu", "", 7.5)
    for shade, (label, cells) in enumerate(rows):
        fill = shade % 2 == 1
        pdf.set_fill_color(240, 243, 247)
        pdf.cell(label_width, 5.6, label, fill=fill)
        for cell in cells:
            pdf.cell(cell_width, 5.6, cell, align="R", fill=fill)
        pdf.ln()
