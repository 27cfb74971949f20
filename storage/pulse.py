"""The psychological safety pulse: Amy Edmondson's seven statements, answered anonymously.

A lead starts a pulse now, or monthly or quarterly. When a pulse opens, every active
member of the team gets an invitation (prompt ``pulse.invite``), those who have not
answered a reminder after two days (``pulse.reminder``), and the team's leads a notice
when it closes after seven days (``pulse.closed``). A repeating pulse plans the next one
and a ``pulse.open`` prompt to the lead who scheduled it, which opens it in its turn.

**Anonymous by construction** (docs/privacy.md, "Pulse"): answers are stored only as
counts in ``pulse_tally`` (per pulse, item and value: how many chose it), and every
completed answer updates all 49 rows of its pulse in one statement. There is no answer
row, no time and no order to match with ``pulse_participation``, which records only that
a member answered (and on which day) so that nobody answers twice. Results are shown
only for a closed pulse with at least the site's threshold of answers (5, never below 3).

Scoring: items 1, 3 and 5 are negatively worded and reverse-scored (``8 - value``), so
that a higher number is safer for every item; the team score is the mean of the seven.
"""

from __future__ import annotations

import calendar
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, tuple_, update
from sqlmodel import Session, col, select

from storage import directory, prompts
from storage.db import require_id
from storage.models import (
    Pulse,
    PulseParticipation,
    PulseRepeat,
    PulseSiteSetting,
    PulseTally,
    Role,
    Site,
    Team,
)

logger = logging.getLogger(__name__)

ITEMS = tuple(range(1, 8))
VALUES = tuple(range(1, 8))
REVERSED = frozenset({1, 3, 5})
DEFAULT_THRESHOLD = 5
MIN_THRESHOLD = 3
MAX_THRESHOLD = 50
OPEN_FOR = timedelta(days=7)
REMIND_AFTER = timedelta(days=2)
# The leads' "it closed" notice stays useful this long after the close.
CLOSED_NOTICE_FOR = timedelta(days=14)
HISTORY_LENGTH = 8

KIND_INVITE = "pulse.invite"
KIND_REMINDER = "pulse.reminder"
KIND_CLOSED = "pulse.closed"
KIND_OPEN = "pulse.open"
KIND_SHARED = "pulse.shared"
KINDS = (KIND_INVITE, KIND_REMINDER, KIND_CLOSED, KIND_OPEN, KIND_SHARED)

MONTHS = {PulseRepeat.MONTHLY: 1, PulseRepeat.QUARTERLY: 3}


class PulseClosed(Exception):
    """Raised when answers arrive for a pulse that is not open."""


class AlreadyAnswered(Exception):
    """Raised when a member answers a pulse a second time."""


def score(item: int, value: int) -> int:
    """The value as scored: reverse-scored items turned around, so higher is safer."""
    if item not in ITEMS or value not in VALUES:
        raise ValueError("item and value are 1 to 7")
    return 8 - value if item in REVERSED else value


def _payload(pulse_id: int, tz: ZoneInfo) -> dict[str, object]:
    """A pulse prompt's payload: ids and the zone its renderer shows times in."""
    return {"pulse_id": pulse_id, "tz": tz.key}


def key_prefix(pulse_id: int) -> str:
    """The prefix of every prompt key of one pulse."""
    return f"pulse:{pulse_id}:"


def ends_at(pulse: Pulse) -> datetime:
    """When the pulse closes: its planned close, or earlier when the lead closed it."""
    if pulse.closed_at is not None and pulse.closed_at < pulse.closes_at:
        return pulse.closed_at
    return pulse.closes_at


def is_open(pulse: Pulse, now: datetime) -> bool:
    """Whether members can answer now."""
    return pulse.opened and pulse.opens_at <= now < ends_at(pulse)


def is_closed(pulse: Pulse, now: datetime) -> bool:
    """Whether the pulse is over (its result can be shown)."""
    return pulse.opened and ends_at(pulse) <= now


# ---------------------------------------------------------------- starting and opening


def start_pulse(
    *,
    session: Session,
    team_id: int,
    lead_member_id: int,
    now: datetime,
    tz: ZoneInfo,
    repeat: PulseRepeat = PulseRepeat.NONE,
) -> Pulse:
    """Creates a pulse that opens now, invites the team's active members, and for a
    repeating pulse plans the next one (opened by a ``pulse.open`` prompt to the lead)."""
    pulse = Pulse(team_id=team_id, opens_at=now, closes_at=now + OPEN_FOR, repeat=repeat)
    session.add(pulse)
    session.flush()
    open_pulse(session=session, pulse=pulse, now=now, tz=tz)
    if repeat != PulseRepeat.NONE:
        plan_next(session=session, pulse=pulse, lead_member_id=lead_member_id, tz=tz)
    logger.info("Pulse %s started in team %s (%s)", pulse.id, team_id, repeat)
    return pulse


def open_pulse(*, session: Session, pulse: Pulse, now: datetime, tz: ZoneInfo) -> int:
    """Opens a pulse: its tally rows, an invitation and a reminder to each active member
    and a closing notice to each lead; returns how many were invited. Idempotent."""
    pulse_id = require_id(pulse)
    if pulse.opened:
        return pulse.invited
    for item in ITEMS:
        for value in VALUES:
            session.add(PulseTally(pulse_id=pulse_id, item=item, value=value, count=0))
    members = directory.team_members(session=session, team_id=pulse.team_id)
    closes = pulse.closes_at
    for row in members:
        member_id = require_id(row.member)
        prefix = key_prefix(pulse_id)
        prompts.schedule(
            session=session,
            kind=KIND_INVITE,
            team_id=pulse.team_id,
            member_id=member_id,
            dedupe_key=f"{prefix}invite:member:{member_id}",
            due_at=max(now, pulse.opens_at),
            expires_at=closes,
            payload=_payload(pulse_id, tz),
        )
        remind_at = pulse.opens_at + REMIND_AFTER
        if remind_at < closes:
            prompts.schedule(
                session=session,
                kind=KIND_REMINDER,
                team_id=pulse.team_id,
                member_id=member_id,
                dedupe_key=f"{prefix}reminder:member:{member_id}",
                due_at=remind_at,
                expires_at=closes,
                payload=_payload(pulse_id, tz),
            )
        if row.membership.role == Role.LEAD:
            _schedule_closed_notice(session=session, pulse=pulse, lead_member_id=member_id, tz=tz)
    pulse.opened = True
    pulse.invited = len(members)
    session.add(pulse)
    session.flush()
    return pulse.invited


def _schedule_closed_notice(
    *, session: Session, pulse: Pulse, lead_member_id: int, tz: ZoneInfo
) -> None:
    closes = ends_at(pulse)
    prompts.schedule(
        session=session,
        kind=KIND_CLOSED,
        team_id=pulse.team_id,
        member_id=lead_member_id,
        dedupe_key=f"{key_prefix(require_id(pulse))}closed:member:{lead_member_id}",
        due_at=closes,
        expires_at=closes + CLOSED_NOTICE_FOR,
        payload=_payload(require_id(pulse), tz),
    )


def add_months(moment: datetime, months: int, tz: ZoneInfo) -> datetime:
    """The same local wall-clock time ``months`` later (the month's last day when it is
    shorter), back in the moment's own zone."""
    local = moment.astimezone(tz)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(moment.tzinfo)


def plan_next(
    *, session: Session, pulse: Pulse, lead_member_id: int, tz: ZoneInfo
) -> Pulse | None:
    """Plans the pulse after ``pulse`` of a repeating series (not opened yet) and the
    ``pulse.open`` prompt that opens it; returns it, or None for a one-off pulse."""
    months = MONTHS.get(PulseRepeat(pulse.repeat))
    if months is None:
        return None
    opens = add_months(pulse.opens_at, months, tz)
    following = Pulse(
        team_id=pulse.team_id, opens_at=opens, closes_at=opens + OPEN_FOR, repeat=pulse.repeat
    )
    session.add(following)
    session.flush()
    prompts.schedule(
        session=session,
        kind=KIND_OPEN,
        team_id=pulse.team_id,
        member_id=lead_member_id,
        dedupe_key=f"{key_prefix(require_id(following))}open:member:{lead_member_id}",
        due_at=opens,
        payload=_payload(require_id(following), tz),
    )
    return following


def stop_repeating(*, session: Session, team_id: int, now: datetime) -> int:
    """Removes the team's planned (not yet opened) pulses and their prompts; an open pulse
    stays open but plans no next one. Returns how many planned pulses were removed."""
    planned = session.exec(
        select(Pulse).where(col(Pulse.team_id) == team_id, col(Pulse.opened).is_(False))
    ).all()
    for pulse in planned:
        prompts.cancel(session=session, key_prefix=key_prefix(require_id(pulse)))
        session.delete(pulse)
    current = open_pulse_of_team(session=session, team_id=team_id, now=now)
    if current is not None:
        current.repeat = PulseRepeat.NONE
        session.add(current)
    session.flush()
    return len(planned)


def planned_pulse(*, session: Session, team_id: int) -> Pulse | None:
    """The team's next planned pulse of a repeating series, if any."""
    return session.exec(
        select(Pulse)
        .where(col(Pulse.team_id) == team_id, col(Pulse.opened).is_(False))
        .order_by(col(Pulse.opens_at))
    ).first()


# ---------------------------------------------------------------- reading pulses


def get_team_pulse(*, session: Session, team_id: int, pulse_id: int) -> Pulse | None:
    """The pulse when it belongs to ``team_id`` (buttons carry ids: checked, not trusted)."""
    pulse = session.get(Pulse, pulse_id)
    return pulse if pulse is not None and pulse.team_id == team_id else None


def get_pulse(*, session: Session, pulse_id: int) -> Pulse | None:
    """One pulse by id (for renderers, which check the team themselves)."""
    return session.get(Pulse, pulse_id)


def open_pulse_of_team(*, session: Session, team_id: int, now: datetime) -> Pulse | None:
    """The team's pulse that members can answer now, if any."""
    rows = session.exec(
        select(Pulse)
        .where(
            col(Pulse.team_id) == team_id,
            col(Pulse.opened).is_(True),
            col(Pulse.opens_at) <= now,
            col(Pulse.closes_at) > now,
        )
        .order_by(col(Pulse.opens_at).desc())
    ).all()
    return next((pulse for pulse in rows if is_open(pulse, now)), None)


def closed_pulses(*, session: Session, team_id: int, now: datetime) -> list[Pulse]:
    """The team's closed pulses, newest first."""
    rows = session.exec(
        select(Pulse)
        .where(
            col(Pulse.team_id) == team_id,
            col(Pulse.opened).is_(True),
            col(Pulse.opens_at) <= now,
        )
        .order_by(col(Pulse.opens_at).desc(), col(Pulse.id).desc())
    ).all()
    return [pulse for pulse in rows if is_closed(pulse, now)]


def has_answered(*, session: Session, pulse_id: int, member_id: int) -> bool:
    """Whether the member has answered this pulse."""
    return session.get(PulseParticipation, (pulse_id, member_id)) is not None


def answer_count(*, session: Session, pulse_id: int) -> int:
    """How many members answered the pulse."""
    return session.exec(
        select(func.count())
        .select_from(PulseParticipation)
        .where(col(PulseParticipation.pulse_id) == pulse_id)
    ).one()


# ---------------------------------------------------------------- answering and closing


def record_answers(
    *,
    session: Session,
    pulse: Pulse,
    member_id: int,
    values: Sequence[int],
    now: datetime,
    tz: ZoneInfo,
) -> None:
    """Stores one member's seven answers, anonymously.

    Records that the member answered (the local day only) and adds one to the count of
    each chosen (item, value) in a single UPDATE of all 49 tally rows of the pulse, so no
    row is written for this member's answers alone. Answers at once to the same pulse
    take turns on its tally rows (PostgreSQL). Cancels their reminder. Raises
    ``PulseClosed`` and ``AlreadyAnswered``.
    """
    pulse_id = require_id(pulse)
    if len(values) != len(ITEMS) or any(value not in VALUES for value in values):
        raise ValueError("seven answers from 1 to 7")
    if not is_open(pulse, now):
        raise PulseClosed(pulse_id)
    if has_answered(session=session, pulse_id=pulse_id, member_id=member_id):
        raise AlreadyAnswered(pulse_id)
    session.add(
        PulseParticipation(
            pulse_id=pulse_id, member_id=member_id, answered_on=now.astimezone(tz).date()
        )
    )
    session.flush()  # a concurrent second answer by the same member fails here, on the key
    # PostgreSQL: lock the pulse's tally rows in one order first. The UPDATE alone takes
    # them in the order it finds them, which differs between two answers at once once a
    # row has a new version: each would wait for the other (deadlock detected).
    session.execute(
        select(col(PulseTally.item))
        .where(col(PulseTally.pulse_id) == pulse_id)
        .order_by(col(PulseTally.item), col(PulseTally.value))
        .with_for_update()
    ).all()
    chosen = [(item, value) for item, value in zip(ITEMS, values, strict=True)]
    session.execute(
        update(PulseTally)
        .where(col(PulseTally.pulse_id) == pulse_id)
        .values(
            count=col(PulseTally.count)
            + case((tuple_(col(PulseTally.item), col(PulseTally.value)).in_(chosen), 1), else_=0)
        )
        .execution_options(synchronize_session=False)
    )
    prompts.cancel(
        session=session, key_prefix=f"{key_prefix(pulse_id)}reminder:member:{member_id}"
    )


def close_pulse(
    *,
    session: Session,
    pulse: Pulse,
    now: datetime,
    tz: ZoneInfo,
    closing_member_id: int | None = None,
) -> bool:
    """Closes an open pulse now (the lead does not wait for the seventh day): cancels the
    invitations and reminders not sent yet and moves the other leads' closing notices to
    now. Returns False when it was not open."""
    if not is_open(pulse, now):
        return False
    pulse.closed_at = now
    session.add(pulse)
    session.flush()
    prefix = key_prefix(require_id(pulse))
    for what in ("invite:", "reminder:", "closed:"):
        prompts.cancel(session=session, key_prefix=prefix + what)
    for row in directory.team_members(session=session, team_id=pulse.team_id):
        if row.membership.role == Role.LEAD and row.member.id != closing_member_id:
            _schedule_closed_notice(
                session=session, pulse=pulse, lead_member_id=require_id(row.member), tz=tz
            )
    return True


def share(
    *, session: Session, pulse: Pulse, sharer_member_id: int, now: datetime, tz: ZoneInfo
) -> int:
    """Shares a visible result with every active member of the team but the one sharing,
    one ``pulse.shared`` prompt each (each member once, however often it is pressed);
    returns how many were scheduled now (0 when it was shared before)."""
    pulse_id = require_id(pulse)
    if pulse.shared_at is not None:
        return 0
    pulse.shared_at = now
    session.add(pulse)
    scheduled = 0
    for row in directory.team_members(session=session, team_id=pulse.team_id):
        member_id = require_id(row.member)
        if member_id == sharer_member_id:
            continue
        prompts.schedule(
            session=session,
            kind=KIND_SHARED,
            team_id=pulse.team_id,
            member_id=member_id,
            dedupe_key=f"{key_prefix(pulse_id)}shared:member:{member_id}",
            due_at=now,
            expires_at=now + CLOSED_NOTICE_FOR,
            payload=_payload(pulse_id, tz),
        )
        scheduled += 1
    session.flush()
    return scheduled


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class ItemResult:
    """One statement's result: mean and spread of the scored values (higher is safer)."""

    item: int
    mean: float
    spread: float
    previous: float | None


@dataclass(frozen=True)
class PulseResult:
    """A pulse's result as far as it may be shown: always the number of answers; score,
    items and history only for a closed pulse that reached the threshold."""

    pulse: Pulse
    answers: int
    threshold: int
    score: float | None
    previous_score: float | None
    items: list[ItemResult]
    # (opens_at, score) of the team's visible pulses up to this one, oldest first.
    history: list[tuple[datetime, float]]

    @property
    def visible(self) -> bool:
        """Whether more than the count may be shown."""
        return self.score is not None

    def weakest(self, count: int = 3, below: float = 4.0) -> list[int]:
        """The two weakest items, and a third when it is below ``below``."""
        ranked = sorted(self.items, key=lambda item: (item.mean, item.item))
        chosen = [item.item for item in ranked[:2]]
        if count > 2 and len(ranked) > 2 and ranked[2].mean < below:
            chosen.append(ranked[2].item)
        return chosen


def tally(*, session: Session, pulse_id: int) -> dict[tuple[int, int], int]:
    """(item, value as given) -> how many chose it."""
    rows = session.exec(
        select(PulseTally.item, PulseTally.value, PulseTally.count).where(
            col(PulseTally.pulse_id) == pulse_id
        )
    ).all()
    return {(item, value): count for item, value, count in rows}


def item_stats(counts: dict[tuple[int, int], int]) -> dict[int, tuple[float, float]]:
    """Per item, the mean and the spread (sample standard deviation) of scored values."""
    stats: dict[int, tuple[float, float]] = {}
    for item in ITEMS:
        scored = [(score(item, value), counts.get((item, value), 0)) for value in VALUES]
        n = sum(count for _, count in scored)
        if n == 0:
            continue
        mean = sum(value * count for value, count in scored) / n
        variance = (
            sum(count * (value - mean) ** 2 for value, count in scored) / (n - 1) if n > 1 else 0
        )
        stats[item] = (mean, math.sqrt(variance))
    return stats


def team_score(stats: dict[int, tuple[float, float]]) -> float | None:
    """The mean of the seven item means (every answer has all seven)."""
    if len(stats) != len(ITEMS):
        return None
    return sum(mean for mean, _ in stats.values()) / len(ITEMS)


def threshold_for_site(*, session: Session, site_id: int) -> int:
    """The number of answers a result needs at this site (5 unless the site lowered it)."""
    setting = session.get(PulseSiteSetting, site_id)
    return setting.threshold if setting is not None else DEFAULT_THRESHOLD


def threshold_for_team(*, session: Session, team_id: int) -> int:
    """The number of answers a result of this team needs."""
    team = session.get(Team, team_id)
    return (
        DEFAULT_THRESHOLD
        if team is None
        else threshold_for_site(session=session, site_id=team.site_id)
    )


def set_site_threshold(*, session: Session, site_id: int, threshold: int) -> None:
    """Sets a site's threshold: 3 to 50 (never below 3, so no result is one person's)."""
    if not MIN_THRESHOLD <= threshold <= MAX_THRESHOLD:
        raise ValueError(f"the threshold is {MIN_THRESHOLD} to {MAX_THRESHOLD}")
    if session.get(Site, site_id) is None:
        raise LookupError(site_id)
    setting = session.get(PulseSiteSetting, site_id)
    if setting is None:
        setting = PulseSiteSetting(site_id=site_id, threshold=threshold)
    setting.threshold = threshold
    session.add(setting)
    session.flush()


def result(*, session: Session, pulse: Pulse, now: datetime) -> PulseResult:
    """The pulse's result as far as it may be shown (see ``PulseResult``)."""
    pulse_id = require_id(pulse)
    threshold = threshold_for_team(session=session, team_id=pulse.team_id)
    answers = answer_count(session=session, pulse_id=pulse_id)
    hidden = PulseResult(
        pulse=pulse,
        answers=answers,
        threshold=threshold,
        score=None,
        previous_score=None,
        items=[],
        history=[],
    )
    if not is_closed(pulse, now) or answers < threshold:
        return hidden
    stats = item_stats(tally(session=session, pulse_id=pulse_id))
    current = team_score(stats)
    if current is None:
        return hidden
    history: list[tuple[datetime, float]] = []
    previous_stats: dict[int, tuple[float, float]] | None = None
    earlier = [
        other
        for other in closed_pulses(session=session, team_id=pulse.team_id, now=now)
        if (other.opens_at, other.id or 0) < (pulse.opens_at, pulse_id)
    ]
    for other in earlier:  # newest first
        if len(history) >= HISTORY_LENGTH - 1:
            break
        other_id = require_id(other)
        if answer_count(session=session, pulse_id=other_id) < threshold:
            continue
        other_stats = item_stats(tally(session=session, pulse_id=other_id))
        other_score = team_score(other_stats)
        if other_score is None:
            continue
        if previous_stats is None:
            previous_stats = other_stats
        history.append((other.opens_at, other_score))
    history.reverse()
    previous_score = history[-1][1] if history else None
    history.append((pulse.opens_at, current))
    items = [
        ItemResult(
            item=item,
            mean=mean,
            spread=spread,
            previous=(previous_stats or {}).get(item, (None, None))[0],
        )
        for item, (mean, spread) in sorted(stats.items())
    ]
    return PulseResult(
        pulse=pulse,
        answers=answers,
        threshold=threshold,
        score=current,
        previous_score=previous_score,
        items=items,
        history=history,
    )


@dataclass(frozen=True)
class SitePulseRow:
    """One team as an administrator sees its pulse: score, answers, trend; nothing else."""

    site: Site
    team: Team
    answers: int | None
    threshold: int
    score: float | None
    previous_score: float | None
    closed_on: datetime | None


def site_overview(*, session: Session, now: datetime) -> list[SitePulseRow]:
    """Every team with its latest closed pulse: the number of answers, and the score and
    the previous score only when they reached the threshold. Never items, never answers.

    Three statements for every team at once (the teams, the sites' thresholds, the opened
    pulses), then a result for each team that has a closed pulse."""
    rows = session.exec(
        select(Site, Team)
        .join(Team, col(Team.site_id) == col(Site.id))
        .order_by(col(Site.name), col(Team.name))
    ).all()
    thresholds = {
        setting.site_id: setting.threshold for setting in session.exec(select(PulseSiteSetting))
    }
    latest: dict[int, Pulse] = {}
    for pulse in session.exec(
        select(Pulse)
        .where(col(Pulse.opened).is_(True), col(Pulse.opens_at) <= now)
        .order_by(col(Pulse.opens_at).desc(), col(Pulse.id).desc())
    ):
        if pulse.team_id not in latest and is_closed(pulse, now):
            latest[pulse.team_id] = pulse
    overview = []
    for site, team in rows:
        threshold = thresholds.get(require_id(site), DEFAULT_THRESHOLD)
        closed = latest.get(require_id(team))
        if closed is None:
            overview.append(SitePulseRow(site, team, None, threshold, None, None, None))
            continue
        shown = result(session=session, pulse=closed, now=now)
        overview.append(
            SitePulseRow(
                site=site,
                team=team,
                answers=shown.answers,
                threshold=threshold,
                score=shown.score,
                previous_score=shown.previous_score,
                closed_on=ends_at(closed),
            )
        )
    return overview


def members_to_remind(*, session: Session, pulse: Pulse) -> list[int]:
    """Active members of the pulse's team who have not answered (ids only)."""
    answered = set(
        session.exec(
            select(PulseParticipation.member_id).where(
                col(PulseParticipation.pulse_id) == require_id(pulse)
            )
        ).all()
    )
    return [
        require_id(row.member)
        for row in directory.team_members(session=session, team_id=pulse.team_id)
        if row.member.id not in answered
    ]
