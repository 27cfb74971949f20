"""Section 7: the pulse. Storing one member's answers rewrites all 49 count rows of the
pulse (docs/privacy.md, "Pulse"), so it is timed per answer, one transaction each as in
the bot, with members answering at once from several threads; and the chart's PNG is
timed, since it is drawn while the lead waits."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bench.stats import Spread, spread_ms
from flows.core.i18n import texts
from flows.safety.chart import render_chart
from storage import pulse as pulses
from storage.db import make_engine, require_id, session_scope, utcnow
from storage.models import Member, Membership, Role, Site, Team

TZ = ZoneInfo("Europe/Copenhagen")
# A press on the last statement is answered well within a tenth of a second.
ANSWER_TARGET_MS = 100.0
CHART_TARGET_MS = 500.0
# PostgreSQL: answers at once from several threads, as from several webhook workers.
# SQLite: one thread, as in the bot: one process whose steps run one after the other on
# one event loop. (Several threads writing one SQLite file wait in SQLite's busy handler,
# which sleeps in steps of up to 100 ms: a contention the bot never has.)
THREADS = 4


@dataclass(frozen=True)
class PulseResult:
    """Answer and chart times on one database."""

    database: str
    members: int
    threads: int
    answers: Spread
    chart: Spread
    first_chart_ms: float
    counted: int

    @property
    def met(self) -> bool:
        """Every answer counted, and both p99s under their targets."""
        return (
            self.counted == self.members
            and self.answers.p99 < ANSWER_TARGET_MS
            and self.chart.p99 < CHART_TARGET_MS
        )

    def as_dict(self) -> dict[str, Any]:
        """For ``results.json``."""
        return {
            "database": self.database,
            "members": self.members,
            "threads": self.threads,
            "answer_ms": self.answers.as_dict(),
            "chart_ms": self.chart.as_dict(),
            "first_chart_ms": round(self.first_chart_ms, 1),
            "counted": self.counted,
        }


def run_pulse(*, database_url: str, database: str, members: int, charts: int) -> PulseResult:
    """One team of ``members`` answers a pulse (from ``THREADS`` threads on PostgreSQL, one
    on SQLite); then the chart."""
    engine = make_engine(database_url)
    try:
        now = utcnow()
        with session_scope(engine) as session:
            site = Site(name=f"Bench pulse {time.monotonic_ns()}")
            session.add(site)
            session.flush()
            team = Team(site_id=require_id(site), name="Team Puls")
            session.add(team)
            session.flush()
            member_ids = []
            for number in range(members):
                member = Member(telegram_id=9_000_000_000 + number, name=f"M{number}")
                session.add(member)
                session.flush()
                role = Role.LEAD if number == 0 else Role.STAFF
                session.add(
                    Membership(member_id=require_id(member), team_id=require_id(team), role=role)
                )
                member_ids.append(require_id(member))
            session.flush()
            pulse = pulses.start_pulse(
                session=session,
                team_id=require_id(team),
                lead_member_id=member_ids[0],
                now=now,
                tz=TZ,
            )
            pulse_id = require_id(pulse)

        def answer(member_id: int) -> float:
            values = [(member_id + item) % 7 + 1 for item in range(7)]
            started = time.perf_counter()
            with session_scope(engine) as session:
                current = pulses.get_pulse(session=session, pulse_id=pulse_id)
                assert current is not None
                pulses.record_answers(
                    session=session,
                    pulse=current,
                    member_id=member_id,
                    values=values,
                    now=now,
                    tz=TZ,
                )
            return time.perf_counter() - started

        threads = threads_for(database)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            durations = list(pool.map(answer, member_ids))
        later = now + pulses.OPEN_FOR + timedelta(minutes=1)
        with Session(engine) as session:
            current = pulses.get_pulse(session=session, pulse_id=pulse_id)
            assert current is not None
            shown = pulses.result(session=session, pulse=current, now=later)
            counted = sum(pulses.tally(session=session, pulse_id=pulse_id).values()) // 7
        # The first chart of a process also loads matplotlib (flows/safety/chart.py imports it
        # lazily, to keep the bot's memory low): timed on its own.
        started = time.perf_counter()
        render_chart(
            texts=texts("da", TZ), team="Team Puls", history=shown.history, items=shown.items
        )
        first_chart = time.perf_counter() - started
        chart_times = []
        for _ in range(charts):
            started = time.perf_counter()
            render_chart(
                texts=texts("da", TZ), team="Team Puls", history=shown.history, items=shown.items
            )
            chart_times.append(time.perf_counter() - started)
        return PulseResult(
            database=database,
            members=members,
            threads=threads,
            answers=spread_ms(durations),
            chart=spread_ms(chart_times),
            first_chart_ms=first_chart * 1000,
            counted=counted,
        )
    finally:
        engine.dispose()


def threads_for(database: str) -> int:
    """How many threads answer at once on this database (see ``THREADS``)."""
    return 1 if database == "sqlite" else THREADS


def targets(results: list[PulseResult]) -> list[dict[str, Any]]:
    """The pulse targets per database, as in ``bench.report.targets``."""
    return [
        {
            "target": f"pulse answer p99 on {result.database} ({result.members} at once), ms",
            "value": round(result.answers.p99, 3),
            "goal": f"< {ANSWER_TARGET_MS:g}",
            "met": result.met,
        }
        for result in results
    ]


def render(results: list[PulseResult]) -> str:
    """The report's pulse section."""
    if not results:
        return ""
    lines = [
        f"7. Pulse: {results[0].members} members answer (each answer rewrites the pulse's 49"
        " count rows); the 800x600 chart (the first of a process timed apart)"
    ]
    for result in results:
        verdict = "met" if result.met else "MISSED"
        lines.append(
            f"   {result.database:<11} {result.threads} thread(s):"
            f" answer p50 {result.answers.p50:6.2f} ms"
            f"  p99 {result.answers.p99:6.2f} ms; chart p50 {result.chart.p50:6.1f} ms"
            f"  p99 {result.chart.p99:6.1f} ms (the first, loading matplotlib,"
            f" {result.first_chart_ms:.0f} ms); {result.counted} of {result.members} counted"
            f" (targets answer p99 < {ANSWER_TARGET_MS:g} ms, chart p99 <"
            f" {CHART_TARGET_MS:g} ms: {verdict})"
        )
    return "\n".join(lines) + "\n"
