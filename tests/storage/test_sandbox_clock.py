"""The sandbox's fast-forward: the clock every part reads moves ahead, never back, and stops
where the next prompt (or the next meeting notice) is due, so the bot sends it.

Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from sandbox.clock import PAST_DUE, FastForward
from storage import meetings, prompts
from storage.db import move_clock_ahead, session_scope, utcnow
from tests.factories import id_of, make_member


class CatchUps:
    """Counts the catch-ups and what the clock said at each."""

    def __init__(self) -> None:
        self.times: list[datetime] = []

    async def __call__(self) -> None:
        self.times.append(utcnow())


def _team_with_prompts(engine: Engine, *due_in: tuple[str, timedelta]) -> int:
    with session_scope(engine) as session:
        member = make_member(session=session)
        session.flush()
        team_id = member.membership.team_id
        for number, (kind, delta) in enumerate(due_in):
            prompts.schedule(
                session=session,
                kind=kind,
                team_id=team_id,
                member_id=id_of(member.member),
                dedupe_key=f"test:{number}",
                due_at=utcnow() + delta,
                payload={},
            )
    return team_id


async def test_a_step_moves_every_reading_of_the_clock_ahead(engine: Engine) -> None:
    catch_ups = CatchUps()
    clock = FastForward(engine=engine, catch_up=catch_ups)
    before = utcnow()

    moved = await clock.step("day")

    assert moved is not None
    assert timedelta(days=1) <= utcnow() - before < timedelta(days=1, minutes=1)
    assert len(catch_ups.times) == 1 and catch_ups.times[0] >= before + timedelta(days=1)


async def test_next_stops_just_after_the_next_pending_prompt(engine: Engine) -> None:
    team_id = _team_with_prompts(
        engine,
        ("trial.checkin", timedelta(days=3)),
        ("pulse.reminder", timedelta(hours=5)),
    )
    clock = FastForward(engine=engine, catch_up=CatchUps(), team_id=team_id)
    with session_scope(engine) as session:
        due = prompts.next_pending(session=session, after=utcnow(), team_id=team_id)
        assert due is not None and due.kind == "pulse.reminder"
        due_at = due.due_at

    moved = await clock.step("next")

    assert moved is not None and due_at < moved <= due_at + PAST_DUE + timedelta(seconds=5)


async def test_meeting_skips_other_prompts_to_the_next_meeting_notice(engine: Engine) -> None:
    team_id = _team_with_prompts(
        engine,
        ("pulse.reminder", timedelta(hours=5)),
        (meetings.KIND_DAY_BEFORE, timedelta(days=2)),
    )
    clock = FastForward(engine=engine, catch_up=CatchUps(), team_id=team_id)
    start = utcnow()

    moved = await clock.step("meeting")

    assert moved is not None
    assert timedelta(days=2) <= moved - start < timedelta(days=2, minutes=1)


async def test_nothing_ahead_leaves_the_clock_where_it_is(engine: Engine) -> None:
    team_id = _team_with_prompts(engine)
    catch_ups = CatchUps()
    clock = FastForward(engine=engine, catch_up=catch_ups, team_id=team_id)
    start = utcnow()

    assert await clock.step("meeting") is None
    assert await clock.step("next") is None
    assert utcnow() - start < timedelta(minutes=1)
    assert catch_ups.times == []


async def test_another_teams_prompts_are_not_where_it_stops(engine: Engine) -> None:
    other = _team_with_prompts(engine, ("pulse.reminder", timedelta(hours=1)))
    mine = _team_with_prompts(engine)
    assert other != mine
    clock = FastForward(engine=engine, catch_up=CatchUps(), team_id=mine)

    assert await clock.step("next") is None


def test_the_clock_never_moves_back() -> None:
    with pytest.raises(ValueError):
        move_clock_ahead(timedelta(seconds=-1))


async def test_an_unknown_step_is_refused(engine: Engine) -> None:
    clock = FastForward(engine=engine, catch_up=CatchUps())
    with pytest.raises(ValueError):
        await clock.step("yesterday")
