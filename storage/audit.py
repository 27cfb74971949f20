"""The audit log of administrative actions (never any note text)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from storage.models import AuditEntry


def record(
    *,
    session: Session,
    actor: str,
    action: str,
    team_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Appends one entry to the audit log."""
    entry = AuditEntry(actor=actor, action=action, team_id=team_id, detail=detail or {})
    session.add(entry)
    return entry


def entries(*, session: Session, team_id: int | None = None, limit: int = 100) -> list[AuditEntry]:
    """Returns the newest audit entries, optionally for one team."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if team_id is not None:
        query = query.where(AuditEntry.team_id == team_id)
    return list(session.exec(query))
