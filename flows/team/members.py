"""The team: who is in it, switching team, removing a member, inviting staff.

```mermaid
flowchart TD
    T["/team"] --> L[members by role]
    L -->|member of several teams| S[team:switch:ID] --> L2[now working in team]
    L -->|lead: Remove a member| P[pick member] --> C[confirm] -->|yes| R[membership ended]
    I["/invite (lead)"] --> N[how many people?] -->|invite:uses:N| K[link valid 7 days]
```
All buttons are stateless and carry ids that are checked against the database:
a lead can only remove members of the team they lead, a member can only switch
to a team they belong to.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from flows.core.engine import END, Flow, StemmeContext, respond
from flows.core.guard import leads_only, stale_button
from flows.core.menu import clear_member_menu, set_member_menu
from flows.core.pickers import confirm_buttons
from storage.db import utcnow
from storage.directory import (
    DEFAULT_INVITE_DAYS,
    active_memberships,
    create_invite,
    get_member,
    get_membership,
    get_site,
    remove_member,
    switch_team,
    team_members,
)
from storage.models import Role
from storage.rhythm import unreachable_members

logger = logging.getLogger(__name__)

INVITE_SIZES = (1, 5, 20)


def _team_view(context: StemmeContext) -> tuple[str, InlineKeyboardMarkup | None]:
    _ = context.texts._
    member, _membership, team = context.require_member()
    site = get_site(session=context.session, site_id=team.site_id)
    rows = team_members(session=context.session, team_id=team.id or 0)
    leads = [row.member.name for row in rows if row.membership.role == Role.LEAD]
    staff = [row.member.name for row in rows if row.membership.role != Role.LEAD]
    lines = [
        _("{team} at {site}").format(team=team.name, site=site.name if site else "–"),
        "",
        _("Team leads: {names}").format(names=", ".join(leads) or "–"),
        _("Staff ({count}): {names}").format(count=len(staff), names=", ".join(staff) or "–"),
    ]
    if context.is_lead:
        lines += _unreachable_lines(context, team.id or 0)
    buttons = []
    for _other_membership, other in active_memberships(
        session=context.session, member_id=member.id or 0
    ):
        if other.id != team.id:
            buttons.append(
                [
                    InlineKeyboardButton(
                        _("Switch to {team}").format(team=other.name),
                        callback_data=f"team:switch:{other.id}",
                    )
                ]
            )
    if context.is_lead and len(rows) > 1:
        buttons.append([InlineKeyboardButton(_("Remove a member"), callback_data="team:remove")])
    return "\n".join(lines), InlineKeyboardMarkup(buttons) if buttons else None


def _unreachable_lines(context: StemmeContext, team_id: int) -> list[str]:
    """For the lead: members the bot could not reach lately, and what to do about it."""
    _ = context.texts._
    names = [
        member.name
        for member in unreachable_members(session=context.session, team_id=team_id, now=utcnow())
    ]
    if not names:
        return []
    return [
        "",
        _(
            "⚠ Not reachable: {names}. They have blocked the bot or deleted their Telegram "
            "account, so reminders do not reach them. Ask them to open the chat with the bot "
            "and press Start (or Restart). They leave this list when they use the bot again "
            "or a reminder reaches them."
        ).format(names=", ".join(names)),
    ]


async def show(update: Update, context: StemmeContext) -> str | None:
    """Shows the team's leads and staff, with switch and remove buttons where they apply."""
    text, markup = _team_view(context)
    await respond(update, text, markup, edit=False)
    return END


async def switch(update: Update, context: StemmeContext) -> str | None:
    """Makes another of the member's teams the current one."""
    member, _membership, _team = context.require_member()
    assert context.matches and update.effective_user is not None
    team = switch_team(
        session=context.session, member=member, team_id=int(context.matches[0].group(1))
    )
    if team is None:
        logger.info("Team switch refused: member %s is not in that team", member.id)
        await stale_button(update, context)
        return END
    membership = get_membership(
        session=context.session, member_id=member.id or 0, team_id=team.id or 0
    )
    context.team, context.membership = team, membership
    await respond(update, context.texts._("You are now working in {team}.").format(team=team.name))
    await set_member_menu(
        context.bot, chat_id=update.effective_user.id, is_lead=context.is_lead, texts=context.texts
    )
    return END


@leads_only
async def pick_member(update: Update, context: StemmeContext) -> str | None:
    """Lists the team's other members as buttons."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    rows = [
        [
            InlineKeyboardButton(
                row.member.name, callback_data=f"team:remove:{team.id}:{row.member.id}"
            )
        ]
        for row in team_members(session=context.session, team_id=team.id or 0)
        if row.member.id != member.id
    ]
    rows.append([InlineKeyboardButton(_("Cancel"), callback_data="team:keep")])
    await respond(
        update,
        _("Whom do you want to remove from {team}?").format(team=team.name),
        InlineKeyboardMarkup(rows),
    )
    return None


def _button_for_current_team(context: StemmeContext) -> int | None:
    """Returns the button's second number if its first names the team the member works in now.

    A lead of two teams may press a button from one team after switching to the
    other; the button then no longer applies and must not act on the current team.
    """
    assert context.matches
    team_id, value = (int(group) for group in context.matches[0].groups())
    if context.team is None or context.team.id != team_id:
        return None
    return value


def _removable(context: StemmeContext, member_id: int) -> str | None:
    """Returns the name of an active member of the lead's team, other than the lead."""
    member, _membership, team = context.require_member()
    if member_id == member.id:
        return None
    membership = get_membership(session=context.session, member_id=member_id, team_id=team.id or 0)
    other = get_member(session=context.session, member_id=member_id)
    if membership is None or not membership.active or other is None:
        return None
    return other.name


@leads_only
async def confirm_remove(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead to confirm removing a member."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    member_id = _button_for_current_team(context)
    name = _removable(context, member_id) if member_id is not None else None
    if member_id is None or name is None:
        logger.info("Removal refused: not a removable member of the lead's current team")
        await stale_button(update, context)
        return END
    markup = confirm_buttons(
        context.texts,
        yes_label=_("Yes, remove"),
        yes_data=f"team:remove!:{team.id}:{member_id}",
        no_data="team:keep",
    )
    await respond(
        update,
        _(
            "Remove {name} from {team}? They can no longer see the team's notes. "
            "What they noted stays with the team."
        ).format(name=name, team=team.name),
        markup,
    )
    return None


@leads_only
async def remove(update: Update, context: StemmeContext) -> str | None:
    """Ends the member's membership of the lead's team."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    member_id = _button_for_current_team(context)
    name = _removable(context, member_id) if member_id is not None else None
    if (
        member_id is None
        or name is None
        or not remove_member(
            session=context.session,
            team_id=team.id or 0,
            member_id=member_id,
            actor_member_id=member.id or 0,
        )
    ):
        await stale_button(update, context)
        return END
    logger.info("Member %s removed from team %s by member %s", member_id, team.id, member.id)
    removed = get_member(session=context.session, member_id=member_id)
    if removed is not None and not active_memberships(
        session=context.session, member_id=member_id
    ):
        await clear_member_menu(context.bot, chat_id=removed.telegram_id)
    await respond(
        update, _("{name} is no longer a member of {team}.").format(name=name, team=team.name)
    )
    return END


async def keep(update: Update, context: StemmeContext) -> str | None:
    """Leaves the team as it was."""
    await respond(update, context.texts._("Nothing was changed."))
    return END


async def ask_invite_size(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead how many people the invite link is for."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    buttons = [
        InlineKeyboardButton(
            context.texts.ngettext("{count} person", "{count} people", size).format(count=size),
            callback_data=f"invite:uses:{team.id}:{size}",
        )
        for size in INVITE_SIZES
    ]
    await respond(
        update,
        _("Invite staff to {team}. How many people may use the link?").format(team=team.name),
        InlineKeyboardMarkup([buttons]),
        edit=False,
    )
    return END


@leads_only
async def create_link(update: Update, context: StemmeContext) -> str | None:
    """Creates a staff invite and shows the link to pass on."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    uses = _button_for_current_team(context)
    if uses not in INVITE_SIZES:
        await stale_button(update, context)
        return END
    invite = create_invite(
        session=context.session,
        team=team,
        role=Role.STAFF,
        max_uses=uses,
        days=DEFAULT_INVITE_DAYS,
        actor=f"member:{member.id}",
        created_by_member_id=member.id,
    )
    link = f"https://t.me/{context.bot.username}?start={invite.code}"
    await respond(
        update,
        _(
            "Here is the invite link for {team}. It can be used by {count} and is valid until "
            "{expiry}. Send it to your colleagues, e.g. by text message:\n\n{link}"
        ).format(
            team=team.name,
            count=context.texts.ngettext("{count} person", "{count} people", uses).format(
                count=uses
            ),
            expiry=context.texts.when(invite.expires_at),
            link=link,
        ),
    )
    logger.info("Invite %s created for team %s", invite.id, team.id)
    return END


def build_flow() -> Flow:
    """The team flow: viewing, switching and removing members."""
    return Flow(
        name="team",
        entry_points=[
            CommandHandler("team", show, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(switch, pattern=r"^team:switch:(\d{1,9})$"),
            CallbackQueryHandler(pick_member, pattern=r"^team:remove$"),
            CallbackQueryHandler(confirm_remove, pattern=r"^team:remove:(\d{1,9}):(\d{1,9})$"),
            CallbackQueryHandler(remove, pattern=r"^team:remove!:(\d{1,9}):(\d{1,9})$"),
            CallbackQueryHandler(keep, pattern=r"^team:keep$"),
        ],
    )


def build_invite_flow() -> Flow:
    """The invite flow (leads only): how many people, then the link."""
    return Flow(
        name="invite",
        lead_only=True,
        entry_points=[
            CommandHandler("invite", ask_invite_size, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(create_link, pattern=r"^invite:uses:(\d{1,9}):(\d{1,4})$"),
        ],
    )
