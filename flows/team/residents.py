"""The team's residents: everyone sees the list; the lead adds, renames and deactivates.

```mermaid
flowchart TD
    L["/residents"] --> V[list of aliases]
    V -->|lead: Add| A[residents.alias: write alias] -->|text| S[stored, list again]
    V -->|lead: Rename| R[pick resident] --> RA[residents.rename: write new alias] -->|text| S
    V -->|lead: Deactivate| D[pick resident] --> C[confirm] -->|yes| S
```
Residents are known only by the alias the team chooses ("Fru H., stue 12").
Every button carries a resident id that is checked against the member's team.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, States, StemmeContext, alert, respond
from flows.core.guard import leads_only, stale_button
from flows.core.i18n import N_
from flows.core.pickers import alias_problem, confirm_buttons, resident_buttons
from flows.moments.micromoment import FREE_TEXT
from storage.models import Resident
from storage.residents import (
    AliasInvalid,
    AliasTaken,
    add_resident,
    deactivate_resident,
    get_team_resident,
    list_residents,
    rename_resident,
)

logger = logging.getLogger(__name__)


class State(States):
    """Where a lead is while editing the resident list."""

    ALIAS = "residents.alias"
    RENAME = "residents.rename"


def _list_text(context: StemmeContext, residents: list[Resident]) -> str:
    _ = context.texts._
    _member, _membership, team = context.require_member()
    if not residents:
        if context.is_lead:
            return _("{team} has no residents yet. Add them by the alias the team uses.").format(
                team=team.name
            )
        return _("{team} has no residents yet. Your team lead adds them.").format(team=team.name)
    lines = [_("Residents in {team}:").format(team=team.name), ""]
    lines += [f"• {resident.alias}" for resident in residents]
    return "\n".join(lines)


def _lead_buttons(context: StemmeContext, residents: list[Resident]) -> InlineKeyboardMarkup:
    _ = context.texts._
    rows = [[InlineKeyboardButton(_("➕ Add resident"), callback_data="res:add")]]
    if residents:
        rows.append(
            [
                InlineKeyboardButton(_("✏️ Rename"), callback_data="res:ren:page:0"),
                InlineKeyboardButton(_("Deactivate"), callback_data="res:off:page:0"),
            ]
        )
    return InlineKeyboardMarkup(rows)


async def show(update: Update, context: StemmeContext) -> str | None:
    """Shows the team's residents; leads also get the edit buttons."""
    _member, _membership, team = context.require_member()
    residents = list_residents(session=context.session, team_id=team.id or 0)
    markup = _lead_buttons(context, residents) if context.is_lead else None
    await respond(update, _list_text(context, residents), markup, edit=False)
    return END


@leads_only
async def ask_alias(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead for the new resident's alias."""
    _ = context.texts._
    await respond(
        update,
        _(
            'Write the resident\'s alias, as the team knows them, e.g. "Mrs H., room 12". '
            "Never a CPR number or full name. (/cancel to stop)"
        ),
    )
    return State.ALIAS


async def store_alias(update: Update, context: StemmeContext) -> str | None:
    """Adds the resident and shows the list again."""
    member, _membership, team = context.require_member()
    if not context.is_lead:
        await alert(update, context.texts._("Only the team lead can do that."))
        return END
    message = update.effective_message
    assert message is not None and message.text is not None
    resident = await _apply_alias(update, context, message.text, None)
    if resident is None:
        return None
    logger.info("Resident %s added to team %s by member %s", resident.id, team.id, member.id)
    return await _done(
        update, context, context.texts._("Added: {alias}").format(alias=resident.alias)
    )


async def _apply_alias(
    update: Update, context: StemmeContext, text: str, resident: Resident | None
) -> Resident | None:
    """Adds or renames; on a problem tells the user and returns None (the step stays)."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    try:
        if resident is None:
            return add_resident(
                session=context.session,
                team_id=team.id or 0,
                alias=text,
                actor_member_id=member.id or 0,
            )
        return rename_resident(
            session=context.session, resident=resident, alias=text, actor_member_id=member.id or 0
        )
    except (AliasTaken, AliasInvalid) as problem:
        await respond(update, alias_problem(context.texts, problem))
    return None


@leads_only
async def pick_for_rename(update: Update, context: StemmeContext) -> str | None:
    """Shows the residents as buttons to choose whom to rename."""
    return await _pick(update, context, "res:ren", context.texts._("Whom do you want to rename?"))


@leads_only
async def pick_for_deactivate(update: Update, context: StemmeContext) -> str | None:
    """Shows the residents as buttons to choose whom to deactivate."""
    return await _pick(
        update, context, "res:off", context.texts._("Whom do you want to deactivate?")
    )


async def _pick(update: Update, context: StemmeContext, action: str, question: str) -> str | None:
    _member, _membership, team = context.require_member()
    assert context.matches
    page = int(context.matches[0].group(1))
    residents = list_residents(session=context.session, team_id=team.id or 0)
    await respond(
        update,
        question,
        resident_buttons(residents, action=action, page=page, texts=context.texts),
    )
    return None


def _resident_from_button(context: StemmeContext) -> Resident | None:
    _member, _membership, team = context.require_member()
    assert context.matches
    return get_team_resident(
        session=context.session, team_id=team.id or 0, resident_id=int(context.matches[0].group(1))
    )


@leads_only
async def ask_new_alias(update: Update, context: StemmeContext) -> str | None:
    """Remembers whom to rename and asks for the new alias."""
    resident = _resident_from_button(context)
    if resident is None:
        logger.info("Rename refused: resident not in the member's team or inactive")
        await stale_button(update, context)
        return END
    context.flow_data["resident_id"] = resident.id
    await respond(
        update,
        context.texts._("Write the new alias for {alias}. (/cancel to stop)").format(
            alias=resident.alias
        ),
    )
    return State.RENAME


async def store_new_alias(update: Update, context: StemmeContext) -> str | None:
    """Renames the resident chosen before."""
    _member, _membership, team = context.require_member()
    message = update.effective_message
    assert message is not None and message.text is not None
    resident = get_team_resident(
        session=context.session,
        team_id=team.id or 0,
        resident_id=int(context.flow_data.get("resident_id", 0)),
    )
    if resident is None or not context.is_lead:
        await respond(update, context.texts._("That resident is no longer on the team's list."))
        return END
    old_alias = resident.alias
    if await _apply_alias(update, context, message.text, resident) is None:
        return None
    return await _done(
        update,
        context,
        context.texts._("Renamed: {old} is now {new}").format(old=old_alias, new=resident.alias),
    )


@leads_only
async def confirm_deactivate(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead to confirm deactivating a resident."""
    _ = context.texts._
    resident = _resident_from_button(context)
    if resident is None:
        await stale_button(update, context)
        return END
    markup = confirm_buttons(
        context.texts,
        yes_label=_("Yes, deactivate"),
        yes_data=f"res:off!:{resident.id}",
        no_data="res:keep",
    )
    await respond(
        update,
        _(
            "Deactivate {alias}? The resident disappears from the lists; what the team noted "
            "is kept. Adding the same alias again brings them back."
        ).format(alias=resident.alias),
        markup,
    )
    return None


@leads_only
async def deactivate(update: Update, context: StemmeContext) -> str | None:
    """Deactivates the resident."""
    member, _membership, _team = context.require_member()
    resident = _resident_from_button(context)
    if resident is None:
        await stale_button(update, context)
        return END
    deactivate_resident(session=context.session, resident=resident, actor_member_id=member.id or 0)
    return await _done(
        update, context, context.texts._("Deactivated: {alias}").format(alias=resident.alias)
    )


async def keep(update: Update, context: StemmeContext) -> str | None:
    """Leaves everything as it was."""
    return await _done(update, context, context.texts._("Nothing was changed."))


async def _done(update: Update, context: StemmeContext, outcome: str) -> str:
    _member, _membership, team = context.require_member()
    residents = list_residents(session=context.session, team_id=team.id or 0)
    markup = _lead_buttons(context, residents) if context.is_lead else None
    await respond(update, outcome + "\n\n" + _list_text(context, residents), markup, edit=False)
    return END


TEXT = FREE_TEXT


def build_flow() -> Flow:
    """The residents flow: its entry points and states table."""
    return Flow(
        name="residents",
        entry_points=[
            CommandHandler("residents", show, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(ask_alias, pattern=r"^res:add$"),
            CallbackQueryHandler(pick_for_rename, pattern=r"^res:ren:page:(\d{1,9})$"),
            CallbackQueryHandler(ask_new_alias, pattern=r"^res:ren:(\d{1,9})$"),
            CallbackQueryHandler(pick_for_deactivate, pattern=r"^res:off:page:(\d{1,9})$"),
            CallbackQueryHandler(confirm_deactivate, pattern=r"^res:off:(\d{1,9})$"),
            CallbackQueryHandler(deactivate, pattern=r"^res:off!:(\d{1,9})$"),
            CallbackQueryHandler(keep, pattern=r"^res:keep$"),
        ],
        states={
            State.ALIAS: [MessageHandler(TEXT, store_alias)],
            State.RENAME: [MessageHandler(TEXT, store_new_alias)],
        },
        hints={
            State.ALIAS: N_("Write the resident's alias as text, or send /cancel to stop."),
            State.RENAME: N_("Write the new alias as text, or send /cancel to stop."),
        },
    )
