"""The prompt queue: idempotent scheduling, claiming once, expiry, leases, two workers.

Every test runs on SQLite and on PostgreSQL; time is passed as ``now=``, never waited for.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select

from storage import prompts
from storage.db import make_engine
from storage.models import Prompt, PromptStatus
from tests.factories import id_of, make_member, make_team

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def _team_and_member(session: Session) -> tuple[int, int]:
    member = make_member(session=session)
    session.commit()
    return member.membership.team_id, id_of(member.member)


def _schedule(
    session: Session,
    team_id: int,
    key: str,
    *,
    due_at: datetime = NOW,
    expires_at: datetime | None = None,
    member_id: int | None = None,
) -> Prompt:
    return prompts.schedule(
        session=session,
        kind="meeting.hour_before",
        team_id=team_id,
        member_id=member_id,
        dedupe_key=key,
        due_at=due_at,
        expires_at=expires_at,
        payload={"meeting_id": 1},
    )


def _claim(session: Session, worker: str = "w1", now: datetime = NOW) -> list[int]:
    claimed = prompts.claim_due(session=session, now=now, worker=worker, limit=100, lease=LEASE)
    session.commit()
    return [id_of_prompt(prompt) for prompt in claimed]


def id_of_prompt(prompt: Prompt) -> int:
    assert prompt.id is not None
    return prompt.id


def test_scheduling_the_same_key_twice_keeps_one_prompt(session: Session) -> None:
    team_id, member_id = _team_and_member(session)

    first = _schedule(session, team_id, "meeting:1:hour_before:7", member_id=member_id)
    second = _schedule(session, team_id, "meeting:1:hour_before:7", due_at=NOW + timedelta(days=1))
    session.commit()

    assert second.id == first.id
    assert second.due_at == NOW
    assert second.member_id == member_id
    assert second.payload == {"meeting_id": 1}
    assert _claim(session) == [first.id]


def test_a_due_prompt_is_claimed_once_and_a_future_one_not_yet(session: Session) -> None:
    team_id, _ = _team_and_member(session)
    due = _schedule(session, team_id, "a", due_at=NOW - timedelta(minutes=1))
    later = _schedule(session, team_id, "b", due_at=NOW + timedelta(minutes=1))
    session.commit()

    assert _claim(session, "w1") == [due.id]
    assert _claim(session, "w2") == []
    assert _claim(session, "w2", now=NOW + timedelta(minutes=1)) == [later.id]

    stored = prompts.get(session=session, prompt_id=id_of_prompt(due))
    assert stored is not None
    assert stored.status == PromptStatus.CLAIMED
    assert stored.claimed_by == "w1"
    assert stored.claimed_at == NOW


def test_an_expired_prompt_is_dropped_not_claimed(session: Session) -> None:
    team_id, _ = _team_and_member(session)
    expired = _schedule(
        session,
        team_id,
        "old",
        due_at=NOW - timedelta(hours=2),
        expires_at=NOW - timedelta(hours=1),
    )
    useful = _schedule(
        session,
        team_id,
        "late",
        due_at=NOW - timedelta(hours=2),
        expires_at=NOW + timedelta(hours=1),
    )
    session.commit()

    assert _claim(session) == [useful.id]

    session.expire_all()
    stored = prompts.get(session=session, prompt_id=id_of_prompt(expired))
    assert stored is not None
    assert stored.status == PromptStatus.DROPPED
    assert _claim(session, now=NOW + timedelta(days=1)) == []


def test_a_claim_whose_lease_ran_out_is_claimed_again(session: Session) -> None:
    team_id, _ = _team_and_member(session)
    prompt = _schedule(session, team_id, "k")
    session.commit()

    assert _claim(session, "dead-worker") == [prompt.id]
    assert _claim(session, "w2", now=NOW + LEASE - timedelta(seconds=1)) == []
    assert _claim(session, "w2", now=NOW + LEASE) == [prompt.id]

    # The worker that died cannot mark it any more; the new holder can.
    prompt_id = id_of_prompt(prompt)
    assert not prompts.mark_sent(
        session=session, prompt_id=prompt_id, worker="dead-worker", now=NOW
    )
    assert prompts.mark_sent(session=session, prompt_id=prompt_id, worker="w2", now=NOW)
    session.commit()
    assert _claim(session, "w3", now=NOW + timedelta(days=1)) == []


def test_a_failed_prompt_is_retried_later_and_fails_for_good_without_retry_time(
    session: Session,
) -> None:
    team_id, _ = _team_and_member(session)
    prompt = _schedule(session, team_id, "k")
    session.commit()
    prompt_id = id_of_prompt(prompt)

    _claim(session)
    prompts.mark_failed(
        session=session,
        prompt_id=prompt_id,
        worker="w1",
        error="NetworkError",
        retry_at=NOW + timedelta(minutes=1),
    )
    session.commit()
    assert _claim(session) == []
    assert _claim(session, now=NOW + timedelta(minutes=1)) == [prompt_id]
    prompts.mark_failed(
        session=session, prompt_id=prompt_id, worker="w1", error="BadRequest", retry_at=None
    )
    session.commit()

    session.expire_all()
    stored = prompts.get(session=session, prompt_id=prompt_id)
    assert stored is not None
    assert (stored.status, stored.attempts, stored.last_error) == (
        PromptStatus.FAILED,
        2,
        "BadRequest",
    )
    assert _claim(session, now=NOW + timedelta(days=1)) == []


def test_postponing_burns_no_attempt(session: Session) -> None:
    team_id, _ = _team_and_member(session)
    prompt_id = id_of_prompt(_schedule(session, team_id, "k"))
    session.commit()
    _claim(session)

    assert prompts.postpone(
        session=session,
        prompt_id=prompt_id,
        worker="w1",
        due_at=NOW + timedelta(seconds=30),
        error="RetryAfter",
    )
    session.commit()

    assert _claim(session, now=NOW + timedelta(seconds=29)) == []
    assert _claim(session, now=NOW + timedelta(seconds=30)) == [prompt_id]
    stored = prompts.get(session=session, prompt_id=prompt_id)
    assert stored is not None
    assert stored.attempts == 0


def test_an_unreachable_member_is_listed_for_the_team(session: Session) -> None:
    team_id, member_id = _team_and_member(session)
    prompt_id = id_of_prompt(_schedule(session, team_id, "k", member_id=member_id))
    session.commit()
    _claim(session)

    prompts.mark_unreachable(session=session, prompt_id=prompt_id, worker="w1", error="Forbidden")
    session.commit()

    assert prompts.unreachable_member_ids(
        session=session, team_id=team_id, since=NOW - timedelta(days=1)
    ) == [member_id]
    other_team = id_of(make_team(session=session))
    assert prompts.unreachable_member_ids(session=session, team_id=other_team, since=NOW) == []


def test_cancelling_by_prefix_removes_pending_prompts_and_frees_their_keys(
    session: Session,
) -> None:
    team_id, _ = _team_and_member(session)
    for key in ("meeting:1:day_before", "meeting:1:hour_before", "meeting:12:day_before"):
        _schedule(session, team_id, key, due_at=NOW + timedelta(days=1))
    sent = _schedule(session, team_id, "meeting:1:lead", due_at=NOW)
    session.commit()
    _claim(session)
    prompts.mark_sent(session=session, prompt_id=id_of_prompt(sent), worker="w1", now=NOW)
    session.commit()

    assert prompts.cancel(session=session, key_prefix="meeting:1:") == 2
    session.commit()

    assert prompts.get_by_key(session=session, dedupe_key="meeting:1:day_before") is None
    assert prompts.get_by_key(session=session, dedupe_key="meeting:12:day_before") is not None
    assert prompts.get_by_key(session=session, dedupe_key="meeting:1:lead") is not None
    moved = _schedule(session, team_id, "meeting:1:day_before", due_at=NOW + timedelta(days=2))
    assert moved.due_at == NOW + timedelta(days=2)


def test_only_the_kinds_asked_for_are_claimed(session: Session) -> None:
    team_id, _ = _team_and_member(session)
    known = _schedule(session, team_id, "a")
    prompts.schedule(
        session=session, kind="future.kind", team_id=team_id, dedupe_key="b", due_at=NOW
    )
    session.commit()

    claimed = prompts.claim_due(
        session=session,
        now=NOW,
        worker="w1",
        limit=10,
        lease=LEASE,
        kinds={"meeting.hour_before"},
    )

    assert [prompt.id for prompt in claimed] == [known.id]


def test_two_workers_claim_each_of_1000_due_prompts_exactly_once(
    engine: Engine, database_url: str
) -> None:
    with Session(engine) as session:
        team_id, _ = _team_and_member(session)
        session.execute(
            insert(Prompt),
            [
                {
                    "kind": "meeting.hour_before",
                    "team_id": team_id,
                    "due_at": NOW - timedelta(seconds=i % 60),
                    "payload": {},
                    "status": PromptStatus.PENDING,
                    "attempts": 0,
                    "dedupe_key": f"load:{i}",
                    "created_at": NOW,
                }
                for i in range(1000)
            ],
        )
        session.commit()

    claims: dict[str, list[int]] = {"w1": [], "w2": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(worker: str) -> None:
        # Its own engine: separate connections, as in a separate process.
        own = make_engine(database_url, poolclass=NullPool)
        try:
            start.wait()
            while True:
                with Session(own, expire_on_commit=False) as session:
                    claimed = prompts.claim_due(
                        session=session, now=NOW, worker=worker, limit=7, lease=LEASE
                    )
                    session.commit()
                if not claimed:
                    return
                claims[worker].extend(id_of_prompt(prompt) for prompt in claimed)
        except BaseException as error:
            errors.append(error)
            raise
        finally:
            own.dispose()

    threads = [threading.Thread(target=work, args=(worker,)) for worker in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    counts = Counter(claims["w1"] + claims["w2"])
    assert len(counts) == 1000
    assert set(counts.values()) == {1}
    # Both really worked (the barrier started them together).
    assert claims["w1"] and claims["w2"]
    with Session(engine) as session:
        rows = session.exec(select(Prompt.id, Prompt.claimed_by)).all()
    assert {prompt_id: worker for prompt_id, worker in rows} == {
        prompt_id: worker for worker, ids in claims.items() for prompt_id in ids
    }


def test_settling_the_past_marks_a_teams_due_prompts_sent_and_leaves_the_rest(
    session: Session,
) -> None:
    team_id, member_id = _team_and_member(session)
    other_team, _other_member = _team_and_member(session)
    past = _schedule(session, team_id, "past", due_at=NOW - timedelta(days=2))
    boundary = _schedule(session, team_id, "boundary", due_at=NOW)
    future = _schedule(session, team_id, "future", due_at=NOW + timedelta(hours=1))
    elsewhere = _schedule(session, other_team, "elsewhere", due_at=NOW - timedelta(days=1))
    session.commit()

    assert prompts.settle_past(session=session, team_id=team_id, until=NOW) == 2
    session.commit()

    stored = {
        prompt.dedupe_key: (prompt.status, prompt.sent_at)
        for prompt in session.exec(select(Prompt).execution_options(populate_existing=True))
    }
    assert stored[past.dedupe_key] == (PromptStatus.SENT, NOW - timedelta(days=2))
    assert stored[boundary.dedupe_key] == (PromptStatus.SENT, NOW)
    assert stored[future.dedupe_key] == (PromptStatus.PENDING, None)
    assert stored[elsewhere.dedupe_key] == (PromptStatus.PENDING, None)
    # What was settled is never sent; the rest is claimed as usual.
    claimed = _claim(session, now=NOW + timedelta(hours=2))
    assert claimed == [id_of_prompt(elsewhere), id_of_prompt(future)]
