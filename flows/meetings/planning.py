"""Reflection meetings: a lead plans, moves and cancels them; every member is told,
with a calendar file (.ics) attached.

```mermaid
flowchart TD
    M["/meeting"] -->|staff| L[the next meetings, read only]
    M -->|lead| LL[the next 5 meetings, buttons per meeting]
    LL -->|➕ Plan a meeting| D[meeting.day: quick days, or typed 24/11 14:00]
    D -->|"tirsdag 14:00" or typed with time| U
    D -->|a day| T[meeting.time: common times, or typed]
    T --> U[meeting.duration: 30/45/60/90 min]
    U --> P[meeting.place: typed, same as last time, or skip]
    P --> R[meeting.repeat: once, weekly, every second week, monthly]
    R --> C[meeting.confirm: summary] -->|Save| S[series + occurrences stored, members told]
    LL -->|🔁 a meeting| D2[meeting.day, then meeting.time] --> MV[moved, members told]
    LL -->|❌ a meeting| X[confirm] --> XC[cancelled, members told]
    LL -->|⏹ a series| Y[confirm] --> YC[every future meeting cancelled, members told]
```

Members are told through the prompt queue (kind ``meeting.invitation``, one prompt per
member, committed with the change): the dispatcher sends each one as a document with
the .ics and its rate limiter, and a member who blocked the bot is marked unreachable
without stopping the others or touching the meeting. Every button carries an occurrence
or series id that is looked up within the lead's team (``get_team_occurrence``), so a
forged or stale press changes nothing.

This module holds the flow's table and the planning steps (day, time, duration, place,
repetition, saving); the list and the changes to its meetings (moving once the new time
is chosen here, cancelling, stopping a series) are in ``upcoming``, the members' notices
in ``invitations``, and what they share (the flow's clock, reading typed times, the
labels, the button checks) in ``meeting_views``.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from babel.dates import format_skeleton
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, States, StemmeContext, respond
from flows.core.guard import leads_only, stale_button
from flows.core.i18n import N_, Texts
from flows.meetings import meeting_views
from flows.meetings.meeting_views import (
    REPETITION_LABELS,
    NotUnderstood,
    after_commit,
    local_now,
    minutes_label,
    occurrence_from_button,
    parse_time,
    parse_when,
    refuse_stale,
    repetition_label,
    series_from_button,
    team_id_of,
    weekday_name,
    zone_of,
)
from flows.meetings.upcoming import (
    cancel_one,
    confirm_cancel,
    confirm_stop,
    move_meeting,
    move_series,
    show,
    show_again,
    stop_series,
)
from flows.moments.micromoment import FREE_TEXT
from storage import meetings, programme
from storage.db import require_id
from storage.meetings import Notice
from storage.models import MEETINGS_PER_COURSE, PLACE_MAX_LENGTH, Repetition

logger = logging.getLogger(__name__)

DAYS_PER_PAGE = 7
MAX_DAYS_AHEAD = 8 * 7
# A meeting can be planned (or moved) at most this far ahead.
MAX_AHEAD = timedelta(days=366)
TIMES = ("08:00", "09:00", "10:00", "11:00", "12:00", "13:00", "13:30", "14:00", "14:30", "15:00")
DURATIONS = (30, 45, 60, 90)

_ID = r"(\d{1,9})"


class State(States):
    """Steps of planning or moving a meeting."""

    DAY = "meeting.day"
    TIME = "meeting.time"
    DURATION = "meeting.duration"
    PLACE = "meeting.place"
    REPEAT = "meeting.repeat"
    CONFIRM = "meeting.confirm"


def _weekday_date(texts: Texts, day: date) -> str:
    """A day button's label, e.g. "ons. 25. nov."."""
    return format_skeleton("MMMEd", day, locale=texts.babel_locale)


def _button_date(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date()  # noqa: DTZ007 - a calendar date only
    except ValueError:
        return None


def _flow_date(context: StemmeContext) -> date | None:
    try:
        return date.fromisoformat(str(context.flow_data.get("date")))
    except ValueError:
        return None


def _chosen_when(context: StemmeContext) -> str:
    day = date.fromisoformat(context.flow_data["date"])
    start = parse_time(context.flow_data["time"])
    return context.texts.when(datetime.combine(day, start, tzinfo=zone_of(context)))


# ------------------------------------------------------------------ choosing day and time


@leads_only
async def start_new(update: Update, context: StemmeContext) -> str | None:
    """Starts planning a new meeting (a course's dialogue meeting, when the button names
    one: flows/programme): asks for the day."""
    context.flow_data = {"mode": "new"}
    if context.matches and context.matches[0].group(1):
        context.flow_data["course"] = int(context.matches[0].group(1))
        context.flow_data["course_meeting"] = int(context.matches[0].group(2))
    return await _ask_day(update, context, offset=0)


@leads_only
async def start_move(update: Update, context: StemmeContext) -> str | None:
    """Starts moving one meeting: asks for its new day."""
    found = occurrence_from_button(context)
    if found is None:
        await refuse_stale(update, context, "move")
        return END
    occurrence, _series = found
    context.flow_data = {"mode": "move", "occ": occurrence.id}
    return await _ask_day(update, context, offset=0)


@leads_only
async def start_move_series(update: Update, context: StemmeContext) -> str | None:
    """Starts moving a whole series: asks for the day of its next meeting."""
    series = series_from_button(context)
    if series is None:
        await refuse_stale(update, context, "move series")
        return END
    context.flow_data = {"mode": "move_series", "series": series.id}
    return await _ask_day(update, context, offset=0)


@leads_only
async def turn_days(update: Update, context: StemmeContext) -> str | None:
    """Shows another week of days."""
    assert context.matches
    offset = min(max(int(context.matches[0].group(1)), 0), MAX_DAYS_AHEAD)
    return await _ask_day(update, context, offset=offset)


async def _ask_day(update: Update, context: StemmeContext, *, offset: int) -> str:
    texts = context.texts
    _ = texts._
    today = local_now(context).date()
    rows: list[list[InlineKeyboardButton]] = []
    latest = meetings.latest_series(session=context.session, team_id=team_id_of(context))
    if offset == 0 and latest is not None:
        weekday = latest.first_date.weekday()
        ahead = (weekday - today.weekday() - 1) % 7 + 1
        day = today + timedelta(days=ahead)
        rows.append(
            [
                InlineKeyboardButton(
                    _("{weekday} at {time}").format(
                        weekday=weekday_name(texts, day), time=latest.start_time.strftime("%H:%M")
                    ),
                    callback_data=f"mtg:at:{day:%Y%m%d}:{latest.start_time:%H%M}",
                )
            ]
        )
    days = [today + timedelta(days=offset + n) for n in range(1, DAYS_PER_PAGE + 1)]
    day_buttons = [
        InlineKeyboardButton(
            _("Tomorrow") if day == today + timedelta(days=1) else _weekday_date(texts, day),
            callback_data=f"mtg:day:{day:%Y%m%d}",
        )
        for day in days
    ]
    rows.extend(day_buttons[i : i + 3] for i in range(0, len(day_buttons), 3))
    navigation = []
    if offset > 0:
        navigation.append(
            InlineKeyboardButton(_("◀ Earlier"), callback_data=f"mtg:days:{offset - 7}")
        )
    if offset + 7 <= MAX_DAYS_AHEAD:
        navigation.append(
            InlineKeyboardButton(_("Next week ▶"), callback_data=f"mtg:days:{offset + 7}")
        )
    rows.append(navigation)
    if context.flow_data.get("mode") == "move":
        found = meetings.get_team_occurrence(
            session=context.session,
            team_id=team_id_of(context),
            occurrence_id=int(context.flow_data.get("occ", 0)),
        )
        title = (
            _("Move the meeting on {when} to which day?").format(
                when=texts.when(found[0].starts_at)
            )
            if found
            else _("Which day?")
        )
    else:
        title = _("Which day is the reflection meeting?")
    text = (
        title
        + "\n\n"
        + _("Press a day, or write the date and time, e.g. {example}.").format(
            example=_example(context)
        )
    )
    await respond(update, text, InlineKeyboardMarkup(rows), edit=update.callback_query is not None)
    return State.DAY


def _example(context: StemmeContext) -> str:
    """An example date a week ahead, in the format the lead can type."""
    day = local_now(context).date() + timedelta(days=7)
    return f"{day.day}/{day.month} 14:00"


@leads_only
async def choose_day(update: Update, context: StemmeContext) -> str | None:
    """Keeps the chosen day and asks for the time."""
    assert context.matches
    day = _button_date(context.matches[0].group(1))
    if day is None or day <= local_now(context).date() - timedelta(days=1):
        await stale_button(update, context)
        return None
    context.flow_data["date"] = day.isoformat()
    return await _ask_time(update, context, day)


@leads_only
async def choose_day_and_time(update: Update, context: StemmeContext) -> str | None:
    """Takes the quick "same weekday and time as last time" choice."""
    assert context.matches
    day = _button_date(context.matches[0].group(1))
    try:
        start = parse_time(context.matches[0].group(2))
    except NotUnderstood:
        day = None
    if day is None:
        await stale_button(update, context)
        return None
    return await _chosen(update, context, day, start)


async def typed_day(update: Update, context: StemmeContext) -> str | None:
    """Reads a typed date (and time); refuses a past one and stays."""
    _ = context.texts._
    message = update.effective_message
    assert message is not None and message.text is not None
    try:
        day, start = parse_when(message.text, today=local_now(context).date())
    except NotUnderstood:
        await respond(
            update,
            _("I could not read that date. Write it like {example}, or press a day.").format(
                example=_example(context)
            ),
        )
        return None
    if start is None:
        if day < local_now(context).date():
            await _refuse_past(update, context)
            return None
        context.flow_data["date"] = day.isoformat()
        return await _ask_time(update, context, day)
    return await _chosen(update, context, day, start)


async def _ask_time(update: Update, context: StemmeContext, day: date) -> str:
    texts = context.texts
    _ = texts._
    buttons = [
        InlineKeyboardButton(value, callback_data=f"mtg:time:{value.replace(':', '')}")
        for value in TIMES
    ]
    rows = [buttons[i : i + 5] for i in range(0, len(buttons), 5)]
    rows.append([InlineKeyboardButton(_("◀ Another day"), callback_data="mtg:days:0")])
    await respond(
        update,
        _("What time on {day}? Press a time or write it, e.g. 13:45.").format(
            day=f"{weekday_name(texts, day)} {texts.day(day)}"
        ),
        InlineKeyboardMarkup(rows),
        edit=update.callback_query is not None,
    )
    return State.TIME


@leads_only
async def choose_time(update: Update, context: StemmeContext) -> str | None:
    """Takes a time button."""
    assert context.matches
    day = _flow_date(context)
    try:
        start = parse_time(context.matches[0].group(1))
    except NotUnderstood:
        day = None
    if day is None:
        await stale_button(update, context)
        return None
    return await _chosen(update, context, day, start)


async def typed_time(update: Update, context: StemmeContext) -> str | None:
    """Reads a typed time (or a whole new date and time)."""
    _ = context.texts._
    message = update.effective_message
    assert message is not None and message.text is not None
    day = _flow_date(context)
    try:
        start = parse_time(message.text)
    except NotUnderstood:
        try:
            typed_date, typed_start = parse_when(message.text, today=local_now(context).date())
        except NotUnderstood:
            typed_start = None
        if typed_start is None:
            await respond(update, _("I could not read that time. Write it like 14:00."))
            return None
        day, start = typed_date, typed_start
    if day is None:
        return await _ask_day(update, context, offset=0)
    return await _chosen(update, context, day, start)


async def _refuse_past(update: Update, context: StemmeContext) -> None:
    await respond(
        update,
        context.texts._(
            "That time has already passed. Choose a day and time ahead, e.g. {example}."
        ).format(example=_example(context)),
    )


async def _chosen(update: Update, context: StemmeContext, day: date, start: time) -> str | None:
    """Goes on with a day and time: moves the meeting, or asks for the duration."""
    local = datetime.combine(day, start, tzinfo=zone_of(context))
    if local <= local_now(context):
        await _refuse_past(update, context)
        return None
    if local > local_now(context) + MAX_AHEAD:
        await respond(
            update,
            context.texts._(
                "That is more than a year ahead. Choose a day within a year, e.g. {example}."
            ).format(example=_example(context)),
        )
        return None
    context.flow_data["date"] = day.isoformat()
    context.flow_data["time"] = start.strftime("%H:%M")
    if context.flow_data.get("mode") == "move":
        return await move_meeting(update, context, local)
    if context.flow_data.get("mode") == "move_series":
        return await move_series(update, context, local)
    return await _ask_duration(update, context)


# ------------------------------------------------------------------ duration, place, repetition


async def _ask_duration(update: Update, context: StemmeContext) -> str:
    texts = context.texts
    buttons = [
        InlineKeyboardButton(minutes_label(texts, minutes), callback_data=f"mtg:dur:{minutes}")
        for minutes in DURATIONS
    ]
    await respond(
        update,
        texts._("{when}. How long is the meeting?").format(when=_chosen_when(context)),
        InlineKeyboardMarkup([buttons]),
        edit=update.callback_query is not None,
    )
    return State.DURATION


@leads_only
async def choose_duration(update: Update, context: StemmeContext) -> str | None:
    """Keeps the duration and asks where."""
    _ = context.texts._
    assert context.matches
    minutes = int(context.matches[0].group(1))
    if minutes not in DURATIONS:
        await stale_button(update, context)
        return None
    context.flow_data["duration"] = minutes
    rows: list[list[InlineKeyboardButton]] = []
    latest = meetings.latest_series(session=context.session, team_id=team_id_of(context))
    if latest is not None and latest.place:
        rows.append(
            [
                InlineKeyboardButton(
                    _("Same place: {place}").format(place=latest.place),
                    callback_data="mtg:place:same",
                )
            ]
        )
    rows.append([InlineKeyboardButton(_("No place"), callback_data="mtg:place:skip")])
    await respond(
        update,
        _("Where is the meeting? Write the place, e.g. “The staff room”."),
        InlineKeyboardMarkup(rows),
    )
    return State.PLACE


async def typed_place(update: Update, context: StemmeContext) -> str | None:
    """Keeps a typed place (short), then asks how the meeting repeats."""
    _ = context.texts._
    message = update.effective_message
    assert message is not None and message.text is not None
    place = " ".join(message.text.split())
    if len(place) > PLACE_MAX_LENGTH:
        await respond(
            update,
            _("A place can have at most {limit} characters. Write a shorter one.").format(
                limit=PLACE_MAX_LENGTH
            ),
        )
        return None
    context.flow_data["place"] = place
    return await _ask_repetition(update, context)


@leads_only
async def choose_place(update: Update, context: StemmeContext) -> str | None:
    """Takes "same place as last time" or "no place"."""
    assert context.matches
    place = ""
    if context.matches[0].group(1) == "same":
        latest = meetings.latest_series(session=context.session, team_id=team_id_of(context))
        place = latest.place if latest is not None else ""
    context.flow_data["place"] = place
    return await _ask_repetition(update, context)


async def _ask_repetition(update: Update, context: StemmeContext) -> str:
    texts = context.texts
    rows = [
        [InlineKeyboardButton(texts._(label), callback_data=f"mtg:rep:{value}")]
        for value, label in REPETITION_LABELS.items()
    ]
    await respond(
        update,
        texts._("Does the meeting repeat?"),
        InlineKeyboardMarkup(rows),
        edit=update.callback_query is not None,
    )
    return State.REPEAT


@leads_only
async def choose_repetition(update: Update, context: StemmeContext) -> str | None:
    """Keeps the repetition and shows the summary with Save and Cancel."""
    _ = context.texts._
    assert context.matches
    try:
        repetition = Repetition(context.matches[0].group(1))
    except ValueError:
        await stale_button(update, context)
        return None
    context.flow_data["repeat"] = str(repetition)
    await respond(
        update,
        _summary(context),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(_("Save ✔"), callback_data="mtg:save"),
                    InlineKeyboardButton(_("Cancel"), callback_data="mtg:abort"),
                ]
            ]
        ),
    )
    return State.CONFIRM


def _summary(context: StemmeContext) -> str:
    texts = context.texts
    _ = texts._
    data = context.flow_data
    lines = [
        _("Reflection meeting"),
        _chosen_when(context),
        _("Duration: {duration}").format(duration=minutes_label(texts, int(data["duration"]))),
        _("Place: {place}").format(place=data.get("place") or _("not given")),
        _("Repeats: {repetition}").format(repetition=repetition_label(texts, data["repeat"])),
    ]
    return "\n".join(lines)


@leads_only
async def save(update: Update, context: StemmeContext) -> str | None:
    """Stores the series and its occurrences and tells every member, with a calendar file."""
    texts = context.texts
    _ = texts._
    member, _membership, team = context.require_member()
    data = context.flow_data
    try:
        day = date.fromisoformat(data["date"])
        start = parse_time(data["time"])
        duration = int(data["duration"])
        repetition = Repetition(data["repeat"])
    except (KeyError, ValueError):
        await stale_button(update, context)
        return END
    now = meeting_views.clock()
    tz = zone_of(context)
    start_at = datetime.combine(day, start, tzinfo=tz)
    if start_at <= now:
        await _refuse_past(update, context)
        return await _ask_day(update, context, offset=0)
    series = meetings.create_series(
        session=context.session,
        team_id=require_id(team),
        created_by_member_id=require_id(member),
        first_date=day,
        start_time=start,
        duration_minutes=duration,
        place=str(data.get("place") or ""),
        repetition=repetition,
    )
    # The window reaches at least the first meeting, however far ahead it was planned.
    horizon = max(meetings.DEFAULT_HORIZON, start_at - now + timedelta(minutes=1))
    upcoming = meetings.generate(
        session=context.session, series=series, tz=tz, now=now, horizon=horizon
    )
    if not upcoming:  # the first meeting is ahead and inside the window: never empty
        raise RuntimeError(f"meeting series {series.id} generated no occurrence")
    first = upcoming[0]
    told = meetings.schedule_notices(
        session=context.session,
        team_id=require_id(team),
        notice=Notice.NEW,
        now=now,
        occurrence_ids=[require_id(first)],
        expires_at=first.starts_at,
        tz=tz,
        sequence=first.sequence,
    )
    course_line = _attach_to_course(context, require_id(team), require_id(first))
    logger.info(
        "Meeting series %s planned in team %s with %s occurrences, %s members told",
        series.id,
        team.id,
        len(upcoming),
        told,
    )
    lines = [_("Saved ✔ Reflection meeting {when}.").format(when=texts.when(first.starts_at))]
    if repetition != Repetition.NONE:
        lines.append(
            texts.ngettext(
                "{count} meeting is planned so far; the next ones follow by themselves.",
                "{count} meetings are planned so far; the next ones follow by themselves.",
                len(upcoming),
            ).format(count=len(upcoming))
        )
    lines.append(
        texts.ngettext(
            "{count} member gets an invitation with a calendar file now.",
            "{count} members get an invitation with a calendar file now.",
            told,
        ).format(count=told)
    )
    if course_line:
        lines.append(course_line)
    after_commit(update, context, "\n".join(lines))
    return END


def _attach_to_course(context: StemmeContext, team_id: int, occurrence_id: int) -> str | None:
    """Makes the new meeting the course's dialogue meeting when planning started from
    /forloeb; returns the line that says so."""
    course_id = context.flow_data.get("course")
    number = context.flow_data.get("course_meeting")
    if course_id is None or number is None:
        return None
    try:
        programme.attach_occurrence(
            session=context.session,
            team_id=team_id,
            course_id=int(course_id),
            number=int(number),
            occurrence_id=occurrence_id,
        )
    except programme.ProgrammeError:
        logger.info(
            "Meeting %s could not become a dialogue meeting of course %s", occurrence_id, course_id
        )
        return None
    return context.texts._(
        "It is dialogue meeting {number} of {total} of the course (/forloeb)."
    ).format(number=number, total=MEETINGS_PER_COURSE)


@leads_only
async def abort(update: Update, context: StemmeContext) -> str | None:
    """Drops the plan; nothing was stored."""
    await respond(update, context.texts._("Nothing was planned."))
    return END


# ------------------------------------------------------------------ wiring


def build_flow() -> Flow:
    """The meeting flow: the list for everyone, planning, moving and cancelling for leads."""
    typed = FREE_TEXT
    return Flow(
        name="meeting",
        entry_points=[
            CommandHandler("meeting", show, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(show_again, pattern=r"^mtg:list$"),
            CallbackQueryHandler(start_new, pattern=r"^mtg:new(?::c:(\d{1,9}):([1-3]))?$"),
            CallbackQueryHandler(start_move, pattern=rf"^mtg:move:{_ID}$"),
            CallbackQueryHandler(confirm_cancel, pattern=rf"^mtg:cancel:{_ID}$"),
            CallbackQueryHandler(cancel_one, pattern=rf"^mtg:cancel!:{_ID}$"),
            CallbackQueryHandler(confirm_stop, pattern=rf"^mtg:stop:{_ID}$"),
            CallbackQueryHandler(start_move_series, pattern=rf"^mtg:moveall:{_ID}$"),
            CallbackQueryHandler(stop_series, pattern=rf"^mtg:stop!:{_ID}$"),
        ],
        states={
            State.DAY: [
                CallbackQueryHandler(turn_days, pattern=r"^mtg:days:(\d{1,3})$"),
                CallbackQueryHandler(choose_day, pattern=r"^mtg:day:(\d{8})$"),
                CallbackQueryHandler(choose_day_and_time, pattern=r"^mtg:at:(\d{8}):(\d{4})$"),
                MessageHandler(typed, leads_only(typed_day)),
            ],
            State.TIME: [
                CallbackQueryHandler(choose_time, pattern=r"^mtg:time:(\d{4})$"),
                CallbackQueryHandler(turn_days, pattern=r"^mtg:days:(\d{1,3})$"),
                MessageHandler(typed, leads_only(typed_time)),
            ],
            State.DURATION: [
                CallbackQueryHandler(choose_duration, pattern=r"^mtg:dur:(\d{1,3})$"),
            ],
            State.PLACE: [
                CallbackQueryHandler(choose_place, pattern=r"^mtg:place:(same|skip)$"),
                MessageHandler(typed, leads_only(typed_place)),
            ],
            State.REPEAT: [
                CallbackQueryHandler(choose_repetition, pattern=r"^mtg:rep:([a-z]{1,10})$"),
            ],
            State.CONFIRM: [
                CallbackQueryHandler(save, pattern=r"^mtg:save$"),
                CallbackQueryHandler(abort, pattern=r"^mtg:abort$"),
            ],
        },
        hints={
            State.DAY: N_("Press a day, or write the date and time, e.g. 24/11 14:00."),
            State.TIME: N_("Press a time, or write it, e.g. 14:00."),
            State.DURATION: N_("Press how long the meeting is."),
            State.PLACE: N_("Write the place as text, or press a button."),
            State.REPEAT: N_("Press how the meeting repeats."),
            State.CONFIRM: N_("Press Save or Cancel."),
        },
    )
