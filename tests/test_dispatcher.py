"""The prompt dispatcher against the Bot API emulator, on SQLite and PostgreSQL.

The clock is a ``Clock`` the test moves; rounds run by ``run_once``, never by waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from telegram import Bot
from telegram.error import RetryAfter
from telegram.ext import ExtBot

from bot.prompts import Dispatcher, SendLimiter
from sandbox.emulator import BotApiEmulator
from storage import prompts, rhythm
from storage.models import Member, Prompt, PromptStatus
from tests.factories import id_of, make_member, make_team

TOKEN = "123456:TEST-TOKEN-dispatcher"
KIND = "test.reminder"
START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test sets and moves."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


async def render_reminder(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Sends the member a message naming the prompt (the test's own kind)."""
    assert prompt.member_id is not None
    member = session.get(Member, prompt.member_id)
    assert member is not None
    await bot.send_message(member.telegram_id, f"reminder {prompt.dedupe_key}")


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN) as emu:
        yield emu


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
async def dispatcher(
    emulator: BotApiEmulator, engine: Engine, clock: Clock
) -> AsyncIterator[Dispatcher]:
    bot: ExtBot[None] = ExtBot(
        TOKEN,
        base_url=emulator.base_url,
        base_file_url=emulator.base_file_url,
        rate_limiter=SendLimiter(),
    )
    await bot.initialize()
    yield Dispatcher(
        bot=bot, engine=engine, renderers={KIND: render_reminder}, now=clock, worker="w1"
    )
    await bot.shutdown()


def _members(engine: Engine, emulator: BotApiEmulator, *telegram_ids: int) -> dict[int, int]:
    """Members of one team with these Telegram ids (and emulator chats); member id by tg id."""
    with Session(engine, expire_on_commit=False) as session:
        team = make_team(session=session)
        ids = {}
        for telegram_id in telegram_ids:
            emulator.user(telegram_id, f"User {telegram_id}")
            member = make_member(session=session, team=team, telegram_id=telegram_id)
            ids[telegram_id] = id_of(member.member)
        session.commit()
    return ids


def _schedule(engine: Engine, member_id: int, key: str, due_at: datetime) -> int:
    with Session(engine, expire_on_commit=False) as session:
        member = session.get(Member, member_id)
        assert member is not None and member.current_team_id is not None
        prompt = prompts.schedule(
            session=session,
            kind=KIND,
            team_id=member.current_team_id,
            member_id=member_id,
            dedupe_key=key,
            due_at=due_at,
        )
        session.commit()
        assert prompt.id is not None
        return prompt.id


def _stored(engine: Engine, prompt_id: int) -> Prompt:
    with Session(engine) as session:
        prompt = session.get(Prompt, prompt_id)
        assert prompt is not None
        session.expunge(prompt)
        return prompt


def _received(emulator: BotApiEmulator, telegram_id: int) -> list[str]:
    return [m.text for m in emulator.chat(telegram_id).messages.values() if m.from_bot]


async def test_due_prompts_are_sent_and_later_ones_wait_for_their_time(
    dispatcher: Dispatcher, emulator: BotApiEmulator, engine: Engine, clock: Clock
) -> None:
    members = _members(engine, emulator, 101, 102)
    due = _schedule(engine, members[101], "due", START - timedelta(minutes=1))
    later = _schedule(engine, members[102], "later", START + timedelta(minutes=10))

    assert await dispatcher.run_once() == 1

    assert _received(emulator, 101) == ["reminder due"]
    assert _received(emulator, 102) == []
    assert _stored(engine, due).status == PromptStatus.SENT
    assert _stored(engine, due).sent_at == START
    assert _stored(engine, later).status == PromptStatus.PENDING

    clock.advance(timedelta(minutes=9, seconds=59))
    assert await dispatcher.run_once() == 0
    clock.advance(timedelta(seconds=1))
    assert await dispatcher.run_once() == 1

    assert _received(emulator, 102) == ["reminder later"]
    assert _received(emulator, 101) == ["reminder due"]
    assert await dispatcher.run_once() == 0


async def test_a_member_who_blocked_the_bot_is_unreachable_and_the_others_get_theirs(
    dispatcher: Dispatcher, emulator: BotApiEmulator, engine: Engine
) -> None:
    members = _members(engine, emulator, 201, 202, 203)
    ids = {tg: _schedule(engine, member, f"m{tg}", START) for tg, member in members.items()}
    emulator.block(202)

    assert await dispatcher.run_once() == 3

    assert _received(emulator, 201) == ["reminder m201"]
    assert _received(emulator, 203) == ["reminder m203"]
    blocked = _stored(engine, ids[202])
    assert (blocked.status, blocked.last_error) == (PromptStatus.UNREACHABLE, "Forbidden")
    assert _stored(engine, ids[201]).status == PromptStatus.SENT
    assert _stored(engine, ids[203]).status == PromptStatus.SENT
    with Session(engine) as session:
        assert prompts.unreachable_member_ids(
            session=session, team_id=blocked.team_id, since=START
        ) == [members[202]]


async def test_retry_after_puts_the_prompt_back_and_it_is_sent_later(
    dispatcher: Dispatcher, emulator: BotApiEmulator, engine: Engine, clock: Clock
) -> None:
    members = _members(engine, emulator, 301, 302, 303)
    ids = [_schedule(engine, member, f"r{tg}", START) for tg, member in members.items()]
    emulator.fail_next("sendMessage", error_code=429, retry_after=1)

    assert await dispatcher.run_once() == 3

    stored = [_stored(engine, prompt_id) for prompt_id in ids]
    postponed = [prompt for prompt in stored if prompt.status == PromptStatus.PENDING]
    assert len(postponed) == 1
    assert postponed[0].due_at == START + timedelta(seconds=1)
    assert postponed[0].attempts == 0
    assert postponed[0].last_error == "RetryAfter"
    assert sorted(p.status for p in stored).count(PromptStatus.SENT) == 2

    assert await dispatcher.run_once() == 0
    clock.advance(timedelta(seconds=1))
    assert await dispatcher.run_once() == 1

    for tg in members:
        assert _received(emulator, tg) == [f"reminder r{tg}"]
    assert {_stored(engine, prompt_id).status for prompt_id in ids} == {PromptStatus.SENT}


async def test_other_errors_are_retried_with_backoff(
    dispatcher: Dispatcher, emulator: BotApiEmulator, engine: Engine, clock: Clock
) -> None:
    members = _members(engine, emulator, 401)
    prompt_id = _schedule(engine, members[401], "x", START)
    emulator.fail_next("sendMessage", error_code=500)

    assert await dispatcher.run_once() == 1

    failed = _stored(engine, prompt_id)
    assert (failed.status, failed.attempts, failed.due_at) == (
        PromptStatus.PENDING,
        1,
        START + timedelta(minutes=1),
    )
    clock.advance(timedelta(minutes=1))
    assert await dispatcher.run_once() == 1
    assert _received(emulator, 401) == ["reminder x"]


async def test_kinds_without_a_renderer_are_left_alone(
    dispatcher: Dispatcher, emulator: BotApiEmulator, engine: Engine
) -> None:
    members = _members(engine, emulator, 501)
    with Session(engine) as session:
        member = session.get(Member, members[501])
        assert member is not None and member.current_team_id is not None
        prompts.schedule(
            session=session,
            kind="not.known.here",
            team_id=member.current_team_id,
            dedupe_key="unknown",
            due_at=START,
        )
        session.commit()

    assert await dispatcher.run_once() == 0
    with Session(engine) as session:
        unknown = prompts.get_by_key(session=session, dedupe_key="unknown")
        assert unknown is not None
        assert unknown.status == PromptStatus.PENDING


async def _request_times(limiter: SendLimiter, chat_id: int, count: int) -> list[float]:
    """When each of ``count`` requests to ``chat_id`` left the limiter (loop time)."""
    loop = asyncio.get_running_loop()
    times: list[float] = []

    async def request() -> bool:
        times.append(loop.time())
        return True

    for _ in range(count):
        await limiter.process_request(request, (), {}, "sendMessage", {"chat_id": chat_id}, None)
    return times


def _busiest(times: list[float], window: float) -> int:
    """The most requests that left within any ``window`` seconds (give a window a little
    under the limit's period: the limiter's clock and the loop's differ by microseconds)."""
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


async def _timed_requests(limiter: SendLimiter, chat_id: int, count: int) -> float:
    """Seconds ``count`` requests to ``chat_id`` take through the limiter."""
    started = asyncio.get_running_loop().time()
    times = await _request_times(limiter, chat_id, count)
    return times[-1] - started


async def test_the_limiter_keeps_the_overall_and_the_per_group_rate() -> None:
    # The group's minute scaled down to a second: 100 a second overall, 10 a "minute" per group.
    limiter = SendLimiter(overall_per_second=100, group_per_minute=10, group_period=1)

    private = await _request_times(limiter, 42, 150)
    assert _busiest(private, 0.98) <= 100  # not even in the first second
    assert private[-1] - private[0] >= 1.4
    group = await _request_times(limiter, -42, 15)
    assert _busiest(group, 0.98) <= 10
    assert group[-1] - group[0] >= 1.3


async def test_after_retry_after_the_limiter_holds_every_request_back() -> None:
    limiter = SendLimiter()

    async def flooded() -> bool:
        raise RetryAfter(1)

    with pytest.raises(RetryAfter):
        await limiter.process_request(flooded, (), {}, "sendMessage", {"chat_id": 1}, None)

    assert await _timed_requests(limiter, 2, 1) >= 0.9


# ------------------------------------------------------------------ the gate (storage.rhythm)

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def _gated(dispatcher: Dispatcher) -> Dispatcher:
    """The same dispatcher with the application's gate: quiet hours, mute and absence."""

    def gate(session: Session, prompt: Prompt, now: datetime) -> datetime | None:
        return rhythm.hold_until(session=session, prompt=prompt, now=now, tz=COPENHAGEN)

    dispatcher.gate = gate
    return dispatcher


async def test_a_muted_members_prompt_is_held_without_an_attempt_and_sent_after_the_mute(
    dispatcher: Dispatcher, emulator: BotApiEmulator, engine: Engine, clock: Clock
) -> None:
    members = _members(engine, emulator, 601, 602)
    muted = _schedule(engine, members[601], "muted", START)
    other = _schedule(engine, members[602], "other", START)
    with Session(engine) as session:
        rhythm.mute(
            session=session, member_id=members[601], until=START + timedelta(hours=1), now=START
        )
        session.commit()
    _gated(dispatcher)

    assert await dispatcher.run_once() == 2

    assert _received(emulator, 601) == []
    assert _received(emulator, 602) == ["reminder other"]
    held = _stored(engine, muted)
    assert (held.status, held.due_at, held.attempts, held.claimed_by) == (
        PromptStatus.PENDING,
        START + timedelta(hours=1),
        0,
        None,
    )
    assert _stored(engine, other).status == PromptStatus.SENT

    clock.advance(timedelta(minutes=59))
    assert await dispatcher.run_once() == 0
    clock.advance(timedelta(minutes=1))
    assert await dispatcher.run_once() == 1
    assert _received(emulator, 601) == ["reminder muted"]
    assert _stored(engine, muted).status == PromptStatus.SENT


async def test_a_prompt_held_past_its_expiry_is_dropped_not_sent(
    dispatcher: Dispatcher, emulator: BotApiEmulator, engine: Engine, clock: Clock
) -> None:
    members = _members(engine, emulator, 701)
    with Session(engine) as session:
        member = session.get(Member, members[701])
        assert member is not None and member.current_team_id is not None
        rhythm.add_absence(
            session=session,
            member_id=members[701],
            first=START.astimezone(COPENHAGEN).date(),
            last=START.astimezone(COPENHAGEN).date(),
            tz=COPENHAGEN,
        )
        prompt = prompts.schedule(
            session=session,
            kind=KIND,
            team_id=member.current_team_id,
            member_id=members[701],
            dedupe_key="away",
            due_at=START,
            expires_at=START + timedelta(hours=2),
        )
        session.commit()
        prompt_id = prompt.id
    assert prompt_id is not None
    _gated(dispatcher)

    assert await dispatcher.run_once() == 1
    assert _stored(engine, prompt_id).status == PromptStatus.PENDING

    clock.advance(timedelta(days=1))
    assert await dispatcher.run_once() == 0
    assert _stored(engine, prompt_id).status == PromptStatus.DROPPED
    assert _received(emulator, 701) == []


async def test_outside_the_members_shifts_the_prompt_waits_for_their_next_shift(
    dispatcher: Dispatcher, emulator: BotApiEmulator, engine: Engine, clock: Clock
) -> None:
    # START is 13:00 in Copenhagen: a night worker is off shift until 23:00.
    members = _members(engine, emulator, 801)
    with Session(engine) as session:
        member = session.get(Member, members[801])
        assert member is not None and member.current_team_id is not None
        rhythm.set_preference(
            session=session,
            member_id=members[801],
            team_id=member.current_team_id,
            shifts=["night"],
        )
        session.commit()
    prompt_id = _schedule(engine, members[801], "night", START)
    _gated(dispatcher)

    assert await dispatcher.run_once() == 1
    night = datetime(2026, 11, 24, 23, 0, tzinfo=COPENHAGEN).astimezone(UTC)
    assert _stored(engine, prompt_id).due_at == night
    assert _received(emulator, 801) == []

    clock.current = night
    assert await dispatcher.run_once() == 1
    assert _received(emulator, 801) == ["reminder night"]
