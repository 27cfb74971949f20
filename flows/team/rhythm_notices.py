"""The rhythm flow's timed prompts, planned by ``storage.rhythm.plan`` and sent by the
dispatcher: ``shift.handover`` (the previous shift's micro-moments, one message, nothing
when there were none), ``shift.end_nudge`` and ``team.monthly_focus``; and the month's
name as the focus prompt and /focus (rhythm.py) write it."""

from __future__ import annotations

import logging
from datetime import date
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlmodel import Session
from telegram import Bot

from flows.core.engine import Renderer
from flows.core.i18n import Texts, texts
from flows.core.pickers import shorten
from flows.moments.micromoment import BUTTON_LABEL, marker_label, note_keyboard
from storage import rhythm
from storage.models import MonthlyFocus, Prompt, Shift, Team

logger = logging.getLogger(__name__)


EXCERPT_LENGTH = 90
HANDOVER_NOTES = 12


def month_name(texts: Texts, month: date) -> str:
    """The month as /focus and the focus prompt name it, e.g. "november 2026"."""
    return format_date(month, "LLLL yyyy", locale=texts.babel_locale)


def _handover_header(texts: Texts, shift: Shift, count: int) -> str:
    if shift == Shift.DAY:
        return texts.ngettext(
            "Handover from the day shift: {count} micro-moment",
            "Handover from the day shift: {count} micro-moments",
            count,
        ).format(count=count)
    if shift == Shift.EVENING:
        return texts.ngettext(
            "Handover from the evening shift: {count} micro-moment",
            "Handover from the evening shift: {count} micro-moments",
            count,
        ).format(count=count)
    return texts.ngettext(
        "Handover from the night shift: {count} micro-moment",
        "Handover from the night shift: {count} micro-moments",
        count,
    ).format(count=count)


def handover_text(texts: Texts, shift: Shift, notes: list[rhythm.HandoverNote], total: int) -> str:
    """The handover message: the shift's micro-moments, one short line each."""
    lines = [_handover_header(texts, shift, total), ""]
    for item in notes:
        labels = ", ".join(marker_label(texts, marker) for marker in item.markers)
        head = f"• {item.alias}" + (f" · {labels}" if labels else "")
        if item.note.text is not None:
            body = shorten(item.note.text, EXCERPT_LENGTH)
        else:
            seconds = item.note.voice_duration or 0
            body = f"🎤 {seconds // 60}:{seconds % 60:02d}"
        lines += [head, f"  {body}"]
    if total > len(notes):
        lines += ["", texts._("…and {count} more: see /moments").format(count=total - len(notes))]
    return "\n".join(lines)


def renderers(tz: ZoneInfo) -> dict[str, Renderer]:
    """The timed prompt kinds this flow sends; times in them are shown in ``tz``."""
    zone = tz

    async def render_handover(bot: Bot, prompt: Prompt, session: Session) -> None:
        """Sends the previous shift's micro-moments; nothing when there were none."""
        if prompt.member_id is None:
            return
        member = rhythm.active_member(
            session=session, member_id=prompt.member_id, team_id=prompt.team_id
        )
        team = session.get(Team, prompt.team_id)
        preference = rhythm.get_preference(
            session=session, member_id=prompt.member_id, team_id=prompt.team_id
        )
        if member is None or team is None or not preference.handover:
            return
        previous = rhythm.previous_shift(team, zone, prompt.due_at)
        notes, total = rhythm.notes_between(
            session=session,
            team_id=prompt.team_id,
            since=previous.starts_at,
            until=prompt.due_at,
            limit=HANDOVER_NOTES,
        )
        if not notes:
            logger.debug("Prompt %s: no micro-moments to hand over", prompt.id)
            return
        member_texts = texts(member.language, zone)
        await bot.send_message(
            member.telegram_id, handover_text(member_texts, previous.shift, notes, total)
        )

    async def render_nudge(bot: Bot, prompt: Prompt, session: Session) -> None:
        """Asks at the end of the shift whether the member noticed a micro-moment."""
        if prompt.member_id is None:
            return
        member = rhythm.active_member(
            session=session, member_id=prompt.member_id, team_id=prompt.team_id
        )
        preference = rhythm.get_preference(
            session=session, member_id=prompt.member_id, team_id=prompt.team_id
        )
        if member is None or not preference.end_nudge:
            return
        member_texts = texts(member.language, zone)
        await bot.send_message(
            member.telegram_id,
            member_texts._(
                "Your shift is ending. Did you notice a micro-moment today, something small that "
                'mattered to a resident? Press "{button}" or send /note.'
            ).format(button=member_texts._(BUTTON_LABEL)),
            reply_markup=note_keyboard(member_texts),
        )

    async def render_focus(bot: Bot, prompt: Prompt, session: Session) -> None:
        """Posts the month's focus to one member of the team."""
        focus_id = prompt.payload.get("focus_id")
        focus = session.get(MonthlyFocus, focus_id) if isinstance(focus_id, int) else None
        if prompt.member_id is None or focus is None or focus.team_id != prompt.team_id:
            return
        member = rhythm.active_member(
            session=session, member_id=prompt.member_id, team_id=prompt.team_id
        )
        if member is None:
            return
        member_texts = texts(member.language, zone)
        await bot.send_message(
            member.telegram_id,
            member_texts._("The team's focus for {month}:\n\n{focus}").format(
                month=month_name(member_texts, focus.month), focus=focus.text
            ),
        )

    return {
        rhythm.HANDOVER: render_handover,
        rhythm.END_NUDGE: render_nudge,
        rhythm.MONTHLY_FOCUS: render_focus,
    }
