"""The team's rhythm: member preferences, absences and mutes, the monthly focus, the
shift prompts' planning, the dispatcher's gate (quiet hours, mute, absence) and the
members the bot can no longer reach.

Times are stored in UTC and computed as wall-clock time in ``tz``: a shift that starts
at 07:00 starts at 07:00 local on both sides of a daylight-saving change. Planning is
idempotent (every prompt has a dedupe key), so the job that calls ``plan`` can run at
start, periodically and in several processes. docs/scheduling.md has the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from storage import prompts
from storage.cpr import refuse_cpr
from storage.db import require_id, utcnow
from storage.models import (
    FOCUS_MAX_LENGTH,
    Absence,
    AbsenceKind,
    Conversation,
    Member,
    MemberPreference,
    Membership,
    MonthlyFocus,
    Note,
    NoteMarker,
    Prompt,
    PromptStatus,
    Resident,
    Shift,
    Team,
)

logger = logging.getLogger(__name__)

SHIFTS = (Shift.DAY, Shift.EVENING, Shift.NIGHT)
HANDOVER = "shift.handover"
END_NUDGE = "shift.end_nudge"
MONTHLY_FOCUS = "team.monthly_focus"
# Kinds that pass quiet hours (not mute or absence): meetings the member attends, and the
# shift prompts, which are planned at the member's own shift boundaries.
QUIET_HOURS_EXEMPT = ("meeting.", "shift.")
NUDGE_VALID = timedelta(hours=2)
FOCUS_HOUR = time(8, 0)
PLAN_HORIZON = timedelta(days=1)
UNREACHABLE_WINDOW = timedelta(days=30)
MAX_ABSENCE_DAYS = 92


class FocusTooLong(ValueError):
    """Raised when a monthly focus is longer than ``FOCUS_MAX_LENGTH``."""


# ------------------------------------------------------------------ local time


def local_moment(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """The UTC moment of a wall-clock time (minutes after midnight) on a local date."""
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz)
    return local.astimezone(UTC)


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The UTC moment a local date begins (local midnight)."""
    return local_moment(day, 0, tz)


@dataclass(frozen=True)
class ShiftWindow:
    """One shift on one local date: the night shift of 24/11 ends on 25/11."""

    shift: Shift
    day: date
    starts_at: datetime
    ends_at: datetime


def shift_window(team: Team, shift: Shift, day: date, tz: ZoneInfo) -> ShiftWindow:
    """The UTC start and end of a shift of the team on a local date."""
    starts = {
        Shift.DAY: team.day_starts_at,
        Shift.EVENING: team.evening_starts_at,
        Shift.NIGHT: team.night_starts_at,
    }
    start = local_moment(day, starts[shift], tz)
    if shift == Shift.DAY:
        end = local_moment(day, team.evening_starts_at, tz)
    elif shift == Shift.EVENING:
        end = local_moment(day, team.night_starts_at, tz)
    else:
        end = local_moment(day + timedelta(days=1), team.day_starts_at, tz)
    return ShiftWindow(shift=shift, day=day, starts_at=start, ends_at=end)


def shift_windows(
    team: Team, tz: ZoneInfo, *, around: datetime, days_before: int = 1, days_after: int = 2
) -> list[ShiftWindow]:
    """The team's shifts on the local dates around a moment, in time order."""
    today = around.astimezone(tz).date()
    windows = [
        shift_window(team, shift, today + timedelta(days=offset), tz)
        for offset in range(-days_before, days_after + 1)
        for shift in SHIFTS
    ]
    return sorted(windows, key=lambda window: window.starts_at)


def previous_shift(team: Team, tz: ZoneInfo, starts_at: datetime) -> ShiftWindow:
    """The shift before the one starting at ``starts_at`` (the one a handover is about)."""
    earlier = [w for w in shift_windows(team, tz, around=starts_at) if w.starts_at < starts_at]
    return earlier[-1]


# ------------------------------------------------------------------ preferences


def parse_shifts(value: str) -> frozenset[Shift]:
    """The shifts in a stored comma list; unknown names are ignored."""
    known = {shift.value for shift in SHIFTS}
    return frozenset(Shift(part) for part in value.split(",") if part in known)


def get_preference(*, session: Session, member_id: int, team_id: int) -> MemberPreference:
    """The member's preferences in the team; defaults (not stored) when never set."""
    found = session.exec(
        select(MemberPreference).where(
            MemberPreference.member_id == member_id, MemberPreference.team_id == team_id
        )
    ).first()
    return found or MemberPreference(member_id=member_id, team_id=team_id)


def set_preference(
    *,
    session: Session,
    member_id: int,
    team_id: int,
    shifts: Collection[str] | None = None,
    handover: bool | None = None,
    end_nudge: bool | None = None,
    now: datetime | None = None,
) -> MemberPreference:
    """Changes what is given and stores the preferences. The member's pending shift
    prompts in the team are cancelled, so the next ``plan`` follows the new wishes."""
    preference = get_preference(session=session, member_id=member_id, team_id=team_id)
    if shifts is not None:
        chosen = {Shift(shift) for shift in shifts}
        preference.shifts = ",".join(shift.value for shift in SHIFTS if shift in chosen)
    if handover is not None:
        preference.handover = handover
    if end_nudge is not None:
        preference.end_nudge = end_nudge
    preference.updated_at = now or utcnow()
    session.add(preference)
    session.flush()
    for kind in ("handover", "nudge"):
        prompts.cancel(session=session, key_prefix=f"shift.{kind}:{team_id}:{member_id}:")
    return preference


# ------------------------------------------------------------------ absences and mute


def mute(*, session: Session, member_id: int, until: datetime, now: datetime) -> Absence:
    """Pauses the member's prompts until ``until`` (replacing a mute that is running)."""
    unmute(session=session, member_id=member_id, now=now)
    absence = Absence(
        kind=AbsenceKind.MUTE,
        member_id=member_id,
        starts_at=now,
        ends_at=until,
        created_by_member_id=member_id,
        created_at=now,
    )
    session.add(absence)
    session.flush()
    return absence


def unmute(*, session: Session, member_id: int, now: datetime) -> bool:
    """Ends the member's running mute now; False when there was none."""
    running = session.exec(
        select(Absence).where(
            Absence.member_id == member_id,
            Absence.kind == AbsenceKind.MUTE,
            col(Absence.starts_at) <= now,
            col(Absence.ends_at) > now,
        )
    ).all()
    for absence in running:
        absence.ends_at = now
        session.add(absence)
    session.flush()
    return bool(running)


def muted_until(*, session: Session, member_id: int, now: datetime) -> datetime | None:
    """When the member's running mute ends, or None."""
    return session.exec(
        select(func.max(Absence.ends_at)).where(
            Absence.member_id == member_id,
            Absence.kind == AbsenceKind.MUTE,
            col(Absence.starts_at) <= now,
            col(Absence.ends_at) > now,
        )
    ).one()


def _check_days(first: date, last: date) -> None:
    if last < first:
        raise ValueError("an absence ends after it starts")
    if (last - first).days >= MAX_ABSENCE_DAYS:
        raise ValueError("an absence is at most three months")


def add_absence(
    *, session: Session, member_id: int, first: date, last: date, tz: ZoneInfo
) -> Absence:
    """Marks the member away from local date ``first`` to ``last`` (both whole days)."""
    _check_days(first, last)
    absence = Absence(
        kind=AbsenceKind.AWAY,
        member_id=member_id,
        starts_at=day_start(first, tz),
        ends_at=day_start(last + timedelta(days=1), tz),
        created_by_member_id=member_id,
    )
    session.add(absence)
    session.flush()
    return absence


def add_team_days_off(
    *, session: Session, team_id: int, first: date, last: date, tz: ZoneInfo, lead_id: int
) -> Absence:
    """Marks days off for the whole team; the team's pending monthly focus prompts are
    cancelled, so the next ``plan`` moves them to the first working day."""
    _check_days(first, last)
    absence = Absence(
        kind=AbsenceKind.TEAM_OFF,
        team_id=team_id,
        starts_at=day_start(first, tz),
        ends_at=day_start(last + timedelta(days=1), tz),
        created_by_member_id=lead_id,
    )
    session.add(absence)
    session.flush()
    prompts.cancel(session=session, key_prefix=f"team.focus:{team_id}:")
    return absence


def upcoming_absences(
    *, session: Session, member_id: int, team_id: int, now: datetime
) -> list[Absence]:
    """The member's own absences and the team's days off that have not ended, soonest
    first (mutes are shown by /mute, not here)."""
    return list(
        session.exec(
            select(Absence)
            .where(
                col(Absence.ends_at) > now,
                col(Absence.kind) != AbsenceKind.MUTE,
                or_(
                    col(Absence.member_id) == member_id,
                    col(Absence.team_id) == team_id,
                ),
            )
            .order_by(col(Absence.starts_at), col(Absence.id))
        ).all()
    )


def remove_absence(
    *, session: Session, absence_id: int, member_id: int, team_id: int, is_lead: bool
) -> bool:
    """Deletes an absence: the member's own, or (a lead's) one of the team's days off."""
    absence = session.get(Absence, absence_id)
    if absence is None or absence.kind == AbsenceKind.MUTE:
        return False
    own = absence.member_id == member_id
    team_day = absence.team_id == team_id and absence.member_id is None and is_lead
    if not (own or team_day):
        return False
    session.delete(absence)
    session.flush()
    if team_day:
        prompts.cancel(session=session, key_prefix=f"team.focus:{team_id}:")
    return True


def _absence_end(
    session: Session, *, member_id: int, team_id: int, now: datetime
) -> datetime | None:
    """When the latest absence holding the member now ends (their own, or the team's)."""
    return session.exec(
        select(func.max(Absence.ends_at)).where(
            col(Absence.starts_at) <= now,
            col(Absence.ends_at) > now,
            or_(
                col(Absence.member_id) == member_id,
                (col(Absence.team_id) == team_id) & col(Absence.member_id).is_(None),
            ),
        )
    ).one()


def team_day_off(*, session: Session, team_id: int, day: date, tz: ZoneInfo) -> bool:
    """True when a team day off covers any part of the local date."""
    found = session.exec(
        select(Absence.id).where(
            col(Absence.team_id) == team_id,
            col(Absence.member_id).is_(None),
            col(Absence.starts_at) < day_start(day + timedelta(days=1), tz),
            col(Absence.ends_at) > day_start(day, tz),
        )
    ).first()
    return found is not None


# ------------------------------------------------------------------ the gate


def hold_until(
    *, session: Session, prompt: Prompt, now: datetime, tz: ZoneInfo
) -> datetime | None:
    """When a prompt to a member may go out instead of now, or None to send it now.

    Muted or absent (the member away, or a team day off): until that ends. Outside the
    shifts the member said they work: until the start of their next one; meeting and
    shift prompts pass quiet hours. Prompts to a team (no member) always pass.
    """
    if prompt.member_id is None:
        return None
    end = _absence_end(session, member_id=prompt.member_id, team_id=prompt.team_id, now=now)
    if end is not None:
        return end
    if prompt.kind.startswith(QUIET_HOURS_EXEMPT):
        return None
    preference = get_preference(
        session=session, member_id=prompt.member_id, team_id=prompt.team_id
    )
    shifts = parse_shifts(preference.shifts)
    team = session.get(Team, prompt.team_id)
    if not shifts or team is None:
        return None
    windows = [w for w in shift_windows(team, tz, around=now) if w.shift in shifts]
    if any(w.starts_at <= now < w.ends_at for w in windows):
        return None
    return min(w.starts_at for w in windows if w.starts_at > now)


# ------------------------------------------------------------------ monthly focus


def month_of(day: date) -> date:
    """The first day of the day's month."""
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    """The first day of the month ``count`` months later."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def set_focus(
    *, session: Session, team_id: int, month: date, text: str, member_id: int
) -> MonthlyFocus:
    """Stores the team's focus for a month (replacing it); refuses CPR numbers and text
    over ``FOCUS_MAX_LENGTH``."""
    text = " ".join(refuse_cpr(text).split())
    if not text:
        raise ValueError("a focus cannot be empty")
    if len(text) > FOCUS_MAX_LENGTH:
        raise FocusTooLong(len(text))
    focus = get_focus(session=session, team_id=team_id, month=month)
    if focus is None:
        focus = MonthlyFocus(team_id=team_id, month=month_of(month), text=text)
    focus.text = text
    focus.set_by_member_id = member_id
    focus.updated_at = utcnow()
    session.add(focus)
    session.flush()
    return focus


def get_focus(*, session: Session, team_id: int, month: date) -> MonthlyFocus | None:
    """The team's focus for the month of ``month``."""
    return session.exec(
        select(MonthlyFocus).where(
            MonthlyFocus.team_id == team_id, MonthlyFocus.month == month_of(month)
        )
    ).first()


def first_working_day(*, session: Session, team_id: int, month: date, tz: ZoneInfo) -> date:
    """The month's first Monday to Friday that is not a team day off (the month's first
    day when every weekday is off, which only a very long closure does)."""
    day = month_of(month)
    while day.month == month.month:
        if day.weekday() < 5 and not team_day_off(
            session=session, team_id=team_id, day=day, tz=tz
        ):
            return day
        day += timedelta(days=1)
    return month_of(month)


def focus_due(*, session: Session, team_id: int, month: date, tz: ZoneInfo) -> datetime:
    """When the month's focus is posted: its first working day at 08:00 local."""
    day = first_working_day(session=session, team_id=team_id, month=month, tz=tz)
    return local_moment(day, FOCUS_HOUR.hour * 60 + FOCUS_HOUR.minute, tz)


# ------------------------------------------------------------------ planning


def _active_member_ids(session: Session, team_id: int) -> list[int]:
    rows = session.exec(
        select(Membership.member_id)
        .join(Member, col(Member.id) == col(Membership.member_id))
        .where(
            Membership.team_id == team_id,
            col(Membership.active).is_(True),
            col(Member.active).is_(True),
        )
    ).all()
    return sorted(rows)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


def plan(
    *,
    session: Session,
    now: datetime,
    tz: ZoneInfo,
    horizon: timedelta = PLAN_HORIZON,
    team_id: int | None = None,
) -> int:
    """Schedules the shift handovers, end-of-shift nudges and monthly focus posts due in
    ``(now, now + horizon]`` (of one team, if given); returns how many prompts it
    scheduled or found scheduled."""
    shift = plan_shift_prompts(session=session, now=now, tz=tz, horizon=horizon, team_id=team_id)
    return shift + plan_focus(session=session, now=now, tz=tz, horizon=horizon, team_id=team_id)


def plan_shift_prompts(
    *,
    session: Session,
    now: datetime,
    tz: ZoneInfo,
    horizon: timedelta = PLAN_HORIZON,
    team_id: int | None = None,
) -> int:
    """Handovers at the starts of the shifts a member works (every shift when not set),
    nudges at the ends of the shifts they marked, for members who turned them on."""
    query = (
        select(MemberPreference, Team)
        .join(Team, col(Team.id) == col(MemberPreference.team_id))
        .join(
            Membership,
            (col(Membership.member_id) == col(MemberPreference.member_id))
            & (col(Membership.team_id) == col(MemberPreference.team_id)),
        )
        .join(Member, col(Member.id) == col(MemberPreference.member_id))
        .where(
            or_(
                col(MemberPreference.handover).is_(True), col(MemberPreference.end_nudge).is_(True)
            ),
            col(Membership.active).is_(True),
            col(Member.active).is_(True),
        )
    )
    if team_id is not None:
        query = query.where(col(MemberPreference.team_id) == team_id)
    rows = session.exec(query).all()
    until = now + horizon
    known = _planned_keys(session, (HANDOVER, END_NUDGE), now=now, until=until, team_id=team_id)
    count = 0
    for preference, team in rows:
        marked = parse_shifts(preference.shifts)
        windows = shift_windows(team, tz, around=now, days_before=1, days_after=horizon.days + 1)
        member_id = preference.member_id
        for window in windows:
            worked = window.shift in marked or not marked
            if preference.handover and worked and now < window.starts_at <= until:
                _schedule_once(
                    session,
                    known,
                    kind=HANDOVER,
                    team_id=preference.team_id,
                    member_id=member_id,
                    dedupe_key=f"shift.handover:{preference.team_id}:{member_id}:{_stamp(window.starts_at)}",
                    due_at=window.starts_at,
                    expires_at=window.ends_at,
                    payload={"shift": window.shift.value},
                )
                count += 1
            if preference.end_nudge and window.shift in marked and now < window.ends_at <= until:
                _schedule_once(
                    session,
                    known,
                    kind=END_NUDGE,
                    team_id=preference.team_id,
                    member_id=member_id,
                    dedupe_key=f"shift.nudge:{preference.team_id}:{member_id}:{_stamp(window.ends_at)}",
                    due_at=window.ends_at,
                    expires_at=window.ends_at + NUDGE_VALID,
                    payload={"shift": window.shift.value},
                )
                count += 1
    return count


def _planned_keys(
    session: Session,
    kinds: Collection[str],
    *,
    now: datetime,
    until: datetime,
    team_id: int | None,
) -> set[str]:
    """The keys of the prompts of these kinds already planned in ``[now, until]``: one
    query, so a run that finds everything planned inserts nothing."""
    query = select(Prompt.dedupe_key).where(
        col(Prompt.kind).in_(list(kinds)), col(Prompt.due_at) >= now, col(Prompt.due_at) <= until
    )
    if team_id is not None:
        query = query.where(col(Prompt.team_id) == team_id)
    return set(session.exec(query).all())


def _schedule_once(session: Session, known: set[str], **prompt: Any) -> None:
    """Schedules the prompt unless its key is among ``known`` (``schedule`` is idempotent
    anyway; this saves its two statements per prompt on every run)."""
    if prompt["dedupe_key"] in known:
        return
    prompts.schedule(session=session, **prompt)
    known.add(prompt["dedupe_key"])


def plan_focus(
    *,
    session: Session,
    now: datetime,
    tz: ZoneInfo,
    horizon: timedelta = PLAN_HORIZON,
    team_id: int | None = None,
) -> int:
    """The monthly focus, to every active member, on the first working day at 08:00 of
    each month that has one, when that moment is before ``now + horizon`` and the month
    has not ended (a member who joins later in the month gets it at the next run)."""
    this_month = month_of(now.astimezone(tz).date())
    months = [this_month, add_months(this_month, 1)]
    query = select(MonthlyFocus).where(col(MonthlyFocus.month).in_(months))
    if team_id is not None:
        query = query.where(col(MonthlyFocus.team_id) == team_id)
    focuses = session.exec(query).all()
    known = _planned_keys(
        session,
        (MONTHLY_FOCUS,),
        now=day_start(this_month, tz),
        until=now + horizon,
        team_id=team_id,
    )
    count = 0
    for focus in focuses:
        due = focus_due(session=session, team_id=focus.team_id, month=focus.month, tz=tz)
        expires = day_start(add_months(focus.month, 1), tz)
        # Also when its time has passed within the month (the bot was down, or the focus
        # was set late): the late policy sends it within the month, once per member.
        if not (due <= now + horizon and now < expires):
            continue
        for member_id in _active_member_ids(session, focus.team_id):
            _schedule_once(
                session,
                known,
                kind=MONTHLY_FOCUS,
                team_id=focus.team_id,
                member_id=member_id,
                dedupe_key=f"team.focus:{focus.team_id}:{focus.month:%Y-%m}:{member_id}",
                due_at=due,
                expires_at=expires,
                payload={"focus_id": require_id(focus)},
            )
            count += 1
    return count


# ------------------------------------------------------------------ for the renderers


@dataclass(frozen=True)
class HandoverNote:
    """One micro-moment in a handover: the note, its resident's alias and its markers."""

    note: Note
    alias: str
    markers: list[str]


def active_member(*, session: Session, member_id: int, team_id: int) -> Member | None:
    """The member when they are an active member of the team (and active), else None."""
    return session.exec(
        select(Member)
        .join(Membership, col(Membership.member_id) == col(Member.id))
        .where(
            col(Member.id) == member_id,
            Membership.team_id == team_id,
            col(Membership.active).is_(True),
            col(Member.active).is_(True),
        )
    ).first()


def notes_between(
    *, session: Session, team_id: int, since: datetime, until: datetime, limit: int = 15
) -> tuple[list[HandoverNote], int]:
    """The team's micro-moments written in ``[since, until)``, oldest first (at most
    ``limit``), and how many there are in all."""
    window = (
        col(Note.team_id) == team_id,
        col(Note.created_at) >= since,
        col(Note.created_at) < until,
    )
    total = session.exec(select(func.count()).select_from(Note).where(*window)).one()
    rows = session.exec(
        select(Note, Resident.alias)
        .join(Resident, col(Resident.id) == col(Note.resident_id))
        .where(*window)
        .order_by(col(Note.created_at), col(Note.id))
        .limit(limit)
    ).all()
    ids = [require_id(note) for note, _alias in rows]
    markers: dict[int, list[str]] = {note_id: [] for note_id in ids}
    if ids:
        for note_id, marker in session.exec(
            select(NoteMarker.note_id, NoteMarker.marker).where(col(NoteMarker.note_id).in_(ids))
        ).all():
            markers[note_id].append(marker)
    return [
        HandoverNote(note=note, alias=alias, markers=sorted(markers[require_id(note)]))
        for note, alias in rows
    ], int(total)


# ------------------------------------------------------------------ unreachable members


def last_seen(*, session: Session, member: Member) -> datetime | None:
    """The latest sign that the member can be reached: a prompt delivered to them, a note
    they wrote, a conversation step, or a preference or absence they set."""
    member_id = require_id(member)
    candidates: Iterable[datetime | None] = (
        session.exec(
            select(func.max(Prompt.sent_at)).where(
                Prompt.member_id == member_id, Prompt.status == PromptStatus.SENT
            )
        ).one(),
        session.exec(
            select(func.max(Note.created_at)).where(Note.author_member_id == member_id)
        ).one(),
        session.exec(
            select(func.max(Conversation.updated_at)).where(
                Conversation.telegram_id == member.telegram_id
            )
        ).one(),
        session.exec(
            select(func.max(MemberPreference.updated_at)).where(
                MemberPreference.member_id == member_id
            )
        ).one(),
        session.exec(
            select(func.max(Absence.created_at)).where(Absence.created_by_member_id == member_id)
        ).one(),
    )
    seen = [_aware(moment) for moment in candidates if moment is not None]
    return max(seen) if seen else None


def _aware(moment: datetime) -> datetime:
    # func.max() bypasses the column type on SQLite and returns a naive UTC datetime.
    if isinstance(moment, str):  # pragma: no cover - SQLite without type detection
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def unreachable_members(
    *, session: Session, team_id: int, now: datetime, window: timedelta = UNREACHABLE_WINDOW
) -> list[Member]:
    """Active members of the team whose prompts came back unreachable (they blocked the bot
    or deleted their account) in the last ``window``, and who have not been seen since.

    A member who writes to the bot again (a step, a note, /me) or gets a prompt delivered
    after that drops off the list.
    """
    since = now - window
    result = []
    for member_id in prompts.unreachable_member_ids(session=session, team_id=team_id, since=since):
        member = active_member(session=session, member_id=member_id, team_id=team_id)
        if member is None:
            continue
        failed = session.exec(
            select(func.max(func.coalesce(Prompt.claimed_at, Prompt.due_at))).where(
                Prompt.member_id == member_id,
                Prompt.team_id == team_id,
                Prompt.status == PromptStatus.UNREACHABLE,
                col(Prompt.due_at) >= since,
            )
        ).one()
        seen = last_seen(session=session, member=member)
        if failed is None:
            continue
        if seen is None or seen < _aware(failed):
            result.append(member)
    result.sort(key=lambda member: member.name.casefold())
    return result
