"""A team's linked Telegram group (/link): linking, unlinking, finding, and following a
group's upgrade to a supergroup. Votes are posted there too (``storage.voting``).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session, col, select

from storage import audit
from storage.models import Decision, TeamChat

logger = logging.getLogger(__name__)


class GroupTaken(ValueError):
    """Raised when a group is linked to another team already."""


def link_group(
    *, session: Session, team_id: int, chat_id: int, by_member_id: int, now: datetime
) -> TeamChat:
    """Links a Telegram group to the team (replacing the team's previous group); a group
    linked to another team is refused."""
    existing = group_link(session=session, chat_id=chat_id)
    if existing is not None:
        if existing.team_id != team_id:
            raise GroupTaken(str(chat_id))
        return existing
    link = team_chat(session=session, team_id=team_id)
    if link is None:
        link = TeamChat(team_id=team_id, chat_id=chat_id)
    link.chat_id = chat_id
    link.linked_by_member_id = by_member_id
    link.linked_at = now
    session.add(link)
    session.flush()
    audit.record(
        session=session,
        actor=f"member:{by_member_id}",
        action="group.link",
        team_id=team_id,
        detail={"chat_id": chat_id},
    )
    logger.info("Team %s linked a group chat", team_id)
    return link


def unlink_group(*, session: Session, chat_id: int) -> bool:
    """Removes a group's link (the bot was removed from it); False if it had none."""
    link = group_link(session=session, chat_id=chat_id)
    if link is None:
        return False
    session.delete(link)
    session.flush()
    return True


def team_chat(*, session: Session, team_id: int) -> TeamChat | None:
    """The group linked to the team, if any."""
    return session.exec(select(TeamChat).where(col(TeamChat.team_id) == team_id)).first()


def group_link(*, session: Session, chat_id: int) -> TeamChat | None:
    """The link of a group chat, if it is linked to a team."""
    return session.exec(select(TeamChat).where(col(TeamChat.chat_id) == chat_id)).first()


def migrate_group(*, session: Session, old_chat_id: int, new_chat_id: int) -> bool:
    """Follows a group's upgrade to a supergroup: the stored chat id (the link's and the
    open votes' messages) becomes the new one. False when the old group was not linked."""
    link = group_link(session=session, chat_id=old_chat_id)
    if link is None:
        return False
    if group_link(session=session, chat_id=new_chat_id) is not None:
        return True  # the other half of the migration came first
    link.chat_id = new_chat_id
    session.add(link)
    for decision in session.exec(
        select(Decision).where(col(Decision.group_chat_id) == old_chat_id)
    ).all():
        decision.group_chat_id = new_chat_id
        session.add(decision)
    session.flush()
    logger.info("Team %s group chat migrated to a supergroup", link.team_id)
    return True
