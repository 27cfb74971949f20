"""One team's meeting agenda on a database with many notes (issue 5's agenda target).

Loads ``notes`` notes across ``teams`` teams (as ``bench.queries`` does, about 5 % of them
taken to the team, spread over a year), gives every team a weekly meeting with a previous
occurrence two weeks ago and the next one a week ahead (so the agenda covers three weeks),
two points of the lead's and one removed note, then times ``storage.agenda.build_agenda``
for random teams, each call in a fresh session: the for-team notes of the period through
every source in ``SOURCES``, the exclusions, the points, the counts per resident and
marker, the note texts and the aliases. Each SELECT it sends is explained; a full scan of
``note`` or ``note_marker`` is reported as a missing index.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import time as clock_time
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bench.queries import _captured, _explain, _problems
from bench.seed import bulk_notes, seed_bulk
from bench.stats import Spread, spread_ms
from storage import agenda
from storage.db import make_engine, require_id, utcnow
from storage.models import (
    AgendaExclusion,
    AgendaPoint,
    MeetingOccurrence,
    MeetingSeries,
    Note,
    Repetition,
)

TARGET_MS = 50.0
AUTHORS_PER_TEAM = 4
RESIDENTS_PER_TEAM = 10
PREVIOUS_MEETING = timedelta(days=14)
NEXT_MEETING = timedelta(days=7)


@dataclass(frozen=True)
class AgendaResult:
    """Agenda build times on one database."""

    database: str
    teams: int
    notes: int
    entries_mean: float
    load_seconds: float
    spread: Spread
    problems: dict[str, list[str]]
    plans: dict[str, list[str]]

    @property
    def met(self) -> bool:
        """p99 under the target."""
        return self.spread.p99 < TARGET_MS

    def as_dict(self) -> dict[str, Any]:
        """For ``results.json``."""
        return {
            "database": self.database,
            "teams": self.teams,
            "notes": self.notes,
            "entries_per_agenda_mean": round(self.entries_mean, 1),
            "load_seconds": round(self.load_seconds, 1),
            "ms": self.spread.as_dict(),
            "target_p99_ms": TARGET_MS,
            "plan_problems": self.problems,
            "plans": self.plans,
        }


def _meetings(engine: Engine, team_ids: list[int]) -> dict[int, int]:
    """Per team: a weekly series, an occurrence two weeks ago and one a week ahead, two
    points and one removed note on the next one; returns team id -> next occurrence id."""
    now = utcnow()
    upcoming: dict[int, int] = {}
    with Session(engine) as session:
        for team_id in team_ids:
            lead = session.exec(
                select(Note.author_member_id).where(col(Note.team_id) == team_id).limit(1)
            ).first()
            assert lead is not None
            series = MeetingSeries(
                team_id=team_id,
                created_by_member_id=lead,
                first_date=now.date(),
                start_time=clock_time(14, 0),
                duration_minutes=60,
                place="Mødelokalet",
                repetition=Repetition.WEEKLY,
            )
            session.add(series)
            session.flush()
            previous = MeetingOccurrence(
                series_id=require_id(series),
                number=1,
                starts_at=now - PREVIOUS_MEETING,
                ends_at=now - PREVIOUS_MEETING + timedelta(hours=1),
            )
            following = MeetingOccurrence(
                series_id=require_id(series),
                number=2,
                starts_at=now + NEXT_MEETING,
                ends_at=now + NEXT_MEETING + timedelta(hours=1),
            )
            session.add_all([previous, following])
            session.flush()
            occurrence_id = require_id(following)
            upcoming[team_id] = occurrence_id
            session.add_all(
                AgendaPoint(
                    occurrence_id=occurrence_id,
                    team_id=team_id,
                    text=f"Punkt {number}",
                    created_by_member_id=lead,
                )
                for number in (1, 2)
            )
            removed = session.exec(
                select(Note.id)
                .where(col(Note.team_id) == team_id, col(Note.for_team).is_(True))
                .order_by(col(Note.created_at).desc())
                .limit(1)
            ).first()
            if removed is not None:
                session.add(
                    AgendaExclusion(occurrence_id=occurrence_id, kind="note", ref_id=removed)
                )
        session.commit()
    return upcoming


def run_agenda(
    *, database_url: str, database: str, teams: int, notes: int, calls: int, seed: int
) -> AgendaResult:
    """Loads the notes and meetings and times ``calls`` agenda builds for random teams."""
    rng = random.Random(seed)
    engine = make_engine(database_url)
    try:
        started = time.perf_counter()
        directory = seed_bulk(
            engine,
            teams=teams,
            members_per_team=AUTHORS_PER_TEAM,
            residents_per_team=RESIDENTS_PER_TEAM,
            first_telegram_id=9_500_000_000,
        )
        note_count, _markers = bulk_notes(
            engine, directory, per_team=max(1, notes // teams), rng=rng
        )
        upcoming = _meetings(engine, [team.team_id for team in directory.teams])
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        load_seconds = time.perf_counter() - started
        team_ids = list(upcoming)
        durations: list[float] = []
        entries = 0
        warmup = min(20, calls)
        for index in range(warmup + calls):
            team_id = rng.choice(team_ids)
            with Session(engine) as session:
                start = time.perf_counter()
                built = agenda.build_agenda(
                    session=session, team_id=team_id, occurrence_id=upcoming[team_id]
                )
                elapsed = time.perf_counter() - start
            if index >= warmup:
                durations.append(elapsed)
                entries += len(built.entries)
        plans, problems = _plans(engine, team_ids[-1], upcoming[team_ids[-1]])
    finally:
        engine.dispose()
    return AgendaResult(
        database=database,
        teams=teams,
        notes=note_count,
        entries_mean=entries / max(1, calls),
        load_seconds=load_seconds,
        spread=spread_ms(durations),
        problems=problems,
        plans=plans,
    )


def _plans(
    engine: Engine, team_id: int, occurrence_id: int
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    plans: dict[str, list[str]] = {}
    problems: dict[str, list[str]] = {}
    with Session(engine) as session, _captured(engine) as statements:
        agenda.build_agenda(session=session, team_id=team_id, occurrence_id=occurrence_id)
    for number, (statement, parameters) in enumerate(statements, start=1):
        if not statement.lstrip().upper().startswith("SELECT"):
            continue
        plan = _explain(engine, statement, parameters)
        key = f"agenda #{number}"
        plans[key] = [" ".join(statement.split())[:300], *plan]
        bad = _problems(engine.dialect.name, statement, plan)
        if bad:
            problems[key] = bad
    return plans, problems


def targets(results: list[AgendaResult]) -> list[dict[str, Any]]:
    """The agenda target per database, as in ``bench.report.targets``."""
    return [
        {
            "target": f"agenda build p99 on {result.database} ({result.notes} notes), ms",
            "value": round(result.spread.p99, 3),
            "goal": f"< {TARGET_MS:g}",
            "met": result.met,
        }
        for result in results
    ]


def render(results: list[AgendaResult]) -> str:
    """The report's agenda section."""
    if not results:
        return ""
    first = results[0]
    lines = [
        f"6. A team's meeting agenda (build_agenda) with {first.notes} notes in"
        f" {first.teams} teams, {first.spread.count} calls",
    ]
    for result in results:
        verdict = "met" if result.met else "MISSED"
        spread = result.spread
        lines.append(
            f"   {result.database:<11} p50 {spread.p50:6.2f} ms  p99 {spread.p99:6.2f} ms"
            f"  max {spread.max:6.2f} ms  (target p99 < {TARGET_MS:g} ms: {verdict});"
            f" {result.entries_mean:.1f} entries per agenda"
        )
        for key, bad in result.problems.items():
            lines.append(f"{'':15}plan problem in {key}: {'; '.join(bad)}")
    return "\n".join(lines) + "\n"
