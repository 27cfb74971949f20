"""Administrators (STEMME_ADMINS) in Telegram: every team at a glance, and lead invites.

```mermaid
flowchart LR
    T["/teams (admin)"] --> O[sites and teams with member counts]
    O -->|admin:lead:TEAM| L[lead invite link, valid 7 days]
```
Administrators need no team membership and never see notes or residents: only
counts. Everything they create is written to the audit log.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from flows.engine import END, Flow, StemmeContext, respond
from flows.guard import stale_button
from storage.directory import DEFAULT_INVITE_DAYS, create_invite, get_team, team_overview
from storage.models import Role

logger = logging.getLogger(__name__)


async def overview(update: Update, context: StemmeContext) -> str | None:
    """Lists every site and team with its counts, and a lead-invite button per team."""
    _ = context.texts._
    rows = team_overview(session=context.session)
    if not rows:
        await respond(
            update,
            _('There are no teams yet. Create them on the server with "stemme team add".'),
            edit=False,
        )
        return END
    lines = [_("Teams:"), ""]
    buttons = []
    for row in rows:
        lines.append(
            _("{site} / {team}: {members} active, {leads} leads").format(
                site=row.site.name,
                team=row.team.name,
                members=row.active_members,
                leads=row.leads,
            )
        )
        buttons.append(
            [
                InlineKeyboardButton(
                    _("Lead invite for {team}").format(team=row.team.name),
                    callback_data=f"admin:lead:{row.team.id}",
                )
            ]
        )
    await respond(update, "\n".join(lines), InlineKeyboardMarkup(buttons), edit=False)
    return END


async def lead_invite(update: Update, context: StemmeContext) -> str | None:
    """Creates a one-person lead invite for the team and shows the link."""
    _ = context.texts._
    user = update.effective_user
    assert context.matches and user is not None
    team = get_team(session=context.session, team_id=int(context.matches[0].group(1)))
    if team is None:
        await stale_button(update, context)
        return END
    invite = create_invite(
        session=context.session,
        team=team,
        role=Role.LEAD,
        max_uses=1,
        days=DEFAULT_INVITE_DAYS,
        actor=f"admin:{user.id}",
    )
    logger.info("Lead invite %s created for team %s by an administrator", invite.id, team.id)
    link = f"https://t.me/{context.bot.username}?start={invite.code}"
    await respond(
        update,
        _(
            "Lead invite for {team}, for one person, valid until {expiry}. Send it to the "
            "team lead:\n\n{link}"
        ).format(team=team.name, expiry=context.texts.when(invite.expires_at), link=link),
    )
    return END


def build_flow() -> Flow:
    """The administrators' flow."""
    return Flow(
        name="admin",
        admin_only=True,
        entry_points=[
            CommandHandler("teams", overview, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(lead_invite, pattern=r"^admin:lead:(\d{1,9})$"),
        ],
    )
