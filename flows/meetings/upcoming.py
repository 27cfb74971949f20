"""The meeting list (/meeting) and a lead's changes to the meetings on it: moving one
meeting or a whole series once planning.py has the new day and time, cancelling one
meeting, stopping a series. Every change queues the members' notices (sent by
invitations.py) in the same commit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from flows.core.engine import END, StemmeContext, respond
from flows.core.guard import leads_only
from flows.core.i18n import Texts
from flows.core.pickers import confirm_buttons
from flows.meetings import meeting_views
from flows.meetings.meeting_views import (
    after_commit,
    changeable,
    minutes_label,
    occurrence_from_button,
    refuse_stale,
    repetition_label,
    series_from_button,
    team_id_of,
    weekday_name,
    zone_of,
)
from storage import meetings
from storage.db import require_id
from storage.meetings import Notice
from storage.models import MeetingOccurrence, MeetingSeries, OccurrenceStatus, Repetition

logger = logging.getLogger(__name__)

LIST_SIZE = 5


def _short(texts: Texts, moment: datetime) -> str:
    return f"{texts.short_day(moment)} {texts.clock(moment)}"


def _meeting_line(texts: Texts, occurrence: MeetingOccurrence, series: MeetingSeries) -> str:
    minutes = int((occurrence.ends_at - occurrence.starts_at).total_seconds() // 60)
    line = f"{texts.when(occurrence.starts_at)} · {minutes_label(texts, minutes)}"
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
        session=context.session, team_id=team_id, now=meeting_views.clock(), limit=LIST_SIZE
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
            "repetition": repetition_label(texts, series.repetition).lower(),
            "weekday": weekday_name(texts, series.first_date),
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


# ------------------------------------------------------------------ moving and cancelling


async def move_meeting(update: Update, context: StemmeContext, local: datetime) -> str | None:
    """Moves the meeting and tells the members."""
    texts = context.texts
    _ = texts._
    found = meetings.get_team_occurrence(
        session=context.session,
        team_id=team_id_of(context),
        occurrence_id=int(context.flow_data.get("occ", 0)),
    )
    now = meeting_views.clock()
    if found is None or not changeable(found[0], now):
        await refuse_stale(update, context, "move")
        return END
    occurrence, _series = found
    moved = meetings.move_occurrence(
        session=context.session,
        occurrence_id=require_id(occurrence),
        starts_at=local,
        tz=zone_of(context),
        now=now,
    )
    told = meetings.schedule_notices(
        session=context.session,
        team_id=team_id_of(context),
        notice=Notice.MOVED,
        now=now,
        occurrence_ids=[require_id(moved)],
        expires_at=moved.starts_at,
        tz=zone_of(context),
        sequence=moved.sequence,
    )
    logger.info("Meeting occurrence %s moved, %s members told", moved.id, told)
    after_commit(
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


async def move_series(update: Update, context: StemmeContext, local: datetime) -> str | None:
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
    now = meeting_views.clock()
    tz = zone_of(context)
    if old is None or old.cancelled:
        await refuse_stale(update, context, "move series")
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
    after_commit(
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
    found = occurrence_from_button(context)
    if found is None:
        await refuse_stale(update, context, "cancel")
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
    found = occurrence_from_button(context)
    if found is None:
        await refuse_stale(update, context, "cancel")
        return END
    occurrence, _series = found
    cancelled = meetings.cancel_occurrence(
        session=context.session, occurrence_id=require_id(occurrence)
    )
    told = meetings.schedule_notices(
        session=context.session,
        team_id=team_id_of(context),
        notice=Notice.CANCELLED,
        now=meeting_views.clock(),
        occurrence_ids=[require_id(cancelled)],
        expires_at=cancelled.starts_at,
        tz=zone_of(context),
        sequence=cancelled.sequence,
    )
    logger.info("Meeting occurrence %s cancelled, %s members told", cancelled.id, told)
    after_commit(
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
    series = series_from_button(context)
    if series is None:
        await refuse_stale(update, context, "stop")
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
    series = series_from_button(context)
    if series is None:
        await refuse_stale(update, context, "stop")
        return END
    cancelled, told = _cancel_series(context, series, meeting_views.clock())
    logger.info("Meeting series %s stopped, %s members told", series.id, told)
    after_commit(
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
        team_id=team_id_of(context),
        notice=Notice.SERIES_CANCELLED,
        now=now,
        occurrence_ids=[require_id(occurrence) for occurrence in cancelled],
        expires_at=cancelled[-1].starts_at,
        tz=zone_of(context),
        series_id=require_id(series),
    )
    return cancelled, told
