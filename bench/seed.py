"""Teams, members, residents and notes for the measurements.

``seed_with_storage`` goes through the storage functions the CLI and the flows use
(sites, teams, residents, an invite redeemed per member), for the small end-to-end
set-ups. ``seed_bulk`` and ``bulk_notes`` write the same rows with multi-row inserts
(``COPY`` for notes on PostgreSQL), for the 5,000 members and 200,000 notes that
would otherwise take minutes to create one ORM object at a time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from storage import crypto
from storage.db import session_scope, utcnow
from storage.directory import add_site, add_team, create_invite, redeem_invite
from storage.models import (
    DEFAULT_DAY_START,
    DEFAULT_EVENING_START,
    DEFAULT_NIGHT_START,
    Expression,
    Marker,
    Role,
    Shift,
    SiteKind,
)
from storage.residents import add_resident

FIRST_NAMES = ("Anne", "Bo", "Camilla", "Dorte", "Erik", "Fatima", "Gitte", "Hans", "Ida", "Jens")
RESIDENT_NAMES = ("Fru H.", "Hr. J.", "Fru K.", "Hr. L.", "Fru M.", "Hr. N.", "Fru P.", "Hr. S.")
NOTE_TEXTS = (
    "Fru H. smilede, da vi sang Den blå anemone sammen ved morgenmaden.",
    "Hr. J. ville selv smøre sin mad i dag, og det gik fint med lidt tid.",
    "Hun blev rolig, da jeg satte mig ved sengen og holdt hendes hånd.",
    "Han fortalte om sin tid som fisker og lyste op, da vi så billederne.",
    "Hun valgte selv den blå kjole og var glad for at blive spurgt.",
    "Han faldt til ro, da lyset blev dæmpet og radioen spillede stille.",
    "Hun nikkede og pegede på vinduet: hun ville gerne se fuglene.",
    "Han ville ikke i bad i dag; vi aftalte i morgen formiddag i stedet.",
)
MARKERS = tuple(marker.value for marker in Marker)
TZ = ZoneInfo("Europe/Copenhagen")


@dataclass(frozen=True)
class SeededTeam:
    """One team as seeded: its id, its residents, its members."""

    team_id: int
    resident_ids: tuple[int, ...]
    member_ids: tuple[int, ...]
    telegram_ids: tuple[int, ...]


@dataclass(frozen=True)
class Directory:
    """Everything seeded, team by team."""

    teams: list[SeededTeam]

    def members(self) -> list[tuple[int, int]]:
        """``(telegram_id, team_id)`` of every member, team after team."""
        return [(tid, team.team_id) for team in self.teams for tid in team.telegram_ids]

    def first_members(self, count: int) -> Directory:
        """The same teams, with only the first ``count`` members taking part."""
        wanted = {telegram_id for telegram_id, _team in self.members()[:count]}
        return Directory(
            [
                replace(team, telegram_ids=tuple(t for t in team.telegram_ids if t in wanted))
                for team in self.teams
            ]
        )


def member_name(index: int) -> str:
    """A first name with a number, unique within a run."""
    return f"{FIRST_NAMES[index % len(FIRST_NAMES)]} {index}"


def resident_alias(team_index: int, index: int) -> str:
    """An alias such as "Fru H., stue 12" (no CPR number, as the guard requires)."""
    return f"{RESIDENT_NAMES[index % len(RESIDENT_NAMES)]}, stue {team_index}{index + 1:02d}"


def seed_with_storage(
    engine: Engine,
    *,
    teams: int,
    members_per_team: int,
    residents_per_team: int,
    first_telegram_id: int,
) -> Directory:
    """Creates teams with residents and staff through the storage functions."""
    seeded: list[SeededTeam] = []
    with session_scope(engine) as session:
        site = add_site(session=session, name="Plejecenter Bench", kind=SiteKind.CARE_HOME)
        for team_index in range(teams):
            team = add_team(session=session, site=site, name=f"Team {team_index + 1}")
            assert team.id is not None
            residents = [
                add_resident(
                    session=session,
                    team_id=team.id,
                    alias=resident_alias(team_index, index),
                    actor_member_id=0,
                )
                for index in range(residents_per_team)
            ]
            invite = create_invite(
                session=session, team=team, role=Role.STAFF, max_uses=members_per_team
            )
            member_ids: list[int] = []
            telegram_ids: list[int] = []
            for index in range(members_per_team):
                number = team_index * members_per_team + index
                joined = redeem_invite(
                    session=session,
                    code=invite.code,
                    telegram_id=first_telegram_id + number,
                    name=member_name(number),
                    language="da",
                )
                assert joined.member.id is not None
                member_ids.append(joined.member.id)
                telegram_ids.append(first_telegram_id + number)
            seeded.append(
                SeededTeam(
                    team_id=team.id,
                    resident_ids=tuple(r.id for r in residents if r.id is not None),
                    member_ids=tuple(member_ids),
                    telegram_ids=tuple(telegram_ids),
                )
            )
    return Directory(seeded)


def _table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def _next_id(connection: Connection, table: str) -> int:
    return (
        int(connection.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one()) + 1
    )


def _fix_sequences(connection: Connection, tables: Sequence[str]) -> None:
    """After inserts with explicit ids, PostgreSQL's sequences must continue after them."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        )


def _chunks(
    rows: Sequence[dict[str, Any]], size: int = 10_000
) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def seed_bulk(
    engine: Engine,
    *,
    teams: int,
    members_per_team: int,
    residents_per_team: int,
    first_telegram_id: int,
    teams_per_site: int = 10,
) -> Directory:
    """Creates sites, teams, residents, members and memberships with multi-row inserts."""
    now = utcnow()
    with engine.begin() as connection:
        site_id, team_id = _next_id(connection, "site"), _next_id(connection, "team")
        resident_id, member_id = _next_id(connection, "resident"), _next_id(connection, "member")
        membership_id = _next_id(connection, "membership")
        sites: list[dict[str, Any]] = []
        team_rows: list[dict[str, Any]] = []
        residents: list[dict[str, Any]] = []
        members: list[dict[str, Any]] = []
        memberships: list[dict[str, Any]] = []
        seeded: list[SeededTeam] = []
        for team_index in range(teams):
            if team_index % teams_per_site == 0:
                sites.append(
                    {
                        "id": site_id + len(sites),
                        "name": f"Plejecenter Bench {site_id + len(sites)}",
                        "kind": SiteKind.CARE_HOME.value,
                        "created_at": now,
                    }
                )
            this_team = team_id + team_index
            team_rows.append(
                {
                    "id": this_team,
                    "site_id": sites[-1]["id"],
                    "name": f"Team {this_team}",
                    "created_at": now,
                    "day_starts_at": DEFAULT_DAY_START,
                    "evening_starts_at": DEFAULT_EVENING_START,
                    "night_starts_at": DEFAULT_NIGHT_START,
                    "chat_hygiene": True,
                }
            )
            first_resident = resident_id + len(residents)
            residents.extend(
                {
                    "id": first_resident + index,
                    "team_id": this_team,
                    "alias": resident_alias(team_index, index),
                    "active": True,
                    "created_at": now,
                }
                for index in range(residents_per_team)
            )
            first_member = member_id + len(members)
            for index in range(members_per_team):
                number = team_index * members_per_team + index
                members.append(
                    {
                        "id": first_member + index,
                        "telegram_id": first_telegram_id + number,
                        "name": member_name(number),
                        "language": "da",
                        "active": True,
                        "current_team_id": this_team,
                        "created_at": now,
                    }
                )
                memberships.append(
                    {
                        "id": membership_id + len(memberships),
                        "member_id": first_member + index,
                        "team_id": this_team,
                        "role": Role.STAFF.value,
                        "active": True,
                        "joined_at": now,
                        "left_at": None,
                    }
                )
            seeded.append(
                SeededTeam(
                    team_id=this_team,
                    resident_ids=tuple(range(first_resident, first_resident + residents_per_team)),
                    member_ids=tuple(range(first_member, first_member + members_per_team)),
                    telegram_ids=tuple(
                        first_telegram_id + team_index * members_per_team + index
                        for index in range(members_per_team)
                    ),
                )
            )
        for name, rows in (
            ("site", sites),
            ("team", team_rows),
            ("resident", residents),
            ("member", members),
            ("membership", memberships),
        ):
            for chunk in _chunks(rows):
                connection.execute(_table(name).insert(), list(chunk))
        _fix_sequences(connection, ["site", "team", "resident", "member", "membership"])
    return Directory(seeded)


def _shift(moment: datetime) -> str:
    local = moment.astimezone(TZ)
    minute = local.hour * 60 + local.minute
    if DEFAULT_DAY_START <= minute < DEFAULT_EVENING_START:
        return Shift.DAY.value
    if DEFAULT_EVENING_START <= minute < DEFAULT_NIGHT_START:
        return Shift.EVENING.value
    return Shift.NIGHT.value


NOTE_COLUMNS = (
    "id",
    "team_id",
    "resident_id",
    "author_member_id",
    "created_at",
    "edited_at",
    "shift",
    "expression",
    "text",
    "voice_file_id",
    "voice_duration",
    "for_team",
)
MARKER_COLUMNS = ("note_id", "marker", "team_id", "resident_id")


def bulk_notes(
    engine: Engine, directory: Directory, *, per_team: int, rng: random.Random, days: int = 365
) -> tuple[int, int]:
    """Adds ``per_team`` notes to every team, spread over the last ``days`` days, with
    0 to 3 markers each; about one in ten is a voice note. Returns (notes, markers)."""
    now = utcnow()
    notes: list[tuple[Any, ...]] = []
    markers: list[tuple[Any, ...]] = []
    # Stored as the bot stores them, encrypted: SQLite's inserts go through the column type,
    # which encrypts; PostgreSQL's COPY does not, so the texts are encrypted here (one token
    # per sample text keeps seeding fast; reading still decrypts every note).
    encrypted = (
        [crypto.encrypt(text) for text in NOTE_TEXTS]
        if engine.dialect.name == "postgresql"
        else list(NOTE_TEXTS)
    )
    with engine.begin() as connection:
        note_id = _next_id(connection, "note")
        for team in directory.teams:
            for _ in range(per_team):
                created = now - timedelta(seconds=rng.uniform(0, days * 86400))
                resident = rng.choice(team.resident_ids)
                voice = rng.random() < 0.1
                notes.append(
                    (
                        note_id,
                        team.team_id,
                        resident,
                        rng.choice(team.member_ids),
                        created,
                        None,
                        _shift(created),
                        Expression.VERBAL.value if rng.random() < 0.8 else "nonverbal",
                        None if voice else rng.choice(encrypted),
                        f"EMU-voice-{note_id:08d}" if voice else None,
                        rng.randint(3, 40) if voice else None,
                        rng.random() < 0.05,
                    )
                )
                count = rng.choices((0, 1, 2, 3), weights=(15, 40, 30, 15))[0]
                markers.extend(
                    (note_id, marker, team.team_id, resident)
                    for marker in rng.sample(MARKERS, count)
                )
                note_id += 1
        _insert(connection, "note", NOTE_COLUMNS, notes)
        _insert(connection, "note_marker", MARKER_COLUMNS, markers)
        _fix_sequences(connection, ["note"])
    return len(notes), len(markers)


def _insert(
    connection: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """``COPY`` on PostgreSQL; multi-row inserts through the table's types elsewhere."""
    if connection.dialect.name == "postgresql":
        dbapi: Any = connection.connection.dbapi_connection  # a psycopg 3 connection
        with (
            dbapi.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    dicts = [dict(zip(columns, row, strict=True)) for row in rows]
    for chunk in _chunks(dicts, 20_000):
        connection.execute(_table(table).insert(), list(chunk))
