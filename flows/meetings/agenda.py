"""The meeting agenda, the meeting reminders and the minutes.

The lead gets the agenda two days before a meeting (``meeting.lead_prepare``), built
from what the team did since the last meeting (``storage.agenda``), with buttons to
send it to the team, add a point, or remove one. Every member is reminded the day
before (with the calendar file, when there is one) and an hour before. After the
meeting the lead records short minutes (which points were discussed, what was
decided), and the team gets the decisions (``meeting.decisions``).

```mermaid
flowchart TD
    P["meeting.lead_prepare / /agenda"] --> A[agenda with buttons]
    A -->|Send til teamet| S["meeting.agenda prompt per member, once"] --> A
    A -->|Tilføj punkt| T[agenda.point: the point's text] --> A
    A -->|Fjern punkt| R[numbered entries] -->|entry| R
    R -->|Done| A
    M["meeting.minutes"] -->|Write minutes| D[tick points, trial actions that start]
    D -->|Next| N[agenda.decision: optional note]
    N -->|text| N
    N -->|Save| V["minutes stored; meeting.decisions per member"]
```

Every button carries the occurrence id, which is looked up within the lead's current
team (``storage.agenda.occurrence_of_team``); a forged or stale one gets
``guard.stale_button``. Renderers check at send time that the member is still an
active member of the team and the meeting is not cancelled; if not they send nothing.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, Renderer, States, StemmeContext, alert, respond
from flows.core.guard import stale_button
from flows.core.i18n import N_, Texts, texts
from flows.core.pickers import shorten
from flows.loop.case_views import agenda_line as case_agenda_line
from flows.loop.decision_views import decision_markup
from flows.meetings.dilemmas import agenda_line as dilemma_agenda_line
from flows.moments.micromoment import marker_label
from storage import agenda as store
from storage import decisions as decisions_store
from storage import directory
from storage.agenda import Agenda, AgendaEntry, AgendaProblem
from storage.cpr import CprNumberRefused
from storage.db import utcnow
from storage.meetings import KIND_DAY_BEFORE, KIND_HOUR_BEFORE, KIND_LEAD_PREPARE, KIND_MINUTES
from storage.models import (
    AGENDA_POINT_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    Decision,
    DecisionStatus,
    MeetingOccurrence,
    MeetingSeries,
    Member,
    OccurrenceStatus,
    Prompt,
)

logger = logging.getLogger(__name__)
# The minutes' mark for a trial action that starts after the meeting: ["start", decision id].
START = "start"

# What an agenda message shows at most, to stay well within Telegram's 4,096 characters.
MAX_ENTRIES_SHOWN = 25
MAX_RESIDENTS_COUNTED = 15
EXCERPT_LENGTH = 80
MESSAGE_LIMIT = 4000
BUTTON_LABEL_LENGTH = 40


class State(States):
    """Steps of the agenda flow that wait for the lead."""

    POINT = "agenda.point"
    DISCUSSED = "agenda.discussed"
    DECISION = "agenda.decision"


# Entries of the neighbours' kinds, until their modules add a line of their own to
# ENTRY_LINES: "Case #12 (Fru H.)".
KIND_LABELS = {
    "case": N_("Case #{number}"),
    "vote": N_("Vote #{number}"),
    "trial": N_("Trial action #{number}"),
    "dilemma": N_("Dilemma #{number}"),
}

# How an entry of one kind is written on the agenda: (session, texts, entry, agenda) -> line.
EntryLine = Callable[[Session, Texts, AgendaEntry, Agenda], str]
# Neighbours register richer lines for their kinds here (kind -> function).
ENTRY_LINES: dict[str, EntryLine] = {"case": case_agenda_line, "dilemma": dilemma_agenda_line}


# ------------------------------------------------------------------ rendering


def voice_length(seconds: int | None) -> str:
    """A voice message's length as m:ss, e.g. "0:42"."""
    seconds = max(int(seconds or 0), 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


def entry_line(session: Session, texts: Texts, entry: AgendaEntry, agenda: Agenda) -> str:
    """One entry as one whole, translated line (without its number)."""
    _ = texts._
    alias = agenda.aliases.get(entry.resident_id or 0, "?")
    if entry.kind == store.KIND_NOTE:
        note = agenda.notes.get(entry.ref_id)
        if note is not None and note.text is None:
            return _("{alias}: 🎤 voice {length}").format(
                alias=alias, length=voice_length(note.voice_duration)
            )
        excerpt = shorten(note.text or "", EXCERPT_LENGTH) if note is not None else ""
        return _("{alias}: “{excerpt}”").format(alias=alias, excerpt=excerpt)
    if entry.kind == store.KIND_POINT:
        return _("Point: {text}").format(text=agenda.points.get(entry.ref_id, ""))
    custom = ENTRY_LINES.get(entry.kind)
    if custom is not None:
        return custom(session, texts, entry, agenda)
    label = KIND_LABELS.get(entry.kind)
    line = _(label).format(number=entry.ref_id) if label else f"{entry.kind} #{entry.ref_id}"
    if entry.resident_id is not None:
        return _("{item} ({alias})").format(item=line, alias=alias)
    return line


def _counts_lines(texts: Texts, agenda: Agenda) -> list[str]:
    """Notes per resident and marker, one compact line per resident."""
    _ = texts._
    per_resident: dict[int, list[str]] = {}
    ordered = sorted(agenda.counts, key=lambda row: (row[0], -row[2], row[1]))
    for resident_id, marker, count in ordered:
        per_resident.setdefault(resident_id, []).append(f"{marker_label(texts, marker)} {count}")
    ranked = sorted(agenda.totals.items(), key=lambda item: (-item[1], item[0]))
    lines = []
    for resident_id, total in ranked[:MAX_RESIDENTS_COUNTED]:
        markers = " · ".join(per_resident.get(resident_id, [])) or _("no markers")
        lines.append(
            _("{alias} ({count}): {markers}").format(
                alias=agenda.aliases.get(resident_id, "?"), count=total, markers=markers
            )
        )
    if len(ranked) > MAX_RESIDENTS_COUNTED:
        hidden = len(ranked) - MAX_RESIDENTS_COUNTED
        lines.append(
            texts.ngettext(
                "… and {count} more resident", "… and {count} more residents", hidden
            ).format(count=hidden)
        )
    return lines


def when_and_where(texts: Texts, agenda: Agenda) -> str:
    """ "Reflection meeting tuesday 24 November at 14:00, Mødelokalet"."""
    _ = texts._
    if agenda.place:
        return _("Reflection meeting {when}, {place}").format(
            when=texts.when(agenda.starts_at), place=agenda.place
        )
    return _("Reflection meeting {when}").format(when=texts.when(agenda.starts_at))


def agenda_body(session: Session, texts: Texts, agenda: Agenda) -> str:
    """The agenda's entries, numbered, and the notes per resident and marker."""
    _ = texts._
    parts: list[str] = []
    if agenda.entries:
        lines = [
            f"{number}. {entry_line(session, texts, entry, agenda)}"
            for number, entry in enumerate(agenda.entries[:MAX_ENTRIES_SHOWN], start=1)
        ]
        hidden = len(agenda.entries) - MAX_ENTRIES_SHOWN
        if hidden > 0:
            lines.append(
                texts.ngettext(
                    "… and {count} more point", "… and {count} more points", hidden
                ).format(count=hidden)
            )
        parts.append(_("On the agenda:") + "\n" + "\n".join(lines))
    else:
        parts.append(_("Nothing on the agenda yet: no micro-moments were taken to the team."))
    counts = _counts_lines(texts, agenda)
    if counts:
        parts.append(
            _("Micro-moments since {day}, per resident:").format(day=texts.day(agenda.since))
            + "\n"
            + "\n".join(counts)
        )
    return "\n\n".join(parts)


def _fit(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def lead_view(session: Session, texts: Texts, agenda: Agenda) -> tuple[str, InlineKeyboardMarkup]:
    """The lead's agenda with its buttons: send it, add a point, remove one."""
    _ = texts._
    occurrence_id = agenda.occurrence_id
    text = "\n\n".join(
        [
            when_and_where(texts, agenda),
            agenda_body(session, texts, agenda),
            _("Send the agenda to the team when it is ready."),
        ]
    )
    rows = [
        [
            InlineKeyboardButton(
                _("Send to the team"), callback_data=f"agenda:send:{occurrence_id}"
            )
        ],
        [
            InlineKeyboardButton(_("Add point"), callback_data=f"agenda:add:{occurrence_id}"),
            InlineKeyboardButton(_("Remove point"), callback_data=f"agenda:rm:{occurrence_id}"),
        ],
    ]
    return _fit(text), InlineKeyboardMarkup(rows)


# ------------------------------------------------------------------ renderers


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


async def render_lead_prepare(bot: Bot, prompt: Prompt, session: Session, *, tz: ZoneInfo) -> None:
    """Sends the lead the agenda two days before, with its buttons."""
    found = _recipient(session, prompt)
    if found is None:
        return
    member, occurrence, _series = found
    member_texts = texts(member.language, tz)
    agenda = _build(session, prompt, occurrence)
    text, markup = lead_view(session, member_texts, agenda)
    intro = member_texts._("Time to prepare the team's reflection meeting.")
    await bot.send_message(member.telegram_id, _fit(intro + "\n\n" + text), reply_markup=markup)


async def render_agenda(bot: Bot, prompt: Prompt, session: Session, *, tz: ZoneInfo) -> None:
    """Sends one member the agenda the lead sent to the team."""
    found = _recipient(session, prompt)
    if found is None:
        return
    member, occurrence, _series = found
    member_texts = texts(member.language, tz)
    agenda = _build(session, prompt, occurrence)
    text = "\n\n".join(
        [
            member_texts._("The agenda for the next reflection meeting:"),
            when_and_where(member_texts, agenda),
            agenda_body(session, member_texts, agenda),
        ]
    )
    await bot.send_message(member.telegram_id, _fit(text))


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
    found = _recipient(session, prompt)
    if found is None:
        return
    member, occurrence, _series = found
    member_texts = texts(member.language, tz)
    agenda = _build(session, prompt, occurrence)
    text = _reminder_text(member_texts, agenda, tomorrow=True)
    document = _calendar_file(agenda, occurrence, member_texts)
    if document is None:
        await bot.send_message(member.telegram_id, text)
    else:
        await bot.send_document(member.telegram_id, document, caption=text)


async def render_hour_before(bot: Bot, prompt: Prompt, session: Session, *, tz: ZoneInfo) -> None:
    """Reminds one member an hour before the meeting."""
    found = _recipient(session, prompt)
    if found is None:
        return
    member, occurrence, _series = found
    member_texts = texts(member.language, tz)
    agenda = _build(session, prompt, occurrence)
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
    return _fit("\n\n".join(parts))


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


# ------------------------------------------------------------------ the lead's steps


def _occurrence_from_button(context: StemmeContext) -> MeetingOccurrence | None:
    """The occurrence named by the button, when it is one of the lead's current team's."""
    _member, _membership, team = context.require_member()
    assert context.matches
    found = store.occurrence_of_team(
        session=context.session,
        team_id=team.id or 0,
        occurrence_id=int(context.matches[0].group(1)),
    )
    return found[0] if found is not None else None


def _agenda(context: StemmeContext, occurrence_id: int) -> Agenda:
    _member, _membership, team = context.require_member()
    return store.build_agenda(
        session=context.session, team_id=team.id or 0, occurrence_id=occurrence_id
    )


def _open(occurrence: MeetingOccurrence | None) -> bool:
    """A meeting whose agenda can still change: not cancelled, not started."""
    return (
        occurrence is not None
        and occurrence.status != OccurrenceStatus.CANCELLED
        and occurrence.starts_at > utcnow()
    )


async def _show(update: Update, context: StemmeContext, occurrence_id: int, edit: bool) -> None:
    text, markup = lead_view(context.session, context.texts, _agenda(context, occurrence_id))
    await respond(update, text, markup, edit=edit)


async def show_next(update: Update, context: StemmeContext) -> str | None:
    """Shows the lead the agenda of the team's next meeting."""
    _member, _membership, team = context.require_member()
    occurrence = store.next_occurrence(session=context.session, team_id=team.id or 0, now=utcnow())
    if occurrence is None:
        await respond(update, context.texts._("The team has no meeting planned."))
        return END
    await _show(update, context, occurrence.id or 0, edit=False)
    return END


async def show(update: Update, context: StemmeContext) -> str | None:
    """Shows the agenda again, with its buttons."""
    occurrence = _occurrence_from_button(context)
    if occurrence is None:
        await stale_button(update, context)
        return END
    await _show(update, context, occurrence.id or 0, edit=True)
    return END


def _wake(context: StemmeContext) -> Callable[[], Awaitable[None]]:
    """After the commit: tells this process's dispatcher that prompts are due now."""
    wake_prompts = context.services.wake_prompts

    async def wake() -> None:
        wake_prompts()

    return wake


async def send_to_team(update: Update, context: StemmeContext) -> str | None:
    """Sends the agenda to every active member once, and says to how many."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    occurrence = _occurrence_from_button(context)
    if not _open(occurrence):
        await stale_button(update, context)
        return END
    assert occurrence is not None
    try:
        fan_out = store.send_agenda(
            session=context.session,
            team_id=team.id or 0,
            occurrence_id=occurrence.id or 0,
            now=utcnow(),
        )
    except AgendaProblem:
        await stale_button(update, context)
        return END
    if fan_out.scheduled:
        context.after_commit(_wake(context))
        text = context.texts.ngettext(
            "The agenda is on its way to {count} member of the team.",
            "The agenda is on its way to {count} members of the team.",
            fan_out.scheduled,
        ).format(count=fan_out.scheduled)
    else:
        text = _("The agenda was already sent to the team. Nobody gets it twice.")
    await respond(update, text, edit=False)
    return END


async def ask_point(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead for the text of a new point."""
    occurrence = _occurrence_from_button(context)
    if not _open(occurrence):
        await stale_button(update, context)
        return END
    assert occurrence is not None
    context.flow_data = {"occurrence": occurrence.id}
    await respond(
        update,
        context.texts._(
            "Write the point in a few words (at most {limit} characters). Never a CPR number."
        ).format(limit=AGENDA_POINT_MAX_LENGTH),
        edit=False,
    )
    return State.POINT


async def store_point(update: Update, context: StemmeContext) -> str | None:
    """Adds the typed point to the agenda and shows the agenda again."""
    message = update.effective_message
    assert message is not None and message.text is not None
    return await _add_point(update, context, message.text)


async def trim_point(update: Update, context: StemmeContext) -> str | None:
    """Adds the first characters of the over-long point."""
    draft = context.flow_data.get("draft")
    if not draft:
        await stale_button(update, context)
        return None
    return await _add_point(update, context, " ".join(draft.split())[:AGENDA_POINT_MAX_LENGTH])


async def _add_point(update: Update, context: StemmeContext, text: str) -> str | None:
    _ = context.texts._
    member, _membership, team = context.require_member()
    occurrence_id = int(context.flow_data.get("occurrence", 0))
    try:
        store.add_point(
            session=context.session,
            team_id=team.id or 0,
            occurrence_id=occurrence_id,
            text=text,
            member_id=member.id,
        )
    except store.PointTooLong:
        context.flow_data["draft"] = text
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Keep the first {limit} characters").format(
                            limit=AGENDA_POINT_MAX_LENGTH
                        ),
                        callback_data="agenda:trim",
                    )
                ]
            ]
        )
        await respond(
            update,
            _(
                "Your point has {length} characters; a point can have at most {limit}. I have "
                "kept it: send a shorter version, or keep the first {limit} characters."
            ).format(length=len(" ".join(text.split())), limit=AGENDA_POINT_MAX_LENGTH),
            markup,
        )
        return None
    except CprNumberRefused:  # the router refuses typed CPR numbers first; a second line
        await respond(update, _("A point cannot hold a CPR number. Write it again without."))
        return None
    except ValueError:
        await respond(update, _("Write the point as text, or send /cancel to stop."))
        return None
    except AgendaProblem:
        await stale_button(update, context)
        return END
    text, markup = lead_view(context.session, context.texts, _agenda(context, occurrence_id))
    await respond(update, _fit(_("Point added ✔") + "\n\n" + text), markup, edit=False)
    return END


def _removal_view(context: StemmeContext, agenda: Agenda) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.texts._
    occurrence_id = agenda.occurrence_id
    rows = [
        [
            InlineKeyboardButton(
                shorten(
                    f"{number}. {entry_line(context.session, context.texts, entry, agenda)}",
                    BUTTON_LABEL_LENGTH,
                ),
                callback_data=f"agenda:del:{occurrence_id}:{entry.kind}:{entry.ref_id}",
            )
        ]
        for number, entry in enumerate(agenda.entries[:MAX_ENTRIES_SHOWN], start=1)
    ]
    rows.append([InlineKeyboardButton(_("Done"), callback_data=f"agenda:show:{occurrence_id}")])
    if agenda.entries:
        text = _("Which point should come off this meeting's agenda? The note itself is kept.")
    else:
        text = _("The agenda is empty.")
    return text, InlineKeyboardMarkup(rows)


async def choose_removal(update: Update, context: StemmeContext) -> str | None:
    """Lists the agenda's entries as buttons to remove one."""
    occurrence = _occurrence_from_button(context)
    if not _open(occurrence):
        await stale_button(update, context)
        return END
    assert occurrence is not None
    text, markup = _removal_view(context, _agenda(context, occurrence.id or 0))
    await respond(update, text, markup)
    return END


async def remove(update: Update, context: StemmeContext) -> str | None:
    """Removes one entry from this meeting's agenda and lists the rest."""
    _member, _membership, team = context.require_member()
    occurrence = _occurrence_from_button(context)
    assert context.matches
    kind, ref_id = context.matches[0].group(2), int(context.matches[0].group(3))
    if not _open(occurrence):
        await stale_button(update, context)
        return END
    assert occurrence is not None
    removed = store.remove_entry(
        session=context.session,
        team_id=team.id or 0,
        occurrence_id=occurrence.id or 0,
        kind=kind,
        ref_id=ref_id,
    )
    if not removed:
        await stale_button(update, context)
        return END
    text, markup = _removal_view(context, _agenda(context, occurrence.id or 0))
    await respond(update, text, markup)
    return END


# ------------------------------------------------------------------ minutes


def _minutes_view(context: StemmeContext, agenda: Agenda) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.texts._
    chosen = {(kind, ref_id) for kind, ref_id in context.flow_data.get("discussed", [])}
    rows = [
        [
            InlineKeyboardButton(
                shorten(
                    ("✅ " if (entry.kind, entry.ref_id) in chosen else "▫️ ")
                    + entry_line(context.session, context.texts, entry, agenda),
                    BUTTON_LABEL_LENGTH,
                ),
                callback_data=f"agenda:tick:{entry.kind}:{entry.ref_id}",
            )
        ]
        for entry in agenda.entries[:MAX_ENTRIES_SHOWN]
    ]
    # Trial actions the meeting starts: decisions whose vote chose a proposal.
    for decision in _ready_to_start(context.session, agenda.team_id):
        marked = (START, decision.id) in chosen
        rows.append(
            [
                InlineKeyboardButton(
                    shorten(
                        ("✅ " if marked else "▫️ ")
                        + _("Starts: {title}").format(title=decision.title),
                        BUTTON_LABEL_LENGTH,
                    ),
                    callback_data=f"agenda:start:{decision.id}",
                )
            ]
        )
    rows.append([InlineKeyboardButton(_("Next ▶"), callback_data="agenda:next")])
    text = (
        _("Minutes of the meeting {when}: tick the points that were discussed, then press Next.")
        if agenda.entries
        else _("Minutes of the meeting {when}: the agenda was empty. Press Next.")
    ).format(when=context.texts.when(agenda.starts_at))
    return text, InlineKeyboardMarkup(rows)


async def start_minutes(update: Update, context: StemmeContext) -> str | None:
    """Starts the minutes: which points were discussed."""
    occurrence = _occurrence_from_button(context)
    if occurrence is None or occurrence.status == OccurrenceStatus.CANCELLED:
        await stale_button(update, context)
        return END
    if store.get_minutes(session=context.session, occurrence_id=occurrence.id or 0):
        await alert(update, context.texts._("The minutes of this meeting are already saved."))
        return END
    context.flow_data = {"occurrence": occurrence.id, "discussed": []}
    text, markup = _minutes_view(context, _agenda(context, occurrence.id or 0))
    await respond(update, text, markup)
    return State.DISCUSSED


async def tick(update: Update, context: StemmeContext) -> str | None:
    """Ticks or unticks one point as discussed."""
    assert context.matches
    key = [context.matches[0].group(1), int(context.matches[0].group(2))]
    agenda = _agenda(context, int(context.flow_data.get("occurrence", 0)))
    if (key[0], key[1]) not in {(e.kind, e.ref_id) for e in agenda.entries}:
        await stale_button(update, context)
        return None
    discussed = [list(item) for item in context.flow_data.get("discussed", [])]
    if key in discussed:
        discussed.remove(key)
    else:
        discussed.append(key)
    context.flow_data["discussed"] = discussed
    text, markup = _minutes_view(context, agenda)
    await respond(update, text, markup)
    return None


def _ready_to_start(session: Session, team_id: int) -> list[Decision]:
    """The team's decisions whose trial action the lead can start (a proposal won)."""
    return [
        decision
        for decision in decisions_store.open_decisions(session=session, team_id=team_id)
        if decision.status == DecisionStatus.PLANNING
    ]


async def tick_start(update: Update, context: StemmeContext) -> str | None:
    """Marks or unmarks a trial action as starting after this meeting."""
    assert context.matches
    decision_id = int(context.matches[0].group(1))
    _member, _membership, team = context.require_member()
    if decision_id not in {d.id for d in _ready_to_start(context.session, team.id or 0)}:
        await stale_button(update, context)
        return None
    key = [START, decision_id]
    discussed = [list(item) for item in context.flow_data.get("discussed", [])]
    if key in discussed:
        discussed.remove(key)
    else:
        discussed.append(key)
    context.flow_data["discussed"] = discussed
    text, markup = _minutes_view(context, _agenda(context, int(context.flow_data["occurrence"])))
    await respond(update, text, markup)
    return None


def _decision_view(context: StemmeContext) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.texts._
    draft = context.flow_data.get("decision")
    count = len([key for key in context.flow_data.get("discussed", []) if key[0] != START])
    discussed = context.texts.ngettext(
        "{count} point discussed.", "{count} points discussed.", count
    ).format(count=count)
    if draft:
        text = "\n\n".join(
            [
                discussed,
                _("Decided:") + "\n" + draft,
                _("Press Save, or send a new text to replace it."),
            ]
        )
        save = _("Save ✔")
    else:
        text = "\n\n".join(
            [discussed, _("What did the team decide? Write it in a few sentences, or press Save.")]
        )
        save = _("Save without a note")
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(save, callback_data="agenda:save")],
            [InlineKeyboardButton(_("◀ Back"), callback_data="agenda:back")],
        ]
    )
    return text, markup


async def ask_decision(update: Update, context: StemmeContext) -> str | None:
    """Asks what was decided (optional)."""
    text, markup = _decision_view(context)
    await respond(update, text, markup)
    return State.DECISION


async def back_to_points(update: Update, context: StemmeContext) -> str | None:
    """Goes back to ticking the discussed points."""
    text, markup = _minutes_view(
        context, _agenda(context, int(context.flow_data.get("occurrence", 0)))
    )
    await respond(update, text, markup)
    return State.DISCUSSED


async def store_decision(update: Update, context: StemmeContext) -> str | None:
    """Keeps the typed decision (asking to shorten it when it is too long)."""
    _ = context.texts._
    message = update.effective_message
    assert message is not None and message.text is not None
    text = message.text.strip()
    if len(text) > NOTE_MAX_LENGTH:
        context.flow_data["long"] = text
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Keep the first {limit} characters").format(limit=NOTE_MAX_LENGTH),
                        callback_data="agenda:cut",
                    )
                ]
            ]
        )
        await respond(
            update,
            _(
                "Your text has {length} characters; the decisions can have at most {limit}. "
                "I have kept it: send a shorter version, or keep the first {limit} characters."
            ).format(length=len(text), limit=NOTE_MAX_LENGTH),
            markup,
        )
        return None
    context.flow_data["decision"] = text
    view, markup = _decision_view(context)
    await respond(update, view, markup)
    return None


async def cut_decision(update: Update, context: StemmeContext) -> str | None:
    """Keeps the first 1,000 characters of the over-long decision."""
    long = context.flow_data.pop("long", None)
    if not long:
        await stale_button(update, context)
        return None
    context.flow_data["decision"] = long[:NOTE_MAX_LENGTH].strip()
    view, markup = _decision_view(context)
    await respond(update, view, markup)
    return None


async def save_minutes(update: Update, context: StemmeContext) -> str | None:
    """Stores the minutes and sends the decisions to the team."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    occurrence_id = int(context.flow_data.get("occurrence", 0))
    try:
        _minutes, fan_out = store.record_minutes(
            session=context.session,
            team_id=team.id or 0,
            occurrence_id=occurrence_id,
            member_id=member.id,
            discussed=[
                (str(kind), int(ref_id)) for kind, ref_id in context.flow_data.get("discussed", [])
            ],
            decision=context.flow_data.get("decision"),
            now=utcnow(),
        )
    except AgendaProblem:
        await stale_button(update, context)
        return END
    if fan_out.scheduled:
        context.after_commit(_wake(context))
    text = context.texts.ngettext(
        "Minutes saved ✔ The decisions go to {count} member of the team.",
        "Minutes saved ✔ The decisions go to {count} members of the team.",
        fan_out.total,
    ).format(count=fan_out.total)
    starting = [
        int(ref_id) for kind, ref_id in context.flow_data.get("discussed", []) if kind == START
    ]
    if not starting:
        await respond(update, text)
        return END
    await respond(update, text + "\n\n" + _("Fill in the trial actions that start:"))
    for decision_id in starting:
        decision = decisions_store.get_team_decision(
            session=context.session, team_id=team.id or 0, decision_id=decision_id
        )
        if decision is not None and update.effective_chat is not None:
            await update.effective_chat.send_message(
                decision.title, reply_markup=decision_markup(context.texts, decision_id)
            )
    return END


def build_flow() -> Flow:
    """The agenda flow: the lead's agenda buttons, points, and the minutes."""
    return Flow(
        name="agenda",
        entry_points=[
            CommandHandler("agenda", show_next),
            CallbackQueryHandler(show, pattern=r"^agenda:show:(\d{1,9})$"),
            CallbackQueryHandler(send_to_team, pattern=r"^agenda:send:(\d{1,9})$"),
            CallbackQueryHandler(ask_point, pattern=r"^agenda:add:(\d{1,9})$"),
            CallbackQueryHandler(choose_removal, pattern=r"^agenda:rm:(\d{1,9})$"),
            CallbackQueryHandler(
                remove, pattern=r"^agenda:del:(\d{1,9}):([a-z_]{1,20}):(\d{1,9})$"
            ),
            CallbackQueryHandler(start_minutes, pattern=r"^agenda:min:(\d{1,9})$"),
        ],
        states={
            State.POINT: [
                MessageHandler(filters.TEXT & ~filters.COMMAND, store_point),
                CallbackQueryHandler(trim_point, pattern=r"^agenda:trim$"),
            ],
            State.DISCUSSED: [
                CallbackQueryHandler(tick, pattern=r"^agenda:tick:([a-z_]{1,20}):(\d{1,9})$"),
                CallbackQueryHandler(tick_start, pattern=r"^agenda:start:(\d{1,9})$"),
                CallbackQueryHandler(ask_decision, pattern=r"^agenda:next$"),
            ],
            State.DECISION: [
                MessageHandler(filters.TEXT & ~filters.COMMAND, store_decision),
                CallbackQueryHandler(cut_decision, pattern=r"^agenda:cut$"),
                CallbackQueryHandler(save_minutes, pattern=r"^agenda:save$"),
                CallbackQueryHandler(back_to_points, pattern=r"^agenda:back$"),
            ],
        },
        hints={
            State.POINT: N_("Write the point as text, or send /cancel to stop."),
            State.DISCUSSED: N_("Tick the points that were discussed, then press Next."),
            State.DECISION: N_("Write what was decided as text, or press Save."),
        },
        lead_only=True,
    )
