"""The programme in the running application: a lead starts a course, plans its three
dialogue meetings with /meeting's own steps, and sees its progress at every stage until
the third meeting's minutes end it with a summary; the site's leads form a leadership team
that, after two teams pulsed and debriefed, sees the pooled pulse, agrees its own trial
action with the teams' proposal, vote and trial, and evaluates it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.app import DISPATCHER_KEY, StemmeApplication, build_application
from bot.prompts import Dispatcher
from flows.core.i18n import texts
from sandbox.emulator import BotApiEmulator, EmuMessage, EmuUser
from storage import decisions, dilemmas, directory, listening, programme, trials
from storage import pulse as pulses
from storage.db import require_id, utcnow
from storage.models import (
    AuditEntry,
    CaseKind,
    Course,
    CourseMeeting,
    CourseStatus,
    DecisionStatus,
    MeetingOccurrence,
    Member,
    Proposal,
    Resident,
    Team,
)
from tests.e2e.conftest import Admin, e2e_settings, running
from tests.e2e.people import LEAD_ID, join, staff_invite_code, team_with_residents

T = TypeVar("T")
TZ = ZoneInfo("Europe/Copenhagen")
da = texts("da", TZ)._


def _today() -> date:
    return utcnow().astimezone(TZ).date()


async def _plan(lise: EmuUser, number: int, day: date) -> None:
    """Lise plans dialogue meeting ``number`` from /forloeb with /meeting's steps."""
    reaction = await lise.send("/forloeb")
    reaction = await lise.press(f"📅 Planlæg dialogmøde {number}")
    assert "Hvilken dag er refleksionsmødet?" in reaction.text
    await lise.press(f"mtg:day:{day:%Y%m%d}")
    await lise.press("14:00")
    await lise.press("60 min.")
    await lise.press("Intet sted")
    await lise.press("Kun én gang")
    reaction = await lise.press("Gem ✔")
    assert f"Det er dialogmøde {number} af 3 i forløbet" in " ".join(
        [reaction.text, *(m.text or "" for m in reaction.messages)]
    ) or await _said(lise, f"Det er dialogmøde {number} af 3 i forløbet")


async def _said(user: EmuUser, fragment: str, seconds: float = 10) -> bool:
    """Whether the bot said ``fragment`` to the user (waiting for after-commit answers)."""
    for _ in range(int(seconds * 20)):
        if any(fragment in (m.text or "") for m in user.chat_messages() if m.from_bot):
            return True
        await asyncio.sleep(0.05)
    return False


def _occurrences(engine: Engine) -> list[MeetingOccurrence]:
    with Session(engine, expire_on_commit=False) as session:
        rows = session.exec(
            select(MeetingOccurrence)
            .join(CourseMeeting, col(CourseMeeting.occurrence_id) == col(MeetingOccurrence.id))
            .order_by(col(CourseMeeting.number))
        ).all()
        return list(rows)


def _move(engine: Engine, occurrence_id: int, starts_at: datetime) -> MeetingOccurrence:
    """Time passes: the meeting took place at ``starts_at``."""
    with Session(engine, expire_on_commit=False) as session:
        occurrence = session.get(MeetingOccurrence, occurrence_id)
        assert occurrence is not None
        occurrence.starts_at = starts_at
        occurrence.ends_at = starts_at + timedelta(hours=1)
        session.add(occurrence)
        session.commit()
        return occurrence


def _lead_id(engine: Engine, telegram_id: int = LEAD_ID) -> int:
    with Session(engine) as session:
        member = session.exec(select(Member).where(col(Member.telegram_id) == telegram_id)).one()
        return require_id(member)


def _trial_at(engine: Engine, team_id: int, lead_id: int, at: datetime) -> int:
    """The team agreed a trial action at ``at`` (its vote went through /proposals)."""
    with Session(engine) as session:
        decision = decisions.start_decision(
            session=session,
            team_id=team_id,
            resident_id=None,
            origin="team",
            origin_id=None,
            title="Fælles morgenrutine",
            created_by_member_id=lead_id,
            now=at,
        )
        decision.status = DecisionStatus.PLANNING
        session.add(decision)
        trials.start_trial(
            session=session,
            decision_id=require_id(decision),
            aim="Ro om morgenen",
            measure="Vi tæller på mødet",
            action="Vi banker på og venter",
            starts_on=_today(),
            ends_on=_today() + timedelta(days=14),
            follow_up_member_id=lead_id,
            checkin_every_days=7,
            by_member_id=lead_id,
            now=at,
            tz=TZ,
        )
        session.commit()
        return require_id(decision)


async def _minutes(lise: EmuUser, occurrence_id: int, *ticks: str) -> str:
    """Lise writes the minutes of a meeting, ticking ``ticks``; returns the answer."""
    await lise.press_data(f"agenda:min:{occurrence_id}")
    for data in ticks:
        await lise.press_data(data)
    await lise.press("Næste ▶")
    reaction = await lise.press_data("agenda:save")
    return reaction.text


async def test_a_course_is_started_its_three_meetings_planned_and_held_with_progress_shown(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    team_id, lise, _omar = await team_with_residents(emulator, admin, "Fru H., stue 12")
    reaction = await lise.send("/forloeb")
    assert "Der kører intet forløb for Team Syd." in reaction.text
    reaction = await lise.press("I dag")
    assert f"Forløb for Team Syd, opstart {_today().day}." in reaction.text
    assert "0 af 3 dialogmøder holdt." in reaction.text
    assert "Dialogmøde 1 af 3: ikke planlagt endnu" in reaction.text

    for number, days in ((1, 3), (2, 5), (3, 7)):
        await _plan(lise, number, _today() + timedelta(days=days))
    first, second, third = _occurrences(e2e_engine)
    assert first.starts_at < second.starts_at < third.starts_at
    reaction = await lise.send("/forloeb")
    assert "Dialogmøde 1 af 3: sag, dilemma og prøvehandling mangler" in reaction.text
    assert "Dialogmøde 3 af 3: sag, dilemma og evaluering mangler" in reaction.text

    # A case reaches the team and a dilemma is brought: the first meeting's agenda has both.
    lead_id = _lead_id(e2e_engine)
    before = utcnow() - timedelta(days=11)
    with Session(e2e_engine) as session:
        resident = session.exec(select(Resident)).one()
        case = listening.start_case(
            session=session,
            team_id=team_id,
            resident_id=require_id(resident),
            listener_member_id=lead_id,
            kind=CaseKind.CONVERSATION,
            now=before,
        )
        listening.bring_to_team(
            session=session, case=case, member_id=lead_id, summary="Hun vil synge", now=before
        )
        dilemma = dilemmas.add_dilemma(
            session=session,
            team_id=team_id,
            author_member_id=lead_id,
            anonymous=False,
            text="Bad om aftenen eller om morgenen?",
            now=before,
        )
        case_id, dilemma_id = require_id(case), require_id(dilemma)
        session.commit()
    reaction = await lise.send("/forloeb")
    assert "Dialogmøde 1 af 3: sag og dilemma klar, prøvehandling mangler" in reaction.text
    assert "Før dialogmøde 1: prøvehandling mangler." in reaction.text

    # The first meeting takes place and agrees a trial action; the minutes are written.
    first = _move(e2e_engine, require_id(first), utcnow() - timedelta(days=10))
    decision_id = _trial_at(e2e_engine, team_id, lead_id, first.starts_at + timedelta(minutes=30))
    reaction = await lise.send("/forloeb")
    assert "Dialogmøde 1 af 3: sag, dilemma og prøvehandling klar" in reaction.text
    answer = await _minutes(
        lise, require_id(first), f"agenda:tick:case:{case_id}", f"agenda:tick:dilemma:{dilemma_id}"
    )
    assert "Referat gemt ✔" in answer
    assert "Dialogmøde 1 af 3: holdt ✔, sag, dilemma og prøvehandling klar" in answer
    reaction = await lise.send("/forloeb")
    assert "1 af 3 dialogmøder holdt." in reaction.text
    assert "Dialogmøde 2 af 3: sag og dilemma klar, evaluering mangler" in reaction.text

    # Meeting 3 is to hold no trial action: the lead changes its plan.
    reaction = await lise.press("✏️ Møde 3")
    assert "Hvad skal dialogmøde 3 indeholde?" in reaction.text
    reaction = await lise.press("Prøvehandling: evaluér den")
    assert "Prøvehandling: ingen" in reaction.edits[-1].button_texts
    reaction = await lise.press("◀ Tilbage til forløbet")
    assert "Dialogmøde 3 af 3: sag og dilemma klar" in reaction.text
    [third_line] = [line for line in reaction.text.splitlines() if "Dialogmøde 3 af 3" in line]
    assert third_line == "Dialogmøde 3 af 3: sag og dilemma klar"

    # The second meeting evaluates the trial (kept); the third is held too.
    second = _move(e2e_engine, require_id(second), utcnow() - timedelta(days=5))
    with Session(e2e_engine) as session:
        trials.evaluate(
            session=session,
            decision_id=decision_id,
            outcome="keep",
            by_member_id=lead_id,
            now=second.starts_at + timedelta(minutes=30),
        )
        session.commit()
    answer = await _minutes(lise, require_id(second))
    assert "Dialogmøde 2 af 3: holdt ✔, sag, dilemma og evaluering klar" in answer
    third = _move(e2e_engine, require_id(third), utcnow() - timedelta(days=1))
    answer = await _minutes(lise, require_id(third))
    assert "Forløbet er slut ✔ Team Syd holdt 3 dialogmøder." in answer
    assert "Sager drøftet: 1" in answer and "Dilemmaer drøftet: 1" in answer
    assert "Prøvehandlinger aftalt: 1" in answer
    assert "Evalueret: 1 fastholdt, 0 justeret, 0 droppet" in answer
    assert "Fru H." not in answer and "synge" not in answer
    with Session(e2e_engine) as session:
        course = session.exec(select(Course)).one()
        assert course.status == CourseStatus.ENDED and course.running_team_id is None

    # Afterwards /forloeb shows the summary and offers a new course; meetings go on.
    reaction = await lise.send("/forloeb")
    assert "Forløbet er slut ✔" in reaction.text and "Starte et nyt forløb?" in reaction.text


async def test_staff_cannot_start_a_course_and_a_forged_button_changes_nothing(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar = await team_with_residents(emulator, admin)
    reaction = await omar.send("/forloeb")
    assert da("Only the team lead can do that.") in (reaction.text + (reaction.alert or ""))
    reaction = await omar.press_data(f"prog:start:{_today():%Y%m%d}")
    await lise.send("/forloeb")
    await lise.press("I dag")
    with Session(e2e_engine) as session:
        course = session.exec(select(Course)).one()
    reaction = await omar.press_data(f"prog:set:{course.id}:1:case")
    reaction = await lise.press_data(f"prog:set:{require_id(course) + 1}:1:case")
    assert reaction.alert is not None
    with Session(e2e_engine) as session:
        assert len(session.exec(select(Course)).all()) == 1
        rows = programme.course_meetings(session=session, course_id=require_id(course))
        assert all(row.holds_case for row in rows)


# ---------------------------------------------------------------- the leadership track

NORD_LEAD_ID = 5_000_000_041
NORD_STAFF = ((5_000_000_042, "Sara"), (5_000_000_043, "Ahmed"))


def _debriefed_pulse(engine: Engine, team_id: int, values: list[int], shared: bool) -> int:
    """The team's pulse: every active member answered (storage/pulse's own functions, as
    /pulse does), it closed, and the team debriefed (shared, or a trial from it)."""
    with Session(engine) as session:
        rows = directory.team_members(session=session, team_id=team_id)
        lead = next(row for row in rows if row.membership.role == "lead")
        start = utcnow() - timedelta(days=3)
        pulse = pulses.start_pulse(
            session=session,
            team_id=team_id,
            lead_member_id=require_id(lead.member),
            now=start,
            tz=TZ,
        )
        for row in rows:
            pulses.record_answers(
                session=session,
                pulse=pulse,
                member_id=require_id(row.member),
                values=values,
                now=start,
                tz=TZ,
            )
        pulses.close_pulse(session=session, pulse=pulse, now=start + timedelta(days=1), tz=TZ)
        if shared:
            pulse.shared_at = start + timedelta(days=1)
            session.add(pulse)
        else:
            decisions.start_decision(
                session=session,
                team_id=team_id,
                resident_id=None,
                origin="pulse",
                origin_id=require_id(pulse),
                title="Vi siger til, når vi er i tvivl",
                created_by_member_id=require_id(lead.member),
            )
        session.commit()
        return require_id(pulse)


async def _button(user: EmuUser, data: str, seconds: float = 15) -> EmuMessage:
    for _ in range(int(seconds * 20)):
        for message in reversed(user.chat_messages()):
            if any(value == data for row in message.buttons for _, value in row):
                return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"no button {data!r} for {user.first_name}")


async def _eventually(read: Callable[[], T | None | bool], seconds: float = 15) -> T:
    for _ in range(int(seconds * 20)):
        value = read()
        if value:
            return value  # type: ignore[return-value]  # truthy: a T (or True)
        await asyncio.sleep(0.05)
    raise AssertionError("the bot did not store it in time")


def _status(engine: Engine, decision_id: int) -> str | None:
    with Session(engine) as session:
        decision = decisions.get_decision(session=session, decision_id=decision_id)
        return decision.status if decision is not None else None


def _wake(application: StemmeApplication) -> None:
    dispatcher: Dispatcher = application.bot_data[DISPATCHER_KEY]
    dispatcher.wake()


async def test_a_leadership_team_agrees_and_evaluates_a_trial_action_after_two_teams_pulses(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    south_id, lise, omar = await team_with_residents(emulator, admin)
    code = await staff_invite_code(lise)
    for uid, name in ((5_000_000_011, "Mette"), (5_000_000_012, "Jonas")):
        await join(emulator, uid, name, code, "da")
    with Session(e2e_engine) as session:
        south = session.get(Team, south_id)
        assert south is not None
        site_id = south.site_id
    north = admin("team", "add", "--site", str(site_id), "Team Nord")["team"]
    invite = admin("invite", "--team", str(north["id"]), "--role", "lead")["invite"]
    nina, _ = await join(emulator, NORD_LEAD_ID, "Nina", invite["code"], "da")
    north_code = await staff_invite_code(nina)
    for uid, name in NORD_STAFF:
        await join(emulator, uid, name, north_code, "da")
    admin("site", "pulse-threshold", str(site_id), "3")

    # Before the pulses: the leadership team is formed from a team's course view.
    await lise.send("/forloeb")
    reaction = await lise.press("👥 Lederteamet")
    assert "Stedet har endnu intet lederteam." in reaction.text
    reaction = await lise.press("👥 Opret lederteamet")
    assert "Lederteamet: 2 ledere." in reaction.text
    assert "0 af 2 teams har målt og fulgt op." in reaction.text
    assert "Skift til Lederteamet med /team" in reaction.text
    with Session(e2e_engine) as session:
        leadership = programme.leadership_team(session=session, site_id=site_id)
        assert leadership is not None
        leadership_id = require_id(leadership)

    # Team Syd (four answers) shares its result; Team Nord (three) starts a trial from it.
    _debriefed_pulse(e2e_engine, south_id, [2, 6, 2, 6, 2, 6, 6], shared=True)
    reaction = await nina.send("/forloeb")
    reaction = await nina.press("👥 Lederteamet")
    assert "1 af 2 teams har målt og fulgt op." in reaction.text
    assert "alle teams har målt og fulgt op" in reaction.text
    _debriefed_pulse(e2e_engine, int(north["id"]), [4, 4, 4, 4, 4, 4, 4], shared=False)

    # Nina switches to the leadership team; /forloeb there is the leadership view.
    await nina.send("/team")
    await nina.press_data(f"team:switch:{leadership_id}")
    reaction = await nina.send("/forloeb")
    text = reaction.text
    assert "2 af 2 teams har målt og fulgt op." in text
    assert "• Team Nord: score 4,0, fulgt op ✔" in text
    assert "• Team Syd: score 6,0, fulgt op ✔" in text
    # Pooled over 7 answers: Syd's 4 at 6,0 and Nord's 3 at 4,0.
    assert "Stedets score: 5,1 af 7 (7 svar fra 2 teams)." in text
    assert "• Team Nord: Vi siger til, når vi er i tvivl (vi samler forslag)" in text
    for name in ("Omar", "Mette", "Jonas", "Sara", "Ahmed"):
        assert name not in text
    reaction = await nina.press("▶ Start lederteamets prøvehandling")
    assert "alle ledere kan nu foreslå" in reaction.text
    with Session(e2e_engine) as session:
        started = programme.leadership_decision(session=session, team_id=leadership_id)
        assert started is not None
        decision_id = require_id(started)
    button = f"dec:show:{decision_id}"
    assert button in str(reaction.edits[-1].inline_keyboard)
    with Session(e2e_engine) as session:
        decision = decisions.get_decision(session=session, decision_id=decision_id)
        assert decision is not None and decision.team_id == leadership_id

    # The same proposal, vote, trial and evaluation as a team's: Lise proposes, both vote.
    await lise.send("/team")
    await lise.press_data(f"team:switch:{leadership_id}")
    await lise.send("/proposals")
    await lise.press(button)
    await lise.press(da("➕ Propose"))
    await lise.send("Ledelsen er på hver afdeling til vagtskiftet en gang om ugen.")
    proposal = await _eventually(lambda: _only_proposal(e2e_engine, decision_id))
    await nina.send("/proposals")
    await nina.press(button)
    await nina.press(da("🗳 Open the vote"))
    await nina.press(f"dec:dl:{decision_id}:3d")
    _wake(bot)
    for leader in (nina, lise):
        await _button(leader, f"dec:vote:{decision_id}:{proposal.id}")
        await leader.press(f"dec:vote:{decision_id}:{proposal.id}")
    _wake(bot)
    result = await _button(nina, f"dec:plan:{decision_id}")
    await nina.press(f"dec:plan:{decision_id}", message_id=result.message_id)
    await nina.send("Medarbejderne oplever, at ledelsen er tæt på.")
    await nina.send("Vi spørger på næste måling.")
    await nina.press(da("Keep it as it is"))
    await nina.press("Lise")
    await nina.press(da("▶ Start the trial"))
    await _eventually(lambda: _status(e2e_engine, decision_id) == "trying")
    reaction = await nina.send("/forloeb")
    assert "Lederteamets prøvehandling: Lederteamets prøvehandling for hele plejehjemmet" in (
        reaction.text
    )
    assert "(" + da("trying it") + ")" in reaction.text

    # The evaluation: kept, as a team keeps a trial action.
    await nina.send("/proposals")
    reaction = await nina.press(button)
    assert f"dec:evalnow:{decision_id}" in str(reaction.edits[-1].inline_keyboard)
    await nina.press_data(f"dec:evalnow:{decision_id}")
    keep = await _button(nina, f"dec:ev:{decision_id}:keep")
    await nina.press(f"dec:ev:{decision_id}:keep", message_id=keep.message_id)
    await _eventually(lambda: _status(e2e_engine, decision_id) == "done")
    with Session(e2e_engine) as session:
        decision = decisions.get_decision(session=session, decision_id=decision_id)
        assert decision is not None and decision.outcome == "keep"


def _only_proposal(engine: Engine, decision_id: int) -> Proposal | None:
    with Session(engine) as session:
        rows = decisions.proposals_of(session=session, decision_id=decision_id)
        return rows[0] if len(rows) == 1 else None


# ---------------------------------------------------------------- stopping, administrators


async def test_a_lead_stops_a_course_after_saying_yes_and_can_start_a_new_one(
    emulator: BotApiEmulator, bot: StemmeApplication, admin: Admin, e2e_engine: Engine
) -> None:
    _team_id, lise, omar = await team_with_residents(emulator, admin)
    await lise.send("/forloeb")
    reaction = await lise.press("I dag")
    with Session(e2e_engine) as session:
        course_id = require_id(session.exec(select(Course)).one())
    reaction = await lise.press("⏹ Stop forløbet")
    assert "Stoppe forløbet for Team Syd før det tredje dialogmøde?" in reaction.text
    reaction = await lise.press("Nej, behold det")
    assert "Forløb for Team Syd, opstart" in reaction.text
    # Staff cannot stop it, nor can a button for another course.
    await omar.press_data(f"prog:stopok:{course_id}")
    reaction = await lise.press_data(f"prog:stopok:{course_id + 1}")
    assert reaction.alert is not None
    with Session(e2e_engine) as session:
        running_course = session.get(Course, course_id)
        assert running_course is not None and running_course.status == CourseStatus.RUNNING

    await lise.send("/forloeb")
    await lise.press("⏹ Stop forløbet")
    reaction = await lise.press("Ja, stop forløbet")
    assert "Forløbet for Team Syd blev stoppet den" in reaction.text
    assert "I dag" in (reaction.edits or reaction.messages)[-1].button_texts
    with Session(e2e_engine) as session:
        course = session.get(Course, course_id)
        assert course is not None and course.status == CourseStatus.STOPPED
        assert course.ended_at is not None
        actions = session.exec(select(AuditEntry.action)).all()
    assert "course.stop" in actions
    # A press on the old question changes nothing; a new course can begin.
    reaction = await lise.press_data(f"prog:stopok:{course_id}")
    assert reaction.alert is not None
    reaction = await lise.send("/forloeb")
    reaction = await lise.press("I dag")
    assert "0 af 3 dialogmøder holdt." in reaction.text
    with Session(e2e_engine) as session:
        statuses = sorted(c.status for c in session.exec(select(Course)).all())
    assert statuses == [CourseStatus.RUNNING, CourseStatus.STOPPED]


CONSULTANT_ID = 42


async def test_an_administrator_sees_every_teams_course_starts_one_and_stops_it(
    emulator: BotApiEmulator, admin: Admin, e2e_database_url: str, e2e_engine: Engine
) -> None:
    settings = e2e_settings(emulator, e2e_database_url).model_copy(
        update={"admins": [CONSULTANT_ID]}
    )
    async with running(build_application(settings)):
        south_id, lise, omar = await team_with_residents(emulator, admin)
        site_id = admin("site", "list")["sites"][0]["id"]
        north = admin("team", "add", "--site", str(site_id), "Team Nord")["team"]
        await lise.send("/forloeb")
        await lise.press("I dag")
        consultant = emulator.user(CONSULTANT_ID, "Konsulent", language_code="da")

        reaction = await consultant.send("/forloeb")
        assert "Forløb i alle teams:" in reaction.text
        south_line = next(line for line in reaction.text.splitlines() if "/ Team Syd:" in line)
        north_line = next(line for line in reaction.text.splitlines() if "/ Team Nord:" in line)
        assert "0 af 3 dialogmøder holdt" in south_line
        assert "intet forløb i gang" in north_line
        assert "Fru" not in reaction.text and "Lise" not in reaction.text

        reaction = await consultant.press_data(f"prog:adm:team:{north['id']}")
        assert "Der kører intet forløb for Team Nord." in reaction.text
        tomorrow = _today() + timedelta(days=1)
        reaction = await consultant.press_data(f"prog:adm:start:{north['id']}:{tomorrow:%Y%m%d}")
        assert "Forløb for Team Nord, opstart" in reaction.text
        assert "Teamets leder planlægger dialogmøderne med /forloeb." in reaction.text
        with Session(e2e_engine) as session:
            north_course = programme.running_course(session=session, team_id=north["id"])
            assert north_course is not None and north_course.kickoff_on == tomorrow
            south_course = programme.running_course(session=session, team_id=south_id)
            assert south_course is not None

        # A second start for the same team, or a stop for a course it does not run, is stale.
        reaction = await consultant.press_data(f"prog:adm:start:{north['id']}:{tomorrow:%Y%m%d}")
        assert reaction.alert is not None
        reaction = await consultant.press_data(
            f"prog:adm:stopok:{north['id']}:{require_id(south_course)}"
        )
        assert reaction.alert is not None

        reaction = await consultant.press_data(f"prog:adm:team:{south_id}")
        reaction = await consultant.press("⏹ Stop forløbet")
        assert "Stoppe forløbet for Team Syd" in reaction.text
        reaction = await consultant.press("Ja, stop forløbet")
        assert "Forløbet for Team Syd blev stoppet den" in reaction.text
        with Session(e2e_engine) as session:
            assert programme.running_course(session=session, team_id=south_id) is None
            assert programme.running_course(session=session, team_id=north["id"]) is not None
        # A staff member's /forloeb is still refused.
        reaction = await omar.send("/forloeb")
        assert da("Only the team lead can do that.") in (reaction.text + (reaction.alert or ""))
