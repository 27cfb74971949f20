"""Care dilemmas a member brings to the team's next reflection meeting.

A dilemma is text (at most ``DILEMMA_MAX_LENGTH`` characters, CPR numbers refused) or a
voice message. When its author chooses **anonymous**, no author is stored at all: not
even the lead can see who wrote it, and its time is kept to the hour only, so it cannot
be matched with who was using the bot at that minute. An open dilemma stays on the
agenda of every next meeting (``agenda_dilemmas``) until the lead marks it discussed;
the lead may link it to one of the team's trial actions (a decision id).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session, col, or_, select

from storage.agenda import AgendaEntry
from storage.cpr import refuse_cpr
from storage.db import utcnow
from storage.models import DILEMMA_MAX_LENGTH, Dilemma

logger = logging.getLogger(__name__)

KIND = "dilemma"


class DilemmaTooLong(ValueError):
    """Raised when a dilemma's text is longer than ``DILEMMA_MAX_LENGTH``."""


def add_dilemma(
    *,
    session: Session,
    team_id: int,
    author_member_id: int,
    anonymous: bool,
    text: str | None = None,
    voice_file_id: str | None = None,
    voice_duration: int | None = None,
    now: datetime | None = None,
) -> Dilemma:
    """Stores a dilemma; an anonymous one without its author and with the time to the
    hour. Refuses a CPR number (``CprNumberRefused``) and over-long text."""
    if (text is None) == (voice_file_id is None):
        raise ValueError("a dilemma is either text or a voice message")
    if text is not None:
        text = refuse_cpr(text.strip())
        if not text:
            raise ValueError("a dilemma needs some text")
        if len(text) > DILEMMA_MAX_LENGTH:
            raise DilemmaTooLong(len(text))
    moment = now or utcnow()
    if anonymous:
        moment = moment.replace(minute=0, second=0, microsecond=0)
    dilemma = Dilemma(
        team_id=team_id,
        author_member_id=None if anonymous else author_member_id,
        anonymous=anonymous,
        text=text,
        voice_file_id=voice_file_id,
        voice_duration=voice_duration,
        created_at=moment,
    )
    session.add(dilemma)
    session.flush()
    # Never the author: for an anonymous dilemma that would be the very link it must not have.
    logger.info("Dilemma %s stored in team %s", dilemma.id, team_id)
    return dilemma


def get_team_dilemma(*, session: Session, team_id: int, dilemma_id: int) -> Dilemma | None:
    """The dilemma when it belongs to ``team_id``."""
    dilemma = session.get(Dilemma, dilemma_id)
    return dilemma if dilemma is not None and dilemma.team_id == team_id else None


def open_dilemmas(*, session: Session, team_id: int) -> list[Dilemma]:
    """The team's dilemmas not discussed yet, oldest first."""
    return list(
        session.exec(
            select(Dilemma)
            .where(col(Dilemma.team_id) == team_id, col(Dilemma.discussed_at).is_(None))
            .order_by(col(Dilemma.created_at), col(Dilemma.id))
        ).all()
    )


def mark_discussed(*, session: Session, dilemma: Dilemma, now: datetime | None = None) -> bool:
    """Marks the dilemma discussed; False when it already was."""
    if dilemma.discussed_at is not None:
        return False
    dilemma.discussed_at = now or utcnow()
    session.add(dilemma)
    session.flush()
    return True


def link_decision(*, session: Session, dilemma: Dilemma, decision_id: int | None) -> None:
    """Links the dilemma to one of its team's trial actions (the caller checks the
    decision belongs to the team), or unlinks it with None."""
    dilemma.decision_id = decision_id
    session.add(dilemma)
    session.flush()


def agenda_dilemmas(
    session: Session, team_id: int, since: datetime, until: datetime
) -> list[AgendaEntry]:
    """Agenda source: dilemmas raised before ``until`` that were still open at ``since``
    (an undiscussed dilemma stays on every next agenda); never the author."""
    rows = session.exec(
        select(Dilemma.id, Dilemma.created_at)
        .where(
            col(Dilemma.team_id) == team_id,
            col(Dilemma.created_at) < until,
            or_(col(Dilemma.discussed_at).is_(None), col(Dilemma.discussed_at) >= since),
        )
        .order_by(col(Dilemma.created_at), col(Dilemma.id))
    ).all()
    return [
        AgendaEntry(kind=KIND, ref_id=dilemma_id, resident_id=None, created_at=at)
        for dilemma_id, at in rows
        if dilemma_id is not None
    ]
