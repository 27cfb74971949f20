"""The team's rhythm: my settings (/me), pausing prompts (/mute), absence and team days off
(/away), the monthly focus (/focus), and the timed prompts that follow the shifts.

```mermaid
flowchart TD
    ME["/me"] --> V[shifts I work, handover on/off, nudge on/off] -->|toggle| V
    MU["/mute"] --> M[1 hour / until tomorrow morning / 1 week / turn back on]
    AW["/away"] --> A[today / tomorrow / this week / write dates, my absences listed]
    A -->|lead: whole team| AT[the same for the team's days off]
    A -->|write dates| D[rhythm.away_dates: "24/11-28/11"] --> A
    FO["/focus"] --> F[this month's focus; lead: pick a month]
    F -->|lead: month| T[rhythm.focus_text: the focus] --> F
```
Every button carries ids that are checked again (the team the member works in now, an
absence they may remove). Its timed prompts (rhythm_notices.py), planned by
``storage.rhythm.plan`` and sent by the dispatcher: ``shift.handover`` (the previous
shift's micro-moments, one message, nothing when there were none), ``shift.end_nudge``
and ``team.monthly_focus``.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, States, StemmeContext, respond
from flows.core.guard import leads_only, stale_button
from flows.core.i18n import N_, Texts
from flows.moments.micromoment import FREE_TEXT
from flows.team.rhythm_notices import month_name
from storage import rhythm
from storage.cpr import CprNumberRefused
from storage.db import require_id, utcnow
from storage.models import FOCUS_MAX_LENGTH, Absence, AbsenceKind, Shift, Team

logger = logging.getLogger(__name__)

SHIFT_LABELS: dict[Shift, str] = {
    Shift.DAY: N_("Day"),
    Shift.EVENING: N_("Evening"),
    Shift.NIGHT: N_("Night"),
}
FOCUS_MONTHS = 3  # this month and the next two
# Before this hour "tomorrow morning" is the morning that is coming (on a night shift).
SMALL_HOURS_END = 4
PRIVATE = filters.ChatType.PRIVATE
DATE = r"(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?"
DATES = re.compile(rf"^\s*{DATE}\s*(?:(?:-|–|til|to)\s*{DATE})?\s*$", re.IGNORECASE)


class State(States):
    """The steps that wait for typed text."""

    AWAY_DATES = "rhythm.away_dates"
    FOCUS_TEXT = "rhythm.focus_text"


def _tz(context: StemmeContext) -> ZoneInfo:
    return context.services.settings.tz


async def _stale(update: Update, context: StemmeContext) -> None:
    """Refuses a button (or a step) that no longer applies, and logs it (ids only)."""
    query = update.callback_query
    logger.info(
        "Stale rhythm button refused for member %s: %s",
        context.member.id if context.member else None,
        query.data if query is not None else context.flow_name,
    )
    await stale_button(update, context)


def _same_team(context: StemmeContext, team_id: int) -> bool:
    """True when a button's team is the team the member works in now."""
    return context.team is not None and context.team.id == team_id


def _replan(context: StemmeContext, team: Team) -> None:
    """Plans the team's shift and focus prompts now, so a change counts before the next job."""
    rhythm.plan(session=context.session, now=utcnow(), tz=_tz(context), team_id=require_id(team))


def _confirm(
    context: StemmeContext,
    update: Update,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Answers once the step's change is committed, so what the member sees is stored."""

    async def answer() -> None:
        await respond(update, text, markup)

    context.after_commit(answer)


# ------------------------------------------------------------------ /me


def _me_view(context: StemmeContext) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.texts._
    member, _membership, team = context.require_member()
    team_id = require_id(team)
    preference = rhythm.get_preference(
        session=context.session, member_id=require_id(member), team_id=team_id
    )
    shifts = rhythm.parse_shifts(preference.shifts)
    chosen = ", ".join(_(SHIFT_LABELS[shift]) for shift in rhythm.SHIFTS if shift in shifts)
    lines = [
        _("My settings in {team}").format(team=team.name),
        "",
        _(
            "Shifts I usually work: {shifts}. I only send you reminders during these shifts."
        ).format(shifts=chosen)
        if shifts
        else _("Shifts I usually work: not chosen. Reminders can come at any time of day."),
        _(
            "Shift handover: on. At the start of your shift you get the micro-moments from the "
            "shift before."
        )
        if preference.handover
        else _("Shift handover: off."),
        _("End-of-shift nudge: on. At the end of your shifts I ask if you noticed a micro-moment.")
        if preference.end_nudge
        else _("End-of-shift nudge: off."),
    ]
    if preference.end_nudge and not shifts:
        lines.append(_("Choose your shifts below, so I know when your shift ends."))
    shift_row = [
        InlineKeyboardButton(
            ("✅ " if shift in shifts else "") + _(SHIFT_LABELS[shift]),
            callback_data=f"me:shift:{team_id}:{shift.value}",
        )
        for shift in rhythm.SHIFTS
    ]
    markup = InlineKeyboardMarkup(
        [
            shift_row,
            [
                InlineKeyboardButton(
                    _("Turn handover off") if preference.handover else _("Turn handover on"),
                    callback_data=f"me:handover:{team_id}:{0 if preference.handover else 1}",
                )
            ],
            [
                InlineKeyboardButton(
                    _("Turn nudge off") if preference.end_nudge else _("Turn nudge on"),
                    callback_data=f"me:nudge:{team_id}:{0 if preference.end_nudge else 1}",
                )
            ],
        ]
    )
    return "\n".join(lines), markup


async def show_me(update: Update, context: StemmeContext) -> str | None:
    """Shows the member's own settings with toggle buttons."""
    text, markup = _me_view(context)
    await respond(update, text, markup, edit=False)
    return END


async def toggle_shift(update: Update, context: StemmeContext) -> str | None:
    """Adds or removes one shift from the shifts the member works."""
    member, _membership, team = context.require_member()
    assert context.matches
    team_id, shift = int(context.matches[0].group(1)), Shift(context.matches[0].group(2))
    if not _same_team(context, team_id):
        await _stale(update, context)
        return END
    preference = rhythm.get_preference(
        session=context.session, member_id=require_id(member), team_id=team_id
    )
    shifts = set(rhythm.parse_shifts(preference.shifts)) ^ {shift}
    rhythm.set_preference(
        session=context.session, member_id=require_id(member), team_id=team_id, shifts=shifts
    )
    _replan(context, team)
    text, markup = _me_view(context)
    _confirm(context, update, text, markup)
    return END


async def toggle_prompt(update: Update, context: StemmeContext) -> str | None:
    """Turns the shift handover or the end-of-shift nudge on or off."""
    member, _membership, team = context.require_member()
    assert context.matches
    which, team_id, on = (
        context.matches[0].group(1),
        int(context.matches[0].group(2)),
        context.matches[0].group(3) == "1",
    )
    if not _same_team(context, team_id):
        await _stale(update, context)
        return END
    if which == "handover":
        rhythm.set_preference(
            session=context.session, member_id=require_id(member), team_id=team_id, handover=on
        )
    else:
        rhythm.set_preference(
            session=context.session, member_id=require_id(member), team_id=team_id, end_nudge=on
        )
    logger.info("Member %s turned %s %s in team %s", member.id, which, on, team_id)
    _replan(context, team)
    text, markup = _me_view(context)
    _confirm(context, update, text, markup)
    return END


# ------------------------------------------------------------------ /mute


def tomorrow_morning(team: Team, now: datetime, tz: ZoneInfo) -> datetime:
    """The start of the team's day shift (07:00 by default) on the next morning: in the
    small hours (before 04:00) that is the coming one, otherwise tomorrow's."""
    local = now.astimezone(tz)
    day = local.date() + timedelta(days=0 if local.hour < SMALL_HOURS_END else 1)
    return rhythm.local_moment(day, team.day_starts_at, tz)


async def show_mute(update: Update, context: StemmeContext) -> str | None:
    """Offers to pause the member's prompts, or to turn them back on."""
    _ = context.texts._
    member, _membership, _team = context.require_member()
    until = rhythm.muted_until(session=context.session, member_id=require_id(member), now=utcnow())
    rows = [
        [InlineKeyboardButton(_("1 hour"), callback_data="mute:hour")],
        [InlineKeyboardButton(_("Until tomorrow morning"), callback_data="mute:morning")],
        [InlineKeyboardButton(_("1 week"), callback_data="mute:week")],
    ]
    if until is not None:
        text = _(
            "Your reminders are paused until {when}. Pause them longer, or turn them back on?"
        ).format(when=context.texts.when(until))
        rows.append([InlineKeyboardButton(_("Turn back on"), callback_data="mute:off")])
    else:
        text = _(
            "Pause the reminders and messages I send by myself? You can still use me as usual."
        )
    await respond(update, text, InlineKeyboardMarkup(rows), edit=False)
    return END


async def set_mute(update: Update, context: StemmeContext) -> str | None:
    """Pauses the member's prompts for the chosen time, or turns them back on."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    assert context.matches
    choice = context.matches[0].group(1)
    now = utcnow()
    member_id = require_id(member)
    if choice == "off":
        rhythm.unmute(session=context.session, member_id=member_id, now=now)
        _confirm(context, update, _("Your reminders are on again."))
        return END
    if choice == "hour":
        until = now + timedelta(hours=1)
    elif choice == "morning":
        until = tomorrow_morning(team, now, _tz(context))
    else:
        until = now + timedelta(weeks=1)
    rhythm.mute(session=context.session, member_id=member_id, until=until, now=now)
    logger.info("Member %s muted prompts", member_id)
    _confirm(
        context,
        update,
        _("Your reminders are paused until {when}. Send /mute to turn them back on.").format(
            when=context.texts.when(until)
        ),
    )
    return END


# ------------------------------------------------------------------ /away


def _period(texts: Texts, absence: Absence, tz: ZoneInfo) -> str:
    first = absence.starts_at.astimezone(tz).date()
    last = (absence.ends_at - timedelta(seconds=1)).astimezone(tz).date()
    if first == last:
        return texts.day(first)
    return texts._("{first} to {last}").format(first=texts.day(first), last=texts.day(last))


def _away_view(context: StemmeContext, scope: str) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.texts._
    member, _membership, team = context.require_member()
    tz = _tz(context)
    team_id = require_id(team)
    absences = rhythm.upcoming_absences(
        session=context.session, member_id=require_id(member), team_id=team_id, now=utcnow()
    )
    if scope == "team":
        lines = [
            _(
                "Days off for the whole of {team}: nobody in the team gets reminders then. "
                "Which days?"
            ).format(team=team.name)
        ]
    else:
        lines = [_("When are you away? I send you no reminders then.")]
    rows: list[list[InlineKeyboardButton]] = []
    if absences:
        lines += ["", _("Already marked:")]
        for absence in absences:
            period = _period(context.texts, absence, tz)
            if absence.kind == AbsenceKind.TEAM_OFF:
                lines.append("• " + _("{period}: the whole team").format(period=period))
            else:
                lines.append("• " + _("{period}: you").format(period=period))
            if absence.kind != AbsenceKind.TEAM_OFF or context.is_lead:
                rows.append(
                    [
                        InlineKeyboardButton(
                            _("✖ Remove {period}").format(period=period),
                            callback_data=f"away:del:{team_id}:{absence.id}",
                        )
                    ]
                )
    choices = [
        InlineKeyboardButton(_("Today"), callback_data=f"away:{scope}:{team_id}:today"),
        InlineKeyboardButton(_("Tomorrow"), callback_data=f"away:{scope}:{team_id}:tomorrow"),
        InlineKeyboardButton(_("This week"), callback_data=f"away:{scope}:{team_id}:week"),
    ]
    rows.insert(0, choices)
    rows.insert(
        1,
        [InlineKeyboardButton(_("Write dates"), callback_data=f"away:{scope}:{team_id}:type")],
    )
    if context.is_lead and scope == "me":
        rows.insert(
            2,
            [
                InlineKeyboardButton(
                    _("👥 Days off for the whole team"), callback_data=f"away:scope:{team_id}:team"
                )
            ],
        )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def show_away(update: Update, context: StemmeContext) -> str | None:
    """Asks when the member is away, with their absences (and the team's days off)."""
    text, markup = _away_view(context, "me")
    await respond(update, text, markup, edit=False)
    return END


@leads_only
async def team_scope(update: Update, context: StemmeContext) -> str | None:
    """Shows the lead the same choices for the whole team's days off."""
    assert context.matches
    if not _same_team(context, int(context.matches[0].group(1))):
        await _stale(update, context)
        return END
    text, markup = _away_view(context, "team")
    await respond(update, text, markup)
    return END


def parse_dates(text: str, today: date) -> tuple[date, date] | None:
    """Reads "24/11", "24/11-28/11", "24.11.2026 - 2.12.2026" or "28/12 til 3/1": the next
    such dates from today (a year rolls over when the end is before the start)."""
    match = DATES.match(text)
    if match is None:
        return None
    day1, month1, year1, day2, month2, year2 = match.groups()
    try:
        first = _date(int(day1), int(month1), year1, today)
        if day2 is None:
            return first, first
        last = _date(int(day2), int(month2), year2, first)
    except ValueError:
        return None
    return first, last


def _date(day: int, month: int, year: str | None, not_before: date) -> date:
    if year is not None:
        number = int(year)
        return date(number + 2000 if number < 100 else number, month, day)
    found = date(not_before.year, month, day)
    if found < not_before:
        found = date(not_before.year + 1, month, day)
    return found


def _quick_period(choice: str, today: date) -> tuple[date, date]:
    if choice == "today":
        return today, today
    if choice == "tomorrow":
        tomorrow = today + timedelta(days=1)
        return tomorrow, tomorrow
    return today, today + timedelta(days=6 - today.weekday())


async def _store_absence(
    update: Update, context: StemmeContext, scope: str, first: date, last: date
) -> str | None:
    """Stores the absence (or the team's days off) and confirms it."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    tz = _tz(context)
    today = utcnow().astimezone(tz).date()
    if first < today:
        await respond(update, _("Those dates are in the past. Write dates from today on."))
        return None
    try:
        if scope == "team":
            rhythm.add_team_days_off(
                session=context.session,
                team_id=require_id(team),
                first=first,
                last=last,
                tz=tz,
                lead_id=require_id(member),
            )
            _replan(context, team)
        else:
            rhythm.add_absence(
                session=context.session,
                member_id=require_id(member),
                first=first,
                last=last,
                tz=tz,
            )
    except ValueError:
        await respond(
            update,
            _("The last day must be after the first, and at most three months later. Try again."),
        )
        return None
    texts_ = context.texts
    period = (
        texts_.day(first)
        if first == last
        else _("{first} to {last}").format(first=texts_.day(first), last=texts_.day(last))
    )
    if scope == "team":
        text = _("Saved ✔ {team} has days off: {period}. Nobody in the team gets reminders then.")
        text = text.format(team=team.name, period=period)
    else:
        text = _("Saved ✔ You are away: {period}. I send you no reminders then.").format(
            period=period
        )
    logger.info("Absence (%s) stored by member %s", scope, member.id)
    _confirm(context, update, text)
    return END


async def choose_period(update: Update, context: StemmeContext) -> str | None:
    """Stores today, tomorrow or this week as an absence, or asks for typed dates."""
    _ = context.texts._
    assert context.matches
    scope, team_id, choice = (
        context.matches[0].group(1),
        int(context.matches[0].group(2)),
        context.matches[0].group(3),
    )
    if not _same_team(context, team_id) or (scope == "team" and not context.is_lead):
        await _stale(update, context)
        return END
    if choice == "type":
        context.flow_data = {"scope": scope}
        await respond(
            update,
            _(
                'Write the dates, e.g. "24/11" for one day or "24/11-28/11" for several. '
                "(/cancel to stop)"
            ),
        )
        return State.AWAY_DATES
    today = utcnow().astimezone(_tz(context)).date()
    first, last = _quick_period(choice, today)
    return await _store_absence(update, context, scope, first, last)


async def typed_dates(update: Update, context: StemmeContext) -> str | None:
    """Reads the typed dates and stores the absence; asks again when they are unclear."""
    message = update.effective_message
    assert message is not None and message.text is not None
    scope = context.flow_data.get("scope", "me")
    if scope == "team" and not context.is_lead:
        await _stale(update, context)
        return END
    parsed = parse_dates(message.text, utcnow().astimezone(_tz(context)).date())
    if parsed is None:
        await respond(
            update,
            context.texts._(
                'I could not read those dates. Write them like "24/11" or "24/11-28/11".'
            ),
        )
        return None
    return await _store_absence(update, context, scope, *parsed)


async def remove_absence(update: Update, context: StemmeContext) -> str | None:
    """Removes one of the member's absences (or, for a lead, one of the team's days off)."""
    member, _membership, team = context.require_member()
    assert context.matches
    team_id, absence_id = (int(group) for group in context.matches[0].groups())
    if not _same_team(context, team_id) or not rhythm.remove_absence(
        session=context.session,
        absence_id=absence_id,
        member_id=require_id(member),
        team_id=team_id,
        is_lead=context.is_lead,
    ):
        await _stale(update, context)
        return END
    _replan(context, team)
    text, markup = _away_view(context, "me")
    _confirm(context, update, context.texts._("Removed ✔") + "\n\n" + text, markup)
    return END


# ------------------------------------------------------------------ /focus


async def show_focus(update: Update, context: StemmeContext) -> str | None:
    """Shows this month's focus; a lead gets buttons to set a month's focus."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    tz = _tz(context)
    this_month = rhythm.month_of(utcnow().astimezone(tz).date())
    lines = []
    rows = []
    for offset in range(FOCUS_MONTHS):
        month = rhythm.add_months(this_month, offset)
        focus = rhythm.get_focus(session=context.session, team_id=require_id(team), month=month)
        name = month_name(context.texts, month)
        if focus is not None:
            lines.append(_("Focus for {month}: {focus}").format(month=name, focus=focus.text))
        elif offset == 0:
            lines.append(_("No focus set for {month}.").format(month=name))
        if context.is_lead:
            rows.append(
                [InlineKeyboardButton(name, callback_data=f"focus:month:{team.id}:{month:%Y%m}")]
            )
    if context.is_lead:
        lines += ["", _("Set the team's focus for a month (årshjul): choose the month.")]
    await respond(
        update, "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None, edit=False
    )
    return END


@leads_only
async def choose_month(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead to write the focus for the chosen month."""
    _ = context.texts._
    assert context.matches
    team_id, stamp = int(context.matches[0].group(1)), context.matches[0].group(2)
    month = date(int(stamp[:4]), int(stamp[4:]), 1) if 1 <= int(stamp[4:]) <= 12 else None
    this_month = rhythm.month_of(utcnow().astimezone(_tz(context)).date())
    if (
        not _same_team(context, team_id)
        or month is None
        or not this_month <= month <= rhythm.add_months(this_month, FOCUS_MONTHS - 1)
    ):
        await _stale(update, context)
        return END
    context.flow_data = {"month": month.isoformat()}
    await respond(
        update,
        _(
            "Write the team's focus for {month}, in a few words (at most {limit} characters), "
            'e.g. "Calm mealtimes". (/cancel to stop)'
        ).format(month=month_name(context.texts, month), limit=FOCUS_MAX_LENGTH),
    )
    return State.FOCUS_TEXT


async def typed_focus(update: Update, context: StemmeContext) -> str | None:
    """Stores the typed focus for the month and says when the team gets it."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    message = update.effective_message
    assert message is not None and message.text is not None
    if not context.is_lead or "month" not in context.flow_data:
        await _stale(update, context)
        return END
    month = date.fromisoformat(context.flow_data["month"])
    try:
        focus = rhythm.set_focus(
            session=context.session,
            team_id=require_id(team),
            month=month,
            text=message.text,
            member_id=require_id(member),
        )
    except rhythm.FocusTooLong as error:
        await respond(
            update,
            _(
                "The focus can have at most {limit} characters; yours has {length}. "
                "Write a shorter one."
            ).format(limit=FOCUS_MAX_LENGTH, length=error.args[0]),
        )
        return None
    except CprNumberRefused:  # the router refuses these first; kept for safety
        return None
    except ValueError:
        await respond(update, _("Write the focus as text, or /cancel."))
        return None
    tz = _tz(context)
    due = rhythm.focus_due(session=context.session, team_id=require_id(team), month=month, tz=tz)
    _replan(context, team)
    name = month_name(context.texts, month)
    if due > utcnow():
        after = _("Everyone in the team gets it on {when}.").format(when=context.texts.when(due))
    else:
        after = _("Everyone in the team gets it now.")
    _confirm(
        context,
        update,
        _("Saved ✔ Focus for {month}: {focus}").format(month=name, focus=focus.text)
        + "\n"
        + after,
    )
    logger.info("Monthly focus %s set by member %s", focus.id, member.id)
    return END


def build_flow() -> Flow:
    """The rhythm flow: /me, /mute, /away and /focus."""
    team = r"(\d{1,9})"
    return Flow(
        name="rhythm",
        entry_points=[
            CommandHandler("me", show_me, filters=PRIVATE),
            CommandHandler("mute", show_mute, filters=PRIVATE),
            CommandHandler("away", show_away, filters=PRIVATE),
            CommandHandler("focus", show_focus, filters=PRIVATE),
            CallbackQueryHandler(toggle_shift, pattern=rf"^me:shift:{team}:(day|evening|night)$"),
            CallbackQueryHandler(toggle_prompt, pattern=rf"^me:(handover|nudge):{team}:([01])$"),
            CallbackQueryHandler(set_mute, pattern=r"^mute:(hour|morning|week|off)$"),
            CallbackQueryHandler(team_scope, pattern=rf"^away:scope:{team}:team$"),
            CallbackQueryHandler(
                choose_period, pattern=rf"^away:(me|team):{team}:(today|tomorrow|week|type)$"
            ),
            CallbackQueryHandler(remove_absence, pattern=rf"^away:del:{team}:(\d{{1,9}})$"),
            CallbackQueryHandler(choose_month, pattern=rf"^focus:month:{team}:(\d{{6}})$"),
        ],
        states={
            State.AWAY_DATES: [MessageHandler(FREE_TEXT, typed_dates)],
            State.FOCUS_TEXT: [MessageHandler(FREE_TEXT, typed_focus)],
        },
        hints={
            State.AWAY_DATES: N_('Write the dates as text, e.g. "24/11-28/11", or /cancel.'),
            State.FOCUS_TEXT: N_("Write the focus as text, or /cancel."),
        },
    )
