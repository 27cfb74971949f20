"""Section 9: the dashboard's API (issue 16's target: p99 < 50 ms per view with the
200,000-note data set).

Loads ``notes`` notes across ``teams`` teams as the query and agenda sections do (spread
over a year, about 5 % taken to the team), gives every team a lead and a weekly meeting
with an agenda (``bench.agenda._meetings``), then times each view's request end to end
through ``webapp.api.Dashboard.handle``: the initData's signature checked, the viewer
looked up, the view built from the storage functions and written as JSON, each call in a
fresh session as in the server. Team views are asked by the lead of a random team; the
consultant's overview, which counts across every team, by an administrator.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text, update
from sqlmodel import col

from bench.agenda import AUTHORS_PER_TEAM, RESIDENTS_PER_TEAM, _meetings
from bench.seed import Directory, SeededTeam, bulk_notes, seed_bulk
from bench.stats import Spread, spread_ms
from bot import memory
from flows.core.i18n import texts
from storage.db import make_engine, utcnow
from storage.models import Marker, Membership, Role
from webapp.api import Dashboard
from webapp.initdata import sign

TARGET_MS = 50.0
TZ = ZoneInfo("Europe/Copenhagen")
TOKEN = "900000:bench-dashboard"
ADMIN_ID = 9_800_000_001
FIRST_TELEGRAM_ID = 9_700_000_000

# view name -> the path and query for one team (team, a resident of it, rng).
Request = Callable[[SeededTeam, random.Random], tuple[str, dict[str, str]]]
VIEWS: dict[str, Request] = {
    "me": lambda team, rng: ("/app/api/me", {}),
    "residents": lambda team, rng: ("/app/api/residents", {}),
    "resident card": lambda team, rng: (
        f"/app/api/residents/{rng.choice(team.resident_ids)}",
        {},
    ),
    "board": lambda team, rng: ("/app/api/board", {}),
    "trials": lambda team, rng: ("/app/api/trials", {}),
    "moments": lambda team, rng: ("/app/api/moments", {}),
    "moments by resident": lambda team, rng: (
        "/app/api/moments",
        {"resident": str(rng.choice(team.resident_ids))},
    ),
    "moments by marker": lambda team, rng: (
        "/app/api/moments",
        {"marker": rng.choice([m.value for m in Marker])},
    ),
    "pulse": lambda team, rng: ("/app/api/pulse", {}),
    "meetings": lambda team, rng: ("/app/api/meetings", {}),
}


@dataclass(frozen=True)
class DashboardResult:
    """Request times per view on one database."""

    database: str
    teams: int
    notes: int
    load_seconds: float
    spreads: dict[str, Spread]

    @property
    def met(self) -> bool:
        """Every view's p99 under the target."""
        return all(spread.p99 < TARGET_MS for spread in self.spreads.values())

    def as_dict(self) -> dict[str, Any]:
        """For ``results.json``."""
        return {
            "database": self.database,
            "teams": self.teams,
            "notes": self.notes,
            "load_seconds": round(self.load_seconds, 1),
            "ms": {name: spread.as_dict() for name, spread in self.spreads.items()},
            "target_p99_ms": TARGET_MS,
        }


def _leads(engine: Any, directory: Directory) -> None:
    """The first member of every team leads it."""
    with engine.begin() as connection:
        connection.execute(
            update(Membership)
            .where(col(Membership.member_id).in_([team.member_ids[0] for team in directory.teams]))
            .values(role=Role.LEAD.value)
        )


async def _time(dashboard: Dashboard, telegram_id: int, path: str, query: dict[str, str]) -> float:
    headers = {
        "authorization": "tma "
        + sign(telegram_id=telegram_id, bot_token=TOKEN, auth_date=utcnow() - timedelta(minutes=1))
    }
    start = time.perf_counter()
    reply = await dashboard.handle("GET", path, headers, query, b"")
    elapsed = time.perf_counter() - start
    if reply.status != 200:
        raise AssertionError(f"{path} answered {reply.status}: {reply.body[:200]!r}")
    return elapsed


async def _measure(
    dashboard: Dashboard, directory: Directory, calls: int, rng: random.Random
) -> dict[str, Spread]:
    spreads: dict[str, Spread] = {}
    warmup = min(10, calls)
    for name, request in VIEWS.items():
        durations = []
        for index in range(warmup + calls):
            team = rng.choice(directory.teams)
            path, query = request(team, rng)
            elapsed = await _time(dashboard, team.telegram_ids[0], path, query)
            if index >= warmup:
                durations.append(elapsed)
        spreads[name] = spread_ms(durations)
    durations = []
    for index in range(warmup + calls):
        elapsed = await _time(dashboard, ADMIN_ID, "/app/api/overview", {})
        if index >= warmup:
            durations.append(elapsed)
    spreads["overview (administrator)"] = spread_ms(durations)
    return spreads


def run_dashboard(
    *, database_url: str, database: str, teams: int, notes: int, calls: int, seed: int
) -> DashboardResult:
    """Loads the data set and times ``calls`` requests of every view."""
    rng = random.Random(seed)
    engine = make_engine(database_url)
    try:
        started = time.perf_counter()
        directory = seed_bulk(
            engine,
            teams=teams,
            members_per_team=AUTHORS_PER_TEAM,
            residents_per_team=RESIDENTS_PER_TEAM,
            first_telegram_id=FIRST_TELEGRAM_ID,
        )
        note_count, _markers = bulk_notes(
            engine, directory, per_team=max(1, notes // teams), rng=rng
        )
        _leads(engine, directory)
        _meetings(engine, [team.team_id for team in directory.teams])
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        load_seconds = time.perf_counter() - started
        dashboard = Dashboard(
            engine=engine, bot_token=TOKEN, admins=[ADMIN_ID], texts=texts("da", TZ)
        )
        # As the server does once it has started (stemme run, webhook workers, polling).
        memory.settle()
        spreads = asyncio.run(_measure(dashboard, directory, calls, rng))
    finally:
        engine.dispose()
    return DashboardResult(
        database=database,
        teams=teams,
        notes=note_count,
        load_seconds=load_seconds,
        spreads=spreads,
    )


def targets(results: list[DashboardResult]) -> list[dict[str, Any]]:
    """The dashboard's target per database and view, as in ``bench.report.targets``."""
    return [
        {
            "target": f"dashboard {view} p99 on {result.database} ({result.notes} notes), ms",
            "value": round(spread.p99, 3),
            "goal": f"< {TARGET_MS:g}",
            "met": spread.p99 < TARGET_MS,
        }
        for result in results
        for view, spread in result.spreads.items()
    ]


def render(results: list[DashboardResult]) -> str:
    """The report's dashboard section."""
    if not results:
        return ""
    first = results[0]
    lines = [
        "",
        f"9. Dashboard API: {first.notes} notes in {first.teams} teams, each view asked "
        f"{next(iter(first.spreads.values())).count} times through Dashboard.handle "
        f"(initData, viewer, view, JSON), p99 target < {TARGET_MS:g} ms",
    ]
    for result in results:
        lines.append(f"   {result.database} (loaded in {result.load_seconds:.0f} s):")
        for view, spread in result.spreads.items():
            mark = "ok" if spread.p99 < TARGET_MS else "MISSED"
            lines.append(
                f"     {view:<26} p50 {spread.p50:7.2f}  p99 {spread.p99:7.2f} ms  {mark}"
            )
    return "\n".join(lines) + "\n"
