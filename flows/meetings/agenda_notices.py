"""The agenda flow's timed prompts: the lead's agenda two days before
(``meeting.lead_prepare``), the agenda the lead sent to the team (``meeting.agenda``), the
reminders the day before (with the calendar file, when there is one) and an hour before,
the lead's call for minutes after the meeting (``meeting.minutes``) and the decisions to
every member (``meeting.decisions``). Each checks at send time that the member is still
an active member of the team and the meeting is not cancelled; if not it sends nothing."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile

from flows.core.engine import Renderer
from flows.core.i18n import Texts, texts
from flows.meetings.agenda_views import (
    START,
    agenda_body,
    entry_line,
    fit_message,
    lead_view,
    when_and_where,
)
from storage import agenda as store
from storage import decisions as decisions_store
from storage import directory
from storage.agenda import Agenda
from storage.meetings import KIND_DAY_BEFORE, KIND_HOUR_BEFORE, KIND_LEAD_PREPARE, KIND_MINUTES
from storage.models import MeetingOccurrence, MeetingSeries, Member, OccurrenceStatus, Prompt

logger = logging.getLogger(__name__)


def _recipient(
    session: Session, prompt: Prompt
) -> tuple[Member, MeetingOccurrence, MeetingSeries] | None:
    """The member and the meeting, when the member is still active in the team and the
    meeting not cancelled; otherwise None (logged: the prompt is sent as nothing)."""
    occurrence_id = int(prompt.payload.get("occurrence_id", 0))
    found = store.occurrence_of_team(
        session=session, team_id=prompt.team_id, occurrence_id=occurrence_id
    )
    if found is None or found[0].status == OccurrenceStatus.CANCELLED or found[1].cancelled:
        logger.info("Prompt %s not sent: meeting %s is cancelled", prompt.id, occurrence_id)
        return None
    member = (
        directory.get_member(session=session, member_id=prompt.member_id)
        if prompt.member_id is not None
        else None
    )
    membership = (
        directory.get_membership(
            session=session, member_id=prompt.member_id, team_id=prompt.team_id
        )
        if prompt.member_id is not None
        else None
    )
    if member is None or not member.active or membership is None or not membership.active:
        logger.info("Prompt %s not sent: member %s left the team", prompt.id, prompt.member_id)
        return None
    return member, found[0], found[1]


def _build(session: Session, prompt: Prompt, occurrence: MeetingOccurrence) -> Agenda:
    return store.build_agenda(
        session=session, team_id=prompt.team_id, occurrence_id=occurrence.id or 0
    )


def _agenda_for(
    session: Session, prompt: Prompt, tz: ZoneInfo
) -> tuple[Member, MeetingOccurrence, Texts, Agenda] | None:
    """The prompt's member, the meeting, the member's texts and the meeting's agenda, while
    member and meeting still hold."""
    found = _recipient(session, prompt)
    if found is None:
        return None
    member, occurrence, _series = found
    return member, occurrence, texts(member.language, tz), _build(session, prompt, occurrence)


async def render_lead_prepare(bot: Bot, prompt: Prompt, session: Session, *, tz: ZoneInfo) -> None:
    """Sends the lead the agenda two days before, with its buttons."""
    found = _agenda_for(session, prompt, tz)
    if found is None:
        return
    member, occurrence, member_texts, agenda = found
    text, markup = lead_view(session, member_texts, agenda)
    intro = member_texts._("Time to prepare the team's reflection meeting.")
    await bot.send_message(
        member.telegram_id, fit_message(intro + "\n\n" + text), reply_markup=markup
    )


async def render_agenda(bot: Bot, prompt: Prompt, session: Session, *, tz: ZoneInfo) -> None:
    """Sends one member the agenda the lead sent to the team."""
    found = _agenda_for(session, prompt, tz)
    if found is None:
        return
    member, occurrence, member_texts, agenda = found
    text = "\n\n".join(
        [
            member_texts._("The agenda for the next reflection meeting:"),
            when_and_where(member_texts, agenda),
            agenda_body(session, member_texts, agenda),
        ]
    )
    await bot.send_message(member.telegram_id, fit_message(text))


def _reminder_text(texts_: Texts, agenda: Agenda, *, tomorrow: bool) -> str:
    _ = texts_._
    first = (
        _("Reminder: the team's reflection meeting is tomorrow.")
        if tomorrow
        else _("Reminder: the team's reflection meeting starts in an hour.")
    )
    count = len(agenda.entries)
    points = (
        texts_.ngettext(
            "There is {count} point on the agenda.",
            "There are {count} points on the agenda.",
            count,
        ).format(count=count)
        if count
        else _("Nothing is on the agenda yet.")
    )
    return "\n".join([first, when_and_where(texts_, agenda), points])


def _calendar_file(agenda: Agenda, occurrence: MeetingOccurrence, texts_: Texts) -> Any:
    """The meeting's .ics from flows.meetings.calendar when that module is there, else None."""
    try:
        calendar = importlib.import_module("flows.meetings.calendar")
    except ImportError:
        return None
    build = getattr(calendar, "meeting_ics", None)
    if build is None:
        return None
    data: bytes = build(
        occurrence_id=agenda.occurrence_id,
        starts_at=agenda.starts_at,
        ends_at=agenda.ends_at,
        summary=texts_._("Reflection meeting"),
        location=agenda.place,
        sequence=int(getattr(occurrence, "sequence", 0) or 0),
        tz=texts_.tz,
    )
    filename = getattr(calendar, "ICS_FILENAME", "meeting.ics")
    return InputFile(data, filename=filename)


async def render_day_before(bot: Bot, prompt: Prompt, session: Session, *, tz: ZoneInfo) -> None:
    """Reminds one member the day before, with the calendar file when there is one."""
    found = _agenda_for(session, prompt, tz)
    if found is None:
        return
    member, occurrence, member_texts, agenda = found
    text = _reminder_text(member_texts, agenda, tomorrow=True)
    document = _calendar_file(agenda, occurrence, member_texts)
    if document is None:
        await bot.send_message(member.telegram_id, text)
    else:
        await bot.send_document(member.telegram_id, document, caption=text)


async def render_hour_before(bot: Bot, prompt: Prompt, session: Session, *, tz: ZoneInfo) -> None:
    """Reminds one member an hour before the meeting."""
    found = _agenda_for(session, prompt, tz)
    if found is None:
        return
    member, occurrence, member_texts, agenda = found
    await bot.send_message(
        member.telegram_id, _reminder_text(member_texts, agenda, tomorrow=False)
    )


async def render_minutes(bot: Bot, prompt: Prompt, session: Session, *, tz: ZoneInfo) -> None:
    """Asks the lead for the minutes after the meeting (not when they are recorded)."""
    found = _recipient(session, prompt)
    if found is None:
        return
    member, occurrence, _series = found
    occurrence_id = occurrence.id or 0
    if store.get_minutes(session=session, occurrence_id=occurrence_id) is not None:
        logger.info("Prompt %s not sent: meeting %s has its minutes", prompt.id, occurrence_id)
        return
    member_texts = texts(member.language, tz)
    _ = member_texts._
    text = _(
        "The reflection meeting {when} has ended. Write short minutes: which points "
        "were discussed and what was decided. The team gets the decisions."
    ).format(when=member_texts.when(occurrence.starts_at))
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(_("Write minutes"), callback_data=f"agenda:min:{occurrence_id}")]]
    )
    await bot.send_message(member.telegram_id, text, reply_markup=markup)


def decisions_text(
    session: Session,
    texts_: Texts,
    agenda: Agenda,
    discussed: Sequence[tuple[str, int]],
    decision: str | None,
) -> str:
    """The decisions as the team reads them: what was discussed, what was decided."""
    _ = texts_._
    parts = [
        _("Decisions from the reflection meeting {when}:").format(
            when=texts_.when(agenda.starts_at)
        )
    ]
    by_key = {(entry.kind, entry.ref_id): entry for entry in agenda.entries}
    lines = [
        "• " + entry_line(session, texts_, by_key[key], agenda)
        for key in discussed
        if key in by_key
    ]
    if lines:
        parts.append(_("Discussed:") + "\n" + "\n".join(lines))
    starting = [
        found.title
        for kind, ref_id in discussed
        if kind == START
        and (
            found := decisions_store.get_team_decision(
                session=session, team_id=agenda.team_id, decision_id=ref_id
            )
        )
        is not None
    ]
    if starting:
        parts.append(_("Trial actions that start:") + "\n" + "\n".join(f"• {t}" for t in starting))
    if decision:
        parts.append(_("Decided:") + "\n" + decision)
    else:
        parts.append(_("No decision note was written."))
    return fit_message("\n\n".join(parts))


async def render_decisions(bot: Bot, prompt: Prompt, session: Session, *, tz: ZoneInfo) -> None:
    """Sends one member the decisions of the meeting."""
    occurrence_id = int(prompt.payload.get("occurrence_id", 0))
    found = _recipient(session, prompt)
    minutes = store.get_minutes(session=session, occurrence_id=occurrence_id)
    if found is None or minutes is None:
        if minutes is None:
            logger.info("Prompt %s not sent: meeting %s has no minutes", prompt.id, occurrence_id)
        return
    member, occurrence, _series = found
    member_texts = texts(member.language, tz)
    agenda = _build(session, prompt, occurrence)
    text = decisions_text(
        session, member_texts, agenda, store.discussed_of(minutes), minutes.decision
    )
    await bot.send_message(member.telegram_id, text)


def renderers(tz: ZoneInfo) -> dict[str, Renderer]:
    """The timed prompt kinds this flow sends; times in them are shown in ``tz``."""
    return {
        KIND_LEAD_PREPARE: partial(render_lead_prepare, tz=tz),
        store.KIND_AGENDA: partial(render_agenda, tz=tz),
        KIND_DAY_BEFORE: partial(render_day_before, tz=tz),
        KIND_HOUR_BEFORE: partial(render_hour_before, tz=tz),
        KIND_MINUTES: partial(render_minutes, tz=tz),
        store.KIND_DECISIONS: partial(render_decisions, tz=tz),
    }
