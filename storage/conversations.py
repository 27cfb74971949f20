"""Where each user is in a conversation flow; committed with every step.

Every update reads the user's row and most write it, so the row is read and written with
prebuilt statements on the session's connection, as a plain ``Position``, without the
ORM's identity map and unit of work (whose handling cost more than the statements).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col

from storage.db import utcnow
from storage.models import Conversation

_TABLE: Table = Conversation.__table__  # type: ignore[attr-defined]  # set by SQLModel
_C = _TABLE.c
# What a position is made of, in ``Position``'s order.
_COLUMNS = (_C.id, _C.telegram_id, _C.chat_id, _C.flow, _C.state, _C.data, _C.updated_at)
_LOAD = select(*_COLUMNS).where(
    _C.telegram_id == bindparam("telegram_id"), _C.chat_id == bindparam("chat_id")
)
# The load with a row lock on PostgreSQL, as a part of the statement that resolves who is
# writing (``storage.directory.resolve``): a locking CTE is run once, and locks the row it
# reads, so two workers never advance the same conversation at once.
LOCKED = _LOAD.with_for_update().cte("locked_conversation")
_INSERT = (
    insert(_TABLE)
    .values(
        telegram_id=bindparam("telegram_id"),
        chat_id=bindparam("chat_id"),
        flow=bindparam("flow"),
        state=bindparam("state"),
        data=bindparam("data"),
        updated_at=bindparam("updated_at"),
    )
    .returning(_C.id)
)
_UPDATE = (
    update(_TABLE)
    .where(_C.id == bindparam("conversation_id"))
    .values(
        flow=bindparam("flow"),
        state=bindparam("state"),
        data=bindparam("data"),
        updated_at=bindparam("updated_at"),
    )
)
_DELETE = delete(_TABLE).where(_C.id == bindparam("conversation_id"))


@dataclass
class Position:
    """A user's conversation in one chat: the flow, the step in it, and what the flow
    has collected so far (a draft note's text among it, encrypted at rest)."""

    id: int
    telegram_id: int
    chat_id: int
    flow: str
    state: str
    data: dict[str, Any]
    updated_at: datetime


def position(values: Sequence[Any]) -> Position | None:
    """The position from ``LOCKED``'s columns as one row returned them (all ``None``:
    there is none)."""
    return Position(*values) if values[0] is not None else None


def load(*, session: Session, telegram_id: int, chat_id: int) -> Position | None:
    """Returns the user's conversation in this chat (the router's, locked, comes with
    ``storage.directory.resolve``)."""
    row = (
        session.connection()
        .execute(_LOAD, {"telegram_id": telegram_id, "chat_id": chat_id})
        .first()
    )
    return Position(*row) if row is not None else None


def save(
    *,
    session: Session,
    telegram_id: int,
    chat_id: int,
    flow: str,
    state: str,
    data: dict[str, Any],
) -> Position:
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
    conversation: Position | None,
    telegram_id: int,
    chat_id: int,
    flow: str,
    state: str,
    data: dict[str, Any],
) -> Position:
    """Like ``save``, for a caller that has already loaded the user's conversation in this
    session (``None``: there is none yet), so it is not loaded again."""
    # A deep, JSON-clean copy: lists inside the data are often changed in place.
    clean = json.loads(json.dumps(data))
    values = {"flow": flow, "state": state, "data": clean, "updated_at": utcnow()}
    connection = session.connection()
    if conversation is not None:
        result = connection.execute(_UPDATE, {"conversation_id": conversation.id, **values})
        if getattr(result, "rowcount", 1) != 1:
            raise StaleDataError("the conversation row changed under this update")
        conversation.flow, conversation.state = flow, state
        conversation.data, conversation.updated_at = clean, values["updated_at"]
        return conversation
    parameters = {"telegram_id": telegram_id, "chat_id": chat_id, **values}
    new_id = connection.execute(_INSERT, parameters).scalar_one()
    return Position(id=int(new_id), **parameters)


def clear(*, session: Session, telegram_id: int, chat_id: int) -> None:
    """Ends the user's conversation in this chat, if any."""
    remove(
        session=session,
        conversation=load(session=session, telegram_id=telegram_id, chat_id=chat_id),
    )


def remove(*, session: Session, conversation: Position | None) -> None:
    """Ends a conversation the caller has already loaded in this session."""
    if conversation is not None:
        session.connection().execute(_DELETE, {"conversation_id": conversation.id})


def purge_stale(*, session: Session, older_than: datetime) -> int:
    """Deletes conversations left alone since before ``older_than``; returns how many.

    Drafts (a note's text, an alias being typed) live in these rows: an abandoned
    one must not stay in the database just because its user never wrote again.
    """
    result = session.execute(delete(Conversation).where(col(Conversation.updated_at) < older_than))
    return int(getattr(result, "rowcount", 0) or 0)
