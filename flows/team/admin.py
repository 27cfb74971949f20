"""Administrators (STEMME_ADMINS) in Telegram: every team at a glance, and lead invites.

```mermaid
flowchart LR
    T["/teams (admin)"] --> O[sites and teams with member counts]
    S["/safety (admin)"] --> P[per team: latest pulse score, answers, trend; threshold applies]
    O -->|admin:lead:TEAM| L[lead invite link, valid 7 days]
```
Administrators need no team membership and never see notes or residents: only
counts. Everything they create is written to the audit log.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from flows.core.engine import END, Flow, StemmeContext, respond
from flows.core.guard import stale_button
from flows.safety.chart import format_score
from storage import pulse as pulse_store
from storage.db import utcnow
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


async def safety(update: Update, context: StemmeContext) -> str | None:
    """Shows per team only the latest pulse's score, answers and trend (the threshold
    applies: below it the number of answers only; never statements, never an answer)."""
    _ = context.texts._
    rows = pulse_store.site_overview(session=context.session, now=utcnow())
    if not rows:
        await respond(
            update,
            _('There are no teams yet. Create them on the server with "stemme team add".'),
            edit=False,
        )
        return END
    lines = [_("Psychological safety, the latest pulse of each team (1-7, 7 is the safest):"), ""]
    for row in rows:
        name = _("{site} / {team}").format(site=row.site.name, team=row.team.name)
        if row.answers is None or row.closed_on is None:
            lines.append(_("{name}: no pulse yet").format(name=name))
        elif row.score is None:
            lines.append(
                _("{name}, {day}: {answers} answers, fewer than {threshold}: no score").format(
                    name=name,
                    day=context.texts.day(row.closed_on),
                    answers=row.answers,
                    threshold=row.threshold,
                )
            )
        else:
            trend = (
                ""
                if row.previous_score is None
                else " "
                + _("(before: {score})").format(
                    score=format_score(context.texts, row.previous_score)
                )
            )
            lines.append(
                _("{name}, {day}: {score} from {answers} answers").format(
                    name=name,
                    day=context.texts.day(row.closed_on),
                    score=format_score(context.texts, row.score),
                    answers=row.answers,
                )
                + trend
            )
    await respond(update, "\n".join(lines), edit=False)
    return END


def build_flow() -> Flow:
    """The administrators' flow."""
    return Flow(
        name="admin",
        admin_only=True,
        entry_points=[
            CommandHandler("teams", overview, filters=filters.ChatType.PRIVATE),
            CommandHandler("safety", safety, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(lead_invite, pattern=r"^admin:lead:(\d{1,9})$"),
        ],
    )
