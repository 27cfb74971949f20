"""Meeting series: occurrences at local wall-clock time across daylight saving, their
prompts in the queue, idempotent generation, moving and cancelling.

Every test runs on SQLite and on PostgreSQL; ``now`` is passed, never waited for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import scheduler
from storage import meetings, prompts
from storage.cpr import CprNumberRefused
from storage.models import (
    MeetingOccurrence,
    MeetingSeries,
    OccurrenceStatus,
    Prompt,
    PromptStatus,
    Repetition,
    Role,
)
from tests.factories import id_of, make_member, make_team

TZ = ZoneInfo("Europe/Copenhagen")
TWO = time(14, 0)
DURATION = 90
LEASE = timedelta(minutes=5)


@dataclass
class Crew:
    team_id: int
    lead_id: int
    staff_id: int


def _team(session: Session) -> Crew:
    """A team with a lead, one active staff member and one who left (gets nothing)."""
    team = make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    staff = make_member(session=session, team=team)
    make_member(session=session, team=team, active_membership=False)
    session.commit()
    return Crew(id_of(team), id_of(lead.member), id_of(staff.member))


def _series(
    session: Session,
    team: Crew,
    first: date,
    repetition: Repetition = Repetition.WEEKLY,
    *,
    place: str = "Mødelokalet",
) -> MeetingSeries:
    series = meetings.create_series(
        session=session,
        team_id=team.team_id,
        created_by_member_id=team.lead_id,
        first_date=first,
        start_time=TWO,
        duration_minutes=DURATION,
        place=place,
        repetition=repetition,
    )
    session.commit()
    return series


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    """Local wall-clock time in Copenhagen."""
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


def _utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _generate(
    session: Session, series: MeetingSeries, now: datetime, **kwargs: timedelta
) -> list[MeetingOccurrence]:
    generated = meetings.generate(session=session, series=series, tz=TZ, now=now, **kwargs)
    session.commit()
    return generated


def _prompts_of(session: Session, occurrence: MeetingOccurrence) -> list[Prompt]:
    prefix = meetings.key_prefix(id_of_occurrence(occurrence))
    return list(
        session.exec(
            select(Prompt)
            .where(col(Prompt.dedupe_key).startswith(prefix))
            .order_by(col(Prompt.due_at), col(Prompt.dedupe_key))
            # The queue's functions update rows in bulk: read what the database holds.
            .execution_options(populate_existing=True)
        ).all()
    )


def _all_prompts(session: Session) -> list[tuple[str, datetime, str]]:
    rows = session.exec(select(Prompt).order_by(col(Prompt.dedupe_key))).all()
    return [(row.dedupe_key, row.due_at, row.status) for row in rows]


def _occurrence_count(session: Session) -> int:
    return len(session.exec(select(MeetingOccurrence.id)).all())


def id_of_occurrence(occurrence: MeetingOccurrence) -> int:
    assert occurrence.id is not None
    return occurrence.id


def _local(moment: datetime) -> datetime:
    return moment.astimezone(TZ)


@pytest.mark.parametrize(
    ("first", "change", "utc_hour_before", "utc_hour_after"),
    [
        # Mondays; summer time starts on Sunday 29 March 2026 and ends on Sunday 25 October.
        (date(2026, 3, 2), date(2026, 3, 29), 13, 12),
        (date(2026, 10, 5), date(2026, 10, 25), 12, 13),
    ],
    ids=["march", "october"],
)
def test_a_weekly_meeting_and_its_prompts_stay_at_local_time_across_daylight_saving(
    session: Session, first: date, change: date, utc_hour_before: int, utc_hour_after: int
) -> None:
    team = _team(session)
    series = _series(session, team, first)

    generated = _generate(session, series, now=_at(first - timedelta(days=3), 9))

    assert [o.number for o in generated] == list(range(1, 9))
    assert [_local(o.starts_at).date() for o in generated] == [
        first + timedelta(weeks=week) for week in range(8)
    ]
    for occurrence in generated:
        day = _local(occurrence.starts_at).date()
        assert _local(occurrence.starts_at).time() == TWO
        assert occurrence.starts_at.hour == (utc_hour_before if day < change else utc_hour_after)
        assert _local(occurrence.ends_at) == _at(day, 15, 30)
        assert occurrence.status == OccurrenceStatus.SCHEDULED

        by_kind: dict[str, list[Prompt]] = {}
        for prompt in _prompts_of(session, occurrence):
            by_kind.setdefault(prompt.kind, []).append(prompt)
            assert prompt.payload == {"occurrence_id": occurrence.id}
            assert prompt.team_id == team.team_id
        (prepare,) = by_kind[meetings.KIND_LEAD_PREPARE]
        assert (prepare.member_id, _local(prepare.due_at)) == (
            team.lead_id,
            _at(day - timedelta(days=2), 14),
        )
        assert prepare.expires_at == occurrence.starts_at
        day_before = by_kind[meetings.KIND_DAY_BEFORE]
        assert sorted(p.member_id or 0 for p in day_before) == sorted(
            [team.lead_id, team.staff_id]
        )
        assert {_local(p.due_at) for p in day_before} == {_at(day - timedelta(days=1), 14)}
        assert {p.expires_at for p in day_before} == {occurrence.starts_at}
        hour_before = by_kind[meetings.KIND_HOUR_BEFORE]
        assert sorted(p.member_id or 0 for p in hour_before) == sorted(
            [team.lead_id, team.staff_id]
        )
        assert {_local(p.due_at) for p in hour_before} == {_at(day, 13)}
        assert {p.expires_at for p in hour_before} == {occurrence.starts_at}
        (minutes,) = by_kind[meetings.KIND_MINUTES]
        assert (minutes.member_id, _local(minutes.due_at)) == (team.lead_id, _at(day, 15, 30))
        assert minutes.expires_at == occurrence.ends_at + timedelta(days=7)
        assert sum(len(kind) for kind in by_kind.values()) == 6


def test_the_prompts_of_the_monday_after_the_march_change_in_utc(session: Session) -> None:
    team = _team(session)
    series = _series(session, team, date(2026, 3, 30))

    (occurrence, *_) = _generate(session, series, now=_utc(2026, 3, 20, 8))

    due = {(p.kind, p.member_id): p.due_at for p in _prompts_of(session, occurrence)}
    assert occurrence.starts_at == _utc(2026, 3, 30, 12)
    # Saturday 14:00 winter time, Sunday 14:00 summer time: 23 hours apart in UTC.
    assert due[(meetings.KIND_LEAD_PREPARE, team.lead_id)] == _utc(2026, 3, 28, 13)
    assert due[(meetings.KIND_DAY_BEFORE, team.staff_id)] == _utc(2026, 3, 29, 12)
    assert due[(meetings.KIND_HOUR_BEFORE, team.staff_id)] == _utc(2026, 3, 30, 11)
    assert due[(meetings.KIND_MINUTES, team.lead_id)] == _utc(2026, 3, 30, 13, 30)


def test_a_biweekly_meeting_is_every_second_week_across_the_new_year(session: Session) -> None:
    # 2026 has 53 ISO weeks: cron's week="*/2" would meet in weeks 53 and 1 in a row.
    team = _team(session)
    series = _series(session, team, date(2026, 12, 21), Repetition.BIWEEKLY)

    generated = _generate(session, series, now=_utc(2026, 12, 20, 9), horizon=timedelta(weeks=12))

    assert [(o.number, _local(o.starts_at)) for o in generated] == [
        (1, _at(date(2026, 12, 21), 14)),
        (2, _at(date(2027, 1, 4), 14)),
        (3, _at(date(2027, 1, 18), 14)),
        (4, _at(date(2027, 2, 1), 14)),
        (5, _at(date(2027, 2, 15), 14)),
        (6, _at(date(2027, 3, 1), 14)),
    ]


def test_a_monthly_meeting_on_the_31st_is_on_the_last_day_of_shorter_months(
    session: Session,
) -> None:
    team = _team(session)
    series = _series(session, team, date(2026, 1, 31), Repetition.MONTHLY)

    generated = _generate(session, series, now=_utc(2026, 1, 30, 9), horizon=timedelta(weeks=22))

    assert [(o.number, _local(o.starts_at)) for o in generated] == [
        (1, _at(date(2026, 1, 31), 14)),
        (2, _at(date(2026, 2, 28), 14)),
        (3, _at(date(2026, 3, 31), 14)),
        (4, _at(date(2026, 4, 30), 14)),
        (5, _at(date(2026, 5, 31), 14)),
        (6, _at(date(2026, 6, 30), 14)),
    ]
    assert generated[2].starts_at == _utc(2026, 3, 31, 12)


def test_a_monthly_series_generated_months_later_keeps_its_numbers(session: Session) -> None:
    team = _team(session)
    series = _series(session, team, date(2026, 1, 31), Repetition.MONTHLY)

    generated = _generate(session, series, now=_utc(2026, 6, 15, 9))

    assert [(o.number, _local(o.starts_at).date()) for o in generated] == [
        (6, date(2026, 6, 30)),
        (7, date(2026, 7, 31)),
    ]


def test_a_single_meeting_has_one_occurrence(session: Session) -> None:
    team = _team(session)
    series = _series(session, team, date(2026, 11, 24), Repetition.NONE)

    generated = _generate(session, series, now=_utc(2026, 11, 1, 9))
    later = _generate(session, series, now=_utc(2026, 11, 25, 9))

    assert [(o.number, o.starts_at) for o in generated] == [(1, _utc(2026, 11, 24, 13))]
    assert later == []


def test_generating_twice_duplicates_neither_occurrences_nor_prompts(session: Session) -> None:
    team = _team(session)
    series = _series(session, team, date(2026, 3, 2))
    now = _utc(2026, 2, 25, 9)
    _generate(session, series, now=now)
    occurrences, scheduled = _occurrence_count(session), _all_prompts(session)

    again = _generate(session, series, now=now)
    a_day_later = _generate(session, series, now=now + timedelta(days=1))

    assert occurrences == len(again) == 8
    assert _occurrence_count(session) == 8 == len(a_day_later)
    assert _all_prompts(session) == scheduled
    assert len(scheduled) == 8 * 6


def test_moving_an_occurrence_replaces_its_prompts_only(session: Session) -> None:
    team = _team(session)
    series = _series(session, team, date(2026, 3, 2))
    now = _utc(2026, 2, 25, 9)
    first, second, *rest = _generate(session, series, now=now)
    others_before = [
        (p.dedupe_key, p.due_at) for o in (first, *rest) for p in _prompts_of(session, o)
    ]

    moved = meetings.move_occurrence(
        session=session,
        occurrence_id=id_of_occurrence(second),
        starts_at=_at(date(2026, 3, 11), 10),
        tz=TZ,
        now=now,
    )
    session.commit()

    assert moved.status == OccurrenceStatus.MOVED
    assert (moved.starts_at, moved.ends_at) == (_utc(2026, 3, 11, 9), _utc(2026, 3, 11, 10, 30))
    assert {(p.kind, _local(p.due_at)) for p in _prompts_of(session, moved)} == {
        (meetings.KIND_LEAD_PREPARE, _at(date(2026, 3, 9), 10)),
        (meetings.KIND_DAY_BEFORE, _at(date(2026, 3, 10), 10)),
        (meetings.KIND_HOUR_BEFORE, _at(date(2026, 3, 11), 9)),
        (meetings.KIND_MINUTES, _at(date(2026, 3, 11), 11, 30)),
    }
    assert len(_prompts_of(session, moved)) == 6
    others_after = [
        (p.dedupe_key, p.due_at) for o in (first, *rest) for p in _prompts_of(session, o)
    ]
    assert others_after == others_before

    # Generating again leaves the moved occurrence where it is and adds nothing.
    _generate(session, series, now=now)
    stored = meetings.occurrences(session=session, series_id=id_of_series(series))
    assert len(stored) == 8
    assert [o.starts_at for o in stored if o.number == 2] == [_utc(2026, 3, 11, 9)]
    assert len(_prompts_of(session, moved)) == 6


def test_moving_after_a_reminder_was_sent_keeps_it_and_schedules_a_new_one(
    session: Session,
) -> None:
    team = _team(session)
    series = _series(session, team, date(2026, 3, 2))
    (occurrence, *_) = _generate(session, series, now=_utc(2026, 2, 25, 9))
    sent_at = _utc(2026, 2, 28, 13)
    claimed = prompts.claim_due(session=session, now=sent_at, worker="w", limit=10, lease=LEASE)
    assert [p.kind for p in claimed] == [meetings.KIND_LEAD_PREPARE]
    prompts.mark_sent(session=session, prompt_id=claimed[0].id or 0, worker="w", now=sent_at)
    session.commit()

    meetings.move_occurrence(
        session=session,
        occurrence_id=id_of_occurrence(occurrence),
        starts_at=_at(date(2026, 3, 5), 14),
        tz=TZ,
        now=sent_at,
    )
    session.commit()

    prepare = [p for p in _prompts_of(session, occurrence) if p.kind == meetings.KIND_LEAD_PREPARE]
    assert [(p.status, _local(p.due_at)) for p in prepare] == [
        (PromptStatus.SENT, _at(date(2026, 2, 28), 14)),
        (PromptStatus.PENDING, _at(date(2026, 3, 3), 14)),
    ]


def test_cancelling_an_occurrence_removes_its_prompts_only(session: Session) -> None:
    team = _team(session)
    series = _series(session, team, date(2026, 3, 2))
    now = _utc(2026, 2, 25, 9)
    first, second, *rest = _generate(session, series, now=now)

    meetings.cancel_occurrence(session=session, occurrence_id=id_of_occurrence(second))
    session.commit()

    assert _prompts_of(session, second) == []
    assert all(len(_prompts_of(session, o)) == 6 for o in (first, *rest))
    upcoming = _generate(session, series, now=now)
    assert second.id not in {o.id for o in upcoming}
    assert _occurrence_count(session) == 8
    assert _prompts_of(session, second) == []
    stored = meetings.get_occurrence(session=session, occurrence_id=id_of_occurrence(second))
    assert stored is not None
    assert stored.status == OccurrenceStatus.CANCELLED


def test_cancelling_the_series_removes_every_future_occurrence_and_prompt(
    session: Session,
) -> None:
    team = _team(session)
    series = _series(session, team, date(2026, 3, 2))
    first, second, *rest = _generate(session, series, now=_utc(2026, 2, 25, 9))
    # The first meeting has been held; its minutes prompt is still ahead.
    now = _utc(2026, 3, 2, 14)

    cancelled = meetings.cancel_series(session=session, series_id=id_of_series(series), now=now)
    session.commit()

    assert {o.id for o in cancelled} == {o.id for o in (second, *rest)}
    assert all(_prompts_of(session, o) == [] for o in (second, *rest))
    assert [p.kind for p in _prompts_of(session, first) if p.due_at > now] == [
        meetings.KIND_MINUTES
    ]
    assert _generate(session, series, now=now) == []
    assert meetings.active_series(session=session) == []
    assert _occurrence_count(session) == 8


def test_prompts_whose_time_has_passed_when_a_meeting_is_set_are_not_scheduled(
    session: Session,
) -> None:
    team = _team(session)
    series = _series(session, team, date(2026, 11, 24), Repetition.NONE)

    (occurrence,) = _generate(session, series, now=_utc(2026, 11, 23, 15))

    assert {p.kind for p in _prompts_of(session, occurrence)} == {
        meetings.KIND_HOUR_BEFORE,
        meetings.KIND_MINUTES,
    }


def test_a_cpr_number_in_the_place_is_refused(session: Session) -> None:
    team = _team(session)

    with pytest.raises(CprNumberRefused):
        _series(session, team, date(2026, 3, 2), place="Hos 010190-1234")

    assert session.exec(select(MeetingSeries)).all() == []


def id_of_series(series: MeetingSeries) -> int:
    assert series.id is not None
    return series.id


def test_moving_and_cancelling_raise_the_calendar_sequence(session: Session) -> None:
    team = _team(session)
    series = _series(session, team, date(2026, 3, 2))
    first, second = _generate(session, series, now=_utc(2026, 2, 25, 9))[:2]
    assert first.sequence == second.sequence == 0

    meetings.move_occurrence(
        session=session,
        occurrence_id=id_of_occurrence(first),
        starts_at=_at(date(2026, 3, 3), 10),
        tz=TZ,
        now=_utc(2026, 2, 25, 9),
    )
    meetings.move_occurrence(
        session=session,
        occurrence_id=id_of_occurrence(first),
        starts_at=_at(date(2026, 3, 4), 10),
        tz=TZ,
        now=_utc(2026, 2, 25, 9),
    )
    meetings.cancel_occurrence(session=session, occurrence_id=id_of_occurrence(second))
    session.commit()

    session.refresh(first)
    session.refresh(second)
    assert first.sequence == 2 and first.status == OccurrenceStatus.MOVED
    assert second.sequence == 1 and second.status == OccurrenceStatus.CANCELLED


def test_upcoming_lists_the_teams_next_meetings_only(session: Session) -> None:
    team = _team(session)
    other = _team(session)
    series = _series(session, team, date(2026, 3, 2))
    other_series = _series(session, other, date(2026, 3, 3))
    now = _utc(2026, 2, 25, 9)
    mine = _generate(session, series, now=now)
    theirs = _generate(session, other_series, now=now)
    meetings.cancel_occurrence(session=session, occurrence_id=id_of_occurrence(mine[0]))
    session.commit()

    listed = meetings.upcoming(session=session, team_id=team.team_id, now=now, limit=5)

    assert [occurrence.id for occurrence, _series in listed] == [row.id for row in mine[1:6]]
    assert {row.id for _occurrence, row in listed} == {series.id}
    later = meetings.upcoming(session=session, team_id=team.team_id, now=mine[3].starts_at)
    assert [occurrence.id for occurrence, _series in later] == [row.id for row in mine[4:8]]
    assert (
        meetings.get_team_occurrence(
            session=session, team_id=team.team_id, occurrence_id=id_of_occurrence(theirs[0])
        )
        is None
    )
    found = meetings.get_team_occurrence(
        session=session, team_id=other.team_id, occurrence_id=id_of_occurrence(theirs[0])
    )
    assert found is not None and found[1].id == other_series.id
    assert (
        meetings.get_team_series(
            session=session, team_id=team.team_id, series_id=id_of_series(other_series)
        )
        is None
    )
    assert meetings.latest_series(session=session, team_id=team.team_id) == series


def test_notices_go_to_each_active_member_once_and_survive_a_move(session: Session) -> None:
    team = _team(session)
    series = _series(session, team, date(2026, 3, 2))
    now = _utc(2026, 2, 25, 9)
    first = _generate(session, series, now=now)[0]
    occurrence_id, starts_at = id_of_occurrence(first), first.starts_at

    def tell() -> int:
        return meetings.schedule_notices(
            session=session,
            team_id=team.team_id,
            notice=meetings.Notice.NEW,
            now=now,
            occurrence_ids=[occurrence_id],
            expires_at=starts_at,
            tz=TZ,
        )

    assert tell() == 2  # the lead and the active staff member, not the one who left
    assert tell() == 2
    meetings.move_occurrence(
        session=session,
        occurrence_id=occurrence_id,
        starts_at=_at(date(2026, 3, 3), 10),
        tz=TZ,
        now=now,
    )
    session.commit()

    notices = session.exec(
        select(Prompt).where(Prompt.kind == meetings.KIND_INVITATION).order_by(col(Prompt.id))
    ).all()
    assert sorted(row.member_id or 0 for row in notices) == sorted([team.lead_id, team.staff_id])
    assert {row.status for row in notices} == {PromptStatus.PENDING}
    assert {row.due_at for row in notices} == {now}
    assert {row.expires_at for row in notices} == {starts_at}
    assert notices[0].payload == {
        "occurrence_ids": [occurrence_id],
        "notice": "new",
        "sequence": 0,
        "tz": "Europe/Copenhagen",
    }


def test_the_daily_job_keeps_the_window_rolling_as_the_clock_moves(
    session: Session, engine: Engine
) -> None:
    team = _team(session)
    series = _series(session, team, date(2026, 3, 2))
    single = _series(session, team, date(2026, 3, 4), Repetition.NONE)
    start = _utc(2026, 2, 25, 2)

    assert scheduler.generate_meetings(engine, TZ, start) == 8 + 1
    session.expire_all()
    assert _occurrence_count(session) == 9
    assert scheduler.generate_meetings(engine, TZ, start) == 9  # idempotent

    four_weeks_later = start + timedelta(weeks=4)
    assert scheduler.generate_meetings(engine, TZ, four_weeks_later) == 8
    session.expire_all()
    weekly = meetings.occurrences(session=session, series_id=id_of_series(series))
    assert len(weekly) == 12
    assert [row.number for row in weekly] == list(range(1, 13))
    assert {_local(row.starts_at).time() for row in weekly} == {TWO}
    # The last one is 8 weeks after the clock at most, at 14:00 local after the March change.
    assert weekly[-1].starts_at == _at(date(2026, 5, 18), 14)
    assert len(meetings.occurrences(session=session, series_id=id_of_series(single))) == 1

    meetings.cancel_series(session=session, series_id=id_of_series(series), now=four_weeks_later)
    session.commit()
    assert scheduler.generate_meetings(engine, TZ, four_weeks_later + timedelta(weeks=2)) == 0
    session.expire_all()
    assert len(meetings.occurrences(session=session, series_id=id_of_series(series))) == 12


def test_one_failing_series_does_not_stop_the_daily_job(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = _team(session)
    broken = _series(session, team, date(2026, 3, 2))
    fine = _series(session, team, date(2026, 3, 3))
    real_generate = meetings.generate

    def generate(*, series: MeetingSeries, **kwargs: object) -> list[MeetingOccurrence]:
        result = real_generate(series=series, **kwargs)  # type: ignore[arg-type]
        if series.id == broken.id:
            raise RuntimeError("a broken series")
        return result

    monkeypatch.setattr(meetings, "generate", generate)

    count = meetings.generate_all(session=session, tz=TZ, now=_utc(2026, 2, 25, 9))
    session.commit()

    assert count == 8
    assert meetings.occurrences(session=session, series_id=id_of_series(broken)) == []
    assert len(meetings.occurrences(session=session, series_id=id_of_series(fine))) == 8
