"""Steps 1 and 2 of a case: the listener opens it, answers the question bank, attaches
micro-moments and brings it to the team; then every other active member is invited once to
add their perspective. The case's life, its reading and the lead's actions are in
``storage.cases``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage import directory, prompts
from storage.cases import (
    KIND_PERSPECTIVE,
    QUESTION_KEY_MAX_LENGTH,
    CaseAlreadyOpen,
    CaseStep,
    NotAllowed,
    ResidentInactive,
    clean_text,
    get_perspective,
    invitation_key,
    next_meeting_start,
    open_case_of_resident,
    require_open,
)
from storage.db import require_id, utcnow
from storage.models import (
    CaseAnswer,
    CaseKind,
    CaseMoment,
    CasePerspective,
    Member,
    Note,
    Prompt,
    Resident,
    ResidentCase,
)

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------ step 1: listening


def start_case(
    *,
    session: Session,
    team_id: int,
    resident_id: int,
    listener_member_id: int,
    kind: CaseKind,
    now: datetime | None = None,
) -> ResidentCase:
    """Opens the resident's next case at step 1, with the member as its listener.

    Raises ``ResidentInactive`` for a resident who is not active in the team and
    ``CaseAlreadyOpen`` when the resident has an open case, also when another member
    opened one at the same moment (the unique constraint decides; this session's
    transaction stays usable).
    """
    resident = session.get(Resident, resident_id)
    if resident is None or resident.team_id != team_id or not resident.active:
        raise ResidentInactive(resident_id)
    existing = open_case_of_resident(session=session, resident_id=resident_id)
    if existing is not None:
        raise CaseAlreadyOpen(existing)
    number = (
        session.exec(
            select(func.max(ResidentCase.number)).where(
                col(ResidentCase.resident_id) == resident_id
            )
        ).one()
        or 0
    ) + 1
    case = ResidentCase(
        team_id=team_id,
        resident_id=resident_id,
        open_resident_id=resident_id,
        number=number,
        kind=CaseKind(kind),
        listener_member_id=listener_member_id,
        step=CaseStep.LISTEN,
        created_at=now or utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        # Another member opened a case for this resident in between.
        winner = session.exec(
            select(ResidentCase).where(col(ResidentCase.open_resident_id) == resident_id)
        ).first()
        if winner is None:
            raise
        raise CaseAlreadyOpen(winner) from None
    logger.info("Case %s opened for resident %s", case.id, resident_id)
    return case


def save_answer(
    *,
    session: Session,
    case: ResidentCase,
    member_id: int,
    question: str,
    position: int,
    text: str | None = None,
    voice_file_id: str | None = None,
    voice_duration: int | None = None,
) -> CaseAnswer:
    """Stores (or replaces) the listener's answer to one question: text or voice."""
    require_open(case, CaseStep.LISTEN)
    if case.listener_member_id != member_id:
        raise NotAllowed(member_id)
    if (text is None) == (voice_file_id is None):
        raise ValueError("an answer is either text or a voice message")
    if not question or len(question) > QUESTION_KEY_MAX_LENGTH:
        raise ValueError("question key")
    case_id = require_id(case)
    answer = session.exec(
        select(CaseAnswer).where(
            col(CaseAnswer.case_id) == case_id, col(CaseAnswer.question) == question
        )
    ).first() or CaseAnswer(case_id=case_id, question=question)
    answer.position = position
    answer.text = clean_text(text) if text is not None else None
    answer.voice_file_id = voice_file_id
    answer.voice_duration = voice_duration if voice_file_id is not None else None
    session.add(answer)
    session.flush()
    return answer


def set_moment(*, session: Session, case: ResidentCase, note_id: int, attached: bool) -> bool:
    """Attaches or detaches one of the resident's micro-moments; False if the note is not
    the same team's note about the same resident."""
    require_open(case)
    note = session.get(Note, note_id)
    if note is None or note.team_id != case.team_id or note.resident_id != case.resident_id:
        return False
    case_id = require_id(case)
    link = session.get(CaseMoment, (case_id, note_id))
    if attached and link is None:
        session.add(CaseMoment(case_id=case_id, note_id=note_id))
    elif not attached and link is not None:
        session.delete(link)
    session.flush()
    return True


def attached_note_ids(*, session: Session, case_id: int) -> list[int]:
    """The ids of the micro-moments attached to the case."""
    return sorted(
        session.exec(select(CaseMoment.note_id).where(col(CaseMoment.case_id) == case_id)).all()
    )


def bring_to_team(
    *,
    session: Session,
    case: ResidentCase,
    member_id: int,
    summary: str | None,
    now: datetime | None = None,
    tz: str | None = None,
) -> list[Prompt]:
    """Finishes listening: stores the summary, moves the case to step 2 and invites every
    other active member once to add their perspective; returns the invitations.

    Only the listener, still an active member of the team, can do it, and only while
    the resident is active.
    """
    require_open(case, CaseStep.LISTEN)
    if case.listener_member_id != member_id or not _active_member(
        session, case.team_id, member_id
    ):
        raise NotAllowed(member_id)
    resident = session.get(Resident, case.resident_id)
    if resident is None or not resident.active:
        raise ResidentInactive(case.resident_id)
    now = now or utcnow()
    case.summary = clean_text(summary) if summary and summary.strip() else None
    case.step = CaseStep.TEAM
    case.in_team_at = now
    session.add(case)
    session.flush()
    return invite_perspectives(session=session, case=case, now=now, tz=tz)


def invite_perspectives(
    *, session: Session, case: ResidentCase, now: datetime | None = None, tz: str | None = None
) -> list[Prompt]:
    """Schedules one ``case.perspective`` prompt per active member other than the listener,
    due now and expiring at the team's next meeting (none without a meeting). Idempotent:
    a member already invited (sent or pending) is not invited again."""
    now = now or utcnow()
    case_id = require_id(case)
    expires = next_meeting_start(session=session, team_id=case.team_id, after=now)
    invitations = []
    for row in directory.team_members(session=session, team_id=case.team_id):
        member_id = require_id(row.member)
        if member_id == case.listener_member_id:
            continue
        invitations.append(
            prompts.schedule(
                session=session,
                kind=KIND_PERSPECTIVE,
                team_id=case.team_id,
                member_id=member_id,
                dedupe_key=invitation_key(case_id, member_id),
                due_at=now,
                expires_at=expires,
                # The zone the meeting's time is shown in (STEMME_TIMEZONE when sent).
                payload={"case_id": case_id, **({"tz": tz} if tz else {})},
            )
        )
    return invitations


def _active_member(session: Session, team_id: int, member_id: int) -> bool:
    membership = directory.get_membership(session=session, member_id=member_id, team_id=team_id)
    member = session.get(Member, member_id)
    return bool(membership and membership.active and member and member.active)


# ------------------------------------------------------------------ step 2: perspectives


def save_perspective(
    *,
    session: Session,
    case: ResidentCase,
    member_id: int,
    text: str | None = None,
    voice_file_id: str | None = None,
    voice_duration: int | None = None,
    now: datetime | None = None,
) -> CasePerspective:
    """Stores the member's perspective on an open case, or replaces their own."""
    require_open(case)
    if not _active_member(session, case.team_id, member_id):
        raise NotAllowed(member_id)
    if (text is None) == (voice_file_id is None):
        raise ValueError("a perspective is either text or a voice message")
    now = now or utcnow()
    case_id = require_id(case)
    perspective = get_perspective(session=session, case_id=case_id, member_id=member_id)
    if perspective is None:
        perspective = CasePerspective(case_id=case_id, member_id=member_id, created_at=now)
    else:
        perspective.updated_at = now
    perspective.text = clean_text(text) if text is not None else None
    perspective.voice_file_id = voice_file_id
    perspective.voice_duration = voice_duration if voice_file_id is not None else None
    session.add(perspective)
    session.flush()
    return perspective
