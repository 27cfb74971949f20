"""The resident card and ``/moments`` on a database with many notes.

Loads teams, residents, authors and notes in bulk, then times many calls of the
storage functions the flows use, each in a fresh session, for random teams and
residents:

- ``card``: ``resident_card`` (marker counts, the latest notes per marker, the total);
- ``moments``: ``recent_notes`` for one page of 5 (pages 1 to 5 at random) plus
  ``markers_of`` for those notes;
- ``moments_resident``: the same, filtered by one resident;
- ``picker``: ``recently_noted_resident_ids``, which ``/note`` runs to put the member's
  recent residents first.

Each query the functions send is also explained (``EXPLAIN QUERY PLAN`` on SQLite,
``EXPLAIN`` on PostgreSQL); a full scan of ``note`` or ``note_marker`` or a temporary
sort is reported as a missing index.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench.seed import Directory, SeededTeam, bulk_notes, seed_bulk
from bench.stats import Spread, spread_ms
from storage.db import make_engine
from storage.models import Resident
from storage.notes import markers_of, recent_notes, recently_noted_resident_ids, resident_card

PAGE = 5
BIG_TABLES = ("note", "note_marker")


@dataclass
class QueryResult:
    """Query times on one database."""

    database: str
    teams: int
    residents: int
    notes: int
    markers: int
    load_seconds: float
    spreads: dict[str, Spread]
    problems: dict[str, list[str]]
    plans: dict[str, list[str]]

    def as_dict(self) -> dict[str, Any]:
        """For ``results.json``."""
        return {
            "database": self.database,
            "teams": self.teams,
            "residents": self.residents,
            "notes": self.notes,
            "note_markers": self.markers,
            "load_seconds": round(self.load_seconds, 1),
            "ms": {name: spread.as_dict() for name, spread in self.spreads.items()},
            "plan_problems": self.problems,
            "plans": self.plans,
        }


def _card(session: Session, team: SeededTeam, rng: random.Random) -> Callable[[], None]:
    resident = session.get(Resident, rng.choice(team.resident_ids))
    assert resident is not None

    def run() -> None:
        resident_card(session=session, team_id=team.team_id, resident=resident)

    return run


def _moments(resident: bool) -> Callable[[Session, SeededTeam, random.Random], Callable[[], None]]:
    def prepare(session: Session, team: SeededTeam, rng: random.Random) -> Callable[[], None]:
        resident_id = rng.choice(team.resident_ids) if resident else None
        offset = rng.randrange(5) * PAGE

        def run() -> None:
            notes = recent_notes(
                session=session,
                team_id=team.team_id,
                resident_id=resident_id,
                offset=offset,
                limit=PAGE,
            )
            markers_of(session=session, note_ids=[note.id for note in notes if note.id])

        return run

    return prepare


def _picker(session: Session, team: SeededTeam, rng: random.Random) -> Callable[[], None]:
    member_id = rng.choice(team.member_ids)

    def run() -> None:
        recently_noted_resident_ids(
            session=session, team_id=team.team_id, author_member_id=member_id
        )

    return run


QUERIES: dict[str, Callable[[Session, SeededTeam, random.Random], Callable[[], None]]] = {
    "card": _card,
    "moments": _moments(resident=False),
    "moments_resident": _moments(resident=True),
    "picker": _picker,
}


def _timed(
    engine: Engine, directory: Directory, rng: random.Random, calls: int, warmup: int
) -> dict[str, Spread]:
    durations: dict[str, list[float]] = {name: [] for name in QUERIES}
    for index in range(warmup + calls):
        for name, prepare in rng.sample(list(QUERIES.items()), len(QUERIES)):
            team = rng.choice(directory.teams)
            with Session(engine) as session:
                run = prepare(session, team, rng)
                start = time.perf_counter()
                run()
                elapsed = time.perf_counter() - start
            if index >= warmup:
                durations[name].append(elapsed)
    return {name: spread_ms(values) for name, values in durations.items()}


@contextmanager
def _captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def capture(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def _explain(engine: Engine, statement: str, parameters: Any) -> list[str]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            return [str(row[-1]) for row in rows]
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        return [str(row[0]) for row in rows]


def _problems(dialect: str, statement: str, plan: list[str]) -> list[str]:
    """The plan lines that mean a missing index on a big table: a full scan, or (without
    GROUP BY, where sorting the few groups is expected) sorting rows in a temporary tree."""
    found = []
    grouped = "GROUP BY" in statement.upper()
    for line in plan:
        stripped = line.strip()
        words = stripped.split()
        if dialect == "sqlite":
            full_scan = len(words) > 1 and words[0] == "SCAN" and words[1] in BIG_TABLES
            if full_scan or ("TEMP B-TREE" in stripped and not grouped):
                found.append(stripped)
        elif any(f"Seq Scan on {table} " in stripped + " " for table in BIG_TABLES):
            found.append(stripped)
    return found


def _plans(
    engine: Engine, directory: Directory, rng: random.Random
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    plans: dict[str, list[str]] = {}
    problems: dict[str, list[str]] = {}
    team = max(directory.teams, key=lambda t: t.team_id)
    for name, prepare in QUERIES.items():
        with Session(engine) as session:
            run = prepare(session, team, rng)
            with _captured(engine) as statements:
                run()
        for number, (statement, parameters) in enumerate(statements, start=1):
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            plan = _explain(engine, statement, parameters)
            key = f"{name} #{number}"
            plans[key] = [" ".join(statement.split())[:300], *plan]
            bad = _problems(engine.dialect.name, statement, plan)
            if bad:
                problems[key] = bad
    return plans, problems


def run_queries(
    *,
    database_url: str,
    database: str,
    teams: int,
    notes: int,
    residents_per_team: int,
    authors_per_team: int,
    calls: int,
    seed: int,
) -> QueryResult:
    """Loads ``notes`` notes across ``teams`` teams and times the reading queries."""
    rng = random.Random(seed)
    engine = make_engine(database_url)
    try:
        started = time.perf_counter()
        directory = seed_bulk(
            engine,
            teams=teams,
            members_per_team=authors_per_team,
            residents_per_team=residents_per_team,
            first_telegram_id=9_000_000_000,
        )
        note_count, marker_count = bulk_notes(
            engine, directory, per_team=max(1, notes // teams), rng=rng
        )
        if engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load; without it the planner guesses.
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        load_seconds = time.perf_counter() - started
        spreads = _timed(engine, directory, rng, calls, warmup=min(20, calls))
        plans, problems = _plans(engine, directory, rng)
    finally:
        engine.dispose()
    return QueryResult(
        database=database,
        teams=teams,
        residents=teams * residents_per_team,
        notes=note_count,
        markers=marker_count,
        load_seconds=load_seconds,
        spreads=spreads,
        problems=problems,
        plans=plans,
    )
