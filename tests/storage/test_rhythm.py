"""The team's rhythm in storage: shift prompts planned at local wall-clock time across the
2026 daylight-saving changes, the monthly focus on the first working day, the gate's
holds (mute, absence, quiet hours, the meeting exemption), preferences and the members
the bot cannot reach.

Every test runs on SQLite and on PostgreSQL; ``now`` is passed, never waited for.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from storage import prompts, rhythm
from storage.cpr import CprNumberRefused
from storage.db import require_id
from storage.directory import TeamMember
from storage.models import (
    Conversation,
    Member,
    Prompt,
    PromptStatus,
    Resident,
    Role,
    Shift,
    Team,
)
from storage.notes import add_note
from tests.factories import id_of, make_member, make_resident, make_team

TZ = ZoneInfo("Europe/Copenhagen")
LEASE = timedelta(minutes=5)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A Copenhagen wall-clock time as an aware datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


def _prompts(session: Session, kind: str) -> list[Prompt]:
    return list(
        session.exec(
            select(Prompt).where(Prompt.kind == kind).order_by(col(Prompt.due_at), col(Prompt.id))
        ).all()
    )


def _member(session: Session, team: Team, **preferences: object) -> int:
    member_id = id_of(make_member(session=session, team=team).member)
    if preferences:
        rhythm.set_preference(
            session=session,
            member_id=member_id,
            team_id=id_of(team),
            **preferences,  # type: ignore[arg-type]
        )
    return member_id


def _prompt(
    session: Session, team: Team, member_id: int | None, kind: str = "test.kind", key: str = "k"
) -> Prompt:
    return prompts.schedule(
        session=session,
        kind=kind,
        team_id=id_of(team),
        member_id=member_id,
        dedupe_key=key,
        due_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


# ------------------------------------------------------------------ planning shift prompts


@pytest.mark.parametrize(
    ("day", "utc_hours"),
    [(date(2026, 3, 29), {28: 6, 29: 5}), (date(2026, 10, 25), {24: 5, 25: 6})],
    ids=["march", "october"],
)
def test_handovers_stay_at_the_shift_starts_local_time_across_daylight_saving(
    session: Session, day: date, utc_hours: dict[int, int]
) -> None:
    team = make_team(session=session)
    member_id = _member(session, team, handover=True)
    now = local(day.year, day.month, day.day - 1, 6, 0).astimezone(UTC)

    rhythm.plan(session=session, now=now, tz=TZ, horizon=timedelta(hours=46))
    session.commit()

    handovers = _prompts(session, rhythm.HANDOVER)
    local_starts = [p.due_at.astimezone(TZ).strftime("%d %H:%M") for p in handovers]
    before, after = day - timedelta(days=1), day
    assert local_starts == [
        f"{before.day:02d} 07:00",
        f"{before.day:02d} 15:00",
        f"{before.day:02d} 23:00",
        f"{after.day:02d} 07:00",
        f"{after.day:02d} 15:00",
        f"{after.day:02d} 23:00",
    ]
    # 07:00 local is 06:00 UTC in winter time and 05:00 UTC in summer time.
    morning = {
        p.due_at.astimezone(TZ).day: p.due_at.hour
        for p in handovers
        if p.payload["shift"] == "day"
    }
    assert morning == utc_hours
    # The night shift around the change is an hour shorter (March) or longer (October).
    night = handovers[2]
    assert night.expires_at is not None
    hours = (night.expires_at - night.due_at).total_seconds() / 3600
    assert hours == (7 if day.month == 3 else 9)
    assert {p.member_id for p in handovers} == {member_id}
    assert all(p.payload == {"shift": p.payload["shift"]} for p in handovers)


def test_planning_twice_changes_nothing_and_members_without_wishes_get_nothing(
    session: Session,
) -> None:
    team = make_team(session=session)
    _member(session, team)  # never chose anything
    _member(session, team, handover=False, end_nudge=False, shifts=["day"])
    wants = _member(session, team, handover=True, end_nudge=True, shifts=["day"])
    left = make_member(session=session, team=team, active_membership=False)
    rhythm.set_preference(
        session=session, member_id=id_of(left.member), team_id=id_of(team), handover=True
    )
    now = local(2026, 11, 24, 6, 0).astimezone(UTC)

    first = rhythm.plan(session=session, now=now, tz=TZ)
    second = rhythm.plan(session=session, now=now, tz=TZ)
    session.commit()

    assert first == second == 2
    rows = session.exec(select(Prompt)).all()
    assert sorted((p.kind, p.member_id) for p in rows) == [
        (rhythm.END_NUDGE, wants),
        (rhythm.HANDOVER, wants),
    ]


def test_the_nudge_comes_at_the_end_of_the_marked_shifts_only_and_expires_two_hours_later(
    session: Session,
) -> None:
    team = make_team(session=session)
    _member(session, team, end_nudge=True, shifts=["evening"])
    _member(session, team, end_nudge=True)  # no shifts marked: no nudge
    now = local(2026, 11, 24, 6, 0).astimezone(UTC)

    rhythm.plan(session=session, now=now, tz=TZ)

    nudges = _prompts(session, rhythm.END_NUDGE)
    assert len(nudges) == 1
    assert nudges[0].due_at == local(2026, 11, 24, 23, 0).astimezone(UTC)
    assert nudges[0].expires_at == local(2026, 11, 25, 1, 0).astimezone(UTC)


def test_handovers_follow_the_shifts_a_member_works(session: Session) -> None:
    team = make_team(session=session)
    _member(session, team, handover=True, shifts=["night"])
    now = local(2026, 11, 24, 6, 0).astimezone(UTC)

    rhythm.plan(session=session, now=now, tz=TZ)

    handovers = _prompts(session, rhythm.HANDOVER)
    assert [p.due_at for p in handovers] == [local(2026, 11, 24, 23, 0).astimezone(UTC)]
    assert handovers[0].expires_at == local(2026, 11, 25, 7, 0).astimezone(UTC)


def test_changing_preferences_cancels_the_pending_shift_prompts(session: Session) -> None:
    team = make_team(session=session)
    member_id = _member(session, team, handover=True)
    now = local(2026, 11, 24, 6, 0).astimezone(UTC)
    rhythm.plan(session=session, now=now, tz=TZ)
    assert len(_prompts(session, rhythm.HANDOVER)) == 3

    rhythm.set_preference(
        session=session, member_id=member_id, team_id=id_of(team), handover=False
    )
    rhythm.plan(session=session, now=now, tz=TZ)

    assert _prompts(session, rhythm.HANDOVER) == []
    stored = rhythm.get_preference(session=session, member_id=member_id, team_id=id_of(team))
    assert (stored.handover, stored.end_nudge, stored.shifts) == (False, False, "")


def test_shifts_are_stored_in_a_fixed_order_and_unknown_ones_refused(session: Session) -> None:
    team = make_team(session=session)
    member_id = _member(session, team, shifts=["night", "day"])
    stored = rhythm.get_preference(session=session, member_id=member_id, team_id=id_of(team))
    assert stored.shifts == "day,night"
    assert rhythm.parse_shifts(stored.shifts) == {Shift.DAY, Shift.NIGHT}
    with pytest.raises(ValueError):
        rhythm.set_preference(
            session=session, member_id=member_id, team_id=id_of(team), shifts=["lunch"]
        )


def test_the_previous_shift_of_a_morning_handover_is_the_night(session: Session) -> None:
    team = make_team(session=session)
    start = local(2026, 3, 29, 7, 0).astimezone(UTC)

    night = rhythm.previous_shift(team, TZ, start)

    assert night.shift == Shift.NIGHT
    assert night.starts_at == local(2026, 3, 28, 23, 0).astimezone(UTC)
    assert night.ends_at == start


# ------------------------------------------------------------------ monthly focus


def test_the_focus_goes_out_on_the_first_working_day_at_eight(session: Session) -> None:
    team = make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    staff = _member(session, team)
    make_member(session=session, team=team, active_membership=False)
    focus = rhythm.set_focus(
        session=session,
        team_id=id_of(team),
        month=date(2026, 8, 1),
        text="  Måltider   i ro ",
        member_id=id_of(lead.member),
    )
    assert focus.text == "Måltider i ro"
    # 1 August 2026 is a Saturday: the first working day is Monday 3 August.
    assert rhythm.first_working_day(
        session=session, team_id=id_of(team), month=date(2026, 8, 1), tz=TZ
    ) == date(2026, 8, 3)

    rhythm.plan(session=session, now=local(2026, 8, 2, 9, 0).astimezone(UTC), tz=TZ)
    session.commit()

    sent = _prompts(session, rhythm.MONTHLY_FOCUS)
    assert sorted(p.member_id or 0 for p in sent) == sorted([id_of(lead.member), staff])
    assert {p.due_at for p in sent} == {local(2026, 8, 3, 8, 0).astimezone(UTC)}
    assert {p.expires_at for p in sent} == {local(2026, 9, 1).astimezone(UTC)}
    assert {p.payload["focus_id"] for p in sent} == {focus.id}


def test_a_team_day_off_moves_the_focus_to_the_next_working_day(session: Session) -> None:
    team = make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    rhythm.set_focus(
        session=session,
        team_id=id_of(team),
        month=date(2026, 8, 1),
        text="Måltider",
        member_id=id_of(lead.member),
    )
    now = local(2026, 8, 2, 9, 0).astimezone(UTC)
    rhythm.plan(session=session, now=now, tz=TZ)
    assert [p.due_at for p in _prompts(session, rhythm.MONTHLY_FOCUS)] == [
        local(2026, 8, 3, 8, 0).astimezone(UTC)
    ]

    rhythm.add_team_days_off(
        session=session,
        team_id=id_of(team),
        first=date(2026, 8, 3),
        last=date(2026, 8, 3),
        tz=TZ,
        lead_id=id_of(lead.member),
    )
    rhythm.plan(session=session, now=now, tz=TZ, horizon=timedelta(days=2))

    assert [p.due_at for p in _prompts(session, rhythm.MONTHLY_FOCUS)] == [
        local(2026, 8, 4, 8, 0).astimezone(UTC)
    ]


def test_a_focus_is_short_and_never_holds_a_cpr_number(session: Session) -> None:
    team = make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    with pytest.raises(CprNumberRefused):
        rhythm.set_focus(
            session=session,
            team_id=id_of(team),
            month=date(2026, 8, 1),
            text="Fokus på 010190-1234",
            member_id=id_of(lead.member),
        )
    with pytest.raises(rhythm.FocusTooLong):
        rhythm.set_focus(
            session=session,
            team_id=id_of(team),
            month=date(2026, 8, 1),
            text="x" * 201,
            member_id=id_of(lead.member),
        )
    assert rhythm.get_focus(session=session, team_id=id_of(team), month=date(2026, 8, 1)) is None


# ------------------------------------------------------------------ the gate


def test_a_muted_member_is_held_until_the_mute_ends_and_unmuting_releases(
    session: Session,
) -> None:
    team = make_team(session=session)
    member_id = _member(session, team)
    prompt = _prompt(session, team, member_id)
    now = local(2026, 11, 24, 10, 0).astimezone(UTC)
    until = now + timedelta(hours=1)

    rhythm.mute(session=session, member_id=member_id, until=until, now=now)

    assert rhythm.hold_until(session=session, prompt=prompt, now=now, tz=TZ) == until
    assert rhythm.muted_until(session=session, member_id=member_id, now=now) == until
    assert rhythm.hold_until(session=session, prompt=prompt, now=until, tz=TZ) is None
    assert rhythm.unmute(session=session, member_id=member_id, now=now)
    assert rhythm.hold_until(session=session, prompt=prompt, now=now, tz=TZ) is None
    assert not rhythm.unmute(session=session, member_id=member_id, now=now)


def test_mute_and_absence_hold_meeting_prompts_too(session: Session) -> None:
    team = make_team(session=session)
    member_id = _member(session, team)
    meeting = _prompt(session, team, member_id, kind="meeting.hour_before")
    now = local(2026, 11, 24, 10, 0).astimezone(UTC)
    rhythm.add_absence(
        session=session,
        member_id=member_id,
        first=date(2026, 11, 24),
        last=date(2026, 11, 25),
        tz=TZ,
    )

    assert rhythm.hold_until(session=session, prompt=meeting, now=now, tz=TZ) == local(
        2026, 11, 26
    ).astimezone(UTC)


def test_a_team_day_off_holds_the_team_and_a_members_absence_holds_them_in_every_team(
    session: Session,
) -> None:
    team, other_team = make_team(session=session), make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    member_id = _member(session, team)
    colleague = _member(session, team)
    elsewhere = _member(session, other_team)
    now = local(2026, 12, 24, 10, 0).astimezone(UTC)
    rhythm.add_team_days_off(
        session=session,
        team_id=id_of(team),
        first=date(2026, 12, 24),
        last=date(2026, 12, 26),
        tz=TZ,
        lead_id=id_of(lead.member),
    )
    after_christmas = local(2026, 12, 27).astimezone(UTC)

    assert (
        rhythm.hold_until(
            session=session, prompt=_prompt(session, team, member_id, key="a"), now=now, tz=TZ
        )
        == after_christmas
    )
    assert (
        rhythm.hold_until(
            session=session, prompt=_prompt(session, team, colleague, key="b"), now=now, tz=TZ
        )
        == after_christmas
    )
    assert (
        rhythm.hold_until(
            session=session,
            prompt=_prompt(session, other_team, elsewhere, key="c"),
            now=now,
            tz=TZ,
        )
        is None
    )
    # The team's days off end; the day after is not held.
    assert (
        rhythm.hold_until(
            session=session,
            prompt=_prompt(session, team, member_id, key="d"),
            now=after_christmas,
            tz=TZ,
        )
        is None
    )


def test_outside_their_shifts_a_member_is_held_until_their_next_shift_starts(
    session: Session,
) -> None:
    team = make_team(session=session)
    day_worker = _member(session, team, shifts=["day"])
    unset = _member(session, team)
    evening = local(2026, 11, 24, 18, 0).astimezone(UTC)

    def held(member_id: int, kind: str, now: datetime, key: str) -> datetime | None:
        prompt = _prompt(session, team, member_id, kind=kind, key=key)
        return rhythm.hold_until(session=session, prompt=prompt, now=now, tz=TZ)

    assert held(day_worker, "trial.checkin", evening, "a") == local(2026, 11, 25, 7, 0).astimezone(
        UTC
    )
    assert (
        held(day_worker, "trial.checkin", local(2026, 11, 24, 7, 0).astimezone(UTC), "b") is None
    )
    assert (
        held(day_worker, "trial.checkin", local(2026, 11, 24, 14, 59).astimezone(UTC), "c") is None
    )
    # Before the day shift on the morning of the change to summer time: 07:00 local.
    assert held(day_worker, "vote.deadline", local(2026, 3, 29, 3, 0).astimezone(UTC), "d") == (
        local(2026, 3, 29, 7, 0).astimezone(UTC)
    )
    # Meeting prompts and the member's own shift prompts pass quiet hours.
    assert held(day_worker, "meeting.day_before", evening, "e") is None
    assert held(day_worker, rhythm.END_NUDGE, evening, "f") is None
    # Shifts never chosen: no quiet hours.
    assert held(unset, "trial.checkin", evening, "g") is None


def test_prompts_to_the_whole_team_pass_the_gate(session: Session) -> None:
    team = make_team(session=session)
    member_id = _member(session, team, shifts=["day"])
    now = local(2026, 11, 24, 22, 0).astimezone(UTC)
    rhythm.mute(session=session, member_id=member_id, until=now + timedelta(days=1), now=now)

    assert (
        rhythm.hold_until(session=session, prompt=_prompt(session, team, None), now=now, tz=TZ)
        is None
    )


def test_absences_are_whole_local_days_and_listed_until_they_end(session: Session) -> None:
    team = make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    member_id = _member(session, team)
    mine = rhythm.add_absence(
        session=session,
        member_id=member_id,
        first=date(2026, 3, 28),
        last=date(2026, 3, 29),
        tz=TZ,
    )
    assert mine.starts_at == datetime(2026, 3, 27, 23, 0, tzinfo=UTC)
    assert mine.ends_at == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    team_off = rhythm.add_team_days_off(
        session=session,
        team_id=id_of(team),
        first=date(2026, 4, 1),
        last=date(2026, 4, 1),
        tz=TZ,
        lead_id=id_of(lead.member),
    )
    now = local(2026, 3, 28, 12, 0).astimezone(UTC)

    listed = rhythm.upcoming_absences(
        session=session, member_id=member_id, team_id=id_of(team), now=now
    )
    assert [a.id for a in listed] == [mine.id, team_off.id]
    with pytest.raises(ValueError):
        rhythm.add_absence(
            session=session,
            member_id=member_id,
            first=date(2026, 4, 2),
            last=date(2026, 4, 1),
            tz=TZ,
        )
    # Staff cannot remove the team's days off; the lead can; everyone their own.
    assert not rhythm.remove_absence(
        session=session,
        absence_id=require_id(team_off),
        member_id=member_id,
        team_id=id_of(team),
        is_lead=False,
    )
    assert rhythm.remove_absence(
        session=session,
        absence_id=require_id(mine),
        member_id=member_id,
        team_id=id_of(team),
        is_lead=False,
    )
    assert rhythm.remove_absence(
        session=session,
        absence_id=require_id(team_off),
        member_id=id_of(lead.member),
        team_id=id_of(team),
        is_lead=True,
    )
    assert (
        rhythm.upcoming_absences(
            session=session, member_id=member_id, team_id=id_of(team), now=now
        )
        == []
    )


# ------------------------------------------------------------------ handover notes


def test_handover_notes_are_the_teams_notes_of_the_window(session: Session) -> None:
    team, other = make_team(session=session), make_team(session=session)
    author = make_member(session=session, team=team)
    stranger = make_member(session=session, team=other)
    resident = make_resident(session=session, team=team, alias="Fru H.")
    elsewhere = make_resident(session=session, team=other)
    since = local(2026, 11, 24, 7, 0).astimezone(UTC)
    until = local(2026, 11, 24, 15, 0).astimezone(UTC)

    def note(at: datetime, *, to: Resident = resident, by: TeamMember = author) -> None:
        add_note(
            session=session,
            team=team if to.team_id == team.id else other,
            resident=to,
            author_member_id=id_of(by.member),
            tz=TZ,
            text=f"Noted at {at.isoformat()}",
            markers=["tryghed", "naervaer"],
            now=at,
        )

    note(since - timedelta(minutes=1))
    note(since)
    note(until - timedelta(minutes=1))
    note(until)
    note(since + timedelta(hours=1), to=elsewhere, by=stranger)

    found, total = rhythm.notes_between(
        session=session, team_id=id_of(team), since=since, until=until
    )

    assert total == 2
    assert [item.note.created_at for item in found] == [since, until - timedelta(minutes=1)]
    assert {item.alias for item in found} == {"Fru H."}
    assert found[0].markers == ["naervaer", "tryghed"]
    limited, total = rhythm.notes_between(
        session=session, team_id=id_of(team), since=since, until=until, limit=1
    )
    assert (len(limited), total) == (1, 2)


# ------------------------------------------------------------------ unreachable


def _unreachable_prompt(session: Session, team: Team, member_id: int, at: datetime) -> None:
    prompts.schedule(
        session=session,
        kind="test.kind",
        team_id=id_of(team),
        member_id=member_id,
        dedupe_key=f"u:{member_id}:{at.isoformat()}",
        due_at=at,
    )
    session.commit()
    claimed = prompts.claim_due(session=session, now=at, worker="w", limit=10, lease=LEASE)
    for prompt in claimed:
        assert prompts.mark_unreachable(
            session=session,
            prompt_id=require_id(prompt),
            worker="w",
            error="Forbidden",
        )
    session.commit()


def test_members_who_blocked_the_bot_are_listed_until_they_are_seen_again(
    session: Session,
) -> None:
    team = make_team(session=session)
    blocked = make_member(session=session, team=team, name="Bente")
    fine = make_member(session=session, team=team, name="Anne")
    gone = make_member(session=session, team=team, name="Carl")
    session.commit()
    at = datetime.now(UTC) - timedelta(hours=1)
    _unreachable_prompt(session, team, id_of(blocked.member), at)
    _unreachable_prompt(session, team, id_of(gone.member), at)
    gone.membership.active = False
    session.add(gone.membership)
    session.commit()
    now = datetime.now(UTC)

    listed = rhythm.unreachable_members(session=session, team_id=id_of(team), now=now)
    assert [m.name for m in listed] == ["Bente"]
    # Older than the window: no longer listed.
    assert (
        rhythm.unreachable_members(
            session=session, team_id=id_of(team), now=now + timedelta(days=31)
        )
        == []
    )

    # Bente writes to the bot again (a conversation step): she is no longer listed.
    session.add(
        Conversation(
            telegram_id=blocked.member.telegram_id,
            chat_id=blocked.member.telegram_id,
            flow="note",
            state="note.resident",
            updated_at=now,
        )
    )
    session.commit()
    assert rhythm.unreachable_members(session=session, team_id=id_of(team), now=now) == []
    assert fine.member.id not in [m.id for m in listed]
    assert session.get(Member, id_of(blocked.member)) is not None
    assert {p.status for p in session.exec(select(Prompt)).all()} == {PromptStatus.UNREACHABLE}


def test_a_focus_whose_day_passed_is_planned_late_within_its_month_once(
    session: Session,
) -> None:
    team = make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    rhythm.set_focus(
        session=session,
        team_id=id_of(team),
        month=date(2026, 8, 1),
        text="Måltider",
        member_id=id_of(lead.member),
    )
    # Set (or the bot back) on 10 August: due at once, as planned for the 3rd.
    late = local(2026, 8, 10, 12, 0).astimezone(UTC)
    assert rhythm.plan(session=session, now=late, tz=TZ) == 1
    [planned] = _prompts(session, rhythm.MONTHLY_FOCUS)
    assert planned.due_at == local(2026, 8, 3, 8, 0).astimezone(UTC)
    # A member who joins later in the month gets it at the next run; nobody gets it twice.
    newcomer = _member(session, team)
    assert rhythm.plan(session=session, now=late + timedelta(minutes=30), tz=TZ) == 2
    assert sorted(p.member_id or 0 for p in _prompts(session, rhythm.MONTHLY_FOCUS)) == sorted(
        [id_of(lead.member), newcomer]
    )
    # In September, August's focus is not planned any more.
    later = _member(session, team)
    rhythm.plan(session=session, now=local(2026, 9, 1, 0, 30).astimezone(UTC), tz=TZ)
    assert later not in {p.member_id for p in _prompts(session, rhythm.MONTHLY_FOCUS)}
