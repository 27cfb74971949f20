"""A team's Telegram group: linked by the lead with /link, then votes are posted there too.

```mermaid
flowchart TD
    L["/link in a group"] -->|a lead of a team| K[the group is the team's: votes are posted there]
    L -->|anyone else| N[a polite no; nothing stored]
    H["/help in a group"] --> HH[what the bot does in a group]
    V["vote button pressed in the group"] -->|active member| C[counted as their one vote]
    V -->|anyone else| A[alert; nothing counted]
    M["group upgraded to a supergroup"] --> MM[the stored chat id is replaced]
```
The flow is open to strangers (people in the group who are not members), because anyone
can press a button or upgrade the group; every step decides for itself what they may do.
An unlinked group gets no answer except to /link and /help: the router answers nothing
else in groups (every other command is for private chats only, and strangers in groups
are never answered).
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, StemmeContext
from flows.loop.voting import press_vote
from storage import group_chats
from storage.db import require_id, utcnow

logger = logging.getLogger(__name__)

GROUPS = filters.ChatType.GROUPS


async def link(update: Update, context: StemmeContext) -> str | None:
    """Links the group to the lead's current team; anyone else is told who can."""
    _ = context.texts._
    chat = update.effective_chat
    assert chat is not None
    if context.member is None or context.team is None:
        await chat.send_message(
            _("Only a team lead who uses stemme can link this group to a team.")
        )
        return END
    if not context.is_lead:
        await chat.send_message(_("Only the team lead can link this group to the team."))
        return END
    try:
        group_chats.link_group(
            session=context.session,
            team_id=require_id(context.team),
            chat_id=chat.id,
            by_member_id=require_id(context.member),
            now=utcnow(),
        )
    except group_chats.GroupTaken:
        await chat.send_message(_("This group is already linked to another team."))
        return END
    logger.info("Group linked to team %s by member %s", context.team.id, context.member.id)
    await chat.send_message(
        _(
            "This group is now linked to {team}. I will post the team's votes here; members "
            "vote with the buttons, one vote each. Everything else stays in your private chat "
            "with me."
        ).format(team=context.team.name)
    )
    return END


async def group_help(update: Update, context: StemmeContext) -> str | None:
    """Says what the bot does in a group."""
    chat = update.effective_chat
    assert chat is not None
    linked = group_chats.group_link(session=context.session, chat_id=chat.id) is not None
    _ = context.texts._
    if linked:
        text = _(
            "I post the team's votes in this group. Members vote with the buttons, one vote "
            "each. Everything else (micro-moments, residents, proposals) is in your private "
            "chat with me."
        )
    else:
        text = _(
            "This group is not linked to a team. A team lead can send /link here; then I post "
            "the team's votes in this group."
        )
    await chat.send_message(text)
    return END


async def group_vote(update: Update, context: StemmeContext) -> str | None:
    """Counts a press in the group as the member's vote; anyone else gets an alert."""
    await press_vote(update, context, in_group=True)
    return None


async def migrated(update: Update, context: StemmeContext) -> str | None:
    """Follows the group's upgrade to a supergroup: the new chat id replaces the old."""
    message = update.effective_message
    assert message is not None
    if message.migrate_to_chat_id:
        old, new = message.chat_id, message.migrate_to_chat_id
    elif message.migrate_from_chat_id:
        old, new = message.migrate_from_chat_id, message.chat_id
    else:
        return None
    if group_chats.migrate_group(session=context.session, old_chat_id=old, new_chat_id=new):
        logger.info("Linked group %s became supergroup %s", old, new)
    return None


def build_flow() -> Flow:
    """/link and /help in groups, vote buttons pressed in groups, supergroup upgrades."""
    return Flow(
        name="groups",
        entry_points=[
            CommandHandler("link", link, filters=GROUPS),
            CommandHandler("help", group_help, filters=GROUPS),
            CallbackQueryHandler(group_vote, pattern=r"^grp:vote:(\d{1,9}):(\d{1,9})$"),
            MessageHandler(filters.StatusUpdate.MIGRATE, migrated),
        ],
        open_to_strangers=True,
    )
