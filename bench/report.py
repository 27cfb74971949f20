"""The printed report and ``results.json``: the figures, the targets, and what was skipped."""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench.memory import MemoryResult
from bench.queries import QueryResult
from bench.stats import Spread
from bench.throughput import FlowResult

RATIO_TARGET = 0.5
P99_TARGET_MS = 15.0
MEMORY_TARGET_MB = 150.0
QUERY_TARGET_MS = 20.0
# Above this 1-minute load average (besides the benchmark itself) the report warns.
BUSY_LOAD = 0.5


@dataclass
class Results:
    """Everything one run measured, filled in section by section."""

    parameters: dict[str, Any]
    flows: list[FlowResult] = field(default_factory=list)
    memory: MemoryResult | None = None
    queries: list[QueryResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # 1-minute load average before and after the run: other work on the machine skews it all.
    load: list[float] = field(default_factory=list)

    def runs(self, bot: str, database: str) -> list[FlowResult]:
        """The flow results for that bot and database (the echo bot's: ``"-"``), in order."""
        return [flow for flow in self.flows if (flow.bot, flow.database) == (bot, database)]

    def flow(self, bot: str, database: str) -> FlowResult | None:
        """The first flow result for that bot and database (the one that also measured one
        update at a time), if it ran."""
        runs = self.runs(bot, database)
        return runs[0] if runs else None

    def per_second(self, bot: str, database: str) -> float | None:
        """The median updates per second of that bot's runs on that database."""
        rates = [flow.per_second for flow in self.runs(bot, database)]
        return statistics.median(rates) if rates else None

    def echo_per_second(self) -> float | None:
        """The median updates per second of the echo bot's runs."""
        return self.per_second("echo", "-")

    def label(self, flow: FlowResult) -> str:
        """ "echo bot #2" or "stemme, sqlite #1"."""
        runs = self.runs(flow.bot, flow.database)
        if flow.bot == "echo":
            return f"echo bot #{runs.index(flow) + 1}"
        return f"stemme, {flow.database} #{runs.index(flow) + 1}"


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def machine() -> dict[str, Any]:
    """Where the figures come from."""
    return {
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python-telegram-bot": _package("python-telegram-bot"),
        "sqlalchemy": _package("SQLAlchemy"),
    }


def _ratio(results: Results, database: str) -> float | None:
    stemme, echo = results.per_second("stemme", database), results.echo_per_second()
    if stemme is None or not echo:
        return None
    return stemme / echo


def _mb(kib: int) -> float:
    return kib * 1024 / 1e6


def targets(results: Results) -> list[dict[str, Any]]:
    """Each target of issue 3 item 8 with the measured value and whether it was met."""
    checks: list[dict[str, Any]] = []

    def check(name: str, value: float | None, goal: str, met: bool) -> None:
        if value is not None and not math.isnan(value):
            checks.append({"target": name, "value": round(value, 3), "goal": goal, "met": met})

    # The ratio's target is the embedded default's, as the p99's is (issue 3 item 8);
    # PostgreSQL's ratio is reported beside it ("ratios").
    ratio = _ratio(results, "sqlite")
    if ratio is not None:
        check(
            "updates/s stemme (sqlite) / echo bot (medians of their runs)",
            ratio,
            f">= {RATIO_TARGET}",
            ratio >= RATIO_TARGET,
        )
    sqlite = results.flow("stemme", "sqlite")
    if sqlite is not None:
        p99 = sqlite.alone.process_update.p99
        check(
            "process_update p99 on SQLite, one update at a time, ms",
            p99,
            f"< {P99_TARGET_MS}",
            p99 < P99_TARGET_MS,
        )
    if results.memory is not None:
        peak = _mb(results.memory.end_kib.get("VmHWM", 0))
        check(
            f"peak memory (VmHWM) after {results.memory.updates} updates, MB",
            peak,
            f"< {MEMORY_TARGET_MB}",
            peak < MEMORY_TARGET_MB,
        )
    for query in results.queries:
        for name in ("card", "moments"):
            p99 = query.spreads[name].p99
            check(
                f"{name} query p99 on {query.database}, ms",
                p99,
                f"< {QUERY_TARGET_MS}",
                p99 < QUERY_TARGET_MS,
            )
    return checks


def as_json(results: Results) -> dict[str, Any]:
    """The content of ``results.json``."""
    return {
        "machine": machine(),
        "parameters": results.parameters,
        "seconds": round(results.seconds, 1),
        "load_average_1min_before_after": [round(value, 2) for value in results.load],
        "throughput": [flow.as_dict() for flow in results.flows],
        "echo_updates_per_second_median": (
            round(echo, 1) if (echo := results.echo_per_second()) else None
        ),
        "stemme_updates_per_second_median": {
            database: round(rate, 1)
            for database in ("sqlite", "postgresql")
            if (rate := results.per_second("stemme", database)) is not None
        },
        "ratios": {
            database: round(ratio, 3)
            for database in ("sqlite", "postgresql")
            if (ratio := _ratio(results, database)) is not None
        },
        "memory": results.memory.as_dict() if results.memory else None,
        "queries": [query.as_dict() for query in results.queries],
        "targets": targets(results),
        "skipped": results.skipped,
    }


def _ms(spread: Spread) -> str:
    return (
        f"p50 {spread.p50:6.2f}  p90 {spread.p90:6.2f}  "
        f"p99 {spread.p99:6.2f}  max {spread.max:7.2f}"
    )


def render(results: Results) -> str:
    """The report for people."""
    info = machine()
    params = results.parameters
    lines = [
        "stemme benchmark"
        + ("  (--quick: smoke run, not the target conditions)" if params.get("quick") else ""),
        f"machine: {info['cpu_cores']} CPU cores ({info['cpu_cores_usable']} usable), "
        f"{info['cpu_model']}; Python {info['python']}, "
        f"python-telegram-bot {info['python-telegram-bot']}",
        "bot in its own process, Bot API emulator and members in this one, HTTP on loopback",
    ]
    if results.load:
        shown = " / ".join(f"{value:.2f}" for value in results.load)
        busy = results.load[0] > BUSY_LOAD
        lines.append(
            f"load average (1 min) before / after (after includes the benchmark): {shown}"
            + ("\n  ! the machine was busy before the start: figures are noisy" if busy else "")
        )
    lines.append("")
    if results.flows:
        first = results.flows[0]
        lines += [
            f"1. Updates per second ({info['cpu_cores']} CPU cores): {first.members} members"
            f" at once, {first.rounds} round(s) each of 5 updates",
            "   note flow: /note, resident button, text, marker button, save;"
            " echo: the same 2 messages and 3 presses",
            f"   {'bot':<23}{'updates':>8}{'seconds':>9}{'upd/s':>8}{'calls/upd':>10}"
            f"{'bot CPU':>9}{'ms/upd':>8}{'driver CPU':>11}",
        ]
        for flow in results.flows:
            name = results.label(flow)
            lines.append(
                f"   {name:<23}{flow.updates:>8}{flow.seconds:>9.2f}{flow.per_second:>8.1f}"
                f"{flow.api_calls / max(flow.updates, 1):>10.2f}"
                f"{flow.bot_cpu_share:>8.0%} "
                f"{flow.bot_cpu_seconds * 1000 / max(flow.updates, 1):>7.2f}"
                f"{flow.driver_cpu_share:>11.0%}"
            )
            if flow.failures:
                lines.append(f"     ! {len(flow.failures)} member(s) failed: {flow.failures[0]}")
            if flow.notes_expected is not None and flow.notes_saved != flow.notes_expected:
                lines.append(
                    f"     ! notes saved {flow.notes_saved}, expected {flow.notes_expected}"
                )
            if flow.unconfirmed:
                lines.append(f"     ! {flow.unconfirmed} save(s) without a '#<id>' confirmation")
        echo = results.echo_per_second()
        if echo is not None:
            lines.append(f"   echo bot, median of its runs: {echo:.1f} updates/s")
        for database in ("sqlite", "postgresql"):
            ratio = _ratio(results, database)
            stemme = results.per_second("stemme", database)
            if ratio is not None and stemme is not None:
                verdict = "reported"  # the target is the embedded default's (see targets)
                if database == "sqlite":
                    outcome = "met" if ratio >= RATIO_TARGET else "MISSED"
                    verdict = f"target >= {RATIO_TARGET}: {outcome}"
                lines.append(
                    f"   stemme ({database}), median of its runs: {stemme:.1f} updates/s;"
                    f" ratio to the echo bot: {ratio:.2f}  ({verdict})"
                )
        lines += [
            "   (bot CPU: share of one core during the measured phase, and CPU ms per update;"
            " driver: this",
            "    process, emulator and members. The echo bot handles one update at a time,"
            " python-telegram-bot's",
            "    default; stemme up to 8 members' updates at once, each member's in order."
            " On PostgreSQL each",
            "    statement is a round trip to the server during which the bot's event loop"
            " waits: one process",
            "    does less there, and webhook workers scale it out, see section 8 and"
            " docs/scaling.md.)",
            "",
            f"2. process_update per update inside the application, ms"
            f" ({info['cpu_cores']} CPU cores):",
            f"   one update at a time: {first.alone.rounds} rounds one after the other, by"
            " each member in turn, with the same bot after its first run in section 1",
        ]
        for flow in results.flows:
            if not flow.alone.updates:
                continue
            name = results.label(flow)
            verdict = ""
            spread = flow.alone.process_update
            if flow.bot == "stemme" and flow.database == "sqlite":
                met = spread.p99 < P99_TARGET_MS
                verdict = f"  (target p99 < {P99_TARGET_MS:g}: {'met' if met else 'MISSED'})"
            lines.append(f"   {name:<22} {_ms(spread)}{verdict}")
            if flow.alone.failures:
                lines.append(
                    f"     ! {len(flow.alone.failures)} member(s) failed: {flow.alone.failures[0]}"
                )
            if flow.bot == "stemme":
                for step, spread in flow.alone.by_step.items():
                    lines.append(f"     {step:<18} {_ms(spread)}")
        lines += [
            "   under the full load of section 1 (for stemme, the others' turns on the CPU"
            " included):",
        ]
        for flow in results.flows:
            lines.append(f"   {results.label(flow):<22} {_ms(flow.process_update)}")
        lines.append("")
    if results.memory is not None:
        memory = results.memory
        start, end = memory.start_kib, memory.end_kib
        peak = _mb(end.get("VmHWM", 0))
        verdict = "met" if peak < MEMORY_TARGET_MB else "MISSED"
        lines += [
            f"3. Memory of `python -m bot run` on SQLite ({info['cpu_cores']} CPU cores):"
            f" {memory.updates} updates from "
            f"{memory.members} members in {memory.teams} teams",
            "   (each member: /note, then one of the resident buttons;"
            f" at most {memory.concurrency} members waiting for an answer at once)",
            f"   after start: VmHWM {_mb(start.get('VmHWM', 0)):.1f} MB;"
            f" after the updates: VmHWM {peak:.1f} MB, VmRSS {_mb(end.get('VmRSS', 0)):.1f} MB"
            f"  (target < {MEMORY_TARGET_MB:g} MB: {verdict})",
            f"   answered {memory.answered} of {memory.updates} updates in {memory.seconds:.1f} s",
        ]
        if memory.failures:
            lines.append(f"   ! {len(memory.failures)} member(s) failed: {memory.failures[0]}")
        lines.append("")
    if results.queries:
        first_query = results.queries[0]
        lines.append(
            f"4. Queries ({info['cpu_cores']} CPU cores) with {first_query.notes:,} notes"
            f" ({first_query.markers:,} markers) across {first_query.teams} teams,"
            f" {first_query.residents:,} residents;\n   ms per call, fresh session each"
            f" (target < {QUERY_TARGET_MS:g} ms)"
        )
        for query in results.queries:
            lines.append(f"   {query.database} (loaded in {query.load_seconds:.1f} s)")
            for name, spread in query.spreads.items():
                verdict = ""
                if name in ("card", "moments"):
                    verdict = "  met" if spread.p99 < QUERY_TARGET_MS else "  MISSED"
                lines.append(f"     {name:<18} {_ms(spread)}{verdict}")
            if query.problems:
                for key, problem in query.problems.items():
                    lines.append(f"     ! plan of {key}: {'; '.join(problem)}")
            else:
                lines.append("     every query uses an index (no full scan of note/note_marker)")
        lines += [
            "     card = resident_card; moments = recent_notes (a page of 5) + markers_of;",
            "     moments_resident = the same for one resident;"
            " picker = recently_noted_resident_ids",
            "",
        ]
    for note in results.skipped:
        lines.append(f"skipped: {note}")
    lines.append(f"total {results.seconds:.0f} s")
    return "\n".join(lines) + "\n"
