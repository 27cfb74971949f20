"""Two dispatchers against one PostgreSQL database send every prompt once.

Each worker is what a second bot process would be: its own thread with its own event
loop, its own engine (so its own connections and transactions), its own rate-limited
bot talking HTTP to the one Bot API emulator, and its own worker name. The test
renderer sends one message naming the prompt id and the worker, so the emulator's
chats show who sent what, and how often. The clock is a ``Clock`` the test moves.

Proves docs/scheduling.md: "Once, with two processes" (1,000 prompts, each sent once,
by both workers), a blocked member does not stop the fan-out, ``RetryAfter`` postpones
without losing the prompt, and the at-least-once window: a worker that sent but could
not mark (or died right after the send) has its prompt sent again by the other worker
once the lease ran out, exactly twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select
from telegram import Bot
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.prompts import DEFAULT_LEASE, Dispatcher, Renderer, SendLimiter
from sandbox.emulator import BotApiEmulator
from storage import prompts
from storage.db import make_engine
from storage.models import Member, Prompt, PromptStatus
from tests.factories import id_of, make_member, make_team

# PostgreSQL only: SQLite is one process by design (docs/scheduling.md).
pytestmark = pytest.mark.parametrize(
    "empty_database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

TOKEN = "123456:TEST-TOKEN-two-dispatchers"
KIND = "test.fanout"
START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
FIRST_TELEGRAM_ID = 6_100_000_000
# The "once" proof does not need Telegram's pace; tests/test_dispatcher.py and
# bench/fanout.py check the 30 a second.
FAST = 5_000
SENT_TEXT = re.compile(r"prompt (\d+) from (w\d)")


class Clock:
    """A clock the test sets and moves (read by both workers' threads)."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


def renderer_for(worker: str) -> Renderer:
    """A renderer that sends the member one message naming the prompt and the worker."""

    async def render(bot: Bot, prompt: Prompt, session: Session) -> None:
        assert prompt.member_id is not None
        member = session.get(Member, prompt.member_id)
        assert member is not None
        await bot.send_message(member.telegram_id, f"prompt {prompt.id} from {worker}")

    return render


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN) as emu:
        yield emu


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@contextmanager
def worker(
    name: str,
    *,
    database_url: str,
    emulator: BotApiEmulator,
    clock: Clock,
    batch: int = 50,
) -> Iterator[Dispatcher]:
    """A dispatcher as a second process would have it: its own engine and its own bot
    (initialise ``dispatcher.bot`` in the loop that uses it)."""
    engine = make_engine(database_url)
    bot: ExtBot[None] = ExtBot(
        TOKEN,
        base_url=emulator.base_url,
        base_file_url=emulator.base_file_url,
        request=HTTPXRequest(connection_pool_size=8),
        rate_limiter=SendLimiter(overall_per_second=FAST),
    )
    try:
        yield Dispatcher(
            bot=bot,
            engine=engine,
            renderers={KIND: renderer_for(name)},
            now=clock,
            worker=name,
            batch=batch,
        )
    finally:
        engine.dispose()


async def drain(dispatcher: Dispatcher) -> int:
    """Runs rounds until one finds nothing due; returns how many prompts were claimed."""
    claimed = 0
    while handled := await dispatcher.run_once():
        claimed += handled
    return claimed


def _drain_in_own_loop(dispatcher: Dispatcher, start: threading.Barrier) -> int:
    """A worker's thread: its own event loop, like another process; starts at the barrier."""

    async def main() -> int:
        await dispatcher.bot.initialize()
        try:
            start.wait(timeout=30)
            return await drain(dispatcher)
        finally:
            await dispatcher.bot.shutdown()

    return asyncio.run(main())


async def drain_both(first: Dispatcher, second: Dispatcher) -> tuple[int, int]:
    """Both workers drain the queue at the same time, each in its own thread and loop
    (the emulator keeps answering in this one)."""
    start = threading.Barrier(2)
    claimed = await asyncio.gather(
        asyncio.to_thread(_drain_in_own_loop, first, start),
        asyncio.to_thread(_drain_in_own_loop, second, start),
    )
    return claimed[0], claimed[1]


def seed(
    engine: Engine, emulator: BotApiEmulator, *, members: int, prompts_count: int
) -> tuple[dict[int, int], list[int]]:
    """A team of ``members`` (each with an emulator chat) and ``prompts_count`` due
    prompts, prompt ``i`` to member ``i % members``, due a little before ``START`` in
    that order; returns (telegram id by member id, prompt ids in due order)."""
    with Session(engine, expire_on_commit=False) as session:
        team = make_team(session=session)
        telegram_by_member: dict[int, int] = {}
        for index in range(members):
            telegram_id = FIRST_TELEGRAM_ID + index
            emulator.user(telegram_id, f"Member {index}")
            member = make_member(session=session, team=team, telegram_id=telegram_id)
            telegram_by_member[id_of(member.member)] = telegram_id
        member_ids = list(telegram_by_member)
        session.execute(
            insert(Prompt),
            [
                {
                    "kind": KIND,
                    "team_id": id_of(team),
                    "member_id": member_ids[i % members],
                    "due_at": START - timedelta(seconds=prompts_count - i),
                    "payload": {},
                    "status": PromptStatus.PENDING,
                    "attempts": 0,
                    "dedupe_key": f"fanout:{i}",
                    "created_at": START - timedelta(days=1),
                }
                for i in range(prompts_count)
            ],
        )
        session.commit()
        ids = [
            prompt_id
            for prompt_id in session.exec(select(Prompt.id).order_by(col(Prompt.due_at))).all()
            if prompt_id is not None
        ]
    return telegram_by_member, ids


def rows(engine: Engine) -> dict[int, Prompt]:
    """Every prompt as stored, by id."""
    with Session(engine) as session:
        stored = list(session.exec(select(Prompt)).all())
        for prompt in stored:
            session.expunge(prompt)
    return {id_of_prompt(prompt): prompt for prompt in stored}


def id_of_prompt(prompt: Prompt) -> int:
    assert prompt.id is not None
    return prompt.id


def sent_texts(emulator: BotApiEmulator) -> list[tuple[int, str, int]]:
    """(prompt id, worker, chat id) of every message the bots sent, in the emulator."""
    found = []
    for chat in emulator.chats.values():
        for message in chat.messages.values():
            if message.from_bot:
                match = SENT_TEXT.fullmatch(message.text)
                assert match is not None, message.text
                found.append((int(match[1]), match[2], chat.id))
    return found


def workers(
    database_url: str, emulator: BotApiEmulator, clock: Clock, **options: Any
) -> Callable[[str], Any]:
    return lambda name: worker(
        name, database_url=database_url, emulator=emulator, clock=clock, **options
    )


async def test_two_dispatchers_send_each_of_1000_prompts_exactly_once(
    engine: Engine, database_url: str, emulator: BotApiEmulator, clock: Clock
) -> None:
    telegram_by_member, ids = seed(engine, emulator, members=50, prompts_count=1000)
    new = workers(database_url, emulator, clock)

    with new("w1") as first, new("w2") as second:
        claimed = await drain_both(first, second)

    assert sum(claimed) == 1000
    assert all(claimed), f"both workers must have claimed some: {claimed}"
    sent = sent_texts(emulator)
    per_prompt = Counter(prompt_id for prompt_id, _, _ in sent)
    assert sorted(per_prompt) == sorted(ids)
    assert set(per_prompt.values()) == {1}
    stored = rows(engine)
    assert {prompt.status for prompt in stored.values()} == {PromptStatus.SENT}
    assert {prompt.sent_at for prompt in stored.values()} == {START}
    # Each went to its own member, and the row names the worker whose message arrived.
    for prompt_id, worker_name, chat_id in sent:
        prompt = stored[prompt_id]
        assert prompt.member_id is not None
        assert telegram_by_member[prompt.member_id] == chat_id
        assert prompt.claimed_by == worker_name
    by_worker = Counter(worker_name for _, worker_name, _ in sent)
    assert by_worker["w1"] > 0 and by_worker["w2"] > 0
    assert by_worker["w1"] == claimed[0] and by_worker["w2"] == claimed[1]
    # Nothing left behind: every send was one HTTP call, no retries.
    assert len(emulator.calls_for("sendMessage")) == 1000


async def test_a_blocked_member_is_unreachable_and_the_fan_out_goes_on(
    engine: Engine, database_url: str, emulator: BotApiEmulator, clock: Clock
) -> None:
    telegram_by_member, ids = seed(engine, emulator, members=30, prompts_count=300)
    blocked_member = list(telegram_by_member)[13]
    emulator.block(telegram_by_member[blocked_member])
    new = workers(database_url, emulator, clock, batch=20)

    with new("w1") as first, new("w2") as second:
        claimed = await drain_both(first, second)

    assert sum(claimed) == 300 and all(claimed)
    stored = rows(engine)
    theirs = sorted(
        (p for p in stored.values() if p.member_id == blocked_member), key=lambda p: p.due_at
    )
    others = [p for p in stored.values() if p.member_id != blocked_member]
    assert len(theirs) == 10
    # Their prompts are spread over the whole fan-out (the first is the 14th of 300).
    assert ids.index(id_of_prompt(theirs[0])) == 13 and ids.index(id_of_prompt(theirs[-1])) > 280
    assert {(p.status, p.last_error) for p in theirs} == {(PromptStatus.UNREACHABLE, "Forbidden")}
    assert {p.status for p in others} == {PromptStatus.SENT}
    sent = Counter(prompt_id for prompt_id, _, _ in sent_texts(emulator))
    assert sorted(sent) == sorted(id_of_prompt(p) for p in others)
    assert set(sent.values()) == {1}
    assert list(emulator.chat(telegram_by_member[blocked_member]).messages.values()) == []
    with Session(engine) as session:
        assert prompts.unreachable_member_ids(
            session=session, team_id=theirs[0].team_id, since=START - timedelta(hours=1)
        ) == [blocked_member]


async def test_retry_after_postpones_one_prompt_and_it_is_still_sent_once(
    engine: Engine, database_url: str, emulator: BotApiEmulator, clock: Clock
) -> None:
    _, ids = seed(engine, emulator, members=20, prompts_count=200)
    emulator.fail_next("sendMessage", error_code=429, retry_after=1)
    new = workers(database_url, emulator, clock, batch=20)

    with new("w1") as first, new("w2") as second:
        assert sum(await drain_both(first, second)) == 200
    stored = rows(engine)
    postponed = [p for p in stored.values() if p.status == PromptStatus.PENDING]
    assert len(postponed) == 1
    assert postponed[0].due_at == START + timedelta(seconds=1)
    assert (postponed[0].attempts, postponed[0].last_error) == (0, "RetryAfter")
    assert [p.status for p in stored.values()].count(PromptStatus.SENT) == 199
    assert id_of_prompt(postponed[0]) not in {pid for pid, _, _ in sent_texts(emulator)}

    # Not before its time, by either worker; then by whichever claims it first.
    with new("w1") as first, new("w2") as second:
        assert sum(await drain_both(first, second)) == 0
    clock.advance(timedelta(seconds=1))
    with new("w1") as first, new("w2") as second:
        assert sum(await drain_both(first, second)) == 1

    sent = Counter(prompt_id for prompt_id, _, _ in sent_texts(emulator))
    assert sorted(sent) == sorted(ids)
    assert set(sent.values()) == {1}
    assert {p.status for p in rows(engine).values()} == {PromptStatus.SENT}
    assert [call.status for call in emulator.calls_for("sendMessage")].count(429) == 1


def _one_prompt_each(engine: Engine, emulator: BotApiEmulator, count: int) -> list[int]:
    _, ids = seed(engine, emulator, members=count, prompts_count=count)
    return list(ids)


async def test_sent_but_not_marked_is_sent_again_after_the_lease_exactly_twice(
    engine: Engine,
    database_url: str,
    emulator: BotApiEmulator,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = _one_prompt_each(engine, emulator, 3)
    real_mark_sent = prompts.mark_sent

    def mark_sent(*, session: Session, prompt_id: int, worker: str, now: datetime) -> bool:
        """w1's database connection dies between Telegram's answer and the mark."""
        if worker == "w1":
            raise OperationalError("UPDATE prompt", {}, ConnectionError("server closed"))
        return real_mark_sent(session=session, prompt_id=prompt_id, worker=worker, now=now)

    monkeypatch.setattr(prompts, "mark_sent", mark_sent)
    new = workers(database_url, emulator, clock)
    with new("w1") as first, new("w2") as second:
        await first.bot.initialize()
        await second.bot.initialize()
        with caplog.at_level(logging.ERROR, logger="bot.prompts"):
            assert await first.run_once() == 3
        assert sorted(pid for pid, _, _ in sent_texts(emulator)) == ids
        assert {p.status for p in rows(engine).values()} == {PromptStatus.CLAIMED}
        lost = {record.getMessage() for record in caplog.records if record.name == "bot.prompts"}
        assert lost == {f"Prompt {pid} was sent but not marked (OperationalError)" for pid in ids}

        # The other worker leaves them while w1's lease holds ...
        clock.advance(DEFAULT_LEASE - timedelta(seconds=1))
        assert await second.run_once() == 0
        # ... and sends them again once it ran out: the documented at-least-once window.
        clock.advance(timedelta(seconds=1))
        assert await second.run_once() == 3
        # w1 coming back late cannot overwrite what w2 did.
        with Session(engine) as session:
            assert not real_mark_sent(session=session, prompt_id=ids[0], worker="w1", now=START)
            session.commit()
        await first.bot.shutdown()
        await second.bot.shutdown()

    sent = sent_texts(emulator)
    assert Counter(pid for pid, _, _ in sent) == {pid: 2 for pid in ids}
    assert sorted((pid, w) for pid, w, _ in sent) == sorted(
        [(pid, "w1") for pid in ids] + [(pid, "w2") for pid in ids]
    )
    stored = rows(engine)
    assert {(p.status, p.claimed_by, p.sent_at) for p in stored.values()} == {
        (PromptStatus.SENT, "w2", START + DEFAULT_LEASE)
    }


async def test_a_worker_killed_after_the_send_has_its_prompt_sent_again_once(
    engine: Engine, database_url: str, emulator: BotApiEmulator, clock: Clock
) -> None:
    [prompt_id] = _one_prompt_each(engine, emulator, 1)
    sent = asyncio.Event()
    sends = renderer_for("w1")

    async def send_then_hang(bot: Bot, prompt: Prompt, session: Session) -> None:
        """Telegram has the message; then the process stops before the mark."""
        await sends(bot, prompt, session)
        sent.set()
        await asyncio.Event().wait()

    new = workers(database_url, emulator, clock)
    with new("w1") as first, new("w2") as second:
        first.renderers[KIND] = send_then_hang
        await first.bot.initialize()
        await second.bot.initialize()
        killed = asyncio.create_task(first.run_once())
        await asyncio.wait_for(sent.wait(), timeout=10)
        killed.cancel()  # the process is gone (kill -9, a deploy)
        with pytest.raises(asyncio.CancelledError):
            await killed
        assert rows(engine)[prompt_id].status == PromptStatus.CLAIMED

        assert await second.run_once() == 0
        clock.advance(DEFAULT_LEASE)
        assert await second.run_once() == 1
        assert await second.run_once() == 0
        await first.bot.shutdown()
        await second.bot.shutdown()

    assert sorted((pid, w) for pid, w, _ in sent_texts(emulator)) == [
        (prompt_id, "w1"),
        (prompt_id, "w2"),
    ]
    assert rows(engine)[prompt_id].status == PromptStatus.SENT
