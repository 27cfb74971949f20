"""Timed prompts: the durable queue every scheduled message goes through.

A prompt is scheduled once (its ``dedupe_key`` makes a second ``schedule`` a no-op),
claimed by one worker when it is due, and then marked sent, failed (maybe to be
retried), unreachable, or dropped when it expired before anyone could send it.

Claiming is safe with several processes: on PostgreSQL the due rows are locked with
``SELECT … FOR UPDATE SKIP LOCKED``, so two workers never take the same row and never
wait for each other; on SQLite (one process) one ``UPDATE`` statement selects and
claims at once under SQLite's single write lock. A claim is a lease: a row claimed
longer ago than ``lease`` is claimable again, because its worker died before it could
mark it. docs/scheduling.md has the whole design.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from storage.db import utcnow
from storage.models import Prompt, PromptStatus

logger = logging.getLogger(__name__)

ERROR_MAX_LENGTH = 80


def schedule(
    *,
    session: Session,
    kind: str,
    team_id: int,
    dedupe_key: str,
    due_at: datetime,
    member_id: int | None = None,
    expires_at: datetime | None = None,
    payload: dict[str, Any] | None = None,
) -> Prompt:
    """Stores a prompt unless one with ``dedupe_key`` exists; returns the stored one.

    The payload holds ids only (meeting, note, resident), never text. Safe against a
    concurrent ``schedule`` of the same key in another process (``ON CONFLICT DO NOTHING``).
    """
    if expires_at is not None and expires_at <= due_at:
        raise ValueError("a prompt must expire after it is due")
    values = {
        "kind": kind,
        "team_id": team_id,
        "member_id": member_id,
        "due_at": due_at,
        "expires_at": expires_at,
        "payload": payload or {},
        "status": PromptStatus.PENDING,
        "attempts": 0,
        "dedupe_key": dedupe_key,
        "created_at": utcnow(),
    }
    insert = postgresql_insert if _dialect(session) == "postgresql" else sqlite_insert
    statement = (
        insert(Prompt).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    session.execute(statement)
    stored = get_by_key(session=session, dedupe_key=dedupe_key)
    assert stored is not None  # inserted just now, or there before
    return stored


def get_by_key(*, session: Session, dedupe_key: str) -> Prompt | None:
    """Returns the prompt scheduled under ``dedupe_key``."""
    return session.exec(select(Prompt).where(col(Prompt.dedupe_key) == dedupe_key)).first()


def get(*, session: Session, prompt_id: int) -> Prompt | None:
    """Returns one prompt by id."""
    return session.get(Prompt, prompt_id)


def cancel(*, session: Session, key_prefix: str) -> int:
    """Deletes the prompts not yet sent whose key starts with ``key_prefix`` (a meeting
    moved or cancelled); returns how many. Sent and finished ones stay as history.

    The same keys can be scheduled again afterwards (the moved meeting's new times).
    A prompt a worker is sending right now (claimed) is deleted too, but that send
    cannot be stopped.
    """
    result = session.execute(
        delete(Prompt)
        .where(
            col(Prompt.dedupe_key).startswith(key_prefix, autoescape=True),
            col(Prompt.status).in_([PromptStatus.PENDING, PromptStatus.CLAIMED]),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult of a DELETE


def settle_past(*, session: Session, team_id: int, until: datetime) -> int:
    """Marks the team's pending prompts due at or before ``until`` as sent at their due
    time, and returns how many. For a history written after the fact (the sandbox's
    seeded care home): what the bot would have sent then counts as sent, instead of
    arriving all at once when the bot starts."""
    result = session.execute(
        update(Prompt)
        .where(
            col(Prompt.team_id) == team_id,
            col(Prompt.status) == PromptStatus.PENDING,
            col(Prompt.due_at) <= until,
        )
        .values(status=PromptStatus.SENT, sent_at=col(Prompt.due_at))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult of an UPDATE


def claim_due(
    *,
    session: Session,
    now: datetime,
    worker: str,
    limit: int,
    lease: timedelta,
    kinds: Collection[str] | None = None,
) -> list[Prompt]:
    """Claims up to ``limit`` due prompts for ``worker`` and returns them, oldest first.

    Due means pending with ``due_at <= now``, or claimed by a worker whose lease ran out
    (claimed at or before ``now - lease``). Among those, the ones past ``expires_at``
    are dropped instead of claimed. ``kinds`` restricts the claim to kinds this worker
    can render (a process of an older release leaves newer kinds to the others).
    Commit right after: on PostgreSQL the claimed rows stay locked until then.
    """
    due: ColumnElement[bool] = or_(
        and_(col(Prompt.status) == PromptStatus.PENDING, col(Prompt.due_at) <= now),
        and_(
            col(Prompt.status) == PromptStatus.CLAIMED,
            col(Prompt.claimed_at) <= now - lease,
        ),
    )
    if kinds is not None:
        due = and_(due, col(Prompt.kind).in_(list(kinds)))
    candidates = select(Prompt.id).where(due).order_by(col(Prompt.due_at)).limit(limit)
    if _dialect(session) == "postgresql":
        # Locks the rows this worker takes and skips those another worker holds.
        ids: Sequence[int] | Any = list(
            session.exec(candidates.with_for_update(skip_locked=True)).all()
        )
        if not ids:
            return []
    else:
        # SQLite: one statement, run under the database's single write lock.
        ids = candidates.scalar_subquery()
    expired = and_(col(Prompt.expires_at).is_not(None), col(Prompt.expires_at) <= now)
    statement = (
        update(Prompt)
        # The guard repeats the condition: a row changed since it was read is not taken.
        .where(col(Prompt.id).in_(ids), due)
        .values(
            status=case((expired, PromptStatus.DROPPED), else_=PromptStatus.CLAIMED),
            claimed_by=worker,
            claimed_at=now,
        )
        .returning(Prompt)
        .execution_options(synchronize_session=False)
    )
    rows = list(session.scalars(statement, execution_options={"populate_existing": True}))
    dropped = [row.id for row in rows if row.status == PromptStatus.DROPPED]
    if dropped:
        logger.info("Dropped %s expired prompts: %s", len(dropped), dropped)
    claimed = [row for row in rows if row.status == PromptStatus.CLAIMED]
    claimed.sort(key=lambda row: (row.due_at, row.id or 0))
    return claimed


def next_pending(
    *, session: Session, after: datetime, team_id: int | None = None, kinds: Collection[str] = ()
) -> Prompt | None:
    """The first pending prompt due after ``after`` (of a team, of some kinds), if any: where
    the sandbox's fast-forward stops next."""
    statement = select(Prompt).where(
        col(Prompt.status) == PromptStatus.PENDING, col(Prompt.due_at) > after
    )
    if team_id is not None:
        statement = statement.where(col(Prompt.team_id) == team_id)
    if kinds:
        statement = statement.where(col(Prompt.kind).in_(list(kinds)))
    return session.exec(statement.order_by(col(Prompt.due_at), col(Prompt.id)).limit(1)).first()


def mark_sent(*, session: Session, prompt_id: int, worker: str, now: datetime) -> bool:
    """Marks a prompt this worker claimed as sent; False if it no longer holds the claim."""
    return _finish(
        session=session,
        prompt_id=prompt_id,
        worker=worker,
        values={"status": PromptStatus.SENT, "sent_at": now},
    )


def mark_failed(
    *,
    session: Session,
    prompt_id: int,
    worker: str,
    error: str,
    retry_at: datetime | None,
) -> bool:
    """Counts a failed attempt; the prompt is pending again at ``retry_at``, or failed for
    good when ``retry_at`` is None. ``error`` is the error's type, never its message."""
    values: dict[str, Any] = {
        "attempts": col(Prompt.attempts) + 1,
        "last_error": error[:ERROR_MAX_LENGTH],
    }
    if retry_at is None:
        values["status"] = PromptStatus.FAILED
    else:
        values.update(status=PromptStatus.PENDING, due_at=retry_at, claimed_by=None)
    return _finish(session=session, prompt_id=prompt_id, worker=worker, values=values)


def postpone(
    *, session: Session, prompt_id: int, worker: str, due_at: datetime, error: str
) -> bool:
    """Puts a claimed prompt back as pending at ``due_at`` without counting an attempt
    (Telegram asked to wait: the prompt itself is fine)."""
    return _finish(
        session=session,
        prompt_id=prompt_id,
        worker=worker,
        values={
            "status": PromptStatus.PENDING,
            "due_at": due_at,
            "claimed_by": None,
            "last_error": error[:ERROR_MAX_LENGTH],
        },
    )


def hold(*, session: Session, prompt_id: int, worker: str, until: datetime) -> bool:
    """Puts a claimed prompt back as pending until ``until`` without counting an attempt
    (the member is muted, away or off shift); past its ``expires_at`` the next claim
    drops it as usual."""
    return _finish(
        session=session,
        prompt_id=prompt_id,
        worker=worker,
        values={"status": PromptStatus.PENDING, "due_at": until, "claimed_by": None},
    )


def mark_unreachable(*, session: Session, prompt_id: int, worker: str, error: str) -> bool:
    """Marks a prompt whose member blocked the bot; the lead can list these."""
    return _finish(
        session=session,
        prompt_id=prompt_id,
        worker=worker,
        values={
            "status": PromptStatus.UNREACHABLE,
            "attempts": col(Prompt.attempts) + 1,
            "last_error": error[:ERROR_MAX_LENGTH],
        },
    )


def unreachable_member_ids(*, session: Session, team_id: int, since: datetime) -> list[int]:
    """The members of the team whose prompts since ``since`` could not be delivered."""
    rows = session.exec(
        select(Prompt.member_id)
        .where(
            col(Prompt.team_id) == team_id,
            col(Prompt.status) == PromptStatus.UNREACHABLE,
            col(Prompt.due_at) >= since,
            col(Prompt.member_id).is_not(None),
        )
        .distinct()
    ).all()
    return sorted(member_id for member_id in rows if member_id is not None)


def _finish(*, session: Session, prompt_id: int, worker: str, values: dict[str, Any]) -> bool:
    result = session.execute(
        update(Prompt)
        .where(
            col(Prompt.id) == prompt_id,
            col(Prompt.status) == PromptStatus.CLAIMED,
            col(Prompt.claimed_by) == worker,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    done = bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult of an UPDATE
    if not done:
        logger.warning("Prompt %s is no longer claimed by %s", prompt_id, worker)
    return done


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name
