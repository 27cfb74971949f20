"""``stemme report``: the indicators over time (pejlemærker) of a site or one team, as a
JSON file and a Danish PDF with run charts, for the consultant and the steering group.
The figures are ``storage.indicators``'; what may be shown, and the PDF, are
``flows.programme.report``'s. Each report is recorded in the audit log as ``cli``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.cli_common import (
    EXIT_OK,
    CommandFailed,
    Context,
    command_session,
    site_named,
    slug,
    team_named,
)
from flows.core.i18n import Texts, texts
from flows.programme.report import ReportError, build_report, report_pdf
from storage import audit
from storage.db import require_id, utcnow
from storage.indicators import MAX_MONTHS, Month

ACTOR = "cli"
# Without --from, the report covers this many months up to --to (or this month).
DEFAULT_MONTHS = 12


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    as_json: argparse.ArgumentParser,
    t: Texts,
) -> None:
    """Adds ``report`` to the ``stemme`` parser."""
    report = commands.add_parser(
        "report",
        parents=[as_json],
        help=t._("Write the indicators over time as JSON and as a PDF with run charts."),
    )
    report.add_argument("--site", required=True, help=t._("The site's id or name."))
    report.add_argument(
        "--team", help=t._("Only this team (its id, name, or Site/Team); default: every team.")
    )
    report.add_argument(
        "--from",
        dest="first",
        metavar="MONTH",
        help=t._("The first month, YYYY-MM (default: 11 months before --to)."),
    )
    report.add_argument(
        "--to", dest="last", metavar="MONTH", help=t._("The last month, YYYY-MM (default: now).")
    )
    report.add_argument(
        "--out", default=".", help=t._("The folder for the JSON and PDF files (default: here).")
    )
    report.set_defaults(handler=cmd_report)


def _month(context: Context, text: str) -> Month:
    try:
        return Month.parse(text)
    except ValueError as error:
        raise CommandFailed(
            context.t._("{month} is not a month: write it as YYYY-MM, e.g. 2026-03.").format(
                month=text
            )
        ) from error


def _period(context: Context, args: argparse.Namespace) -> tuple[Month, Month]:
    tz = context.settings.tz
    last = _month(context, args.last) if args.last else Month.of(utcnow(), tz)
    if args.first:
        first = _month(context, args.first)
    else:
        first = last
        for _step in range(DEFAULT_MONTHS - 1):
            first = (
                Month(first.year - 1, 12)
                if first.month == 1
                else Month(first.year, first.month - 1)
            )
    if last < first:
        raise CommandFailed(context.t._("--from is after --to."))
    if first.months_until(last) > MAX_MONTHS:
        raise CommandFailed(
            context.t._("A report covers at most {count} months.").format(count=MAX_MONTHS)
        )
    return first, last


def cmd_report(args: argparse.Namespace, context: Context) -> int:
    """Writes the report's JSON and PDF into --out."""
    t = context.t
    out = Path(args.out).resolve()
    if not out.is_dir():
        raise CommandFailed(t._("The folder {folder} does not exist.").format(folder=out))
    first, last = _period(context, args)
    with command_session(context) as session:
        site = site_named(context, session, args.site)
        team = team_named(context, session, args.team) if args.team else None
        try:
            report = build_report(
                session=session,
                site=site,
                team=team,
                first=first,
                last=last,
                tz=context.settings.tz,
                now=utcnow(),
            )
        except ReportError as error:
            if error.code == "team_not_at_site" and team is not None:
                message = t._("{team} is not a team of {site}.").format(
                    team=team.name, site=site.name
                )
            else:  # the period, already checked by _period
                message = t._("A report covers at most {count} months.").format(count=MAX_MONTHS)
            raise CommandFailed(message) from error
        audit.record(
            session=session,
            actor=ACTOR,
            action="report.written",
            team_id=None if team is None else require_id(team),
            detail={"site_id": require_id(site), "from": str(first), "to": str(last)},
        )
    parts = ["stemme-pejlemaerker", slug(site.name, "sted")]
    if team is not None:
        parts.append(slug(team.name, "team"))
    stem = "-".join([*parts, str(first), str(last)])
    json_path = out / f"{stem}.json"
    pdf_path = out / f"{stem}.pdf"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    pdf_path.write_bytes(report_pdf(report, texts("da", context.settings.tz)))
    context.emit({"json": str(json_path), "pdf": str(pdf_path), "report": report})
    context.say(
        t.ngettext(
            "Written: {json} and {pdf} ({count} team, {first} to {last}).",
            "Written: {json} and {pdf} ({count} teams, {first} to {last}).",
            len(report["teams"]),
        ).format(json=json_path, pdf=pdf_path, count=len(report["teams"]), first=first, last=last)
    )
    return EXIT_OK
