"""The bot's working state: where each user is in a conversation, the timed prompts
waiting to be sent, and the Telegram updates already processed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.crypto import EncryptedJSON
from storage.db import UTCDateTime
from storage.models.base import utc_column


# Where one user is in a conversation flow, committed at every step so a restart
# or another worker process continues exactly there.
class Conversation(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("telegram_id", "chat_id", name="uq_conversation_user_chat"),
    )

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    flow: str = Field(max_length=40)
    state: str = Field(max_length=60)
    # Encrypted: a draft note's text waits here until it is saved.
    data: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(EncryptedJSON, nullable=False)
    )
    updated_at: datetime = utc_column()


class PromptStatus(StrEnum):
    """Where a timed prompt is in its life: waiting, being sent by a worker, or done."""

    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    # Its time passed while nobody could send it and it is no longer useful (expires_at).
    DROPPED = "dropped"
    FAILED = "failed"
    # The member has blocked the bot.
    UNREACHABLE = "unreachable"


# One timed message to one member (or, with member_id None, to the team), stored so
# it survives a restart and is sent once by whichever worker claims it first. The
# payload holds ids only, never note text; docs/scheduling.md explains the life cycle.
class Prompt(SQLModel, table=True):
    __table_args__ = (
        # The dispatcher's scan: due pending rows, and claimed rows whose lease ran out.
        Index("ix_prompt_status_due", "status", "due_at"),
        Index("ix_prompt_member_status", "member_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=60)
    team_id: int = Field(foreign_key="team.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # After this the prompt is useless (a reminder for a meeting that began): dropped, not sent.
    expires_at: datetime | None = utc_column(nullable=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=PromptStatus.PENDING, max_length=12)
    claimed_by: str | None = Field(default=None, max_length=80)
    claimed_at: datetime | None = utc_column(nullable=True)
    sent_at: datetime | None = utc_column(nullable=True)
    attempts: int = 0
    # The error's type only (never its message, which may quote the text sent).
    last_error: str | None = Field(default=None, max_length=80)
    # Scheduling the same prompt twice is a no-op: "meeting:12:2026-11-24T13:00:hour_before:7".
    dedupe_key: str = Field(max_length=200, unique=True)
    created_at: datetime = utc_column()


# ---------------------------------------------------------------- received updates (webhook)


# A Telegram update that was processed, recorded in the same transaction as the step it
# caused (storage/updates.py): a redelivered update (a webhook that did not get 200, a
# getUpdates batch fetched again after a crash) is recognised and skipped. Purged after
# two days; Telegram keeps an undelivered update for 24 hours.
class ProcessedUpdate(SQLModel, table=True):
    __tablename__ = "processed_update"

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    processed_at: datetime = utc_column(index=True)
