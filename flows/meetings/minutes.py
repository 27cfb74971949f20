"""The minutes of a meeting (the lead's "Write minutes" button after it): tick the points
that were discussed and the trial actions that start, write what was decided (optional),
save; the team then gets the decisions (``meeting.decisions``, sent by agenda_notices.py)
and the lead the trial actions to fill in. The steps belong to agenda.py's table."""

from __future__ import annotations

from sqlmodel import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from flows.core.engine import END, StemmeContext, alert, respond
from flows.core.guard import stale_button
from flows.core.pickers import shorten
from flows.loop.decision_views import decision_markup
from flows.meetings.agenda_views import (
    BUTTON_LABEL_LENGTH,
    MAX_ENTRIES_SHOWN,
    START,
    State,
    agenda_of,
    entry_line,
    occurrence_from_button,
    wake_after_commit,
)
from flows.programme.course_views import meeting_line, summary_text
from storage import agenda as store
from storage import decisions as decisions_store
from storage import programme
from storage.agenda import Agenda, AgendaProblem
from storage.db import utcnow
from storage.models import NOTE_MAX_LENGTH, Decision, DecisionStatus, OccurrenceStatus, Team


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
    occurrence = occurrence_from_button(context)
    if occurrence is None or occurrence.status == OccurrenceStatus.CANCELLED:
        await stale_button(update, context)
        return END
    if store.get_minutes(session=context.session, occurrence_id=occurrence.id or 0):
        await alert(update, context.texts._("The minutes of this meeting are already saved."))
        return END
    context.flow_data = {"occurrence": occurrence.id, "discussed": []}
    text, markup = _minutes_view(context, agenda_of(context, occurrence.id or 0))
    await respond(update, text, markup)
    return State.DISCUSSED


async def tick(update: Update, context: StemmeContext) -> str | None:
    """Ticks or unticks one point as discussed."""
    assert context.matches
    key = [context.matches[0].group(1), int(context.matches[0].group(2))]
    agenda = agenda_of(context, int(context.flow_data.get("occurrence", 0)))
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
    text, markup = _minutes_view(context, agenda_of(context, int(context.flow_data["occurrence"])))
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
        context, agenda_of(context, int(context.flow_data.get("occurrence", 0)))
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
        context.after_commit(wake_after_commit(context))
    text = context.texts.ngettext(
        "Minutes saved ✔ The decisions go to {count} member of the team.",
        "Minutes saved ✔ The decisions go to {count} members of the team.",
        fan_out.total,
    ).format(count=fan_out.total)
    course_text = _course_after_minutes(context, team, occurrence_id)
    if course_text:
        text += "\n\n" + course_text
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


def _course_after_minutes(context: StemmeContext, team: Team, occurrence_id: int) -> str | None:
    """When the meeting is a course's dialogue meeting: where the course stands now, or
    its summary when this was the third (the course ends; flows/programme)."""
    found = programme.course_of_occurrence(session=context.session, occurrence_id=occurrence_id)
    if found is None or found[0].team_id != team.id:
        return None
    course, meeting = found
    if programme.finish_if_held(session=context.session, course=course, now=utcnow()):
        return summary_text(
            context.texts, team, programme.summary(session=context.session, course=course)
        )
    shown = programme.progress(session=context.session, course=course)
    return meeting_line(context.texts, shown.meetings[meeting.number - 1])
