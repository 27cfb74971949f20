"""The meeting agenda, the meeting reminders and the minutes: this module holds the
flow's table and the lead's agenda steps; minutes.py the minutes' steps, agenda_views.py
what they show and check, agenda_notices.py the timed prompts.

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
``guard.stale_button``. The renderers (agenda_notices.py) check at send time that the
member is still an active member of the team and the meeting is not cancelled; if not
they send nothing.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, StemmeContext, respond
from flows.core.guard import stale_button
from flows.core.i18n import N_
from flows.core.pickers import shorten
from flows.meetings.agenda_views import (
    BUTTON_LABEL_LENGTH,
    MAX_ENTRIES_SHOWN,
    State,
    agenda_of,
    entry_line,
    fit_message,
    is_open,
    lead_view,
    occurrence_from_button,
    wake_after_commit,
)
from flows.meetings.minutes import (
    ask_decision,
    back_to_points,
    cut_decision,
    save_minutes,
    start_minutes,
    store_decision,
    tick,
    tick_start,
)
from storage import agenda as store
from storage.agenda import Agenda, AgendaProblem
from storage.cpr import CprNumberRefused
from storage.db import utcnow
from storage.models import AGENDA_POINT_MAX_LENGTH

# ------------------------------------------------------------------ the lead's agenda


async def _show(update: Update, context: StemmeContext, occurrence_id: int, edit: bool) -> None:
    text, markup = lead_view(context.session, context.texts, agenda_of(context, occurrence_id))
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
    occurrence = occurrence_from_button(context)
    if occurrence is None:
        await stale_button(update, context)
        return END
    await _show(update, context, occurrence.id or 0, edit=True)
    return END


async def send_to_team(update: Update, context: StemmeContext) -> str | None:
    """Sends the agenda to every active member once, and says to how many."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    occurrence = occurrence_from_button(context)
    if not is_open(occurrence):
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
        context.after_commit(wake_after_commit(context))
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
    occurrence = occurrence_from_button(context)
    if not is_open(occurrence):
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
    text, markup = lead_view(context.session, context.texts, agenda_of(context, occurrence_id))
    await respond(update, fit_message(_("Point added ✔") + "\n\n" + text), markup, edit=False)
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
    occurrence = occurrence_from_button(context)
    if not is_open(occurrence):
        await stale_button(update, context)
        return END
    assert occurrence is not None
    text, markup = _removal_view(context, agenda_of(context, occurrence.id or 0))
    await respond(update, text, markup)
    return END


async def remove(update: Update, context: StemmeContext) -> str | None:
    """Removes one entry from this meeting's agenda and lists the rest."""
    _member, _membership, team = context.require_member()
    occurrence = occurrence_from_button(context)
    assert context.matches
    kind, ref_id = context.matches[0].group(2), int(context.matches[0].group(3))
    if not is_open(occurrence):
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
    text, markup = _removal_view(context, agenda_of(context, occurrence.id or 0))
    await respond(update, text, markup)
    return END


# ------------------------------------------------------------------ wiring


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
