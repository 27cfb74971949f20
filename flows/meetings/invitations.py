"""The notices that tell every member of a new, moved or cancelled meeting, each with its
calendar file (prompt kind ``meeting.invitation``, queued by planning.py and upcoming.py)."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from sqlmodel import Session
from telegram import Bot

from flows.core.engine import Renderer
from flows.core.i18n import texts
from flows.meetings.calendar import ICS_FILENAME, CalendarEvent, meeting_ics, meetings_ics
from flows.meetings.meeting_views import meeting_title, minutes_label, repetition_label
from storage import directory, meetings
from storage.db import require_id
from storage.meetings import KIND_INVITATION, Notice
from storage.models import OccurrenceStatus, Prompt, Repetition

logger = logging.getLogger(__name__)

DEFAULT_ZONE = "Europe/Copenhagen"


async def render_notice(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Sends one member the new, moved or cancelled meeting with its calendar file.

    Sends nothing when the member left the team, when the meeting was cancelled after an
    invitation was queued, or when a newer move superseded this notice.
    """
    payload = prompt.payload
    member = directory.get_member(session=session, member_id=prompt.member_id or 0)
    membership = (
        directory.get_membership(
            session=session, member_id=require_id(member), team_id=prompt.team_id
        )
        if member is not None and member.active
        else None
    )
    team = directory.get_team(session=session, team_id=prompt.team_id)
    if member is None or membership is None or not membership.active or team is None:
        logger.info("Meeting notice %s skipped: the member left the team", prompt.id)
        return
    notice = Notice(payload["notice"])
    tz = ZoneInfo(str(payload.get("tz") or DEFAULT_ZONE))
    member_texts = texts(member.language, tz)
    _ = member_texts._
    found = [
        meetings.get_team_occurrence(
            session=session, team_id=prompt.team_id, occurrence_id=int(occurrence_id)
        )
        for occurrence_id in payload.get("occurrence_ids", [])
    ]
    rows = [row for row in found if row is not None]
    if not rows:
        return
    occurrence, series = rows[0]
    title = meeting_title(member_texts, team.name)
    if notice in (Notice.NEW, Notice.MOVED):
        if occurrence.status == OccurrenceStatus.CANCELLED or occurrence.sequence != int(
            payload.get("sequence", 0)
        ):
            logger.info("Meeting notice %s skipped: superseded", prompt.id)
            return
        minutes = int((occurrence.ends_at - occurrence.starts_at).total_seconds() // 60)
        when = member_texts.when(occurrence.starts_at)
        if notice == Notice.NEW:
            lines = [
                _("📅 {team} has a reflection meeting {when} ({duration}).").format(
                    team=team.name, when=when, duration=minutes_label(member_texts, minutes)
                )
            ]
            if series.repetition != Repetition.NONE:
                lines.append(
                    _("Repeats: {repetition}").format(
                        repetition=repetition_label(member_texts, series.repetition)
                    )
                )
        else:
            lines = [
                _("🔁 The reflection meeting has been moved to {when} ({duration}).").format(
                    when=when, duration=minutes_label(member_texts, minutes)
                )
            ]
        if series.place:
            lines.append(_("Place: {place}").format(place=series.place))
        lines.append("")
        lines.append(_("Open the file to put the meeting in your calendar."))
        document = meeting_ics(
            occurrence_id=require_id(occurrence),
            starts_at=occurrence.starts_at,
            ends_at=occurrence.ends_at,
            summary=title,
            location=series.place,
            sequence=occurrence.sequence,
            tz=tz,
        )
    else:
        if notice == Notice.CANCELLED:
            text = _("❌ The reflection meeting {when} is cancelled.").format(
                when=member_texts.when(occurrence.starts_at)
            )
        else:
            text = member_texts.ngettext(
                "❌ {count} reflection meeting of {team} is cancelled, from {when} on.",
                "❌ {count} reflection meetings of {team} are cancelled, from {when} on.",
                len(rows),
            ).format(count=len(rows), team=team.name, when=member_texts.when(occurrence.starts_at))
        lines = [text, "", _("Open the file to remove it from your calendar.")]
        document = meetings_ics(
            events=[
                CalendarEvent(require_id(row), row.starts_at, row.ends_at, row.sequence)
                for row, _series in rows
            ],
            summary=title,
            location=series.place,
            tz=tz,
            cancelled=True,
        )
    await bot.send_document(
        chat_id=member.telegram_id,
        document=document,
        filename=ICS_FILENAME,
        caption="\n".join(lines),
    )


def renderers() -> dict[str, Renderer]:
    """The timed prompt kinds this flow sends: the notices of new, moved and cancelled
    meetings (the reminders belong to flows.meetings.agenda_notices)."""
    return {KIND_INVITATION: render_notice}
