"""What the agenda flow shows and checks, shared by the lead's agenda steps (agenda.py),
the minutes (minutes.py) and the timed prompts (agenda_notices.py): the flow's states,
an entry's line (with ``ENTRY_LINES``, where neighbours register richer lines for their
kinds), the agenda's body and the lead's view of it, and the lookups that find a pressed
button's meeting within the lead's current team."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlmodel import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from flows.core.engine import States, StemmeContext
from flows.core.i18n import N_, Texts
from flows.core.pickers import shorten
from flows.loop.case_views import agenda_line as case_agenda_line
from flows.meetings.dilemmas import agenda_line as dilemma_agenda_line
from flows.moments.micromoment import marker_label
from storage import agenda as store
from storage.agenda import Agenda, AgendaEntry
from storage.db import utcnow
from storage.models import MeetingOccurrence, OccurrenceStatus

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


def fit_message(text: str) -> str:
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
    return fit_message(text), InlineKeyboardMarkup(rows)


# ------------------------------------------------------------------ lookups


def occurrence_from_button(context: StemmeContext) -> MeetingOccurrence | None:
    """The occurrence named by the button, when it is one of the lead's current team's."""
    _member, _membership, team = context.require_member()
    assert context.matches
    found = store.occurrence_of_team(
        session=context.session,
        team_id=team.id or 0,
        occurrence_id=int(context.matches[0].group(1)),
    )
    return found[0] if found is not None else None


def agenda_of(context: StemmeContext, occurrence_id: int) -> Agenda:
    _member, _membership, team = context.require_member()
    return store.build_agenda(
        session=context.session, team_id=team.id or 0, occurrence_id=occurrence_id
    )


def is_open(occurrence: MeetingOccurrence | None) -> bool:
    """A meeting whose agenda can still change: not cancelled, not started."""
    return (
        occurrence is not None
        and occurrence.status != OccurrenceStatus.CANCELLED
        and occurrence.starts_at > utcnow()
    )


def wake_after_commit(context: StemmeContext) -> Callable[[], Awaitable[None]]:
    """After the commit: tells this process's dispatcher that prompts are due now."""
    wake_prompts = context.services.wake_prompts

    async def wake() -> None:
        wake_prompts()

    return wake
