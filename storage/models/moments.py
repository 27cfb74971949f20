"""Micro-moments: what mattered to a resident, and the quality compass markers on it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from storage.crypto import EncryptedText
from storage.models.base import utc_column

NOTE_MAX_LENGTH = 1000


class Shift(StrEnum):
    """The shift (vagtlag) a note was written in, derived from the team's pattern."""

    DAY = "day"
    EVENING = "evening"
    NIGHT = "night"


class Expression(StrEnum):
    """How the resident showed what mattered."""

    VERBAL = "verbal"
    NONVERBAL = "nonverbal"


class Marker(StrEnum):
    """The quality compass markers a micro-moment can be tagged with (at most three)."""

    SAFETY = "tryghed"
    PRESENCE = "naervaer"
    RESPECT = "respekt"
    SELF_DETERMINATION = "selvbestemmelse"
    HOMELINESS = "hjemlighed"
    EVERYDAY_LIFE = "hverdagsliv"
    PROFESSIONALISM = "professionalisme"
    HEALTH = "sundhed"
    SELF_RELIANCE = "selvhjulpenhed"
    CONTINUITY = "kontinuitet"
    COHERENCE = "sammenhaeng"


# A micro-moment: what mattered to a resident, noted by a member of the team.
# Either text (at most NOTE_MAX_LENGTH characters) or a voice message by file id.
class Note(SQLModel, table=True):
    __table_args__ = (
        Index("ix_note_team_created", "team_id", "created_at"),
        Index("ix_note_team_resident_created", "team_id", "resident_id", "created_at"),
        # The dashboard's counts across teams over a period (storage/dashboard.py).
        Index("ix_note_created_team_resident", "created_at", "team_id", "resident_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    resident_id: int = Field(foreign_key="resident.id")
    # None once the author is erased and the site keeps their notes anonymously.
    author_member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    created_at: datetime = utc_column()
    edited_at: datetime | None = utc_column(nullable=True)
    shift: str = Field(max_length=10)
    expression: str = Field(default=Expression.VERBAL, max_length=10)
    # Encrypted at rest (storage/crypto.py).
    text: str | None = Field(default=None, sa_type=EncryptedText)
    voice_file_id: str | None = Field(default=None, max_length=200)
    voice_duration: int | None = None
    # Set when the retention policy removed the text or voice; the markers stay.
    redacted_at: datetime | None = utc_column(nullable=True)
    # "Take it to the team": the note goes on the next reflection meeting's agenda.
    for_team: bool = False


# One quality compass marker on one note; team and resident are repeated so the
# resident card counts markers from this table alone.
class NoteMarker(SQLModel, table=True):
    __tablename__ = "note_marker"
    __table_args__ = (Index("ix_note_marker_team_resident", "team_id", "resident_id", "marker"),)

    note_id: int = Field(foreign_key="note.id", primary_key=True)
    marker: str = Field(max_length=20, primary_key=True)
    team_id: int = Field(foreign_key="team.id")
    resident_id: int = Field(foreign_key="resident.id")
