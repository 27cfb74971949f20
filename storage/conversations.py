"""Where each user is in a conversation flow; committed with every step."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, inspect, update
from sqlalchemy.orm.attributes import flag_modified, set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models import Conversation

# Built once: these run on every update, and building a statement costs more than running it.
_LOAD = select(Conversation).where(
    col(Conversation.telegram_id) == bindparam("telegram_id"),
    col(Conversation.chat_id) == bindparam("chat_id"),
)
_LOAD_LOCKED = _LOAD.with_for_update()
_UPDATE = (
    update(Conversation)
    .where(col(Conversation.id) == bindparam("conversation_id"))
    .values(
        flow=bindparam("flow"),
        state=bindparam("state"),
        data=bindparam("data"),
        updated_at=bindparam("updated_at"),
    )
)
_WRITTEN = ("flow", "state", "data", "updated_at")


def load(
    *, session: Session, telegram_id: int, chat_id: int, lock: bool = False
) -> Conversation | None:
    """Returns the user's conversation in this chat; ``lock`` takes a row lock on PostgreSQL
    so two workers never advance the same conversation at once."""
    query = _LOAD_LOCKED if lock else _LOAD
    return session.exec(query, params={"telegram_id": telegram_id, "chat_id": chat_id}).first()


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
    # A deep, JSON-clean copy: lists inside the data are often changed in place.
    clean = json.loads(json.dumps(data))
    now = utcnow()
    if conversation is not None and inspect(conversation).persistent:
        # An existing row: one plain UPDATE, without the unit of work's change tracking,
        # and the loaded object is brought up to date as if it had been flushed.
        values = {"flow": flow, "state": state, "data": clean, "updated_at": now}
        result = session.connection().execute(
            _UPDATE, {"conversation_id": conversation.id, **values}
        )
        if getattr(result, "rowcount", 1) != 1:
            raise StaleDataError("the conversation row changed under this update")
        for name in _WRITTEN:
            set_committed_value(conversation, name, values[name])
        return conversation
    if conversation is None:
        conversation = Conversation(
            telegram_id=telegram_id, chat_id=chat_id, flow=flow, state=state
        )
    conversation.flow = flow
    conversation.state = state
    conversation.data = clean
    # Flagged as changed: an equal-looking value would otherwise not be written at all.
    flag_modified(conversation, "data")
    conversation.updated_at = now
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


def purge_stale(*, session: Session, older_than: datetime) -> int:
    """Deletes conversations left alone since before ``older_than``; returns how many.

    Drafts (a note's text, an alias being typed) live in these rows: an abandoned
    one must not stay in the database just because its user never wrote again.
    """
    result = session.execute(delete(Conversation).where(col(Conversation.updated_at) < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
