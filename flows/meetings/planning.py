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
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton
from sqlmodel import Session
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, Renderer, States, StemmeContext, respond
from flows.core.guard import leads_only, stale_button
from flows.core.i18n import N_, Texts, texts
from flows.core.pickers import confirm_buttons
from flows.meetings.calendar import ICS_FILENAME, CalendarEvent, meeting_ics, meetings_ics
from flows.moments.micromoment import FREE_TEXT
from storage import directory, meetings
from storage.db import require_id, utcnow
from storage.meetings import KIND_INVITATION, Notice
from storage.models import (
    PLACE_MAX_LENGTH,
    MeetingOccurrence,
    MeetingSeries,
    OccurrenceStatus,
    Prompt,
    Repetition,
)

logger = logging.getLogger(__name__)

# The flow's clock; tests replace it to plan meetings relative to a fixed "now".
clock: Callable[[], datetime] = utcnow

LIST_SIZE = 5
DAYS_PER_PAGE = 7
MAX_DAYS_AHEAD = 8 * 7
# A meeting can be planned (or moved) at most this far ahead.
MAX_AHEAD = timedelta(days=366)
TIMES = ("08:00", "09:00", "10:00", "11:00", "12:00", "13:00", "13:30", "14:00", "14:30", "15:00")
DURATIONS = (30, 45, 60, 90)
DEFAULT_ZONE = "Europe/Copenhagen"

REPETITION_LABELS = {
    Repetition.NONE: N_("Only once"),
    Repetition.WEEKLY: N_("Every week"),
    Repetition.BIWEEKLY: N_("Every second week"),
    Repetition.MONTHLY: N_("Every month"),
}

_DATE = re.compile(r"(\d{1,2})\s*[/.\-]\s*(\d{1,2})(?:\s*[/.\-]\s*(\d{4}|\d{2}))?")
_TIME = re.compile(r"(?:kl\.?\s*)?(\d{1,2})(?:\s*[:.]\s*(\d{2}))?")
_ID = r"(\d{1,9})"


class State(States):
    """Steps of planning or moving a meeting."""

    DAY = "meeting.day"
    TIME = "meeting.time"
    DURATION = "meeting.duration"
    PLACE = "meeting.place"
    REPEAT = "meeting.repeat"
    CONFIRM = "meeting.confirm"


class NotUnderstood(ValueError):
    """Raised when typed text is not a date and time."""


# ------------------------------------------------------------------ reading typed times


def parse_time(text: str) -> time:
    """Reads "14:00", "14.00", "kl. 14" or "1400"; raises ``NotUnderstood`` otherwise."""
    text = text.strip().lower()
    compact = re.fullmatch(r"(\d{2})(\d{2})", text)
    match = compact or _TIME.fullmatch(text)
    if match is None:
        raise NotUnderstood(text)
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        raise NotUnderstood(text)
    return time(hour, minute)


def parse_when(text: str, *, today: date) -> tuple[date, time | None]:
    """Reads "24/11", "24/11 14:00", "24.11 14.00" or "24/11/2026 14:00".

    Without a year the date is the next 24/11 from ``today`` on (today included, so a
    time earlier today is refused as past, not moved a year ahead).
    """
    text = text.strip().lower()
    match = _DATE.match(text)
    if match is None:
        raise NotUnderstood(text)
    day, month, year_text = int(match.group(1)), int(match.group(2)), match.group(3)
    rest = text[match.end() :].strip()
    try:
        if year_text is None:
            chosen = date(today.year, month, day)
            if chosen < today:
                chosen = date(today.year + 1, month, day)
        else:
            year = int(year_text)
            chosen = date(year + 2000 if year < 100 else year, month, day)
    except ValueError as error:
        raise NotUnderstood(text) from error
    return chosen, parse_time(rest) if rest else None


# ------------------------------------------------------------------ formatting


def _zone(context: StemmeContext) -> ZoneInfo:
    return context.services.settings.tz


def _local_now(context: StemmeContext) -> datetime:
    return clock().astimezone(_zone(context))


def _weekday_date(texts: Texts, day: date) -> str:
    """A day button's label, e.g. "ons. 25. nov."."""
    return format_skeleton("MMMEd", day, locale=texts.babel_locale)


def _weekday(texts: Texts, day: date) -> str:
    """The weekday's full name, e.g. "tirsdag"."""
    return format_date(day, "EEEE", locale=texts.babel_locale)


def _short(texts: Texts, moment: datetime) -> str:
    return f"{texts.short_day(moment)} {texts.clock(moment)}"


def _repetition(texts: Texts, value: str) -> str:
    return texts._(REPETITION_LABELS.get(Repetition(value), REPETITION_LABELS[Repetition.NONE]))


def _minutes(texts: Texts, minutes: int) -> str:
    return texts._("{minutes} min").format(minutes=minutes)


def meeting_title(texts: Texts, team_name: str) -> str:
    """The calendar event's title, e.g. "Refleksionsmøde – Team Syd"."""
    return texts._("Reflection meeting – {team}").format(team=team_name)


def _meeting_line(texts: Texts, occurrence: MeetingOccurrence, series: MeetingSeries) -> str:
    minutes = int((occurrence.ends_at - occurrence.starts_at).total_seconds() // 60)
    line = f"{texts.when(occurrence.starts_at)} · {_minutes(texts, minutes)}"
    if series.place:
        line += " · " + series.place
    if occurrence.status == OccurrenceStatus.MOVED:
        line += " · " + texts._("moved")
    return "• " + line


# ------------------------------------------------------------------ the list


async def show(update: Update, context: StemmeContext) -> str | None:
    """Shows the next meetings: with buttons to plan, move and cancel for a lead."""
    return await _show_list(update, context, edit=False)


@leads_only
async def show_again(update: Update, context: StemmeContext) -> str | None:
    """Shows the list again (after "No" on a confirmation)."""
    return await _show_list(update, context, edit=True)


async def _show_list(update: Update, context: StemmeContext, *, edit: bool) -> str | None:
    texts = context.texts
    _ = texts._
    _member, _membership, team = context.require_member()
    team_id = require_id(team)
    rows = meetings.upcoming(
        session=context.session, team_id=team_id, now=clock(), limit=LIST_SIZE
    )
    lines = [_("Reflection meetings of {team}").format(team=team.name)]
    if rows:
        lines.append(_("The next meetings:"))
        lines.extend(_meeting_line(texts, occurrence, series) for occurrence, series in rows)
    else:
        lines.append(_("No reflection meetings are planned."))
    if not context.is_lead:
        lines.append("")
        lines.append(_("Only the team lead can plan or change meetings."))
        await respond(update, "\n".join(lines), edit=False)
        return END
    buttons: list[list[InlineKeyboardButton]] = []
    for occurrence, _series in rows:
        label = _short(texts, occurrence.starts_at)
        buttons.append(
            [
                InlineKeyboardButton(
                    _("🔁 Move {date}").format(date=label),
                    callback_data=f"mtg:move:{occurrence.id}",
                ),
                InlineKeyboardButton(
                    _("❌ Cancel {date}").format(date=label),
                    callback_data=f"mtg:cancel:{occurrence.id}",
                ),
            ]
        )
    # A repeating series goes on until it is stopped (a single meeting is just cancelled).
    for series in meetings.active_series(session=context.session, team_id=team_id):
        if series.repetition == Repetition.NONE:
            continue
        described = {
            "repetition": _repetition(texts, series.repetition).lower(),
            "weekday": _weekday(texts, series.first_date),
            "time": series.start_time.strftime("%H:%M"),
        }
        buttons.append(
            [
                InlineKeyboardButton(
                    _("🔁 Move the series: {repetition}, {weekday} {time}").format(**described),
                    callback_data=f"mtg:moveall:{series.id}",
                )
            ]
        )
        buttons.append(
            [
                InlineKeyboardButton(
                    _("⏹ Stop the series: {repetition}, {weekday} {time}").format(**described),
                    callback_data=f"mtg:stop:{series.id}",
                )
            ]
        )
    buttons.append([InlineKeyboardButton(_("➕ Plan a meeting"), callback_data="mtg:new")])
    await respond(update, "\n".join(lines), InlineKeyboardMarkup(buttons), edit=edit)
    return END


# ------------------------------------------------------------------ choosing day and time


@leads_only
async def start_new(update: Update, context: StemmeContext) -> str | None:
    """Starts planning a new meeting: asks for the day."""
    context.flow_data = {"mode": "new"}
    return await _ask_day(update, context, offset=0)


@leads_only
async def start_move(update: Update, context: StemmeContext) -> str | None:
    """Starts moving one meeting: asks for its new day."""
    found = _occurrence_from_button(context)
    if found is None:
        await _stale(update, context, "move")
        return END
    occurrence, _series = found
    context.flow_data = {"mode": "move", "occ": occurrence.id}
    return await _ask_day(update, context, offset=0)


@leads_only
async def start_move_series(update: Update, context: StemmeContext) -> str | None:
    """Starts moving a whole series: asks for the day of its next meeting."""
    series = _series_from_button(context)
    if series is None:
        await _stale(update, context, "move series")
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
    today = _local_now(context).date()
    rows: list[list[InlineKeyboardButton]] = []
    latest = meetings.latest_series(session=context.session, team_id=_team_id(context))
    if offset == 0 and latest is not None:
        weekday = latest.first_date.weekday()
        ahead = (weekday - today.weekday() - 1) % 7 + 1
        day = today + timedelta(days=ahead)
        rows.append(
            [
                InlineKeyboardButton(
                    _("{weekday} at {time}").format(
                        weekday=_weekday(texts, day), time=latest.start_time.strftime("%H:%M")
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
            team_id=_team_id(context),
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
    day = _local_now(context).date() + timedelta(days=7)
    return f"{day.day}/{day.month} 14:00"


@leads_only
async def choose_day(update: Update, context: StemmeContext) -> str | None:
    """Keeps the chosen day and asks for the time."""
    assert context.matches
    day = _button_date(context.matches[0].group(1))
    if day is None or day <= _local_now(context).date() - timedelta(days=1):
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
        day, start = parse_when(message.text, today=_local_now(context).date())
    except NotUnderstood:
        await respond(
            update,
            _("I could not read that date. Write it like {example}, or press a day.").format(
                example=_example(context)
            ),
        )
        return None
    if start is None:
        if day < _local_now(context).date():
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
            day=f"{_weekday(texts, day)} {texts.day(day)}"
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
            typed_date, typed_start = parse_when(message.text, today=_local_now(context).date())
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
    local = datetime.combine(day, start, tzinfo=_zone(context))
    if local <= _local_now(context):
        await _refuse_past(update, context)
        return None
    if local > _local_now(context) + MAX_AHEAD:
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
        return await _move(update, context, local)
    if context.flow_data.get("mode") == "move_series":
        return await _move_series(update, context, local)
    return await _ask_duration(update, context)


# ------------------------------------------------------------------ duration, place, repetition


async def _ask_duration(update: Update, context: StemmeContext) -> str:
    texts = context.texts
    buttons = [
        InlineKeyboardButton(_minutes(texts, minutes), callback_data=f"mtg:dur:{minutes}")
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
    latest = meetings.latest_series(session=context.session, team_id=_team_id(context))
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
        latest = meetings.latest_series(session=context.session, team_id=_team_id(context))
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
        _("Duration: {duration}").format(duration=_minutes(texts, int(data["duration"]))),
        _("Place: {place}").format(place=data.get("place") or _("not given")),
        _("Repeats: {repetition}").format(repetition=_repetition(texts, data["repeat"])),
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
    now = clock()
    tz = _zone(context)
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
    _after_commit(update, context, "\n".join(lines))
    return END


@leads_only
async def abort(update: Update, context: StemmeContext) -> str | None:
    """Drops the plan; nothing was stored."""
    await respond(update, context.texts._("Nothing was planned."))
    return END


# ------------------------------------------------------------------ moving and cancelling


async def _move(update: Update, context: StemmeContext, local: datetime) -> str | None:
    """Moves the meeting and tells the members."""
    texts = context.texts
    _ = texts._
    found = meetings.get_team_occurrence(
        session=context.session,
        team_id=_team_id(context),
        occurrence_id=int(context.flow_data.get("occ", 0)),
    )
    now = clock()
    if found is None or not _changeable(found[0], now):
        await _stale(update, context, "move")
        return END
    occurrence, _series = found
    moved = meetings.move_occurrence(
        session=context.session,
        occurrence_id=require_id(occurrence),
        starts_at=local,
        tz=_zone(context),
        now=now,
    )
    told = meetings.schedule_notices(
        session=context.session,
        team_id=_team_id(context),
        notice=Notice.MOVED,
        now=now,
        occurrence_ids=[require_id(moved)],
        expires_at=moved.starts_at,
        tz=_zone(context),
        sequence=moved.sequence,
    )
    logger.info("Meeting occurrence %s moved, %s members told", moved.id, told)
    _after_commit(
        update,
        context,
        _("Moved ✔ The meeting is now {when}.").format(when=texts.when(moved.starts_at))
        + "\n"
        + texts.ngettext(
            "{count} member is told, with an updated calendar file.",
            "{count} members are told, with an updated calendar file.",
            told,
        ).format(count=told),
    )
    return END


async def _move_series(update: Update, context: StemmeContext, local: datetime) -> str | None:
    """Moves a whole series: its future meetings are cancelled (members get the cancelling
    calendar file) and the series goes on from ``local`` with the same length, place and
    repetition (members get the new invitation)."""
    texts = context.texts
    member, _membership, team = context.require_member()
    team_id = require_id(team)
    old = meetings.get_team_series(
        session=context.session,
        team_id=team_id,
        series_id=int(context.flow_data.get("series", 0)),
    )
    now = clock()
    tz = _zone(context)
    if old is None or old.cancelled:
        await _stale(update, context, "move series")
        return END
    _cancel_series(context, old, now)
    series = meetings.create_series(
        session=context.session,
        team_id=team_id,
        created_by_member_id=require_id(member),
        first_date=local.date(),
        start_time=local.time().replace(tzinfo=None),
        duration_minutes=old.duration_minutes,
        place=old.place,
        repetition=Repetition(old.repetition),
        lead_prepare_days=old.lead_prepare_days,
    )
    horizon = max(meetings.DEFAULT_HORIZON, local - now + timedelta(minutes=1))
    upcoming = meetings.generate(
        session=context.session, series=series, tz=tz, now=now, horizon=horizon
    )
    first = upcoming[0]
    told = meetings.schedule_notices(
        session=context.session,
        team_id=team_id,
        notice=Notice.NEW,
        now=now,
        occurrence_ids=[require_id(first)],
        expires_at=first.starts_at,
        tz=tz,
        sequence=first.sequence,
    )
    logger.info("Meeting series %s moved to series %s, %s members told", old.id, series.id, told)
    _after_commit(
        update,
        context,
        texts._("Moved ✔ The series now meets from {when}.").format(
            when=texts.when(first.starts_at)
        )
        + "\n"
        + texts.ngettext(
            "{count} member is told, with calendar files for the change.",
            "{count} members are told, with calendar files for the change.",
            told,
        ).format(count=told),
    )
    return END


@leads_only
async def confirm_cancel(update: Update, context: StemmeContext) -> str | None:
    """Asks before cancelling one meeting."""
    _ = context.texts._
    found = _occurrence_from_button(context)
    if found is None:
        await _stale(update, context, "cancel")
        return None
    occurrence, _series = found
    await respond(
        update,
        _("Cancel the meeting on {when}? Every member is told.").format(
            when=context.texts.when(occurrence.starts_at)
        ),
        confirm_buttons(
            context.texts,
            yes_label=_("Yes, cancel it"),
            yes_data=f"mtg:cancel!:{occurrence.id}",
            no_data="mtg:list",
        ),
    )
    return None


@leads_only
async def cancel_one(update: Update, context: StemmeContext) -> str | None:
    """Cancels one meeting and tells the members, with a cancelling calendar file."""
    texts = context.texts
    found = _occurrence_from_button(context)
    if found is None:
        await _stale(update, context, "cancel")
        return END
    occurrence, _series = found
    cancelled = meetings.cancel_occurrence(
        session=context.session, occurrence_id=require_id(occurrence)
    )
    told = meetings.schedule_notices(
        session=context.session,
        team_id=_team_id(context),
        notice=Notice.CANCELLED,
        now=clock(),
        occurrence_ids=[require_id(cancelled)],
        expires_at=cancelled.starts_at,
        tz=_zone(context),
        sequence=cancelled.sequence,
    )
    logger.info("Meeting occurrence %s cancelled, %s members told", cancelled.id, told)
    _after_commit(
        update,
        context,
        texts._("Cancelled ✔ the meeting on {when}.").format(when=texts.when(cancelled.starts_at))
        + "\n"
        + texts.ngettext("{count} member is told.", "{count} members are told.", told).format(
            count=told
        ),
    )
    return END


@leads_only
async def confirm_stop(update: Update, context: StemmeContext) -> str | None:
    """Asks before cancelling every future meeting of a series."""
    _ = context.texts._
    series = _series_from_button(context)
    if series is None:
        await _stale(update, context, "stop")
        return None
    await respond(
        update,
        _("Cancel every future meeting of this series? Every member is told."),
        confirm_buttons(
            context.texts,
            yes_label=_("Yes, cancel them all"),
            yes_data=f"mtg:stop!:{series.id}",
            no_data="mtg:list",
        ),
    )
    return None


@leads_only
async def stop_series(update: Update, context: StemmeContext) -> str | None:
    """Cancels the series' future meetings and tells the members."""
    texts = context.texts
    series = _series_from_button(context)
    if series is None:
        await _stale(update, context, "stop")
        return END
    cancelled, told = _cancel_series(context, series, clock())
    logger.info("Meeting series %s stopped, %s members told", series.id, told)
    _after_commit(
        update,
        context,
        texts.ngettext(
            "Cancelled ✔ {count} future meeting of the series.",
            "Cancelled ✔ {count} future meetings of the series.",
            len(cancelled),
        ).format(count=len(cancelled))
        + "\n"
        + texts.ngettext("{count} member is told.", "{count} members are told.", told).format(
            count=told
        ),
    )
    return END


def _cancel_series(
    context: StemmeContext, series: MeetingSeries, now: datetime
) -> tuple[list[MeetingOccurrence], int]:
    """Cancels the series' future meetings and queues the cancelling calendar file for
    every member; returns the cancelled meetings (earliest first) and how many are told."""
    cancelled = sorted(
        meetings.cancel_series(session=context.session, series_id=require_id(series), now=now),
        key=lambda occurrence: occurrence.starts_at,
    )
    if not cancelled:
        return cancelled, 0
    told = meetings.schedule_notices(
        session=context.session,
        team_id=_team_id(context),
        notice=Notice.SERIES_CANCELLED,
        now=now,
        occurrence_ids=[require_id(occurrence) for occurrence in cancelled],
        expires_at=cancelled[-1].starts_at,
        tz=_zone(context),
        series_id=require_id(series),
    )
    return cancelled, told


def _changeable(occurrence: MeetingOccurrence, now: datetime) -> bool:
    """Only a meeting ahead and not cancelled can be moved or cancelled."""
    return occurrence.status != OccurrenceStatus.CANCELLED and occurrence.starts_at > now


def _occurrence_from_button(
    context: StemmeContext,
) -> tuple[MeetingOccurrence, MeetingSeries] | None:
    """The occurrence named by the button, within the lead's team and still changeable."""
    assert context.matches
    found = meetings.get_team_occurrence(
        session=context.session,
        team_id=_team_id(context),
        occurrence_id=int(context.matches[0].group(1)),
    )
    if found is None or not _changeable(found[0], clock()):
        return None
    return found


def _series_from_button(context: StemmeContext) -> MeetingSeries | None:
    assert context.matches
    series = meetings.get_team_series(
        session=context.session,
        team_id=_team_id(context),
        series_id=int(context.matches[0].group(1)),
    )
    return series if series is not None and not series.cancelled else None


async def _stale(update: Update, context: StemmeContext, action: str) -> None:
    """Refuses a press on another team's, a past or a cancelled meeting (logged)."""
    member, _membership, team = context.require_member()
    logger.warning(
        "Meeting button %s refused for member %s in team %s: not this team's or no longer open",
        action,
        member.id,
        team.id,
    )
    await stale_button(update, context)


def _after_commit(update: Update, context: StemmeContext, text: str) -> None:
    """Once the change and its notices are committed: wakes the dispatcher, so the members
    are told at once, and answers the lead (no lock is held while Telegram answers)."""
    wake_prompts = context.services.wake_prompts

    async def aftermath() -> None:
        wake_prompts()
        await respond(update, text)

    context.after_commit(aftermath)


def _team_id(context: StemmeContext) -> int:
    _member, _membership, team = context.require_member()
    return require_id(team)


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
    return context.texts.when(datetime.combine(day, start, tzinfo=_zone(context)))


# ------------------------------------------------------------------ telling the members


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
                    team=team.name, when=when, duration=_minutes(member_texts, minutes)
                )
            ]
            if series.repetition != Repetition.NONE:
                lines.append(
                    _("Repeats: {repetition}").format(
                        repetition=_repetition(member_texts, series.repetition)
                    )
                )
        else:
            lines = [
                _("🔁 The reflection meeting has been moved to {when} ({duration}).").format(
                    when=when, duration=_minutes(member_texts, minutes)
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


# ------------------------------------------------------------------ wiring


def build_flow() -> Flow:
    """The meeting flow: the list for everyone, planning, moving and cancelling for leads."""
    typed = FREE_TEXT
    return Flow(
        name="meeting",
        entry_points=[
            CommandHandler("meeting", show, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(show_again, pattern=r"^mtg:list$"),
            CallbackQueryHandler(start_new, pattern=r"^mtg:new$"),
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


def renderers() -> dict[str, Renderer]:
    """The timed prompt kinds this flow sends: the notices of new, moved and cancelled
    meetings (the reminders belong to flows.meetings.agenda)."""
    return {KIND_INVITATION: render_notice}
