"""Who is asking: the Telegram user Telegram signed, mapped to a member and team exactly
as the chat maps them (``storage.directory``): an active member works in their current
team (repaired when stale, as the chat repairs it) with the role they have there; an
administrator (``STEMME_ADMINS``) sees the consultant's view and, if also a member, their
team; anyone else is refused."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlmodel import Session

from flows.core.i18n import LANGUAGES, Texts
from storage import directory
from storage.models import Member, Membership, Role, Team
from webapp.initdata import WebAppUser


class NotAllowed(PermissionError):
    """Someone signed by Telegram who is neither an active member nor an administrator."""


@dataclass(frozen=True)
class Viewer:
    """The person behind one request: their member row, team and role, and their texts."""

    telegram_id: int
    member: Member | None
    membership: Membership | None
    team: Team | None
    is_admin: bool
    texts: Texts

    @property
    def is_lead(self) -> bool:
        """Whether they lead the team they work in now."""
        return self.membership is not None and self.membership.role == Role.LEAD

    @property
    def team_id(self) -> int | None:
        """Their current team's id (None for an administrator in no team)."""
        return self.team.id if self.team is not None else None


def identify(
    *,
    session: Session,
    user: WebAppUser,
    admins: list[int],
    tz: ZoneInfo,
    default_language: str,
) -> Viewer:
    """The viewer for a signed Telegram user, or ``NotAllowed``."""
    is_admin = user.telegram_id in admins
    member = directory.get_member_by_telegram_id(session=session, telegram_id=user.telegram_id)
    membership = team = None
    if member is not None and member.active:
        current = directory.current_membership(session=session, member=member)
        if current is not None:
            membership, team = current
    if team is None and not is_admin:
        raise NotAllowed(user.telegram_id)
    if member is not None and member.language in LANGUAGES:
        language = member.language
    elif user.language_code in LANGUAGES:
        language = str(user.language_code)
    else:
        language = default_language if default_language in LANGUAGES else "da"
    return Viewer(
        telegram_id=user.telegram_id,
        member=member if team is not None else None,
        membership=membership,
        team=team,
        is_admin=is_admin,
        texts=Texts(language=language, tz=tz),
    )
