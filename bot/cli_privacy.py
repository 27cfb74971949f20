"""``stemme privacy …``: the data protection officer's commands.

new-key, retention, member-notes, apply-retention, export, erase-resident, erase-member,
rotate-key and audit. Each works in one session through ``storage.privacy`` and is
recorded in the audit log as ``cli``. Erasing asks for ``--yes``: it cannot be undone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bot.cli_common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandFailed,
    Context,
    command_session,
    site_named,
    slug,
    team_named,
)
from flows.core.i18n import Texts
from flows.privacy.report import resident_pdf
from storage import audit, crypto, privacy
from storage.directory import get_member, get_member_by_telegram_id
from storage.models import Member, Resident

ACTOR = "cli"


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    as_json: argparse.ArgumentParser,
    t: Texts,
) -> None:
    """Adds ``privacy`` and its subcommands to the ``stemme`` parser."""
    privacy_parser = commands.add_parser(
        "privacy", help=t._("Retention, access exports, erasure and the data key.")
    )
    sub = privacy_parser.add_subparsers(title=t._("commands"), metavar="COMMAND", required=True)
    team_help = t._("The team's id, name, or Site/Team.")

    sub.add_parser(
        "new-key", parents=[as_json], help=t._("Print a new data key for STEMME_DATA_KEY.")
    ).set_defaults(handler=cmd_new_key)

    retention = sub.add_parser(
        "retention", parents=[as_json], help=t._("Set how long a site keeps note text.")
    )
    retention.add_argument("--site", required=True, help=t._("The site's id or name."))
    choice = retention.add_mutually_exclusive_group(required=True)
    choice.add_argument("--days", type=int, help=t._("Remove note text after this many days."))
    choice.add_argument(
        "--keep", action="store_true", help=t._("Keep note text until it is erased.")
    )
    retention.set_defaults(handler=cmd_retention)

    member_notes = sub.add_parser(
        "member-notes",
        parents=[as_json],
        help=t._("Choose what erasing a member does to their notes at a site."),
    )
    member_notes.add_argument("--site", required=True, help=t._("The site's id or name."))
    member_notes.add_argument("choice", choices=["keep", "erase"])
    member_notes.set_defaults(handler=cmd_member_notes)

    sub.add_parser(
        "apply-retention", parents=[as_json], help=t._("Apply the retention policy now.")
    ).set_defaults(handler=cmd_apply_retention)

    export = sub.add_parser(
        "export", parents=[as_json], help=t._("Export everything stored about a resident.")
    )
    export.add_argument("--team", required=True, help=team_help)
    export.add_argument("--resident", required=True, help=t._("The resident's alias."))
    export.add_argument(
        "--out", default=".", help=t._("The folder for the JSON and PDF files (default: here).")
    )
    export.set_defaults(handler=cmd_export)

    erase_resident = sub.add_parser(
        "erase-resident",
        parents=[as_json],
        help=t._("Erase a resident and every note about them."),
    )
    erase_resident.add_argument("--team", required=True, help=team_help)
    erase_resident.add_argument("--resident", required=True, help=t._("The resident's alias."))
    erase_resident.add_argument("--yes", action="store_true", help=t._("Yes, erase for good."))
    erase_resident.set_defaults(handler=cmd_erase_resident)

    erase_member = sub.add_parser(
        "erase-member", parents=[as_json], help=t._("Erase a member (staff or lead).")
    )
    who = erase_member.add_mutually_exclusive_group(required=True)
    who.add_argument("--member", type=int, help=t._("The member's id (see stemme members)."))
    who.add_argument("--telegram-id", type=int, help=t._("The member's Telegram user id."))
    notes = erase_member.add_mutually_exclusive_group()
    notes.add_argument(
        "--erase-notes", action="store_true", help=t._("Erase the notes they wrote too.")
    )
    notes.add_argument(
        "--keep-notes",
        action="store_true",
        help=t._("Keep the notes they wrote, without their name."),
    )
    erase_member.add_argument("--yes", action="store_true", help=t._("Yes, erase for good."))
    erase_member.set_defaults(handler=cmd_erase_member)

    sub.add_parser(
        "rotate-key",
        parents=[as_json],
        help=t._("Re-encrypt all stored text with the first key in STEMME_DATA_KEY."),
    ).set_defaults(handler=cmd_rotate_key)

    audit_parser = sub.add_parser(
        "audit", parents=[as_json], help=t._("Show the newest entries of the audit log.")
    )
    audit_parser.add_argument("--limit", type=int, default=50)
    audit_parser.set_defaults(handler=cmd_audit)


def cmd_new_key(args: argparse.Namespace, context: Context) -> int:
    """Prints a new key."""
    key = crypto.new_key()
    context.emit({"key": key})
    context.say(
        key,
        context.t._(
            "Put it first in STEMME_DATA_KEY (keep the old key after it), restart, and run "
            '"stemme privacy rotate-key". Keep the key apart from the database backups.'
        ),
    )
    return EXIT_OK


def cmd_retention(args: argparse.Namespace, context: Context) -> int:
    """Sets a site's retention period."""
    t = context.t
    days = None if args.keep else args.days
    with command_session(context) as session:
        site = site_named(context, session, args.site)
        try:
            privacy.set_retention(session=session, site=site, days=days, actor=ACTOR)
        except privacy.PrivacyError as error:
            raise CommandFailed(
                t._("The retention period must be at least {days} days.").format(
                    days=privacy.MIN_RETENTION_DAYS
                )
            ) from error
        context.emit({"site": {"id": site.id, "retention_days": days}})
        if days is None:
            context.say(t._("{site} keeps note text until it is erased.").format(site=site.name))
        else:
            context.say(
                t._("{site} removes note text after {days} days.").format(
                    site=site.name, days=days
                )
            )
    return EXIT_OK


def cmd_member_notes(args: argparse.Namespace, context: Context) -> int:
    """Sets what erasing a member does to their notes."""
    t = context.t
    erase = args.choice == "erase"
    with command_session(context) as session:
        site = site_named(context, session, args.site)
        privacy.set_member_notes_policy(session=session, site=site, erase=erase, actor=ACTOR)
        context.emit({"site": {"id": site.id, "erase_authored_notes": erase}})
        context.say(
            t._("Erasing a member at {site} erases their notes too.").format(site=site.name)
            if erase
            else t._("Erasing a member at {site} keeps their notes without their name.").format(
                site=site.name
            )
        )
    return EXIT_OK


def cmd_apply_retention(args: argparse.Namespace, context: Context) -> int:
    """Applies the retention policy now (the bot does it every night)."""
    with command_session(context) as session:
        count = privacy.apply_retention(session=session)
    context.emit({"redacted_notes": count})
    context.say(
        context.t.ngettext(
            "The text of {count} note was removed.",
            "The text of {count} notes was removed.",
            count,
        ).format(count=count)
    )
    return EXIT_OK


def cmd_export(args: argparse.Namespace, context: Context) -> int:
    """Writes the JSON and PDF export of one resident."""
    t = context.t
    out = Path(args.out)
    if not out.is_dir():
        raise CommandFailed(t._("The folder {folder} does not exist.").format(folder=out))
    with command_session(context) as session:
        resident = _resident_named(context, session, args.team, args.resident)
        exported = privacy.export_resident(session=session, resident=resident, actor=ACTOR)
    stem = f"stemme-{slug(resident.alias, 'borger')}-{exported['exported_at'][:10]}"
    json_path = out / f"{stem}.json"
    pdf_path = out / f"{stem}.pdf"
    json_path.write_text(json.dumps(exported, ensure_ascii=False, indent=2), encoding="utf-8")
    pdf_path.write_bytes(resident_pdf(exported, t))
    context.emit({"json": str(json_path), "pdf": str(pdf_path), "notes": len(exported["notes"])})
    context.say(
        t._(
            "Written: {json} and {pdf}. They contain personal data: handle them with care."
        ).format(json=json_path, pdf=pdf_path)
    )
    return EXIT_OK


def _resident_named(context: Context, session: Session, team_name: str, alias: str) -> Resident:
    """The resident with this alias in the team an administrator named, or a clear failure."""
    team = team_named(context, session, team_name)
    assert team.id is not None
    resident = privacy.find_resident(session=session, team_id=team.id, alias=alias)
    if resident is None:
        raise CommandFailed(
            context.t._("{team} has no resident called {alias}.").format(
                team=team.name, alias=alias
            )
        )
    return resident


def cmd_erase_resident(args: argparse.Namespace, context: Context) -> int:
    """Erases one resident."""
    t = context.t
    if not args.yes:
        context.note(t._("Erasing cannot be undone. Add --yes to erase."))
        return EXIT_USAGE
    with command_session(context) as session:
        resident = _resident_named(context, session, args.team, args.resident)
        erased = privacy.erase_resident(session=session, resident=resident, actor=ACTOR)
    context.emit({"erased": erased.counts})
    context.say(t._("Erased: {counts}").format(counts=_counts(erased.counts)))
    return EXIT_OK


def cmd_erase_member(args: argparse.Namespace, context: Context) -> int:
    """Erases one member."""
    t = context.t
    if not args.yes:
        context.note(t._("Erasing cannot be undone. Add --yes to erase."))
        return EXIT_USAGE
    erase_notes: bool | None = True if args.erase_notes else False if args.keep_notes else None
    with command_session(context) as session:
        member: Member | None
        if args.member is not None:
            member = get_member(session=session, member_id=args.member)
        else:
            member = get_member_by_telegram_id(session=session, telegram_id=args.telegram_id)
        if member is None or member.telegram_id < 0:
            raise CommandFailed(t._("There is no such member."))
        erased = privacy.erase_member(
            session=session, member=member, actor=ACTOR, erase_notes=erase_notes
        )
    context.emit({"erased": erased.counts})
    context.say(t._("Erased: {counts}").format(counts=_counts(erased.counts)))
    return EXIT_OK


def cmd_rotate_key(args: argparse.Namespace, context: Context) -> int:
    """Re-encrypts every stored value with the first key."""
    with command_session(context) as session:
        try:
            changed = privacy.rotate_key(session=session, actor=ACTOR)
        except crypto.KeyProblem as problem:
            raise CommandFailed(
                context.t._(
                    "A stored value does not open with the keys in STEMME_DATA_KEY. Put the "
                    "old key back after the new one and try again."
                )
            ) from problem
    context.emit({"reencrypted": changed, "key": crypto.configured_fingerprints()[0]})
    context.say(
        context.t._(
            "{count} values are now encrypted with key {key}. The older keys can be removed."
        ).format(count=changed, key=crypto.configured_fingerprints()[0])
    )
    return EXIT_OK


def cmd_audit(args: argparse.Namespace, context: Context) -> int:
    """Shows the newest audit entries."""
    with command_session(context) as session:
        rows = audit.entries(session=session, limit=max(1, min(args.limit, 1000)))
        listed: list[dict[str, Any]] = [
            {
                "at": row.at.isoformat(),
                "actor": row.actor,
                "action": row.action,
                "team_id": row.team_id,
                "detail": row.detail,
            }
            for row in rows
        ]
    context.emit({"entries": listed})
    for entry in listed:
        context.say(
            f"{entry['at'][:19]}  {entry['actor']:<12} {entry['action']:<32} "
            f"{entry['team_id'] or '-'}  {json.dumps(entry['detail'], ensure_ascii=False)}"
        )
    return EXIT_OK


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{table} {count}" for table, count in counts.items()) or "-"
