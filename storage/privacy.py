"""Privacy operations for the data protection officer: retention, access export, erasure
and key rotation. Each one is recorded in the audit log (ids and counts, never text).

docs/privacy.md describes what is stored, for how long, and how each right is served;
the CLI (``stemme privacy …``) is the way in. In Telegram (``flows/privacy/overview.py``) a
team lead reads the team's audit log and erases a resident who has left: the queries for
that are at the end of this module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Table, delete, func, or_, text, update
from sqlmodel import Session, SQLModel, col, select

from storage import crypto
from storage.audit import record
from storage.db import require_id, utcnow
from storage.models import (
    Absence,
    AuditEntry,
    CaseAnswer,
    CaseMoment,
    CasePerspective,
    Checkin,
    Conversation,
    Decision,
    Dilemma,
    Invite,
    Member,
    MemberPreference,
    Membership,
    Note,
    NoteMarker,
    Prompt,
    Proposal,
    Resident,
    ResidentCase,
    Site,
    Team,
    TrialAction,
    Vote,
)

logger = logging.getLogger(__name__)

MIN_RETENTION_DAYS = 30
ERASED_NAME = "-"


class PrivacyError(ValueError):
    """A privacy operation was asked for something that cannot be done."""


def set_retention(*, session: Session, site: Site, days: int | None, actor: str) -> Site:
    """Sets how long the site keeps micro-moment text; None keeps it until erased."""
    if days is not None and days < MIN_RETENTION_DAYS:
        raise PrivacyError(f"retention must be at least {MIN_RETENTION_DAYS} days")
    site.retention_days = days
    session.add(site)
    record(
        session=session,
        actor=actor,
        action="privacy.retention",
        detail={"site_id": site.id, "days": days},
    )
    return site


def set_member_notes_policy(*, session: Session, site: Site, erase: bool, actor: str) -> Site:
    """Chooses what erasing a member does to their notes: erase them, or keep them unnamed."""
    site.erase_authored_notes = erase
    session.add(site)
    record(
        session=session,
        actor=actor,
        action="privacy.member_notes_policy",
        detail={"site_id": site.id, "erase": erase},
    )
    return site


def apply_retention(*, session: Session, now: datetime | None = None) -> int:
    """Removes the text and voice of notes older than their site's retention; the note,
    its resident, shift and markers stay, so counts and the resident card keep working.
    Returns how many notes were redacted."""
    moment = now or utcnow()
    redacted = 0
    sites = session.exec(
        select(Site.id, Site.retention_days).where(col(Site.retention_days).is_not(None))
    ).all()
    for site_id, days in sites:
        if days is None:
            continue
        cutoff = moment - timedelta(days=days)
        teams = select(Team.id).where(col(Team.site_id) == site_id)
        result = session.execute(
            update(Note)
            .where(
                col(Note.team_id).in_(teams),
                col(Note.created_at) < cutoff,
                col(Note.redacted_at).is_(None),
            )
            .values(text=None, voice_file_id=None, redacted_at=moment)
            .execution_options(synchronize_session=False)
        )
        count = int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult
        if count:
            redacted += count
            record(
                session=session,
                actor="system",
                action="privacy.retention_applied",
                detail={"site_id": site_id, "notes": count, "days": days},
            )
    if redacted:
        logger.info("Retention removed the text of %s notes", redacted)
    return redacted


def find_resident(*, session: Session, team_id: int, alias: str) -> Resident | None:
    """The team's resident with this alias (case-insensitive), active or not."""
    wanted = alias.strip().casefold()
    for resident in session.exec(select(Resident).where(col(Resident.team_id) == team_id)).all():
        if resident.alias.casefold() == wanted:
            return resident
    return None


def export_resident(*, session: Session, resident: Resident, actor: str) -> dict[str, Any]:
    """Everything stored about one resident, for an access request; audited.

    Authors are named because the team's record names them; the data protection officer
    decides what of other people's data to hand over (docs/privacy.md)."""
    team = session.get(Team, resident.team_id)
    assert team is not None
    site = session.get(Site, team.site_id)
    notes = list(
        session.exec(
            select(Note)
            .where(col(Note.resident_id) == resident.id)
            .order_by(col(Note.created_at), col(Note.id))
        ).all()
    )
    note_ids = [note.id for note in notes if note.id is not None]
    markers: dict[int, list[str]] = {note_id: [] for note_id in note_ids}
    if note_ids:
        for note_id, marker in session.exec(
            select(NoteMarker.note_id, NoteMarker.marker).where(
                col(NoteMarker.note_id).in_(note_ids)
            )
        ).all():
            markers[note_id].append(marker)
    authors = _names(session, {note.author_member_id for note in notes})
    exported = {
        "exported_at": _iso(utcnow()),
        "resident": {
            "id": resident.id,
            "alias": resident.alias,
            "active": resident.active,
            "created_at": _iso(resident.created_at),
        },
        "team": {"id": team.id, "name": team.name},
        "site": {"id": site.id, "name": site.name} if site else None,
        "notes": [
            {
                "id": note.id,
                "created_at": _iso(note.created_at),
                "edited_at": _iso(note.edited_at),
                "shift": note.shift,
                "expression": note.expression,
                "text": note.text,
                "voice": (
                    {"telegram_file_id": note.voice_file_id, "seconds": note.voice_duration}
                    if note.voice_file_id
                    else None
                ),
                "markers": sorted(markers.get(note.id or 0, [])),
                "taken_to_team": note.for_team,
                "author": authors.get(note.author_member_id),
                "redacted_at": _iso(note.redacted_at),
            }
            for note in notes
        ],
        "cases": _export_cases(session, require_id(resident)),
        "decisions": _export_decisions(session, require_id(resident)),
    }
    record(
        session=session,
        actor=actor,
        action="privacy.export_resident",
        team_id=team.id,
        detail={"resident_id": resident.id, "notes": len(notes)},
    )
    return exported


@dataclass
class Erased:
    """What an erasure removed or changed, by table (counts only)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, count: int) -> None:
        """Counts rows removed or changed in ``table``."""
        if count:
            self.counts[table] = self.counts.get(table, 0) + count


def erase_resident(*, session: Session, resident: Resident, actor: str) -> Erased:
    """Deletes a resident and every note about them; audited with counts only."""
    resident_id = resident.id
    team_id = resident.team_id
    erased = Erased()
    note_ids = select(Note.id).where(col(Note.resident_id) == resident_id)
    case_ids = [
        case_id
        for case_id in session.exec(
            select(ResidentCase.id).where(col(ResidentCase.resident_id) == resident_id)
        ).all()
        if case_id is not None
    ]
    decision_ids = [
        decision_id
        for decision_id in session.exec(
            select(Decision.id).where(col(Decision.resident_id) == resident_id)
        ).all()
        if decision_id is not None
    ]
    for case_id in case_ids:
        erased.add("prompt", _cancel_prompts(session, f"case:{case_id}:"))
    for decision_id in decision_ids:
        erased.add("prompt", _cancel_prompts(session, f"decision:{decision_id}:"))
    if case_ids:
        in_cases = col(CaseMoment.case_id).in_(case_ids)
        erased.add("case_moment", _delete(session, CaseMoment, in_cases))
        erased.add(
            "case_answer", _delete(session, CaseAnswer, col(CaseAnswer.case_id).in_(case_ids))
        )
        erased.add(
            "case_perspective",
            _delete(session, CasePerspective, col(CasePerspective.case_id).in_(case_ids)),
        )
        erased.add(
            "resident_case", _delete(session, ResidentCase, col(ResidentCase.id).in_(case_ids))
        )
    erased.add("case_moment", _delete(session, CaseMoment, col(CaseMoment.note_id).in_(note_ids)))
    if decision_ids:
        _erase_decisions(session, decision_ids, erased)
    erased.add("note_marker", _delete(session, NoteMarker, col(NoteMarker.note_id).in_(note_ids)))
    erased.add("note", _delete(session, Note, col(Note.resident_id) == resident_id))
    session.delete(resident)
    erased.add("resident", 1)
    record(
        session=session,
        actor=actor,
        action="privacy.erase_resident",
        team_id=team_id,
        detail={"resident_id": resident_id, "removed": erased.counts},
    )
    logger.info("Resident %s erased: %s", resident_id, erased.counts)
    return erased


def erase_member(
    *, session: Session, member: Member, actor: str, erase_notes: bool | None = None
) -> Erased:
    """Erases a member: their name and Telegram id go, their memberships, conversations and
    pending prompts are deleted, and their notes are erased or kept without their name
    (``erase_notes``; None follows their sites' choice, and erases if any site says so).

    The member row stays as a bare number with no name and no Telegram id, so the team's
    history (a counted vote, an agreed approach) keeps its shape without naming anyone."""
    member_id = member.id
    assert member_id is not None
    erased = Erased()
    if erase_notes is None:
        erase_notes = _sites_erase_notes(session, member_id)
    authored = col(Note.author_member_id) == member_id
    if erase_notes:
        note_ids = select(Note.id).where(authored)
        erased.add(
            "case_moment", _delete(session, CaseMoment, col(CaseMoment.note_id).in_(note_ids))
        )
        erased.add(
            "note_marker", _delete(session, NoteMarker, col(NoteMarker.note_id).in_(note_ids))
        )
        erased.add("note", _delete(session, Note, authored))
    else:
        result = session.execute(
            update(Note)
            .where(authored)
            .values(author_member_id=None)
            .execution_options(synchronize_session=False)
        )
        erased.add("note (unnamed)", int(result.rowcount))  # type: ignore[attr-defined]
    erased.add(
        "conversation",
        _delete(session, Conversation, col(Conversation.telegram_id) == member.telegram_id),
    )
    erased.add(
        "prompt",
        _delete(
            session,
            Prompt,
            col(Prompt.member_id) == member_id,
            col(Prompt.status).in_(["pending", "claimed"]),
        ),
    )
    erased.add(
        "member_preference",
        _delete(session, MemberPreference, col(MemberPreference.member_id) == member_id),
    )
    erased.add("absence", _delete(session, Absence, col(Absence.member_id) == member_id))
    # A dilemma they raised stays for the team, without its author.
    result = session.execute(
        update(Dilemma)
        .where(col(Dilemma.author_member_id) == member_id)
        .values(author_member_id=None)
        .execution_options(synchronize_session=False)
    )
    erased.add("dilemma (unnamed)", int(result.rowcount))  # type: ignore[attr-defined]
    result = session.execute(
        update(Invite)
        .where(col(Invite.created_by_member_id) == member_id)
        .values(created_by_member_id=None)
        .execution_options(synchronize_session=False)
    )
    erased.add("invite (unnamed)", int(result.rowcount))  # type: ignore[attr-defined]
    teams = [
        membership.team_id
        for membership in session.exec(
            select(Membership).where(col(Membership.member_id) == member_id)
        ).all()
    ]
    result = session.execute(
        update(Membership)
        .where(col(Membership.member_id) == member_id)
        .values(active=False, left_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    erased.add("membership (ended)", int(result.rowcount))  # type: ignore[attr-defined]
    member.name = ERASED_NAME
    # Telegram ids are positive; a negative one can never match a real user again.
    member.telegram_id = -member_id
    member.active = False
    member.current_team_id = None
    session.add(member)
    erased.add("member (anonymised)", 1)
    audited: list[int | None] = [*sorted(set(teams))] or [None]
    for team_id in audited:
        record(
            session=session,
            actor=actor,
            action="privacy.erase_member",
            team_id=team_id,
            detail={"member_id": member_id, "notes_erased": erase_notes, "changed": erased.counts},
        )
    logger.info("Member %s erased: %s", member_id, erased.counts)
    return erased


def encrypted_columns() -> list[tuple[Table, Column[Any]]]:
    """Every column whose values are encrypted at rest, found from the models."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, crypto.EncryptedText | crypto.EncryptedJSON):
                found.append((table, column))
    return found


def rotate_key(*, session: Session, actor: str, batch: int = 500) -> int:
    """Re-encrypts every encrypted value with the current (first) key, and encrypts any
    value stored before encryption was turned on; returns how many values changed.

    Run it after putting a new key in front of ``STEMME_DATA_KEY``; then the old key can
    be removed. Works on raw column values, so nothing is decrypted into the session."""
    changed = 0
    for table, column in encrypted_columns():
        key_column = next(iter(table.primary_key.columns))
        raw = text(
            f'SELECT "{key_column.name}", "{column.name}" FROM "{table.name}" '
            f'WHERE "{column.name}" IS NOT NULL'
        )
        rows = session.execute(raw).all()
        for start in range(0, len(rows), batch):
            for row_id, value in rows[start : start + batch]:
                session.execute(
                    text(
                        f'UPDATE "{table.name}" SET "{column.name}" = :value '
                        f'WHERE "{key_column.name}" = :id'
                    ),
                    {"value": crypto.reencrypt(value), "id": row_id},
                )
                changed += 1
    record(
        session=session,
        actor=actor,
        action="privacy.rotate_key",
        detail={"values": changed, "key": crypto.configured_fingerprints()[:1]},
    )
    logger.info(
        "Re-encrypted %s values with key %s", changed, crypto.configured_fingerprints()[:1]
    )
    return changed


def unencrypted_values(*, session: Session) -> int:
    """How many stored free-text values are not encrypted (0 after ``rotate_key``)."""
    count = 0
    for table, column in encrypted_columns():
        raw = text(f'SELECT "{column.name}" FROM "{table.name}" WHERE "{column.name}" IS NOT NULL')
        count += len(crypto.raw_values(value for (value,) in session.execute(raw).all()))
    return count


# ---------------------------------------------------------------- in Telegram, for a lead

AUDIT_PAGE_SIZE = 10
MEMBER_ACTOR = "member:"


def deactivated_residents(*, session: Session, team_id: int) -> list[Resident]:
    """The team's deactivated residents by alias: the ones a lead may erase in Telegram
    (an active resident is deactivated in /residents first)."""
    residents = session.exec(
        select(Resident).where(col(Resident.team_id) == team_id, col(Resident.active).is_(False))
    ).all()
    return sorted(residents, key=lambda resident: resident.alias.casefold())


def erasable_resident(
    *, session: Session, team_id: int, resident_id: int, lock: bool = False
) -> Resident | None:
    """The team's resident with this id, freshly read; None if there is no such resident in
    this team (another team's, or erased already). ``lock`` holds the row on PostgreSQL until
    the commit, so two leads erasing (or a lead reactivating) at once do not interleave."""
    query = select(Resident).where(
        col(Resident.id) == resident_id, col(Resident.team_id) == team_id
    )
    if lock:
        query = query.with_for_update()
    return session.exec(query.execution_options(populate_existing=True)).first()


def preview_resident_erasure(*, session: Session, resident: Resident) -> Erased:
    """What ``erase_resident`` would remove, by table, counted without changing anything."""
    resident_id = resident.id
    preview = Erased()
    note_ids = select(Note.id).where(col(Note.resident_id) == resident_id)
    case_ids = select(ResidentCase.id).where(col(ResidentCase.resident_id) == resident_id)
    decision_ids = select(Decision.id).where(col(Decision.resident_id) == resident_id)
    trial_ids = select(TrialAction.id).where(col(TrialAction.decision_id).in_(decision_ids))
    pending = col(Prompt.status).in_(["pending", "claimed"])
    prefixes = [
        *(f"case:{case_id}:" for case_id in session.exec(case_ids).all()),
        *(f"decision:{decision_id}:" for decision_id in session.exec(decision_ids).all()),
    ]
    for prefix in prefixes:
        preview.add(
            "prompt",
            _count(
                session,
                Prompt,
                col(Prompt.dedupe_key).startswith(prefix, autoescape=True),
                pending,
            ),
        )
    preview.add(
        "case_moment",
        _count(
            session,
            CaseMoment,
            or_(col(CaseMoment.case_id).in_(case_ids), col(CaseMoment.note_id).in_(note_ids)),
        ),
    )
    preview.add("case_answer", _count(session, CaseAnswer, col(CaseAnswer.case_id).in_(case_ids)))
    preview.add(
        "case_perspective",
        _count(session, CasePerspective, col(CasePerspective.case_id).in_(case_ids)),
    )
    preview.add("resident_case", _count(session, ResidentCase, col(ResidentCase.id).in_(case_ids)))
    preview.add("checkin", _count(session, Checkin, col(Checkin.trial_action_id).in_(trial_ids)))
    preview.add(
        "trial_action",
        _count(session, TrialAction, col(TrialAction.decision_id).in_(decision_ids)),
    )
    preview.add("vote", _count(session, Vote, col(Vote.decision_id).in_(decision_ids)))
    preview.add("proposal", _count(session, Proposal, col(Proposal.decision_id).in_(decision_ids)))
    preview.add("decision", _count(session, Decision, col(Decision.id).in_(decision_ids)))
    preview.add("note_marker", _count(session, NoteMarker, col(NoteMarker.note_id).in_(note_ids)))
    preview.add("note", _count(session, Note, col(Note.resident_id) == resident_id))
    preview.add("resident", 1)
    return preview


@dataclass(frozen=True)
class AuditPage:
    """One page of a team's audit log, newest first, with the names of the members its
    entries mention (``None`` for an erased member)."""

    entries: list[AuditEntry]
    names: dict[int, str | None]
    page: int
    older: bool


def actor_member_id(actor: str) -> int | None:
    """The member id of an actor written as ``member:<id>``; None for cli, system, admin."""
    if not actor.startswith(MEMBER_ACTOR):
        return None
    number = actor.removeprefix(MEMBER_ACTOR)
    return int(number) if number.isdigit() else None


def team_audit_page(
    *, session: Session, team_id: int, page: int = 0, size: int = AUDIT_PAGE_SIZE
) -> AuditPage:
    """The team's audit entries, newest first, ``size`` per page (page 0 is the newest);
    ``older`` says whether an older page follows."""
    page = max(page, 0)
    rows = list(
        session.exec(
            select(AuditEntry)
            .where(col(AuditEntry.team_id) == team_id)
            .order_by(col(AuditEntry.id).desc())
            .offset(page * size)
            .limit(size + 1)
        ).all()
    )
    entries = rows[:size]
    mentioned: set[int] = set()
    for entry in entries:
        actor = actor_member_id(entry.actor)
        if actor is not None:
            mentioned.add(actor)
        subject = entry.detail.get("member_id")
        if isinstance(subject, int):
            mentioned.add(subject)
    names: dict[int, str | None] = dict.fromkeys(mentioned)
    if mentioned:
        for member_id, name, telegram_id in session.exec(
            select(Member.id, Member.name, Member.telegram_id).where(col(Member.id).in_(mentioned))
        ).all():
            # An erased member keeps a row without a name or a Telegram id.
            erased = name == ERASED_NAME or telegram_id < 0
            names[member_id or 0] = None if erased else name
    return AuditPage(entries=entries, names=names, page=page, older=len(rows) > size)


def _export_cases(session: Session, resident_id: int) -> list[dict[str, Any]]:
    """The resident's Borgerens stemme cases: answers, summary, attached notes, perspectives."""
    cases = session.exec(
        select(ResidentCase)
        .where(col(ResidentCase.resident_id) == resident_id)
        .order_by(col(ResidentCase.number))
    ).all()
    exported = []
    for case in cases:
        case_id = require_id(case)
        answers = session.exec(
            select(CaseAnswer)
            .where(col(CaseAnswer.case_id) == case_id)
            .order_by(col(CaseAnswer.position))
        ).all()
        perspectives = session.exec(
            select(CasePerspective).where(col(CasePerspective.case_id) == case_id)
        ).all()
        moments = session.exec(
            select(CaseMoment.note_id).where(col(CaseMoment.case_id) == case_id)
        ).all()
        names = _names(session, {case.listener_member_id, *(p.member_id for p in perspectives)})
        exported.append(
            {
                "number": case.number,
                "kind": case.kind,
                "listener": names.get(case.listener_member_id),
                "created_at": _iso(case.created_at),
                "closed_at": _iso(case.closed_at),
                "close_reason": case.close_reason,
                "close_note": case.close_note,
                "summary": case.summary,
                "answers": [
                    {
                        "question": answer.question,
                        "text": answer.text,
                        "voice_seconds": answer.voice_duration if answer.voice_file_id else None,
                    }
                    for answer in answers
                ],
                "attached_notes": sorted(moments),
                "perspectives": [
                    {
                        "author": names.get(perspective.member_id),
                        "text": perspective.text,
                        "voice_seconds": (
                            perspective.voice_duration if perspective.voice_file_id else None
                        ),
                    }
                    for perspective in perspectives
                ],
            }
        )
    return exported


def _export_decisions(session: Session, resident_id: int) -> list[dict[str, Any]]:
    """Decisions about the resident: proposals, the trial action and its check-ins."""
    decisions = session.exec(
        select(Decision).where(col(Decision.resident_id) == resident_id).order_by(col(Decision.id))
    ).all()
    exported = []
    for decision in decisions:
        decision_id = require_id(decision)
        proposals = session.exec(
            select(Proposal).where(col(Proposal.decision_id) == decision_id)
        ).all()
        trial = session.exec(
            select(TrialAction).where(col(TrialAction.decision_id) == decision_id)
        ).first()
        checkins = (
            session.exec(
                select(Checkin).where(col(Checkin.trial_action_id) == require_id(trial))
            ).all()
            if trial is not None
            else []
        )
        exported.append(
            {
                "title": decision.title,
                "iteration": decision.iteration,
                "status": decision.status,
                "outcome": decision.outcome,
                "proposals": [
                    {"id": p.id, "text": p.text, "chosen": p.id == decision.chosen_proposal_id}
                    for p in proposals
                ],
                "trial_action": (
                    {
                        "aim": trial.aim,
                        "measure": trial.measure,
                        "action": trial.action,
                        "from": trial.starts_on.isoformat(),
                        "to": trial.ends_on.isoformat(),
                        "checkins": [
                            {"day": c.day.isoformat(), "answer": c.answer, "note": c.note}
                            for c in checkins
                        ],
                    }
                    if trial is not None
                    else None
                ),
            }
        )
    return exported


def _erase_decisions(session: Session, decision_ids: list[int], erased: Erased) -> None:
    """Deletes decisions about an erased resident with their proposals, votes, trial
    actions and check-ins (children first: the foreign keys have no cascades)."""
    trials = select(TrialAction.id).where(col(TrialAction.decision_id).in_(decision_ids))
    erased.add("checkin", _delete(session, Checkin, col(Checkin.trial_action_id).in_(trials)))
    erased.add(
        "trial_action",
        _delete(session, TrialAction, col(TrialAction.decision_id).in_(decision_ids)),
    )
    erased.add("vote", _delete(session, Vote, col(Vote.decision_id).in_(decision_ids)))
    erased.add("proposal", _delete(session, Proposal, col(Proposal.decision_id).in_(decision_ids)))
    erased.add("decision", _delete(session, Decision, col(Decision.id).in_(decision_ids)))


def _cancel_prompts(session: Session, prefix: str) -> int:
    return _delete(
        session,
        Prompt,
        col(Prompt.dedupe_key).startswith(prefix, autoescape=True),
        col(Prompt.status).in_(["pending", "claimed"]),
    )


def _sites_erase_notes(session: Session, member_id: int) -> bool:
    rows = session.exec(
        select(Site.erase_authored_notes)
        .join(Team, col(Team.site_id) == col(Site.id))
        .join(Membership, col(Membership.team_id) == col(Team.id))
        .where(col(Membership.member_id) == member_id)
    ).all()
    return any(bool(erase) for erase in rows)


def _names(session: Session, member_ids: set[int | None]) -> dict[int | None, str | None]:
    wanted = [member_id for member_id in member_ids if member_id is not None]
    names: dict[int | None, str | None] = {None: None}
    if wanted:
        for member_id, name in session.exec(
            select(Member.id, Member.name).where(col(Member.id).in_(wanted))
        ).all():
            names[member_id] = name
    return names


def _delete(session: Session, model: type[SQLModel], *conditions: Any) -> int:
    result = session.execute(
        delete(model).where(*conditions).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult of a DELETE


def _count(session: Session, model: type[SQLModel], *conditions: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*conditions)).one())


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
