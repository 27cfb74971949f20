"""What every ``stemme`` subcommand shares: exit codes, the command's context (settings,
texts, output format), the database session of a command, and finding a site or a team
by the name or id an administrator typed. ``bot/cli.py`` and ``bot/cli_privacy.py`` (and
any later command module) import these; none of them imports another command module's
private helpers."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from bot.config import Settings
from flows.core.i18n import Texts
from storage import crypto, migrate
from storage.db import make_engine, session_scope
from storage.directory import Ambiguous, NotFound, find_site, find_team, get_site
from storage.models import Site, Team

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace, "Context"], int]


class CommandFailed(Exception):
    """The command could not be done; ``message`` says why, in the user's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Context:
    """What every command needs: the settings, the texts and the output format."""

    settings: Settings
    t: Texts
    as_json: bool

    def say(self, *lines: str) -> None:
        """Writes lines of text for people (not in --json mode)."""
        if not self.as_json:
            sys.stdout.write("".join(f"{line}\n" for line in lines))

    def emit(self, payload: dict[str, Any]) -> None:
        """Writes the one JSON object of a --json command."""
        if self.as_json:
            sys.stdout.write(json.dumps(payload) + "\n")

    def note(self, line: str) -> None:
        """Writes a remark to stderr, in either mode."""
        sys.stderr.write(f"{line}\n")


def use_data_key(context: Context) -> None:
    """Configures the data key that encrypts free text, before the database is touched."""
    t = context.t
    try:
        crypto.configure(context.settings.data_keys())
    except crypto.KeyProblem as problem:
        messages = {
            "missing": t._(
                "STEMME_DATA_KEY is not set. With PostgreSQL every process needs the same "
                'key: make one with "stemme privacy new-key" and set STEMME_DATA_KEY to it.'
            ),
            "malformed": t._(
                'STEMME_DATA_KEY is not a valid key. Make one with "stemme privacy new-key".'
            ),
        }
        raise CommandFailed(
            messages.get(problem.code, t._("The data key could not be used."))
        ) from problem


def upgrade(context: Context) -> str | None:
    """Migrates the database to the newest schema; returns the revision it is at."""
    use_data_key(context)
    try:
        migrate.upgrade(context.settings.database_url)
    except OperationalError as error:
        raise database_unreachable(context, error) from error
    return migrate.current(context.settings.database_url)


def current_revision(context: Context) -> str | None:
    """The schema revision the database is at (None when it has no tables yet)."""
    try:
        return migrate.current(context.settings.database_url)
    except OperationalError as error:
        raise database_unreachable(context, error) from error


def database_unreachable(context: Context, error: OperationalError) -> CommandFailed:
    """The failure to tell when the database cannot be opened (the URL without password)."""
    url = make_url(context.settings.database_url).render_as_string(hide_password=True)
    reason = str(error.orig or error).strip().splitlines()[0]
    return CommandFailed(
        context.t._("Could not open the database at {url}: {reason}").format(
            url=url, reason=reason
        )
    )


@contextmanager
def command_session(context: Context) -> Iterator[Session]:
    """One session for the whole command, on a database that is up to date."""
    t = context.t
    use_data_key(context)
    revision = current_revision(context)
    if revision != migrate.head():
        raise CommandFailed(t._('The database is not up to date. Run "stemme db upgrade" first.'))
    engine = make_engine(context.settings.database_url)
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def site_named(context: Context, session: Session, ref: str) -> Site:
    """The site called ``ref`` (or with that id), else a failure that says how to list them."""
    try:
        return find_site(session=session, ref=ref)
    except NotFound as error:
        raise CommandFailed(
            context.t._('There is no site {site}. See the sites with "stemme site list".').format(
                site=ref
            )
        ) from error


def team_named(context: Context, session: Session, ref: str) -> Team:
    """The team ``ref`` names (its id, its name, or Site/Team), else a failure that says
    how to list them or how to tell two teams of the same name apart."""
    t = context.t
    try:
        return find_team(session=session, ref=ref)
    except NotFound as error:
        raise CommandFailed(
            t._('There is no team {team}. See the teams with "stemme team list".').format(team=ref)
        ) from error
    except Ambiguous as error:
        raise CommandFailed(
            t._(
                "More than one team is called {team}. Give the team's id or Site/Team "
                '(see "stemme team list").'
            ).format(team=ref)
        ) from error


def site_of(session: Session, team: Team) -> Site:
    """The site a team belongs to."""
    site = get_site(session=session, site_id=team.site_id)
    assert site is not None  # guaranteed by the foreign key
    return site


def slug(name: str, fallback: str) -> str:
    """A name as part of a file name: letters and digits, "-" between words, lower case."""
    return re.sub(r"[^0-9A-Za-zÆØÅæøå]+", "-", name).strip("-").lower() or fallback


def row_id(row: Site | Team) -> int:
    """The id of a stored site or team."""
    assert row.id is not None, "row must be flushed before use"
    return row.id


def iso_utc(moment: datetime) -> str:
    """A moment as ISO 8601 in UTC, to the second, for --json output."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")
