"""The ``stemme`` command line: start the bot, migrate the database, and set up sites,
teams, invites and members.

Every command reads ``Settings`` once, works in one database session and only calls
functions from ``storage``. Texts for people go through gettext in the configured
language; ``--json`` prints exactly one JSON object on stdout instead, with English keys.
Exit codes: 0 done, 1 the command could not be done, 2 usage or configuration problem.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from bot import cli_privacy, cli_report, logs
from bot.cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandFailed,
    Context,
    Handler,
    command_session,
    current_revision,
    iso_utc,
    row_id,
    site_named,
    site_of,
    team_named,
    upgrade,
)
from bot.config import Settings, run_problems
from flows.core.i18n import N_, Texts, texts
from storage import migrate, pulse
from storage.audit import record
from storage.directory import (
    add_site,
    add_team,
    create_invite,
    list_sites,
    list_teams,
    team_members,
)
from storage.health import check_database
from storage.models import NAME_MAX_LENGTH, Role, Site, SiteKind, Team

MAX_INVITE_USES = 1000
MAX_INVITE_DAYS = 365

KIND_LABELS: dict[str, str] = {
    SiteKind.CARE_HOME: N_("care home"),
    SiteKind.HOME_CARE: N_("home care"),
}
ROLE_LABELS: dict[str, str] = {Role.LEAD: N_("team lead"), Role.STAFF: N_("staff member")}

# ---------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Runs one ``stemme`` command and returns its exit code."""
    settings, problem = _load_settings()
    if settings is None:  # still speak the language asked for, if it is one we have
        t = texts(os.environ.get("STEMME_LOCALE", "da"), ZoneInfo("UTC"))
    else:
        t = texts(settings.locale, settings.tz)
    parser = build_parser(t)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has already explained
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    if settings is None:
        sys.stderr.write(f"{problem}\n")
        return EXIT_USAGE
    handler: Handler = args.handler  # every command sets one; argparse demands a command
    context = Context(settings=settings, t=t, as_json=getattr(args, "json", False))
    try:
        return handler(args, context)
    except CommandFailed as failure:
        if context.as_json:
            sys.stdout.write(json.dumps({"error": failure.message}) + "\n")
        else:
            sys.stderr.write(f"{failure.message}\n")
        return EXIT_FAILED


def _load_settings() -> tuple[Settings | None, str]:
    """Reads the settings; on failure returns a message that names each bad variable."""
    try:
        return Settings(), ""
    except ValidationError as error:
        # Only where and what, never the input: a bad value could be next to the token.
        problems = "; ".join(
            "STEMME_{}: {}".format("_".join(map(str, item["loc"])).upper(), item["msg"])
            for item in error.errors(include_input=False, include_url=False)
        )
        t = texts(os.environ.get("STEMME_LOCALE", "da"), ZoneInfo("UTC"))
        return None, t._(
            "The configuration is not valid ({problems}). "
            "Check the STEMME_ environment variables and the .env file."
        ).format(problems=problems)


def build_parser(t: Texts) -> argparse.ArgumentParser:
    """Builds the argument parser with help texts in the user's language."""
    parser = argparse.ArgumentParser(
        prog="stemme", description=t._("Stemme: the resident's voice in the care team.")
    )
    commands = parser.add_subparsers(title=t._("commands"), metavar="COMMAND", required=True)
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument(
        "--json", action="store_true", help=t._("Print one JSON object instead of text.")
    )

    run = commands.add_parser("run", help=t._("Start the bot."))
    run.add_argument(
        "--webhook",
        action="store_true",
        help=t._(
            "Receive updates by webhook (STEMME_WEBHOOK_URL, STEMME_WEBHOOK_SECRET, "
            "STEMME_LISTEN) instead of long polling."
        ),
    )
    run.set_defaults(handler=cmd_run)

    commands.add_parser(
        "sandbox",
        help=t._(
            "Try stemme without Telegram: a made-up care home in a web chat in your browser "
            "(STEMME_LISTEN, by default 127.0.0.1:8080)."
        ),
    ).set_defaults(handler=cmd_sandbox)

    db = commands.add_parser("db", help=t._("Create or update the database tables."))
    db_commands = db.add_subparsers(title=t._("commands"), metavar="COMMAND", required=True)
    db_commands.add_parser(
        "upgrade", parents=[as_json], help=t._("Bring the database up to date.")
    ).set_defaults(handler=cmd_db_upgrade)
    db_commands.add_parser(
        "current", parents=[as_json], help=t._("Show the database's revision.")
    ).set_defaults(handler=cmd_db_current)

    site = commands.add_parser("site", help=t._("Care homes and home-care districts."))
    site_commands = site.add_subparsers(title=t._("commands"), metavar="COMMAND", required=True)
    site_add = site_commands.add_parser("add", parents=[as_json], help=t._("Add a site."))
    site_add.add_argument("name", nargs="+", metavar="NAME", help=t._("The site's name."))
    site_add.add_argument(
        "--kind",
        choices=[kind.value for kind in SiteKind],
        default=SiteKind.CARE_HOME.value,
        help=t._("What kind of place it is."),
    )
    site_add.set_defaults(handler=cmd_site_add)
    site_commands.add_parser("list", parents=[as_json], help=t._("List the sites.")).set_defaults(
        handler=cmd_site_list
    )
    site_threshold = site_commands.add_parser(
        "pulse-threshold",
        parents=[as_json],
        help=t._("How many answers a pulse needs before its result is shown (3 to 50)."),
    )
    site_threshold.add_argument("site", metavar="SITE", help=t._("The site's id or name."))
    site_threshold.add_argument("threshold", metavar="N", help=t._("The number of answers."))
    site_threshold.set_defaults(handler=cmd_site_pulse_threshold)

    team = commands.add_parser("team", help=t._("Teams within a site."))
    team_commands = team.add_subparsers(title=t._("commands"), metavar="COMMAND", required=True)
    team_add = team_commands.add_parser("add", parents=[as_json], help=t._("Add a team."))
    team_add.add_argument("--site", required=True, help=t._("The site's id or name."))
    team_add.add_argument("name", nargs="+", metavar="NAME", help=t._("The team's name."))
    team_add.set_defaults(handler=cmd_team_add)
    team_list = team_commands.add_parser("list", parents=[as_json], help=t._("List the teams."))
    team_list.add_argument("--site", help=t._("Only the teams of this site (id or name)."))
    team_list.set_defaults(handler=cmd_team_list)

    team_help = t._("The team's id, name, or Site/Team.")
    invite = commands.add_parser(
        "invite", parents=[as_json], help=t._("Create an invite link to a team.")
    )
    invite.add_argument("--team", required=True, help=team_help)
    invite.add_argument(
        "--role",
        required=True,
        choices=[role.value for role in Role],
        help=t._("The role the new member gets in the team."),
    )
    invite.add_argument("--uses", default="1", help=t._("How many people may use it."))
    invite.add_argument("--days", default="7", help=t._("How many days it is valid."))
    invite.set_defaults(handler=cmd_invite)

    members = commands.add_parser("members", parents=[as_json], help=t._("List a team's members."))
    members.add_argument("--team", required=True, help=team_help)
    members.set_defaults(handler=cmd_members)

    cli_privacy.add_commands(commands, as_json, t)
    cli_report.add_commands(commands, as_json, t)
    return parser


# ---------------------------------------------------------------- run and db


def cmd_run(args: argparse.Namespace, context: Context) -> int:
    """Migrates the database and runs the bot until it is stopped."""
    t = context.t
    token = context.settings.token
    if not token or not token.strip():
        context.note(
            "\n".join(
                [
                    t._("The bot has no token yet, so it cannot start. To get one:"),
                    t._("1. Open Telegram and talk to @BotFather."),
                    t._('2. Send /newbot, choose a name, then a username that ends in "bot".'),
                    t._("3. Copy the token BotFather sends you."),
                    t._(
                        "4. Put STEMME_BOT_TOKEN=<token> in a .env file in this folder "
                        "({folder}), or set it in the environment."
                    ).format(folder=Path.cwd()),
                    t._('5. Run "stemme run" again.'),
                ]
            )
        )
        return EXIT_USAGE
    problems = run_problems(context.settings, webhook=args.webhook, t=t)
    unreachable = check_database(context.settings.database_url)
    if unreachable is not None:
        url = make_url(context.settings.database_url).render_as_string(hide_password=True)
        problems.append(
            t._(
                "The database at {url} cannot be reached ({error}). Check "
                "STEMME_DATABASE_URL and that the database server is running."
            ).format(url=url, error=unreachable)
        )
    if problems:
        context.note("\n".join(problems))
        return EXIT_USAGE
    upgrade(context)
    if args.webhook:
        from bot.webhook import run as run_webhook

        run_webhook(context.settings)
        return EXIT_OK
    # Imported here so the admin commands never load the Telegram application.
    from bot.polling import run as run_bot

    run_bot(context.settings)
    return EXIT_OK


def cmd_sandbox(args: argparse.Namespace, context: Context) -> int:
    """Runs the sandbox (sandbox/run.py) until it is stopped."""
    # Imported here so the other commands never load the sandbox.
    from sandbox import run as sandbox

    problems = sandbox.problems(context.settings, context.t)
    if problems:
        context.note("\n".join(problems))
        return EXIT_USAGE
    logs.configure(context.settings.log_level, [])
    try:
        asyncio.run(sandbox.serve(context.settings, context.say))
    except sandbox.NotASandbox:
        context.note(
            context.t._(
                "The database holds sites that are not the sandbox's care home: the sandbox "
                "will not use it. Remove the file or point STEMME_DATABASE_URL at another "
                "sandbox file."
            )
        )
        return EXIT_USAGE
    return EXIT_OK


def cmd_db_upgrade(args: argparse.Namespace, context: Context) -> int:
    """Creates or updates the tables."""
    revision = upgrade(context)
    context.emit({"database": {"revision": revision, "up_to_date": True}})
    context.say(
        context.t._("The database is up to date (revision {revision}).").format(revision=revision)
    )
    return EXIT_OK


def cmd_db_current(args: argparse.Namespace, context: Context) -> int:
    """Shows which revision the database is at, and whether that is the newest."""
    t = context.t
    revision = current_revision(context)
    head = migrate.head()
    context.emit(
        {"database": {"revision": revision, "head": head, "up_to_date": revision == head}}
    )
    if revision is None:
        context.say(t._('The database has no tables yet. Create them with "stemme db upgrade".'))
    elif revision == head:
        context.say(
            t._("The database is up to date (revision {revision}).").format(revision=revision)
        )
    else:
        context.say(
            t._(
                "The database is at revision {revision}; the newest is {head}. "
                'Run "stemme db upgrade".'
            ).format(revision=revision, head=head)
        )
    return EXIT_OK


# ---------------------------------------------------------------- sites and teams


def cmd_site_add(args: argparse.Namespace, context: Context) -> int:
    """Adds a site."""
    t = context.t
    name = _clean_name(context, args.name)
    taken = CommandFailed(t._("A site called {name} already exists.").format(name=name))
    try:
        with command_session(context) as session:
            if any(site.name == name for site in list_sites(session=session)):
                raise taken
            site = add_site(session=session, name=name, kind=SiteKind(args.kind))
    except IntegrityError as error:  # added by someone else in the meantime
        raise taken from error
    context.emit({"site": _site_json(site)})
    context.say(t._("Site {name} added (id {id}).").format(name=site.name, id=site.id))
    return EXIT_OK


def cmd_site_list(args: argparse.Namespace, context: Context) -> int:
    """Lists every site."""
    t = context.t
    with command_session(context) as session:
        sites = list_sites(session=session)
    context.emit({"sites": [_site_json(site) for site in sites]})
    if not sites:
        context.say(t._('There are no sites yet. Add one with "stemme site add NAME".'))
    for site in sites:
        kind = t._(KIND_LABELS[site.kind]) if site.kind in KIND_LABELS else site.kind
        # Translators: one line of "stemme site list".
        context.say(t._("{id}: {name} ({kind})").format(id=site.id, name=site.name, kind=kind))
    return EXIT_OK


def cmd_site_pulse_threshold(args: argparse.Namespace, context: Context) -> int:
    """Sets how many answers a pulse of the site's teams needs before its result is shown."""
    t = context.t
    threshold = _whole_number(
        args.threshold,
        pulse.MAX_THRESHOLD,
        t._("The threshold is a whole number from {low} to {high}.").format(
            low=pulse.MIN_THRESHOLD, high=pulse.MAX_THRESHOLD
        ),
    )
    if threshold < pulse.MIN_THRESHOLD:
        raise CommandFailed(
            t._("The threshold is a whole number from {low} to {high}.").format(
                low=pulse.MIN_THRESHOLD, high=pulse.MAX_THRESHOLD
            )
        )
    with command_session(context) as session:
        site = site_named(context, session, args.site)
        pulse.set_site_threshold(session=session, site_id=row_id(site), threshold=threshold)
        record(
            session=session,
            actor="cli",
            action="site.pulse_threshold",
            detail={"site_id": site.id, "threshold": threshold},
        )
    context.emit({"site": _site_json(site), "pulse_threshold": threshold})
    context.say(
        t._("Pulse results at {name} are shown from {threshold} answers.").format(
            name=site.name, threshold=threshold
        )
    )
    return EXIT_OK


def cmd_team_add(args: argparse.Namespace, context: Context) -> int:
    """Adds a team to a site."""
    t = context.t
    name = _clean_name(context, args.name)
    taken = t._("{site} already has a team called {name}.")
    try:
        with command_session(context) as session:
            site = site_named(context, session, args.site)
            if any(team.name == name for team in list_teams(session=session, site=site)):
                raise CommandFailed(taken.format(site=site.name, name=name))
            team = add_team(session=session, site=site, name=name)
    except IntegrityError as error:  # added by someone else in the meantime
        raise CommandFailed(taken.format(site=args.site, name=name)) from error
    context.emit({"team": _team_json(team, site)})
    context.say(
        t._("Team {name} added at {site} (id {id}).").format(
            name=team.name, site=site.name, id=team.id
        )
    )
    return EXIT_OK


def cmd_team_list(args: argparse.Namespace, context: Context) -> int:
    """Lists the teams, of one site or of all."""
    t = context.t
    with command_session(context) as session:
        site = site_named(context, session, args.site) if args.site else None
        teams = list_teams(session=session, site=site)
        sites = {row.id: row for row in list_sites(session=session)}
    context.emit({"teams": [_team_json(team, sites[team.site_id]) for team in teams]})
    if not teams:
        context.say(
            t._('There are no teams yet. Add one with "stemme team add --site SITE NAME".')
        )
    for team in teams:
        # Translators: one line of "stemme team list"; Site/Team is how teams are named.
        context.say(
            t._("{id}: {site}/{name}").format(
                id=team.id, site=sites[team.site_id].name, name=team.name
            )
        )
    return EXIT_OK


# ---------------------------------------------------------------- invites and members


def cmd_invite(args: argparse.Namespace, context: Context) -> int:
    """Creates an invite to a team and prints its code, expiry and link."""
    t = context.t
    uses = _whole_number(
        args.uses,
        MAX_INVITE_USES,
        t._("--uses must be a whole number from 1 to {max}.").format(max=MAX_INVITE_USES),
    )
    days = _whole_number(
        args.days,
        MAX_INVITE_DAYS,
        t._("--days must be a whole number from 1 to {max}.").format(max=MAX_INVITE_DAYS),
    )
    role = Role(args.role)
    with command_session(context) as session:
        team = team_named(context, session, args.team)
        site = site_of(session, team)
        invite = create_invite(session=session, team=team, role=role, max_uses=uses, days=days)
    username, why_no_link = _bot_username(context)
    link = f"https://t.me/{username}?start={invite.code}" if username else None
    context.emit(
        {
            "invite": {
                "code": invite.code,
                "link": link,
                "team_id": team.id,
                "team": team.name,
                "site": site.name,
                "role": role.value,
                "max_uses": invite.max_uses,
                "expires_at": iso_utc(invite.expires_at),
            }
        }
    )
    expires = invite.expires_at.astimezone(context.settings.tz)
    locale = t.babel_locale
    context.say(
        t._("Invite code: {code}").format(code=invite.code),
        t.ngettext(
            "One person can use it to join {team} at {site} as {role}.",
            "{uses} people can use it to join {team} at {site} as {role}.",
            uses,
        ).format(uses=uses, team=team.name, site=site.name, role=_role_label(t, role)),
        t._("Valid until {date} at {time} ({timezone}).").format(
            date=format_date(expires, "long", locale=locale),
            time=format_time(expires, "HH:mm", locale=locale),
            timezone=context.settings.timezone,
        ),
    )
    if link:
        context.say(
            t._("Link: {link}").format(link=link),
            t._("Send the link to the person; they open it in Telegram and press Start."),
        )
    if why_no_link:
        context.note(why_no_link)
    return EXIT_OK


def cmd_members(args: argparse.Namespace, context: Context) -> int:
    """Lists a team's active members: names, Telegram ids and roles."""
    t = context.t
    with command_session(context) as session:
        team = team_named(context, session, args.team)
        site = site_of(session, team)
        rows = team_members(session=session, team_id=row_id(team))
    context.emit(
        {
            "team": _team_json(team, site),
            "members": [
                {
                    "id": row.member.id,
                    "name": row.member.name,
                    "telegram_id": row.member.telegram_id,
                    "role": row.membership.role,
                    "joined_at": iso_utc(row.membership.joined_at),
                }
                for row in rows
            ],
        }
    )
    if not rows:
        context.say(
            t._(
                '{team} at {site} has no members yet. Invite someone with "stemme invite".'
            ).format(team=team.name, site=site.name)
        )
        return EXIT_OK
    context.say(t._("Members of {team} at {site}:").format(team=team.name, site=site.name))
    for row in rows:
        context.say(
            t._("{name} (Telegram id {telegram_id}), {role}").format(
                name=row.member.name,
                telegram_id=row.member.telegram_id,
                role=_role_label(t, row.membership.role),
            )
        )
    return EXIT_OK


def _bot_username(context: Context) -> tuple[str | None, str | None]:
    """Returns the bot's username for links, or ``None`` and a note saying why not."""
    t = context.t
    settings = context.settings
    if settings.bot_username:
        return settings.bot_username.strip().lstrip("@"), None
    token = settings.token
    if not token:
        return None, t._(
            "No link: the bot's username is unknown. "
            "Set STEMME_BOT_USERNAME (or STEMME_BOT_TOKEN, so Telegram can be asked)."
        )
    # httpx logs every request URL at INFO, and the URL holds the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return asyncio.run(_ask_telegram_for_username(token, settings.api_base_url)), None
    except Exception as error:  # any failure only costs the link, never the invite
        reason = (str(error) or type(error).__name__).replace(token, "<token>")
        return None, t._(
            "No link: Telegram did not tell the bot's username ({reason}). "
            "Set STEMME_BOT_USERNAME to avoid asking."
        ).format(reason=reason)


async def _ask_telegram_for_username(token: str, base_url: str) -> str:
    from telegram import Bot  # the admin commands load Telegram only when they need it

    async with Bot(token, base_url=base_url) as bot:
        return bot.username


# ---------------------------------------------------------------- helpers


def _role_label(t: Texts, role: str) -> str:
    return t._(ROLE_LABELS[role]) if role in ROLE_LABELS else role


def _clean_name(context: Context, words: list[str]) -> str:
    name = " ".join(" ".join(words).split())
    if not name or len(name) > NAME_MAX_LENGTH:
        raise CommandFailed(
            context.t._("A name must be 1 to {max} characters long.").format(max=NAME_MAX_LENGTH)
        )
    return name


def _whole_number(text: str, maximum: int, message: str) -> int:
    value = text.strip()
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise CommandFailed(message)
    return int(value)


def _site_json(site: Site) -> dict[str, Any]:
    return {"id": site.id, "name": site.name, "kind": site.kind}


def _team_json(team: Team, site: Site) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "site_id": site.id, "site": site.name}


if __name__ == "__main__":
    raise SystemExit(main())
