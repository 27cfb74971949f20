"""``stemme report`` run in-process on the seeded site (tests/report_data.py), on SQLite
and PostgreSQL: the JSON holds every figure as the rows say, small counts as "<5" and a
site total that never reveals a hidden count; the PDF is read back with pypdf and holds
the headings, one run chart per indicator and each team's table, and no alias, name or
note text."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlmodel import Session, select

from bot import cli_report
from bot.cli import main
from flows.programme.report import CHARTS
from storage.db import make_engine
from storage.models import AuditEntry, MeetingMinutes, Member, Resident
from tests import report_data
from tests.report_data import EXPECTED_A, NOW

DANISH_CHART_TITLES = [
    "Mikroøjeblikke noteret",
    "Borgere med mindst ét mikroøjeblik",
    "Sager bragt til teamet",
    "Prøvehandlinger startet",
    "Prøvehandlinger beholdt",
    "Møder holdt med referat",
    "Dilemmaer drøftet",
    "Pulsscore (psykologisk tryghed, 1-7)",
]


@pytest.fixture
def url(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_key: str) -> str:
    """The seeded site in a migrated database (SQLite or PostgreSQL); "now" is NOW."""
    for name in list(os.environ):
        if name.startswith("STEMME_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STEMME_DATABASE_URL", database_url)
    monkeypatch.setenv("STEMME_LOCALE", "en")
    monkeypatch.setenv("STEMME_DATA_KEY", data_key)
    monkeypatch.setattr(cli_report, "utcnow", lambda: NOW)
    engine = make_engine(database_url)
    with Session(engine) as session:
        report_data.seed(session)
        session.commit()
    engine.dispose()
    return database_url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    if "--json" in args and out.out.strip():
        return code, json.loads(out.out)
    return code, out.out + out.err


def _published(value: object) -> object:
    return "<5" if isinstance(value, int) and 0 < value < 5 else value


def _expected_team_a(month: str) -> dict[str, Any]:
    """Team A's month as the report must publish it, from EXPECTED_A."""
    exact = EXPECTED_A.get(month, {})
    expected: dict[str, Any] = {
        "month": month,
        "cases": dict.fromkeys(("listen", "team", "decide", "try", "evaluated"), 0),
        "step_days": dict.fromkeys(("listen", "team", "decide", "try")),
        "pulse": {
            "status": exact.get("pulse_status", "none"),
            "score": exact.get("pulse_score"),
        },
    }
    for name in ("moments", "residents_noted", "dilemmas_brought", "dilemmas_discussed"):
        expected[name] = _published(exact.get(name, 0))
    for name in (
        "trials_started",
        "trials_kept",
        "trials_adjusted",
        "trials_dropped",
        "meetings_held",
        "meetings_with_minutes",
    ):
        expected[name] = exact.get(name, 0)
    for name in ("cases", "step_days"):
        expected[name].update(exact.get(name, {}))
    return expected


def _secrets(url: str) -> list[str]:
    """Every alias, member name and free text stored for the site."""
    engine = make_engine(url)
    with Session(engine) as session:
        words = list(session.exec(select(Resident.alias)).all())
        words += list(session.exec(select(Member.name)).all())
        words += [m.decision or "" for m in session.exec(select(MeetingMinutes)).all()]
    engine.dispose()
    return [
        *words,
        report_data.SECRET_NOTE,
        report_data.CASE_SUMMARY,
        report_data.TRIAL_ACTION,
        report_data.DILEMMA_TEXT,
    ]


def test_the_site_report_holds_every_figure_as_published_and_a_pdf_with_run_charts(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = run(
        capsys,
        "report",
        "--site",
        report_data.SITE,
        "--from",
        "2026-03",
        "--to",
        "2026-11",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert code == 0, result
    written = json.loads(Path(result["json"]).read_text(encoding="utf-8"))
    assert written == result["report"]
    assert Path(result["json"]).name == "stemme-pejlemaerker-solbakken-2026-03-2026-11.json"
    assert written["months"] == [f"2026-{number:02d}" for number in range(3, 12)]
    assert [team["team"] for team in written["teams"]] == [
        report_data.TEAM_A,
        report_data.TEAM_B,
    ]
    team_a, team_b = (team["months"] for team in written["teams"])
    for month in team_a:
        assert month == _expected_team_a(month["month"]), month["month"]
    # Small counts: April's 3 moments of 2 residents, March's 2 and 1 dilemmas, B's March.
    assert (team_a[1]["moments"], team_a[1]["residents_noted"]) == ("<5", "<5")
    assert (team_a[0]["dilemmas_brought"], team_a[0]["dilemmas_discussed"]) == ("<5", "<5")
    assert (team_b[0]["moments"], team_b[0]["residents_noted"]) == ("<5", "<5")
    assert team_b[3]["pulse"] == {"status": "shown", "score": report_data.B_JUNE_SCORE}

    total = {month["month"]: month for month in written["site_total"]}
    # March: A's 7 moments are shown, B's 2 are not added in, so neither can be worked out.
    assert total["2026-03"]["moments"] == {"shown": 7, "teams_under_5": 1}
    assert total["2026-03"]["residents_noted"] == {"shown": 6, "teams_under_5": 1}
    assert total["2026-04"]["moments"] == {"shown": 0, "teams_under_5": 1}
    assert total["2026-05"]["moments"] == {"shown": 0, "teams_under_5": 0}
    assert total["2026-03"]["cases"]["team"] == 2
    assert total["2026-03"]["step_days"]["listen"] == 6.0
    assert (total["2026-05"]["trials_started"], total["2026-05"]["trials_dropped"]) == (2, 1)
    assert total["2026-03"]["meetings_held"] == 2
    assert total["2026-06"]["pulse"] == {
        "status": "shown",
        "score": report_data.SITE_JUNE_SCORE,
        "teams_shown": 2,
    }
    assert total["2026-09"]["pulse"] == {
        "status": "below_threshold",
        "score": None,
        "teams_shown": 0,
    }

    secrets = _secrets(url)
    json_text = Path(result["json"]).read_text(encoding="utf-8")
    assert [word for word in secrets if word in json_text] == []

    reader = PdfReader(result["pdf"])
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Pejlemærker: Solbakken" in text
    assert "Periode: mar. 2026 til nov. 2026" in text
    assert "Forløbsdiagrammer for hele stedet" in text
    for title in DANISH_CHART_TITLES:
        assert title in text, title
    assert "Tal pr. måned: Hele stedet" in text
    assert f"Tal pr. måned: {report_data.TEAM_A}" in text
    assert f"Tal pr. måned: {report_data.TEAM_B}" in text
    assert "7 + <5" in text and "u.t." in text
    charts = [image for page in reader.pages for image in page.images]
    assert len(charts) == len(CHARTS)
    assert all(image.image is not None and image.image.width > 600 for image in charts)
    assert [word for word in secrets if word in text] == []

    with Session(make_engine(url)) as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "report.written")).one()
    assert entry.actor == "cli" and entry.detail["from"] == "2026-03"


def test_a_team_report_holds_that_team_only(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = run(
        capsys,
        "report",
        "--site",
        report_data.SITE,
        "--team",
        report_data.TEAM_A,
        "--from",
        "2026-03",
        "--to",
        "2026-06",
        "--json",
    )
    assert code == 0, result
    report = result["report"]
    assert report["team"] == report_data.TEAM_A and "site_total" not in report
    assert [team["team"] for team in report["teams"]] == [report_data.TEAM_A]
    assert Path(result["pdf"]).name == "stemme-pejlemaerker-solbakken-ahornen-2026-03-2026-06.pdf"
    assert Path(result["pdf"]).parent == tmp_path
    text = "\n".join(page.extract_text() for page in PdfReader(result["pdf"]).pages)
    assert f"Pejlemærker: Solbakken, {report_data.TEAM_A}" in text
    assert f"Forløbsdiagrammer for {report_data.TEAM_A}" in text
    assert "Hele stedet" not in text and report_data.TEAM_B not in text


def test_without_a_period_the_report_covers_the_last_twelve_months(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = run(capsys, "report", "--site", report_data.SITE, "--json")
    assert code == 0, result
    assert result["report"]["months"][0] == "2025-12"
    assert result["report"]["months"][-1] == "2026-11"
    assert len(result["report"]["months"]) == 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-13"], "2026-13 is not a month: write it as YYYY-MM, e.g. 2026-03."),
        (["--from", "2026-05", "--to", "2026-03"], "--from is after --to."),
        (["--from", "2020-01", "--to", "2026-01"], "A report covers at most 36 months."),
        (["--out", "/nonexistent/folder"], "The folder /nonexistent/folder does not exist."),
    ],
)
def test_a_bad_period_or_folder_is_explained(
    url: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, result = run(capsys, "report", "--site", report_data.SITE, *args)
    assert code == 1
    assert message in result


def test_a_team_of_another_site_or_an_unknown_site_is_explained(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(capsys, "site", "add", "Elmely")
    assert code == 0
    code, result = run(capsys, "report", "--site", "Elmely", "--team", report_data.TEAM_A)
    assert code == 1 and f"{report_data.TEAM_A} is not a team of Elmely." in result
    code, result = run(capsys, "report", "--site", "Ukendt")
    assert code == 1 and "There is no site Ukendt." in result


def test_months_are_named_in_danish_in_the_pdf() -> None:
    from zoneinfo import ZoneInfo

    from flows.core.i18n import texts
    from flows.programme.report import month_label

    assert month_label(texts("da", ZoneInfo("Europe/Copenhagen")), "2026-03") == "mar. 2026"
