"""Decisions in storage, on SQLite and PostgreSQL: proposals, one changeable vote per
member, the close (deadline, everyone voted, tie), the trial, check-ins and evaluation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from storage import audit, decisions, group_chats, trials, voting
from storage.cpr import CprNumberRefused
from storage.db import require_id
from storage.directory import remove_member
from storage.models import (
    Decision,
    DecisionStatus,
    Prompt,
    PromptStatus,
    Role,
    Team,
    Vote,
)
from storage.voting import VoteResult
from tests.factories import make_member, make_resident, make_team

TZ = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _team(session: Session, staff: int = 3) -> tuple[Team, int, list[int]]:
    team = make_team(session=session)
    lead = make_member(session=session, team=team, role=Role.LEAD)
    others = [make_member(session=session, team=team) for _ in range(staff)]
    return team, require_id(lead.member), [require_id(m.member) for m in others]


def _voting(
    session: Session, team: Team, lead_id: int, texts: tuple[str, ...] = ("A", "B", "C")
) -> tuple[Decision, list[int]]:
    resident = make_resident(session=session, team=team)
    decision = decisions.start_decision(
        session=session,
        team_id=require_id(team),
        resident_id=require_id(resident),
        origin="case",
        origin_id=7,
        title="Fru H. om morgenen",
        created_by_member_id=lead_id,
        now=NOW,
    )
    proposal_ids = [
        require_id(
            decisions.add_proposal(
                session=session,
                decision_id=require_id(decision),
                author_member_id=lead_id,
                text=text,
                now=NOW,
            )
        )
        for text in texts
    ]
    voting.open_vote(
        session=session,
        decision_id=require_id(decision),
        closes_at=NOW + timedelta(days=3),
        now=NOW,
    )
    return decision, proposal_ids


def _prompts(session: Session, kind: str) -> list[Prompt]:
    return list(
        session.exec(select(Prompt).where(col(Prompt.kind) == kind).order_by(col(Prompt.id))).all()
    )


def test_a_member_votes_once_and_a_second_press_changes_the_same_row(session: Session) -> None:
    team, lead_id, staff = _team(session)
    decision, (a, b, _c) = _voting(session, team, lead_id)
    did = require_id(decision)

    first = voting.cast_vote(
        session=session, decision_id=did, member_id=staff[0], proposal_id=a, now=NOW
    )
    again = voting.cast_vote(
        session=session, decision_id=did, member_id=staff[0], proposal_id=a, now=NOW
    )
    changed = voting.cast_vote(
        session=session,
        decision_id=did,
        member_id=staff[0],
        proposal_id=b,
        now=NOW + timedelta(hours=1),
    )
    session.commit()

    assert (first, again, changed) == (VoteResult.COUNTED, VoteResult.SAME, VoteResult.CHANGED)
    votes = session.exec(select(Vote).where(col(Vote.decision_id) == did)).all()
    assert [(v.member_id, v.proposal_id) for v in votes] == [(staff[0], b)]
    assert votes[0].voted_at == NOW and votes[0].updated_at == NOW + timedelta(hours=1)
    result = voting.tally(session=session, decision_id=did)
    assert [n for _p, n in result.counts] == [0, 1, 0]
    assert (result.voted, result.eligible) == (1, 4)


def test_a_vote_after_the_deadline_or_the_close_is_refused(session: Session) -> None:
    team, lead_id, staff = _team(session)
    decision, (a, _b, _c) = _voting(session, team, lead_id)
    did = require_id(decision)

    late = voting.cast_vote(
        session=session,
        decision_id=did,
        member_id=staff[0],
        proposal_id=a,
        now=NOW + timedelta(days=3),
    )
    voting.cast_vote(session=session, decision_id=did, member_id=staff[1], proposal_id=a, now=NOW)
    closed = voting.close_vote(session=session, decision_id=did, now=NOW + timedelta(days=3))
    after = voting.cast_vote(
        session=session, decision_id=did, member_id=staff[2], proposal_id=a, now=NOW
    )

    assert late == VoteResult.CLOSED and after == VoteResult.CLOSED
    assert closed.winner is not None and closed.winner.id == a
    assert decision.status == DecisionStatus.PLANNING and decision.chosen_proposal_id == a
    assert voting.tally(session=session, decision_id=did).voted == 1


def test_a_member_who_left_keeps_a_counted_vote_but_cannot_vote_again(session: Session) -> None:
    team, lead_id, staff = _team(session)
    decision, (a, b, _c) = _voting(session, team, lead_id)
    did = require_id(decision)
    voting.cast_vote(session=session, decision_id=did, member_id=staff[0], proposal_id=a, now=NOW)

    assert remove_member(
        session=session, team_id=require_id(team), member_id=staff[0], actor_member_id=lead_id
    )
    refused = voting.cast_vote(
        session=session, decision_id=did, member_id=staff[0], proposal_id=b, now=NOW
    )

    assert refused == VoteResult.NOT_ELIGIBLE
    result = voting.tally(session=session, decision_id=did)
    assert result.count_of(a) == 1 and result.count_of(b) == 0
    assert result.eligible == 3


def test_strangers_and_other_decisions_proposals_count_nothing(session: Session) -> None:
    team, lead_id, staff = _team(session)
    decision, (a, _b, _c) = _voting(session, team, lead_id)
    other_team, other_lead, _ = _team(session, staff=0)
    other, (foreign,) = _voting(session, other_team, other_lead, texts=("X",))

    outsider = voting.cast_vote(
        session=session,
        decision_id=require_id(decision),
        member_id=other_lead,
        proposal_id=a,
        now=NOW,
    )
    wrong = voting.cast_vote(
        session=session,
        decision_id=require_id(decision),
        member_id=staff[0],
        proposal_id=foreign,
        now=NOW,
    )

    assert (outsider, wrong) == (VoteResult.NOT_ELIGIBLE, VoteResult.UNKNOWN_PROPOSAL)
    assert voting.tally(session=session, decision_id=require_id(decision)).voted == 0
    assert (
        decisions.get_team_decision(
            session=session, team_id=require_id(team), decision_id=require_id(other)
        )
        is None
    )


def test_when_everyone_voted_the_vote_closes_and_the_result_goes_to_every_member(
    session: Session,
) -> None:
    team, lead_id, staff = _team(session)
    decision, (a, b, _c) = _voting(session, team, lead_id)
    did = require_id(decision)
    for member_id, proposal in ((lead_id, a), (staff[0], b), (staff[1], b)):
        voting.cast_vote(
            session=session, decision_id=did, member_id=member_id, proposal_id=proposal, now=NOW
        )
    assert not voting.all_voted(session=session, decision_id=did)
    voting.cast_vote(session=session, decision_id=did, member_id=staff[2], proposal_id=a, now=NOW)
    voting.cast_vote(session=session, decision_id=did, member_id=staff[2], proposal_id=b, now=NOW)
    assert voting.all_voted(session=session, decision_id=did)

    result = voting.close_vote(session=session, decision_id=did, now=NOW)
    session.commit()

    assert result.closed_now and result.winner is not None and result.winner.id == b
    assert decision.closed_at == NOW
    results = _prompts(session, voting.KIND_RESULT)
    assert sorted(p.member_id or 0 for p in results) == sorted([lead_id, *staff])
    # The deadline and the unsent ballots are cancelled; a second close changes nothing.
    assert _prompts(session, voting.KIND_DEADLINE) == []
    assert _prompts(session, voting.KIND_BALLOT) == []
    assert not voting.close_vote(session=session, decision_id=did, now=NOW).closed_now


def test_a_tie_waits_for_the_lead_who_chooses_among_the_tied(session: Session) -> None:
    team, lead_id, staff = _team(session)
    decision, (a, b, c) = _voting(session, team, lead_id)
    did = require_id(decision)
    voting.cast_vote(session=session, decision_id=did, member_id=staff[0], proposal_id=a, now=NOW)
    voting.cast_vote(session=session, decision_id=did, member_id=staff[1], proposal_id=b, now=NOW)

    tie = voting.close_vote(session=session, decision_id=did, now=NOW + timedelta(days=3))

    assert tie.winner is None and [p.id for p in tie.tied] == [a, b]
    assert decision.status == DecisionStatus.TIE
    assert [p.member_id for p in _prompts(session, voting.KIND_TIE)] == [lead_id]
    assert _prompts(session, voting.KIND_RESULT) == []
    refused = voting.close_vote(session=session, decision_id=did, now=NOW, tie_break_proposal_id=c)
    assert refused.winner is None and decision.status == DecisionStatus.TIE

    broken = voting.close_vote(session=session, decision_id=did, now=NOW, tie_break_proposal_id=b)

    assert broken.winner is not None and broken.winner.id == b
    assert decision.status == DecisionStatus.PLANNING and decision.chosen_proposal_id == b
    assert len(_prompts(session, voting.KIND_RESULT)) == 4


def test_a_proposal_is_checked_for_length_cpr_and_status(session: Session) -> None:
    team, lead_id, _staff = _team(session)
    decision = decisions.start_decision(
        session=session,
        team_id=require_id(team),
        resident_id=None,
        origin="pulse",
        origin_id=3,
        title="Vi siger det højt",
        created_by_member_id=lead_id,
    )
    did = require_id(decision)
    with pytest.raises(decisions.ProposalTooLong):
        decisions.add_proposal(
            session=session, decision_id=did, author_member_id=lead_id, text="x" * 501
        )
    with pytest.raises(CprNumberRefused):
        decisions.add_proposal(
            session=session, decision_id=did, author_member_id=lead_id, text="Om 010190-1234"
        )
    with pytest.raises(decisions.DecisionError):
        voting.open_vote(session=session, decision_id=did, closes_at=NOW + timedelta(1), now=NOW)
    decisions.add_proposal(
        session=session, decision_id=did, author_member_id=lead_id, text="y" * 500
    )
    voting.open_vote(session=session, decision_id=did, closes_at=NOW + timedelta(1), now=NOW)
    with pytest.raises(decisions.DecisionError):
        decisions.add_proposal(
            session=session, decision_id=did, author_member_id=lead_id, text="z"
        )
    assert decisions.latest_decision(session=session, origin="pulse", origin_id=3) == decision


def _trying(session: Session) -> tuple[Team, int, list[int], Decision]:
    team, lead_id, staff = _team(session)
    decision, (a, _b, _c) = _voting(session, team, lead_id)
    did = require_id(decision)
    voting.cast_vote(session=session, decision_id=did, member_id=staff[0], proposal_id=a, now=NOW)
    voting.close_vote(session=session, decision_id=did, now=NOW + timedelta(days=3))
    trials.start_trial(
        session=session,
        decision_id=did,
        aim="Fru H. er tryg om morgenen",
        measure="Hun siger godmorgen",
        action="Vi banker på og venter",
        starts_on=date(2026, 11, 26),
        ends_on=date(2026, 12, 9),
        follow_up_member_id=staff[1],
        checkin_every_days=3,
        by_member_id=lead_id,
        now=NOW + timedelta(days=3),
        tz=TZ,
    )
    session.commit()
    return team, lead_id, staff, decision


def test_a_trial_schedules_check_ins_per_member_and_day_and_the_evaluation(
    session: Session,
) -> None:
    _team_, lead_id, staff, decision = _trying(session)
    did = require_id(decision)

    checkins = _prompts(session, trials.KIND_CHECKIN)
    days = sorted({p.payload["day"] for p in checkins})
    assert days == ["2026-11-29", "2026-12-02", "2026-12-05", "2026-12-08"]
    assert len(checkins) == 4 * 4
    first = next(p for p in checkins if p.member_id == staff[0])
    assert first.dedupe_key == f"decision:{did}:checkin:2026-11-29:member:{staff[0]}"
    # 13:00 in Copenhagen (UTC+1 in winter), expiring at the end of that local day.
    assert first.due_at == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert first.expires_at == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    (evaluation,) = _prompts(session, trials.KIND_EVALUATE)
    assert evaluation.member_id == lead_id and evaluation.dedupe_key == f"decision:{did}:evaluate"
    assert evaluation.due_at == datetime(2026, 12, 10, 8, 0, tzinfo=UTC)
    approaches = trials.approaches_for_resident(
        session=session, team_id=decision.team_id, resident_id=decision.resident_id or 0
    )
    assert [a.trial.action for a in approaches.current] == ["Vi banker på og venter"]
    assert approaches.kept == []


def test_check_ins_are_summarised_and_a_second_answer_replaces_the_first(
    session: Session,
) -> None:
    _team_, _lead_id, staff, decision = _trying(session)
    did = require_id(decision)
    day = date(2026, 11, 29)
    first = trials.record_checkin(
        session=session, decision_id=did, member_id=staff[0], day=day, answer="not_helped", now=NOW
    )
    trials.record_checkin(
        session=session, decision_id=did, member_id=staff[0], day=day, answer="helped", now=NOW
    )
    trials.add_checkin_note(
        session=session, checkin_id=require_id(first), member_id=staff[0], note="Hun smilede"
    )
    trials.record_checkin(
        session=session,
        decision_id=did,
        member_id=staff[1],
        day=day,
        answer="not_relevant",
        now=NOW,
    )
    trials.record_checkin(
        session=session,
        decision_id=did,
        member_id=staff[1],
        day=date(2026, 12, 2),
        answer="not_helped",
        now=NOW,
    )
    with pytest.raises(CprNumberRefused):
        trials.add_checkin_note(
            session=session, checkin_id=require_id(first), member_id=staff[0], note="010190-1234"
        )
    assert (
        trials.add_checkin_note(
            session=session, checkin_id=require_id(first), member_id=staff[1], note="Ikke min"
        )
        is None
    )

    summary = trials.checkin_summary(session=session, decision_id=did)

    assert (summary.helped, summary.not_helped, summary.not_relevant) == (1, 1, 1)
    assert summary.members == 2 and summary.notes == ["Hun smilede"]


def test_adjust_starts_iteration_two_at_proposing_with_the_change_as_first_proposal(
    session: Session,
) -> None:
    _team_, lead_id, _staff, decision = _trying(session)
    did = require_id(decision)

    successor = trials.evaluate(
        session=session,
        decision_id=did,
        outcome="adjust",
        by_member_id=lead_id,
        adjusted_action="Vi banker på og venter, og siger vores navn",
        now=NOW + timedelta(days=17),
    )
    session.commit()

    assert decision.status == DecisionStatus.DONE and decision.outcome == "adjust"
    assert successor is not None
    assert (successor.iteration, successor.status, successor.origin, successor.origin_id) == (
        2,
        DecisionStatus.PROPOSING,
        "case",
        7,
    )
    assert successor.resident_id == decision.resident_id
    assert [
        p.text for p in decisions.proposals_of(session=session, decision_id=require_id(successor))
    ] == ["Vi banker på og venter, og siger vores navn"]
    assert decisions.latest_decision(session=session, origin="case", origin_id=7) == successor
    # The remaining check-ins and the evaluation prompt are cancelled.
    assert _prompts(session, trials.KIND_CHECKIN) == []
    assert _prompts(session, trials.KIND_EVALUATE) == []


def test_keep_makes_a_standing_approach_and_drop_leaves_none(session: Session) -> None:
    _team_, lead_id, _staff, decision = _trying(session)

    assert (
        trials.evaluate(
            session=session, decision_id=require_id(decision), outcome="keep", by_member_id=lead_id
        )
        is None
    )

    approaches = trials.approaches_for_resident(
        session=session, team_id=decision.team_id, resident_id=decision.resident_id or 0
    )
    assert approaches.current == []
    assert [a.decision.id for a in approaches.kept] == [decision.id]
    with pytest.raises(decisions.DecisionError):
        trials.evaluate(
            session=session, decision_id=require_id(decision), outcome="drop", by_member_id=lead_id
        )


def test_withdrawing_cancels_every_unsent_prompt_of_the_decision(session: Session) -> None:
    team, lead_id, _staff = _team(session)
    decision, _ids = _voting(session, team, lead_id)
    other, _ = _voting(session, team, lead_id)

    assert decisions.withdraw(session=session, decision_id=require_id(decision))
    session.commit()

    keys = [p.dedupe_key for p in session.exec(select(Prompt)).all()]
    assert not any(key.startswith(f"decision:{decision.id}:") for key in keys)
    assert any(key.startswith(f"decision:{other.id}:") for key in keys)
    assert decisions.open_decisions(session=session, team_id=require_id(team)) == [other]
    assert not decisions.withdraw(session=session, decision_id=require_id(decision))


def test_a_group_is_linked_to_one_team_and_followed_to_its_supergroup(session: Session) -> None:
    team, lead_id, _staff = _team(session)
    other_team, other_lead, _ = _team(session, staff=0)
    link = group_chats.link_group(
        session=session, team_id=require_id(team), chat_id=-100, by_member_id=lead_id, now=NOW
    )
    with pytest.raises(group_chats.GroupTaken):
        group_chats.link_group(
            session=session,
            team_id=require_id(other_team),
            chat_id=-100,
            by_member_id=other_lead,
            now=NOW,
        )
    decision, _ids = _voting(session, team, lead_id)
    assert [p.dedupe_key for p in _prompts(session, voting.KIND_GROUP_BALLOT)] == [
        f"decision:{decision.id}:group"
    ]
    voting.set_group_message(
        session=session, decision_id=require_id(decision), chat_id=-100, message_id=5
    )

    assert group_chats.migrate_group(session=session, old_chat_id=-100, new_chat_id=-1001234)
    assert not group_chats.migrate_group(session=session, old_chat_id=-100, new_chat_id=-1001234)
    session.commit()

    assert link.chat_id == -1001234 and decision.group_chat_id == -1001234
    (entry,) = audit.entries(session=session, team_id=require_id(team))
    assert (entry.actor, entry.action, entry.detail) == (
        f"member:{lead_id}",
        "group.link",
        {"chat_id": -100},
    )
    assert group_chats.group_link(session=session, chat_id=-100) is None
    assert group_chats.team_chat(session=session, team_id=require_id(team)) == link


def test_agenda_sources_list_open_votes_and_running_trials(session: Session) -> None:
    team, lead_id, _staff = _team(session)
    open_decision, _ids = _voting(session, team, lead_id)
    _t, _l, _s, trying = _trying(session)

    votes = voting.agenda_votes(
        session, require_id(team), NOW - timedelta(days=30), NOW + timedelta(1)
    )
    trial_entries = trials.agenda_trials_due(
        session, trying.team_id, NOW - timedelta(days=30), NOW + timedelta(days=10)
    )

    assert [(e.kind, e.ref_id) for e in votes] == [("vote", open_decision.id)]
    assert [(e.kind, e.ref_id, e.resident_id) for e in trial_entries] == [
        ("trial", trying.id, trying.resident_id)
    ]


def test_the_vote_can_open_by_itself_later(session: Session) -> None:
    team, lead_id, _staff = _team(session)
    decision = decisions.start_decision(
        session=session,
        team_id=require_id(team),
        resident_id=None,
        origin="team",
        origin_id=None,
        title="Pauser",
        created_by_member_id=lead_id,
    )
    did = require_id(decision)
    decisions.add_proposal(session=session, decision_id=did, author_member_id=lead_id, text="A")

    voting.schedule_vote_opening(
        session=session,
        decision_id=did,
        opens_at=NOW + timedelta(days=1),
        closes_at=NOW + timedelta(days=2),
        by_member_id=lead_id,
        now=NOW,
    )

    (opening,) = _prompts(session, voting.KIND_OPEN)
    assert opening.due_at == NOW + timedelta(days=1) and opening.member_id == lead_id
    assert opening.status == PromptStatus.PENDING
    assert decision.status == DecisionStatus.PROPOSING
