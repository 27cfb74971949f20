"""The pulse in storage: reverse scoring, the threshold, the prompts of a pulse, and
anonymity at the database level (no table or column joins a member to an answer, and
the stored answers are the same whatever order the members answered in).

Every test runs on SQLite and on PostgreSQL; ``now`` is passed, never waited for.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Date, DateTime, inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from storage import pulse as pulses
from storage.db import make_engine, require_id, session_scope
from storage.models import (
    Prompt,
    Pulse,
    PulseParticipation,
    PulseRepeat,
    PulseTally,
    Role,
    Team,
)
from tests.factories import id_of, make_member, make_team

TZ = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Seven answers as given (1 = helt uenig, 7 = helt enig).
ALL_SEVENS = [7, 7, 7, 7, 7, 7, 7]


def _team_with(session: Session, staff: int) -> tuple[Team, int, list[int]]:
    team = make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    members = [id_of(make_member(session=session, team=team).member) for _ in range(staff)]
    return team, id_of(lead.member), members


def _answer(session: Session, pulse: Pulse, members: list[int], answers: list[list[int]]) -> None:
    for member_id, values in zip(members, answers, strict=True):
        pulses.record_answers(
            session=session, pulse=pulse, member_id=member_id, values=values, now=NOW, tz=TZ
        )


def test_items_1_3_and_5_are_reverse_scored() -> None:
    assert [pulses.score(item, 7) for item in pulses.ITEMS] == [1, 7, 1, 7, 1, 7, 7]
    assert [pulses.score(item, 2) for item in pulses.ITEMS] == [6, 2, 6, 2, 6, 2, 2]
    with pytest.raises(ValueError):
        pulses.score(8, 1)


def test_a_team_that_agrees_with_everything_scores_by_the_reversed_items(
    session: Session,
) -> None:
    team, lead_id, members = _team_with(session, 5)
    pulse = pulses.start_pulse(
        session=session, team_id=id_of(team), lead_member_id=lead_id, now=NOW, tz=TZ
    )
    _answer(session, pulse, members, [ALL_SEVENS] * 5)
    pulses.close_pulse(session=session, pulse=pulse, now=NOW + timedelta(hours=1), tz=TZ)

    shown = pulses.result(session=session, pulse=pulse, now=NOW + timedelta(hours=1))

    assert shown.visible and shown.answers == 5
    assert [round(item.mean, 3) for item in shown.items] == [1, 7, 1, 7, 1, 7, 7]
    assert shown.score == pytest.approx((1 + 7 + 1 + 7 + 1 + 7 + 7) / 7)
    assert all(item.spread == 0 for item in shown.items)
    assert shown.weakest() == [1, 3, 5]


def test_four_answers_give_only_the_count_and_five_give_the_result(session: Session) -> None:
    team, lead_id, members = _team_with(session, 5)
    pulse = pulses.start_pulse(
        session=session, team_id=id_of(team), lead_member_id=lead_id, now=NOW, tz=TZ
    )
    answers = [[2, 6, 1, 5, 3, 6, 7], [1, 5, 2, 6, 2, 7, 6], [3, 4, 2, 5, 4, 5, 5]]
    answers += [[2, 6, 1, 6, 2, 6, 6], [1, 7, 1, 7, 1, 7, 7]]
    _answer(session, pulse, members[:4], answers[:4])
    later = NOW + timedelta(days=8)

    four = pulses.result(session=session, pulse=pulse, now=later)

    assert (four.answers, four.visible, four.score, four.items, four.history) == (
        4,
        False,
        None,
        [],
        [],
    )

    pulse.closes_at = later + timedelta(days=1)  # reopened only for this test
    _answer(session, pulse, members[4:], answers[4:])
    five = pulses.result(session=session, pulse=pulse, now=later + timedelta(days=2))

    assert five.visible and five.answers == 5
    means = [sum(pulses.score(i + 1, a[i]) for a in answers) / 5 for i in range(7)]
    assert [item.mean for item in five.items] == pytest.approx(means)
    assert five.score == pytest.approx(sum(means) / 7)
    assert five.items[0].spread == pytest.approx(0.8366, abs=1e-3)


def test_a_site_may_lower_the_threshold_to_three_and_never_below(session: Session) -> None:
    team, lead_id, members = _team_with(session, 3)
    pulses.set_site_threshold(session=session, site_id=team.site_id, threshold=3)
    with pytest.raises(ValueError):
        pulses.set_site_threshold(session=session, site_id=team.site_id, threshold=2)
    pulse = pulses.start_pulse(
        session=session, team_id=id_of(team), lead_member_id=lead_id, now=NOW, tz=TZ
    )
    _answer(session, pulse, members, [ALL_SEVENS] * 3)

    assert not pulses.result(session=session, pulse=pulse, now=NOW).visible  # still open
    assert pulses.result(session=session, pulse=pulse, now=NOW + timedelta(days=7)).visible
    assert pulses.threshold_for_team(session=session, team_id=id_of(team)) == 3


def test_a_member_answers_once_and_only_while_it_is_open(session: Session) -> None:
    team, lead_id, members = _team_with(session, 1)
    pulse = pulses.start_pulse(
        session=session, team_id=id_of(team), lead_member_id=lead_id, now=NOW, tz=TZ
    )
    _answer(session, pulse, members, [ALL_SEVENS])

    with pytest.raises(pulses.AlreadyAnswered):
        _answer(session, pulse, members, [ALL_SEVENS])
    with pytest.raises(pulses.PulseClosed):
        pulses.record_answers(
            session=session,
            pulse=pulse,
            member_id=lead_id,
            values=ALL_SEVENS,
            now=NOW + pulses.OPEN_FOR,
            tz=TZ,
        )
    assert pulses.answer_count(session=session, pulse_id=require_id(pulse)) == 1


def test_opening_invites_everyone_reminds_after_two_days_and_tells_the_leads_at_the_close(
    session: Session,
) -> None:
    team, lead_id, members = _team_with(session, 2)
    pulse = pulses.start_pulse(
        session=session, team_id=id_of(team), lead_member_id=lead_id, now=NOW, tz=TZ
    )
    rows = session.exec(select(Prompt).order_by(col(Prompt.dedupe_key))).all()
    by_kind: dict[str, list[Prompt]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row)

    everyone = sorted([lead_id, *members])
    assert sorted(p.member_id or 0 for p in by_kind["pulse.invite"]) == everyone
    assert {p.due_at for p in by_kind["pulse.invite"]} == {NOW}
    assert {p.due_at for p in by_kind["pulse.reminder"]} == {NOW + timedelta(days=2)}
    assert [p.member_id for p in by_kind["pulse.closed"]] == [lead_id]
    assert by_kind["pulse.closed"][0].due_at == NOW + timedelta(days=7)
    assert {p.expires_at for p in by_kind["pulse.invite"]} == {NOW + timedelta(days=7)}
    assert all(p.payload == {"pulse_id": pulse.id, "tz": TZ.key} for p in rows)
    assert pulse.invited == 3

    _answer(session, pulse, members[:1], [ALL_SEVENS])
    reminded = sorted(
        p.member_id or 0
        for p in session.exec(select(Prompt).where(col(Prompt.kind) == "pulse.reminder")).all()
    )
    assert reminded == sorted([lead_id, members[1]])
    assert set(pulses.members_to_remind(session=session, pulse=pulse)) == {lead_id, members[1]}


def test_a_monthly_pulse_plans_the_next_one_a_month_later_at_the_same_local_time(
    session: Session,
) -> None:
    team, lead_id, _members = _team_with(session, 1)
    started = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 09:00 in Copenhagen, winter time
    pulses.start_pulse(
        session=session,
        team_id=id_of(team),
        lead_member_id=lead_id,
        now=started,
        tz=TZ,
        repeat=PulseRepeat.MONTHLY,
    )
    planned = pulses.planned_pulse(session=session, team_id=id_of(team))
    assert planned is not None and not planned.opened
    assert planned.opens_at == datetime(2026, 4, 2, 7, 0, tzinfo=UTC)  # 09:00 summer time
    opener = session.exec(select(Prompt).where(col(Prompt.kind) == "pulse.open")).one()
    assert (opener.member_id, opener.due_at) == (lead_id, planned.opens_at)

    assert pulses.stop_repeating(session=session, team_id=id_of(team), now=started) == 1
    assert pulses.planned_pulse(session=session, team_id=id_of(team)) is None
    assert session.exec(select(Prompt).where(col(Prompt.kind) == "pulse.open")).all() == []


def test_the_previous_pulse_is_compared_and_the_history_kept(session: Session) -> None:
    team, lead_id, members = _team_with(session, 5)
    first = pulses.start_pulse(
        session=session, team_id=id_of(team), lead_member_id=lead_id, now=NOW, tz=TZ
    )
    _answer(session, first, members, [[4, 4, 4, 4, 4, 4, 4]] * 5)
    second_start = NOW + timedelta(days=30)
    second = pulses.start_pulse(
        session=session, team_id=id_of(team), lead_member_id=lead_id, now=second_start, tz=TZ
    )
    for member_id in members:
        pulses.record_answers(
            session=session,
            pulse=second,
            member_id=member_id,
            values=[2, 6, 2, 6, 2, 6, 6],
            now=second_start,
            tz=TZ,
        )
    shown = pulses.result(session=session, pulse=second, now=second_start + timedelta(days=7))

    assert shown.previous_score == pytest.approx(4)
    assert shown.score == pytest.approx(6)
    assert [item.previous for item in shown.items] == pytest.approx([4.0] * 7)
    assert [score for _, score in shown.history] == pytest.approx([4, 6])


def test_no_table_or_column_can_join_a_member_to_an_answer(engine: Engine) -> None:
    schema = inspect(engine)
    # The answers: counts per pulse, item and value, and nothing else.
    columns = {column["name"]: column for column in schema.get_columns("pulse_tally")}
    assert set(columns) == {"pulse_id", "item", "value", "count"}
    assert not any(isinstance(c["type"], DateTime | Date) for c in columns.values())
    foreign = schema.get_foreign_keys("pulse_tally")
    assert [(fk["constrained_columns"], fk["referred_table"]) for fk in foreign] == [
        (["pulse_id"], "pulse")
    ]
    # The pulse leads only to its team: no member, conversation or participation.
    assert {fk["referred_table"] for fk in schema.get_foreign_keys("pulse")} == {"team"}
    assert not any("member" in column["name"] for column in schema.get_columns("pulse"))
    # Participation: who answered which pulse on which day, with no time and no own id
    # or sequence that could be put beside anything else.
    participation = {c["name"]: c for c in schema.get_columns("pulse_participation")}
    assert set(participation) == {"pulse_id", "member_id", "answered_on"}
    assert isinstance(participation["answered_on"]["type"], Date)
    assert not isinstance(participation["answered_on"]["type"], DateTime)
    # No other table points at the answers.
    for table in schema.get_table_names():
        referred = {fk["referred_table"] for fk in schema.get_foreign_keys(table)}
        assert "pulse_tally" not in referred, table


def _stored_answers(session: Session, pulse_id: int) -> list[tuple[int, int, int]]:
    rows = session.exec(
        select(PulseTally.item, PulseTally.value, PulseTally.count).where(
            col(PulseTally.pulse_id) == pulse_id
        )
    ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]  # in the database's own order


def test_the_stored_answers_do_not_reveal_the_order_members_answered_in(
    engine: Engine,
) -> None:
    answers = [
        [1, 7, 1, 7, 1, 7, 7],
        [2, 6, 2, 6, 2, 6, 6],
        [3, 5, 3, 5, 3, 5, 5],
        [4, 4, 4, 4, 4, 4, 4],
        [5, 3, 5, 3, 5, 3, 3],
    ]
    stored = []
    for order in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], random.sample(range(5), 5)):
        with Session(engine) as session:
            team, lead_id, members = _team_with(session, 5)
            pulse = pulses.start_pulse(
                session=session, team_id=id_of(team), lead_member_id=lead_id, now=NOW, tz=TZ
            )
            session.commit()
            for index in order:  # one transaction per member, as in the bot
                pulses.record_answers(
                    session=session,
                    pulse=pulse,
                    member_id=members[index],
                    values=answers[index],
                    now=NOW,
                    tz=TZ,
                )
                session.commit()
            stored.append(_stored_answers(session, require_id(pulse)))
            days = session.exec(
                select(col(PulseParticipation.answered_on)).where(
                    col(PulseParticipation.pulse_id) == pulse.id
                )
            ).all()
            assert set(days) == {NOW.astimezone(TZ).date()}
    # The same rows, whoever answered first: nothing to match with the participation.
    # (Their physical order on PostgreSQL may move as every answer rewrites all 49 rows,
    # but it moves the same way whatever was answered: the rows are of equal size.)
    assert sorted(stored[0]) == sorted(stored[1]) == sorted(stored[2])
    assert len(stored[0]) == 49
    assert sum(count for _, _, count in stored[0]) == 35


def test_on_postgresql_answers_at_once_all_count_and_never_deadlock(
    postgres_database_url: str,
) -> None:
    engine = make_engine(postgres_database_url)
    try:
        with session_scope(engine) as session:
            team, lead_id, members = _team_with(session, 60)
            pulse_id = require_id(
                pulses.start_pulse(
                    session=session, team_id=id_of(team), lead_member_id=lead_id, now=NOW, tz=TZ
                )
            )

        def answer(member_id: int) -> None:
            with session_scope(engine) as session:
                current = pulses.get_pulse(session=session, pulse_id=pulse_id)
                assert current is not None
                values = [(member_id + item) % 7 + 1 for item in range(7)]
                pulses.record_answers(
                    session=session,
                    pulse=current,
                    member_id=member_id,
                    values=values,
                    now=NOW,
                    tz=TZ,
                )

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(answer, members))  # raises the first failure, if any

        with Session(engine) as session:
            assert pulses.answer_count(session=session, pulse_id=pulse_id) == 60
            tallies = session.exec(select(PulseTally).where(PulseTally.pulse_id == pulse_id))
            per_item: dict[int, int] = {}
            for tally in tallies:
                per_item[tally.item] = per_item.get(tally.item, 0) + tally.count
        assert per_item == {item: 60 for item in pulses.ITEMS}
    finally:
        engine.dispose()
