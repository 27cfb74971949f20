"""Where each user is in a conversation flow; committed with every step."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, select

from storage.db import utcnow
from storage.models import Conversation


def load(
    *, session: Session, telegram_id: int, chat_id: int, lock: bool = False
) -> Conversation | None:
    """Returns the user's conversation in this chat; ``lock`` takes a row lock on PostgreSQL
    so two workers never advance the same conversation at once."""
    query = select(Conversation).where(
        Conversation.telegram_id == telegram_id, Conversation.chat_id == chat_id
    )
    if lock:
        query = query.with_for_update()
    return session.exec(query).first()


def save(
    *,
    session: Session,
    telegram_id: int,
    chat_id: int,
    flow: str,
    state: str,
    data: dict[str, Any],
) -> Conversation:
    """Stores the user's flow, state and collected data in this chat."""
    return write(
        session=session,
        conversation=load(session=session, telegram_id=telegram_id, chat_id=chat_id),
        telegram_id=telegram_id,
        chat_id=chat_id,
        flow=flow,
        state=state,
        data=data,
    )


def write(
    *,
    session: Session,
    conversation: Conversation | None,
    telegram_id: int,
    chat_id: int,
    flow: str,
    state: str,
    data: dict[str, Any],
) -> Conversation:
    """Like ``save``, for a caller that has already loaded the user's conversation in this
    session (``None``: there is none yet), so it is not loaded again."""
    if conversation is None:
        conversation = Conversation(
            telegram_id=telegram_id, chat_id=chat_id, flow=flow, state=state
        )
    conversation.flow = flow
    conversation.state = state
    # A deep, JSON-clean copy, flagged as changed: lists inside the data are often changed
    # in place, and an equal-looking value would otherwise not be written at all.
    conversation.data = json.loads(json.dumps(data))
    flag_modified(conversation, "data")
    conversation.updated_at = utcnow()
    session.add(conversation)
    session.flush()
    return conversation


def clear(*, session: Session, telegram_id: int, chat_id: int) -> None:
    """Ends the user's conversation in this chat, if any."""
    remove(
        session=session,
        conversation=load(session=session, telegram_id=telegram_id, chat_id=chat_id),
    )


def remove(*, session: Session, conversation: Conversation | None) -> None:
    """Ends a conversation the caller has already loaded in this session."""
    if conversation is not None:
        session.delete(conversation)
        session.flush()
