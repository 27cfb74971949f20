"""/privacy: what stemme stores about the team and for how long, for every member; for a
lead also the team's privacy log and the erasure of a resident who has moved out.

```mermaid
flowchart TD
    P["/privacy"] --> I[what is stored, the site's retention, whom to ask]
    I -->|lead: Privacy log| L["prv:log:TEAM:PAGE: 10 entries, newest first"]
    L -->|Older / Newer| L
    I -->|lead: Erase a resident who has moved out| D[the team's deactivated residents]
    D -->|prv:pick:ID| C["privacy.confirm: what will be erased, counted"]
    C -->|"Yes, erase everything about ALIAS"| E[erased, with the counts; audited]
    C -->|Cancel erasing| K[nothing changed]
```
Export, erasing a member, retention and the data key stay on the command line, with IT
and the data protection officer (docs/privacy.md). Every button carries ids that are
checked against the lead's current team; only the confirmation step can erase, and only
the resident it was shown for.
"""

from __future__ import annotations

import logging
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from flows.core.engine import END, Flow, States, StemmeContext, alert, respond
from flows.core.guard import lead_only, stale_button
from flows.core.i18n import N_, Texts
from flows.core.pickers import resident_buttons
from storage.directory import get_site
from storage.models import AuditEntry, Resident, Role, Team
from storage.privacy import (
    AuditPage,
    actor_member_id,
    deactivated_residents,
    erasable_resident,
    erase_resident,
    preview_resident_erasure,
    team_audit_page,
)

logger = logging.getLogger(__name__)


class State(States):
    """The one step that waits: the lead confirms an erasure (or not)."""

    CONFIRM = "privacy.confirm"


# Each action written to the audit log (grep for ``record(``), as the lead reads it.
ACTIONS: dict[str, str] = {
    "team.add": N_("{who} created the team"),
    "team.shifts": N_("{who} changed the shift times"),
    "group.link": N_("{who} linked a Telegram group to the team"),
    "resident.add": N_("{who} added a resident"),
    "resident.rename": N_("{who} gave a resident a new alias"),
    "resident.deactivate": N_("{who} deactivated a resident"),
    "case.decide": N_("{who} took a case on to a decision"),
    "case.back": N_("{who} took a case back to the team"),
    "case.close": N_("{who} closed a case"),
    "privacy.export_resident": N_("{who} exported everything about a resident (access request)"),
    "privacy.erase_member": N_("{who} erased a member's data"),
    "privacy.retention": N_("{who} changed how long note text is kept"),
    "privacy.retention_applied": N_("{who} removed the text of old micro-moments"),
    "privacy.member_notes_policy": N_("{who} chose what happens to an erased member's notes"),
    "privacy.rotate_key": N_("{who} changed the data key"),
    "site.add": N_("{who} created the site"),
    "site.pulse_threshold": N_("{who} changed how many answers a pulse needs"),
}


# ---------------------------------------------------------------- everyone


async def show(update: Update, context: StemmeContext) -> str | None:
    """Tells what is stored for the team, for how long, and whom to ask; leads get buttons."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    site = get_site(session=context.session, site_id=team.site_id)
    days = site.retention_days if site is not None else None
    erase_notes = bool(site.erase_authored_notes) if site is not None else False
    contact = (context.services.settings.privacy_contact or "").strip()
    paragraphs = [
        _("Privacy in {team}").format(team=team.name),
        _(
            "stemme stores for the team: residents by alias only (never a CPR number), "
            "micro-moments (text, or a reference to a voice message Telegram keeps), cases, "
            "proposals and votes. Free text is encrypted in the database. Messages pass "
            "through Telegram's servers."
        ),
        _(
            "The text of micro-moments is deleted after {days} days; the counts and the "
            "agreed approaches stay."
        ).format(days=days)
        if days is not None
        else _("Micro-moments are kept until someone deletes them."),
        _("If a member is erased, the micro-moments they wrote are erased too.")
        if erase_notes
        else _(
            "If a member is erased, the micro-moments they wrote stay with the team, "
            "without their name."
        ),
        _("Questions about your data? Contact: {contact}").format(contact=contact)
        if contact
        else _(
            "Questions about your data? Ask your team lead or the municipality's data "
            "protection officer (DPO)."
        ),
    ]
    markup = None
    if context.is_lead:
        paragraphs.append(
            _(
                "As team lead you can read the team's privacy log and erase a resident who has "
                "moved out. Exports, erasing a member and retention are done by IT."
            )
        )
        markup = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(_("Privacy log"), callback_data=f"prv:log:{team.id}:0")],
                [
                    InlineKeyboardButton(
                        _("Erase a resident who has moved out"),
                        callback_data=f"prv:gone:{team.id}",
                    )
                ],
            ]
        )
    await respond(update, "\n\n".join(paragraphs), markup, edit=False)
    return END


# ---------------------------------------------------------------- the lead's privacy log


async def show_log(update: Update, context: StemmeContext) -> str | None:
    """Shows one page of the team's audit log, newest first."""
    _ = context.texts._
    team = await _lead_team(update, context, "log", team_button=True)
    if team is None:
        return END
    assert context.matches
    page = team_audit_page(
        session=context.session, team_id=team.id or 0, page=int(context.matches[0].group(2))
    )
    if not page.entries and page.page == 0:
        await respond(
            update, _("Nothing is in the privacy log of {team} yet.").format(team=team.name)
        )
        return END
    lines = [_("Privacy log of {team}, newest first:").format(team=team.name), ""]
    lines += [_log_line(context.texts, entry, page) for entry in page.entries]
    lines += ["", _("The log says who did what, never what was written.")]
    navigation = []
    if page.page > 0:
        navigation.append(
            InlineKeyboardButton(_("◀ Newer"), callback_data=f"prv:log:{team.id}:{page.page - 1}")
        )
    if page.older:
        navigation.append(
            InlineKeyboardButton(_("Older ▶"), callback_data=f"prv:log:{team.id}:{page.page + 1}")
        )
    # The log replaces the /privacy message: its other button stays at hand.
    rows = [navigation] if navigation else []
    rows.append(
        [
            InlineKeyboardButton(
                _("Erase a resident who has moved out"), callback_data=f"prv:gone:{team.id}"
            )
        ]
    )
    await respond(update, "\n".join(lines), InlineKeyboardMarkup(rows))
    return END


def _log_line(texts: Texts, entry: AuditEntry, page: AuditPage) -> str:
    _ = texts._
    return _("{when}: {event}").format(
        when=_when(texts, entry.at), event=describe(texts, entry, page.names)
    )


def _when(texts: Texts, moment: datetime) -> str:
    return f"{texts.short_day(moment)} {texts.clock(moment)}"


def who(texts: Texts, actor: str, names: dict[int, str | None]) -> str:
    """Names the actor of an audit entry: a member, an erased member, IT, an administrator."""
    _ = texts._
    member_id = actor_member_id(actor)
    if member_id is not None:
        return names.get(member_id) or _("erased member")
    if actor == "cli":
        return _("CLI/IT")
    if actor == "system":
        return _("stemme (automatic)")
    if actor.startswith("admin:"):
        return _("An administrator")
    return _("Someone")


def describe(texts: Texts, entry: AuditEntry, names: dict[int, str | None]) -> str:
    """One audit entry as a sentence: who did what; ids and counts only, never text."""
    _ = texts._
    actor = who(texts, entry.actor, names)
    detail = entry.detail or {}
    action = entry.action
    if action == "member.remove":
        subject = detail.get("member_id")
        name = names.get(subject) if isinstance(subject, int) else None
        return _("{who} removed {name} from the team").format(
            who=actor, name=name or _("erased member")
        )
    if action == "privacy.erase_resident":
        removed = detail.get("removed") or {}
        count = int(removed.get("note", 0)) if isinstance(removed, dict) else 0
        return texts.ngettext(
            "{who} erased a resident and everything about them ({count} micro-moment)",
            "{who} erased a resident and everything about them ({count} micro-moments)",
            count,
        ).format(who=actor, count=count)
    if action == "invite.create":
        if detail.get("role") == Role.LEAD:
            return _("{who} made an invite link for team leads").format(who=actor)
        return _("{who} made an invite link for staff").format(who=actor)
    if action == "invite.redeem":
        if detail.get("role") == Role.LEAD:
            return _("{who} joined the team as team lead").format(who=actor)
        return _("{who} joined the team as staff").format(who=actor)
    if action == "team.chat_hygiene":
        if detail.get("enabled"):
            return _("{who} turned chat hygiene on").format(who=actor)
        return _("{who} turned chat hygiene off").format(who=actor)
    if action in ACTIONS:
        return _(ACTIONS[action]).format(who=actor)
    return _("{who} did something else ({action})").format(who=actor, action=action)


# ---------------------------------------------------------------- erasing a resident


async def pick_resident(update: Update, context: StemmeContext) -> str | None:
    """Lists the team's deactivated residents to choose whom to erase."""
    team = await _lead_team(update, context, "pick", team_button=True)
    if team is None:
        return END
    return await _residents_page(update, context, team, 0)


async def turn_page(update: Update, context: StemmeContext) -> str | None:
    """Shows another page of the deactivated residents."""
    team = await _lead_team(update, context, "page")
    if team is None:
        return END
    assert context.matches
    return await _residents_page(update, context, team, int(context.matches[0].group(1)))


async def _residents_page(update: Update, context: StemmeContext, team: Team, page: int) -> str:
    _ = context.texts._
    residents = deactivated_residents(session=context.session, team_id=team.id or 0)
    if not residents:
        await respond(
            update,
            _(
                "No residents are deactivated in {team}. To erase a resident who has moved "
                "out, deactivate them in /residents first."
            ).format(team=team.name),
        )
        return END
    await respond(
        update,
        _(
            "Whom do you want to erase? Only deactivated residents are shown: an active "
            "resident is deactivated in /residents first."
        ),
        resident_buttons(residents, action="prv:pick", page=page, texts=context.texts),
    )
    return END


async def confirm_erase(update: Update, context: StemmeContext) -> str | None:
    """Shows what erasing the chosen resident removes and asks to confirm."""
    _ = context.texts._
    team = await _lead_team(update, context, "confirm")
    if team is None:
        return END
    assert context.matches
    resident = await _erasable(update, context, team, int(context.matches[0].group(1)))
    if resident is None:
        return END
    preview = preview_resident_erasure(session=context.session, resident=resident)
    context.flow_data["resident_id"] = resident.id
    lines = [
        _("Erase {alias} for good? This deletes:").format(alias=resident.alias),
        *_count_lines(context.texts, preview.counts),
        "",
        _(
            "This cannot be undone. If someone has asked for a copy of the data, ask IT for "
            "an export first."
        ),
    ]
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Yes, erase everything about {alias}").format(alias=resident.alias),
                    callback_data=f"prv:erase:{resident.id}",
                )
            ],
            [InlineKeyboardButton(_("Cancel erasing"), callback_data="prv:keep")],
        ]
    )
    await respond(update, "\n".join(lines), markup)
    return State.CONFIRM


async def erase(update: Update, context: StemmeContext) -> str | None:
    """Erases the resident shown in the confirmation and tells what was removed."""
    _ = context.texts._
    member, _membership, _team = context.require_member()
    team = await _lead_team(update, context, "erase")
    if team is None:
        return END
    assert context.matches
    resident_id = int(context.matches[0].group(1))
    if resident_id != context.flow_data.get("resident_id"):
        logger.info(
            "Privacy: erasure of resident %s refused for member %s: not the one confirmed",
            resident_id,
            member.id,
        )
        await stale_button(update, context)
        return END
    resident = await _erasable(update, context, team, resident_id, lock=True)
    if resident is None:
        return END
    alias = resident.alias
    erased = erase_resident(
        session=context.session, resident=resident, actor=f"member:{member.id}"
    )
    logger.info(
        "Privacy: resident %s of team %s erased by member %s", resident_id, team.id, member.id
    )
    lines = [
        _("Erased ✔ Everything about {alias} is deleted:").format(alias=alias),
        *_count_lines(context.texts, erased.counts),
        "",
        _("The erasure is in the team's privacy log."),
    ]
    await respond(update, "\n".join(lines))
    return END


async def keep(update: Update, context: StemmeContext) -> str | None:
    """Leaves the resident as they were."""
    await respond(update, context.texts._("Nothing was erased."))
    return END


def _count_lines(texts: Texts, counts: dict[str, int]) -> list[str]:
    """What an erasure removes (or would), as the lead reads it; the other tables (markers,
    answers, attached notes, reminders) go with these."""
    phrases = {
        "note": texts.ngettext(
            "{count} micro-moment", "{count} micro-moments", counts.get("note", 0)
        ),
        "resident_case": texts.ngettext(
            "{count} case (Borgerens stemme)",
            "{count} cases (Borgerens stemme)",
            counts.get("resident_case", 0),
        ),
        "case_perspective": texts.ngettext(
            "{count} perspective", "{count} perspectives", counts.get("case_perspective", 0)
        ),
        "decision": texts.ngettext(
            "{count} decision with its proposals",
            "{count} decisions with their proposals",
            counts.get("decision", 0),
        ),
        "vote": texts.ngettext("{count} vote", "{count} votes", counts.get("vote", 0)),
        "trial_action": texts.ngettext(
            "{count} trial action", "{count} trial actions", counts.get("trial_action", 0)
        ),
        "checkin": texts.ngettext(
            "{count} check-in on a trial action",
            "{count} check-ins on trial actions",
            counts.get("checkin", 0),
        ),
    }
    lines = [
        "• " + phrase.format(count=counts[table])
        for table, phrase in phrases.items()
        if counts.get(table)
    ]
    return lines or ["• " + texts._("the alias only: nothing was noted about them")]


async def _lead_team(
    update: Update, context: StemmeContext, step: str, *, team_button: bool = False
) -> Team | None:
    """The lead's current team, if the presser still leads it and (``team_button``: the
    button's first number is a team id) the button names it; otherwise answers, logs ids
    only, and returns None."""
    member, _membership, team = context.require_member()
    if not context.is_lead:
        logger.info(
            "Privacy %s refused: member %s does not lead team %s", step, member.id, team.id
        )
        await lead_only(update, context)
        return None
    if team_button:
        assert context.matches
        pressed = int(context.matches[0].group(1))
        if pressed != team.id:
            logger.info(
                "Privacy %s refused: member %s pressed a button of team %s in team %s",
                step,
                member.id,
                pressed,
                team.id,
            )
            await stale_button(update, context)
            return None
    return team


async def _erasable(
    update: Update, context: StemmeContext, team: Team, resident_id: int, *, lock: bool = False
) -> Resident | None:
    """The team's deactivated resident with this id; otherwise answers and returns None."""
    _ = context.texts._
    member, _membership, _team = context.require_member()
    resident = erasable_resident(
        session=context.session, team_id=team.id or 0, resident_id=resident_id, lock=lock
    )
    if resident is None:
        logger.info(
            "Privacy: resident %s is not in team %s (member %s): nothing erased",
            resident_id,
            team.id,
            member.id,
        )
        await alert(
            update,
            _(
                "That resident is not on the team's list: perhaps already erased. Nothing was "
                "changed."
            ),
        )
        return None
    if resident.active:
        logger.info(
            "Privacy: resident %s of team %s is active (member %s): nothing erased",
            resident_id,
            team.id,
            member.id,
        )
        await respond(
            update,
            _(
                "{alias} is active on the team's list, so nothing was erased. Deactivate them "
                "in /residents first."
            ).format(alias=resident.alias),
        )
        return None
    return resident


def build_flow() -> Flow:
    """The privacy flow: /privacy for everyone; the log and erasure for leads."""
    return Flow(
        name="privacy",
        entry_points=[
            CommandHandler("privacy", show, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(show_log, pattern=r"^prv:log:(\d{1,9}):(\d{1,9})$"),
            CallbackQueryHandler(pick_resident, pattern=r"^prv:gone:(\d{1,9})$"),
            CallbackQueryHandler(turn_page, pattern=r"^prv:pick:page:(\d{1,9})$"),
            CallbackQueryHandler(confirm_erase, pattern=r"^prv:pick:(\d{1,9})$"),
        ],
        states={
            State.CONFIRM: [
                CallbackQueryHandler(erase, pattern=r"^prv:erase:(\d{1,9})$"),
                CallbackQueryHandler(keep, pattern=r"^prv:keep$"),
            ]
        },
        hints={
            State.CONFIRM: N_(
                "Press one of the buttons above to erase or not, or send /cancel to stop."
            )
        },
    )
