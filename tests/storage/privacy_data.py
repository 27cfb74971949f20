"""Data about one resident for the privacy tests (retention, export, erasure and the
lead's /privacy menu): a note, and the whole Borgerens stemme loop about them."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from storage.db import require_id, utcnow
from storage.directory import TeamMember
from storage.models import Note, Resident, Team
from storage.notes import add_note
from tests.factories import id_of, make_member, make_resident, make_team

TZ = ZoneInfo("Europe/Copenhagen")
SECRET = "Fru Hansen smilede da hun fik kaffe i haven"


def note_about_resident(
    session: Session, *, days_old: int = 0, markers: tuple[str, ...] = ("tryghed",)
) -> tuple[Team, TeamMember, Resident, Note]:
    """A team with a member who noted SECRET about the resident "Fru H" (committed)."""
    team = make_team(session=session)
    author = make_member(session=session, team=team, name="Omar Nielsen")
    resident = make_resident(session=session, team=team, alias="Fru H")
    note = add_note(
        session=session,
        team=team,
        resident=resident,
        author_member_id=id_of(author.member),
        tz=TZ,
        text=SECRET,
        markers=markers,
        now=utcnow() - timedelta(days=days_old),
    )
    session.commit()
    return team, author, resident, note


def loop_about(session: Session, team: Team, resident: Resident, author: TeamMember) -> None:
    """A case with an answer, a perspective and an attached note, and a decision with a
    proposal, a vote, a trial action and a check-in, all about ``resident``."""
    from datetime import date

    from storage.models import (
        CaseAnswer,
        CaseMoment,
        CasePerspective,
        Checkin,
        Decision,
        Proposal,
        ResidentCase,
        TrialAction,
        Vote,
    )

    member_id = id_of(author.member)
    note = add_note(
        session=session,
        team=team,
        resident=resident,
        author_member_id=member_id,
        tz=TZ,
        text="Hun ville selv vælge tøj",
    )
    case = ResidentCase(
        team_id=id_of(team),
        resident_id=id_of(resident),
        open_resident_id=id_of(resident),
        listener_member_id=member_id,
        step=2,
        summary="At vælge selv betyder meget",
    )
    session.add(case)
    session.flush()
    session.add(CaseAnswer(case_id=require_id(case), question="conversation.day", text="Morgenen"))
    session.add(CasePerspective(case_id=require_id(case), member_id=member_id, text="Jeg ser ro"))
    session.add(CaseMoment(case_id=require_id(case), note_id=require_id(note)))
    decision = Decision(
        team_id=id_of(team), resident_id=id_of(resident), origin="case", title="Tøj"
    )
    session.add(decision)
    session.flush()
    proposal = Proposal(
        decision_id=require_id(decision), author_member_id=member_id, text="Vis to sæt tøj"
    )
    session.add(proposal)
    session.flush()
    decision.chosen_proposal_id = proposal.id
    session.add(
        Vote(
            decision_id=require_id(decision),
            member_id=member_id,
            proposal_id=require_id(proposal),
        )
    )
    trial = TrialAction(
        decision_id=require_id(decision),
        aim="Selvbestemmelse",
        measure="Hun vælger selv",
        action="Vis to sæt tøj",
        starts_on=date(2026, 11, 1),
        ends_on=date(2026, 11, 14),
    )
    session.add(trial)
    session.flush()
    session.add(
        Checkin(
            trial_action_id=require_id(trial),
            member_id=member_id,
            day=date(2026, 11, 3),
            answer="helped",
            note="Det gik fint",
        )
    )
    session.commit()
