"""``python -m bench``: runs every measurement once, prints the report, writes
``bench/results.json``. Progress goes to stderr; the report to stdout."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench import agenda as agenda_bench
from bench import dashboard as dashboard_bench
from bench import fanout, report
from bench import pulse as pulse_bench
from bench import scale as scale_bench
from bench.databases import (
    POSTGRES_URL_VARIABLE,
    migrated_postgres,
    migrated_sqlite,
    postgres_problem,
    postgres_server_url,
    shown_url,
)
from bench.memory import run_memory
from bench.queries import run_queries
from bench.seed import Directory, bulk_notes, seed_bulk, seed_with_storage
from bench.throughput import FlowUnavailable, run_flow
from storage.db import make_engine

logger = logging.getLogger("bench")

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"
SECTIONS = ("flow", "memory", "queries", "fanout", "agenda", "pulse", "scale", "dashboard")
MEMBERS_PER_TEAM = 10
RESIDENTS_PER_TEAM = 12
BACKGROUND_NOTES_PER_TEAM = 100
MEMORY_MEMBERS_PER_TEAM = 20
MEMORY_RESIDENTS_PER_TEAM = 10
QUERY_RESIDENTS_PER_TEAM = 10
QUERY_AUTHORS_PER_TEAM = 4
PULSE_MEMBERS = 40


@dataclass(frozen=True)
class Options:
    """What to run, and how big."""

    members: int
    rounds: int
    warmup: int
    flow_runs: int
    alone_rounds: int
    memory_members: int
    memory_concurrency: int
    notes: int
    teams: int
    query_calls: int
    reminders: int
    postgres_url: str | None
    sections: tuple[str, ...]
    output: Path
    seed: int
    quick: bool

    def as_dict(self) -> dict[str, Any]:
        """For ``results.json`` (the PostgreSQL URL without its password)."""
        return {
            "members": self.members,
            "rounds_per_member": self.rounds,
            "warmup_members": self.warmup,
            "stemme_runs_per_database": self.flow_runs,
            "notes_one_at_a_time": self.alone_rounds,
            "memory_members": self.memory_members,
            "memory_updates": self.memory_members * 2,
            "memory_concurrency": self.memory_concurrency,
            "notes": self.notes,
            "teams": self.teams,
            "query_calls": self.query_calls,
            "reminders": self.reminders,
            "postgres": shown_url(self.postgres_url) if self.postgres_url else None,
            "sections": list(self.sections),
            "seed": self.seed,
            "quick": self.quick,
        }


def parse_args(argv: list[str] | None) -> Options:
    """Reads the command line; ``--quick`` changes the defaults, explicit flags win."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Throughput, latency, memory and query times of stemme, end to end.",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run with small numbers")
    parser.add_argument(
        "--members", type=int, help="members running the note flow at once (100; quick 20)"
    )
    parser.add_argument("--rounds", type=int, help="notes per member (4; quick 1)")
    parser.add_argument(
        "--warmup", type=int, help="members who save one note before measuring (10; quick 3)"
    )
    parser.add_argument(
        "--flow-runs",
        type=int,
        help="measured runs of stemme per database, each followed by one of the echo bot"
        " (3; quick 1)",
    )
    parser.add_argument(
        "--alone",
        type=int,
        help="notes then saved one after the other, by each member in turn (200; quick 20)",
    )
    parser.add_argument(
        "--memory-members",
        type=int,
        help="members for the memory test, two updates each (5000; quick 500)",
    )
    parser.add_argument(
        "--memory-concurrency",
        type=int,
        default=200,
        help="members waiting for an answer at the same time in the memory test (200)",
    )
    parser.add_argument("--notes", type=int, help="notes for the query test (200000; quick 20000)")
    parser.add_argument("--teams", type=int, help="teams for the query test (500; quick 50)")
    parser.add_argument(
        "--query-calls", type=int, help="timed calls per query and database (500; quick 50)"
    )
    parser.add_argument("--reminders", type=int, help="reminders in the fan-out (600; quick 120)")
    parser.add_argument(
        "--postgres-url",
        default=postgres_server_url(),
        help=f"PostgreSQL server (${POSTGRES_URL_VARIABLE}, else %(default)s)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--only", choices=SECTIONS, action="append", help="run only these sections (repeatable)"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON file")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    args = parser.parse_args(argv)
    quick = bool(args.quick)

    def pick(value: int | None, normal: int, small: int) -> int:
        chosen = value if value is not None else (small if quick else normal)
        if chosen < 1:
            parser.error("sizes must be at least 1")
        return chosen

    return Options(
        members=pick(args.members, 100, 20),
        rounds=pick(args.rounds, 4, 1),
        warmup=pick(args.warmup, 10, 3),
        flow_runs=pick(args.flow_runs, 3, 1),
        alone_rounds=pick(args.alone, 200, 20),
        memory_members=pick(args.memory_members, 5000, 500),
        memory_concurrency=pick(args.memory_concurrency, 200, 200),
        notes=pick(args.notes, 200_000, 20_000),
        teams=pick(args.teams, 500, 50),
        query_calls=pick(args.query_calls, 500, 50),
        reminders=pick(args.reminders, 600, 120),
        postgres_url=None if args.no_postgres else args.postgres_url,
        sections=tuple(args.only or SECTIONS),
        output=args.output,
        seed=args.seed,
        quick=quick,
    )


def _flow_directory(database_url: str, options: Options) -> Directory:
    teams = math.ceil(options.members / MEMBERS_PER_TEAM)
    engine = make_engine(database_url)
    try:
        directory = seed_with_storage(
            engine,
            teams=teams,
            members_per_team=MEMBERS_PER_TEAM,
            residents_per_team=RESIDENTS_PER_TEAM,
            first_telegram_id=7_000_000_000,
        )
        # Earlier notes, so "residents this member noted recently" has something to find.
        bulk_notes(
            engine,
            directory,
            per_team=BACKGROUND_NOTES_PER_TEAM,
            rng=random.Random(options.seed),
            days=30,
        )
    finally:
        engine.dispose()
    return directory.first_members(options.members)


# Update ids set aside for each run of the flow section: far more than a run sends
# (members x rounds x 5, plus the warm-up and the one-at-a-time rounds).
UPDATE_IDS_PER_RUN = 10_000_000


async def _flows(options: Options, results: report.Results, work: Path) -> None:
    """The echo bot runs before the first stemme run and after each one, the same
    workload every time; the ratio is the median of stemme's runs on a database over the
    median of the echo bot's, so one noisy run cannot decide it. The first run of each
    bot and database also measures one update at a time."""
    databases: list[tuple[str, Any]] = [("sqlite", migrated_sqlite(work, "flow.db"))]
    if options.postgres_url:
        databases.append(("postgresql", migrated_postgres(options.postgres_url)))

    async def flow(bot_name: str, database: str, url: str, directory: Directory) -> None:
        runs = sum(
            1 for flow in results.flows if (flow.bot, flow.database) == (bot_name, database)
        )
        logger.info(
            "%s on %s: %s members x %s rounds",
            bot_name,
            database,
            options.members,
            options.rounds,
        )
        results.flows.append(
            await run_flow(
                bot_name=bot_name,
                database=database,
                database_url=url,
                directory=directory,
                rounds=options.rounds,
                warmup_members=options.warmup,
                alone_rounds=options.alone_rounds if runs == 0 else 0,
                log_path=work / f"{bot_name}-{database}-{runs + 1}.log",
                seed=options.seed,
                first_update_id=100_001 + UPDATE_IDS_PER_RUN * len(results.flows),
            )
        )

    for index, (database, context) in enumerate(databases):
        with context as url:
            logger.info("Seeding %s members on %s", options.members, database)
            directory = _flow_directory(url, options)
            if index == 0:
                await flow("echo", "-", url, directory)
            for _run in range(options.flow_runs):
                try:
                    await flow("stemme", database, url, directory)
                except FlowUnavailable as error:
                    results.skipped.append(f"note flow on {database}: not available ({error})")
                    break
                await flow("echo", "-", url, directory)


async def _memory(options: Options, results: report.Results, work: Path) -> None:
    with migrated_sqlite(work, "memory.db") as url:
        teams = math.ceil(options.memory_members / MEMORY_MEMBERS_PER_TEAM)
        logger.info(
            "Seeding %s members in %s teams for the memory test", options.memory_members, teams
        )
        engine = make_engine(url)
        try:
            directory = seed_bulk(
                engine,
                teams=teams,
                members_per_team=MEMORY_MEMBERS_PER_TEAM,
                residents_per_team=MEMORY_RESIDENTS_PER_TEAM,
                first_telegram_id=8_000_000_000,
            )
        finally:
            engine.dispose()
        directory = directory.first_members(options.memory_members)
        logger.info("Memory: python -m bot run, %s updates", 2 * options.memory_members)
        results.memory = await run_memory(
            database_url=url,
            directory=directory,
            concurrency=options.memory_concurrency,
            log_path=work / "memory.log",
            seed=options.seed,
        )


def _queries(options: Options, results: report.Results, work: Path) -> None:
    databases: list[tuple[str, Any]] = [("sqlite", migrated_sqlite(work, "queries.db"))]
    if options.postgres_url:
        databases.append(("postgresql", migrated_postgres(options.postgres_url)))
    for database, context in databases:
        with context as url:
            logger.info("Queries on %s: loading %s notes", database, options.notes)
            results.queries.append(
                run_queries(
                    database_url=url,
                    database=database,
                    teams=options.teams,
                    notes=options.notes,
                    residents_per_team=QUERY_RESIDENTS_PER_TEAM,
                    authors_per_team=QUERY_AUTHORS_PER_TEAM,
                    calls=options.query_calls,
                    seed=options.seed,
                )
            )


async def _fanout(options: Options, results: list[fanout.FanoutResult], work: Path) -> None:
    """The fan-out on SQLite, and on PostgreSQL when there is one (section 5)."""
    databases: list[tuple[str, Any]] = [("sqlite", migrated_sqlite(work, "fanout.db"))]
    if options.postgres_url:
        databases.append(("postgresql", migrated_postgres(options.postgres_url)))
    for database, context in databases:
        with context as url:
            logger.info("Fan-out on %s: %s reminders", database, options.reminders)
            results.append(
                await fanout.run_fanout(
                    database_url=url, database=database, reminders=options.reminders
                )
            )


def _agenda(options: Options, results: list[agenda_bench.AgendaResult], work: Path) -> None:
    """One team's meeting agenda with many notes, on SQLite and PostgreSQL (section 6)."""
    databases: list[tuple[str, Any]] = [("sqlite", migrated_sqlite(work, "agenda.db"))]
    if options.postgres_url:
        databases.append(("postgresql", migrated_postgres(options.postgres_url)))
    for database, context in databases:
        with context as url:
            logger.info("Agenda on %s: loading %s notes", database, options.notes)
            results.append(
                agenda_bench.run_agenda(
                    database_url=url,
                    database=database,
                    teams=options.teams,
                    notes=options.notes,
                    calls=options.query_calls,
                    seed=options.seed,
                )
            )


def _pulse(options: Options, results: list[pulse_bench.PulseResult], work: Path) -> None:
    """A team answering a pulse at once, and the chart, on SQLite and PostgreSQL (section 7)."""
    databases: list[tuple[str, Any]] = [("sqlite", migrated_sqlite(work, "pulse.db"))]
    if options.postgres_url:
        databases.append(("postgresql", migrated_postgres(options.postgres_url)))
    for database, context in databases:
        with context as url:
            logger.info("Pulse on %s", database)
            results.append(
                pulse_bench.run_pulse(
                    database_url=url, database=database, members=PULSE_MEMBERS, charts=10
                )
            )


def _dashboard(
    options: Options, results: list[dashboard_bench.DashboardResult], work: Path
) -> None:
    """The dashboard's API with many notes, on SQLite and PostgreSQL (section 9)."""
    databases: list[tuple[str, Any]] = [("sqlite", migrated_sqlite(work, "dashboard.db"))]
    if options.postgres_url:
        databases.append(("postgresql", migrated_postgres(options.postgres_url)))
    for database, context in databases:
        with context as url:
            logger.info("Dashboard on %s: loading %s notes", database, options.notes)
            results.append(
                dashboard_bench.run_dashboard(
                    database_url=url,
                    database=database,
                    teams=options.teams,
                    notes=options.notes,
                    # Ten views and the overview: a fifth of the query calls each.
                    calls=max(options.query_calls // 5, 20),
                    seed=options.seed,
                )
            )


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; exit code 0 when it ran (targets missed or not), 1 on errors."""
    logging.basicConfig(level=logging.WARNING, format="bench: %(message)s", stream=sys.stderr)
    logger.setLevel(logging.INFO)
    options = parse_args(argv)
    results = report.Results(parameters=options.as_dict())
    if options.postgres_url:
        problem = postgres_problem(options.postgres_url)
        if problem:
            results.skipped.append(
                f"PostgreSQL not reachable at {shown_url(options.postgres_url)} ({problem}); "
                f"set {POSTGRES_URL_VARIABLE} to measure it"
            )
            options = replace(options, postgres_url=None)
    work = Path(tempfile.mkdtemp(prefix="stemme-bench-"))
    fanouts: list[fanout.FanoutResult] = []
    agendas: list[agenda_bench.AgendaResult] = []
    pulse_results: list[pulse_bench.PulseResult] = []
    dashboards: list[dashboard_bench.DashboardResult] = []
    scale_result: scale_bench.ScaleResult | None = None
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    failed = False
    try:
        if "flow" in options.sections:
            asyncio.run(_flows(options, results, work))
        if "memory" in options.sections:
            asyncio.run(_memory(options, results, work))
        if "queries" in options.sections:
            _queries(options, results, work)
        if "fanout" in options.sections:
            asyncio.run(_fanout(options, fanouts, work))
        if "agenda" in options.sections:
            _agenda(options, agendas, work)
        if "pulse" in options.sections:
            _pulse(options, pulse_results, work)
        if "dashboard" in options.sections:
            _dashboard(options, dashboards, work)
        if "scale" in options.sections:
            # Section 8: webhook workers; PostgreSQL only (SQLite has one writer).
            if options.postgres_url:
                scale_result = asyncio.run(
                    scale_bench.run_scale(
                        postgres_url=options.postgres_url,
                        options=scale_bench.ScaleOptions.quick()
                        if options.quick
                        else scale_bench.ScaleOptions(),
                        work=work,
                        seed=options.seed,
                        migrated=migrated_postgres,
                    )
                )
            else:
                results.skipped.append("webhook workers (section 8): needs PostgreSQL")
    except Exception:
        logger.exception("The benchmark failed; bot logs are kept in %s", work)
        failed = True
    results.seconds = time.monotonic() - started
    results.load = [load_before, os.getloadavg()[0]]
    failed = failed or any(flow.failures for flow in results.flows)
    failed = failed or any(result.lost for result in fanouts)
    failed = failed or any(result.counted != result.members for result in pulse_results)
    failed = failed or (scale_result is not None and scale_result.failed)
    if results.memory is not None and results.memory.failures:
        failed = True
    rendered = report.render(results)
    if fanouts or agendas or pulse_results or scale_result or dashboards:
        # Sections 5 and 6 go after the others, before the closing "skipped:" and "total".
        lines = rendered.splitlines(keepends=True)
        end = next(i for i, line in enumerate(lines) if line.startswith(("skipped: ", "total ")))
        added = [
            fanout.render(fanouts),
            agenda_bench.render(agendas),
            pulse_bench.render(pulse_results),
            scale_bench.render(scale_result),
            dashboard_bench.render(dashboards),
        ]
        rendered = "".join([*lines[:end], *added, *lines[end:]])
    sys.stdout.write(rendered)
    written = report.as_json(results)
    written["fanout"] = [result.as_dict() for result in fanouts]
    written["targets"] += fanout.targets(fanouts)
    written["agenda"] = [result.as_dict() for result in agendas]
    written["targets"] += agenda_bench.targets(agendas)
    written["pulse"] = [result.as_dict() for result in pulse_results]
    written["targets"] += pulse_bench.targets(pulse_results)
    written["dashboard"] = [result.as_dict() for result in dashboards]
    written["targets"] += dashboard_bench.targets(dashboards)
    written["scale"] = scale_result.as_dict() if scale_result else None
    written["targets"] += scale_bench.targets(scale_result)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(written, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.write(f"written: {options.output}\n")
    if failed:
        sys.stdout.write(f"bot logs kept in {work}\n")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
