"""The dashboard's API (``webapp.api.Dashboard``) on the sandbox's seeded care home, on
SQLite and PostgreSQL: who gets in (401 for forged, expired or missing initData and for
strangers, with nothing personal logged), what each view shows of what is stored, that a
member of another team sees nothing of Team Rosen, and that the page's actions write
through the chat's storage functions."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flows.core.i18n import texts
from sandbox.seed import CareHome, seed_care_home
from storage import agenda, cases, notes, prompts, trials
from storage import pulse as pulses
from storage.db import session_scope, utcnow
from storage.models import Member, Membership, Note, NoteMarker, Role, Team
from tests.factories import make_member, make_resident, make_site, make_team
from webapp.api import Dashboard, Reply
from webapp.initdata import sign

TZ = ZoneInfo("Europe/Copenhagen")
TOKEN = "424242:dashboard-test-token"
ADMIN_ID = 990001


@dataclass
class World:
    engine: Engine
    home: CareHome
    dashboard: Dashboard
    other_lead: int
    other_alias: str
    woken: list[int]


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    with session_scope(engine) as session:
        home = seed_care_home(session=session, now=utcnow(), tz=TZ)
        site = make_site(session=session, name="Hjemmeplejen Nord")
        team = make_team(session=session, site=site, name="Team Syd")
        lead = make_member(session=session, team=team, role=Role.LEAD, name="Birgit Andersen")
        resident = make_resident(session=session, team=team, alias="Hr. P., vej 4")
        other = (lead.member.telegram_id, resident.alias)
    woken: list[int] = []
    dashboard = Dashboard(
        engine=engine,
        bot_token=TOKEN,
        admins=[ADMIN_ID],
        texts=texts("da", TZ),
        wake_prompts=lambda: woken.append(1),
    )
    yield World(engine, home, dashboard, other[0], other[1], woken)


def _auth(telegram_id: int, *, age: timedelta = timedelta(minutes=1), token: str = TOKEN) -> str:
    return "tma " + sign(telegram_id=telegram_id, bot_token=token, auth_date=utcnow() - age)


async def _call(
    world: World,
    path: str,
    telegram_id: int | None,
    *,
    method: str = "GET",
    body: object = None,
    query: dict[str, str] | None = None,
    authorization: str | None = None,
) -> Reply:
    headers = {}
    if authorization is not None:
        headers["authorization"] = authorization
    elif telegram_id is not None:
        headers["authorization"] = _auth(telegram_id)
    raw = json.dumps(body).encode() if body is not None else b""
    return await world.dashboard.handle(method, path, headers, query or {}, raw)


async def _ok(world: World, path: str, telegram_id: int, **kwargs: Any) -> Any:
    reply = await _call(world, path, telegram_id, **kwargs)
    assert reply.status == 200, reply.body
    return reply.json()


def _aliases(world: World) -> list[str]:
    return [resident.alias for resident in world.home.residents]


# ------------------------------------------------------------------ who gets in


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer something",
        "tma ",
        "tma auth_date=1&hash=00",
    ],
)
async def test_missing_or_malformed_init_data_is_401(
    world: World, authorization: str | None
) -> None:
    reply = await _call(world, "/app/api/residents", None, authorization=authorization)
    assert reply.status == 401
    assert reply.json()["error"] == "unauthorized"
    assert all(alias not in reply.body.decode() for alias in _aliases(world))


async def test_a_forged_hash_is_401_and_nothing_personal_is_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    lead = world.home.lead.telegram_id
    forged = _auth(lead, token="424242:another-bot")
    with caplog.at_level(logging.INFO):
        reply = await _call(world, "/app/api/residents", None, authorization=forged)
    assert reply.status == 401
    assert "Åbn overblikket fra stemme i Telegram." in reply.json()["message"]
    logged = caplog.text
    assert "forged" in logged
    assert str(lead) not in logged and "hash=" not in logged and forged[4:30] not in logged


async def test_an_expired_auth_date_is_401(world: World) -> None:
    stale = _auth(world.home.lead.telegram_id, age=timedelta(hours=24, minutes=1))
    reply = await _call(world, "/app/api/board", None, authorization=stale)
    assert reply.status == 401


async def test_a_stranger_signed_by_telegram_is_401(world: World) -> None:
    reply = await _call(world, "/app/api/residents", world.home.stranger.telegram_id)
    assert reply.status == 401
    assert all(alias not in reply.body.decode() for alias in _aliases(world))


async def test_a_member_of_another_team_sees_only_their_own_team(world: World) -> None:
    listed = await _ok(world, "/app/api/residents", world.other_lead)
    assert [r["alias"] for r in listed["residents"]] == [world.other_alias]
    rosen_resident = world.home.residents[0].resident_id
    for path in (
        f"/app/api/residents/{rosen_resident}",
        f"/app/api/cases/{world.home.team_case_id}",
    ):
        reply = await _call(world, path, world.other_lead)
        assert reply.status == 404, path
        body = reply.body.decode()
        assert all(alias not in body for alias in _aliases(world)), path
    moments = await _call(
        world, "/app/api/moments", world.other_lead, query={"resident": str(rosen_resident)}
    )
    assert moments.status == 404
    board = await _ok(world, "/app/api/board", world.other_lead)
    assert all(not column["cases"] for column in board["columns"])
    minutes = await _call(
        world,
        f"/app/api/meetings/{world.home.meeting_occurrence_id}/minutes",
        world.other_lead,
        method="POST",
        body={"discussed": [], "decision": "Vi prøver"},
    )
    assert minutes.status == 404
    with Session(world.engine) as session:
        stored = agenda.get_minutes(
            session=session, occurrence_id=world.home.meeting_occurrence_id
        )
    assert stored is None


# ------------------------------------------------------------------ the views


async def test_me_names_the_team_role_and_views(world: World) -> None:
    me = await _ok(world, "/app/api/me", world.home.lead.telegram_id)
    assert me["team"]["name"] == "Team Rosen" and me["role"] == "lead"
    assert me["language"] == "da" and not me["is_admin"]
    assert "overview" not in me["views"] and "board" in me["views"]


async def test_the_residents_and_a_card_show_what_is_stored(world: World) -> None:
    lead = world.home.lead.telegram_id
    listed = await _ok(world, "/app/api/residents", lead)
    assert sorted(r["alias"] for r in listed["residents"]) == sorted(_aliases(world))
    with Session(world.engine) as session:
        counts = {
            r.resident_id: notes.count_notes(
                session=session, team_id=world.home.team_id, resident_id=r.resident_id
            )
            for r in world.home.residents
        }
        trial = trials.get_trial(session=session, decision_id=world.home.trial_decision_id)
        case = cases.get_team_case(
            session=session, team_id=world.home.team_id, case_id=world.home.trying_case_id
        )
    assert {r["id"]: r["moments"] for r in listed["residents"]} == counts
    assert trial is not None and case is not None
    card = await _ok(world, f"/app/api/residents/{case.resident_id}", lead)
    alias = next(r.alias for r in world.home.residents if r.resident_id == case.resident_id)
    assert card["approach_heading"] == f"Sådan møder vi {alias} nu"
    assert card["matters_heading"] == f"Det betyder noget for {alias}"
    assert any(trial.action in line for line in card["approach"])
    assert card["total"] == counts[case.resident_id]
    assert sum(m["count"] for m in card["matters"]) >= 1


async def test_the_board_puts_each_case_in_the_column_of_its_step(world: World) -> None:
    board = await _ok(world, "/app/api/board", world.home.lead.telegram_id)
    columns = {column["step"]: [c["id"] for c in column["cases"]] for column in board["columns"]}
    assert world.home.listening_case_id in columns[1]
    assert world.home.team_case_id in columns[2]
    assert world.home.deciding_case_id in columns[3]
    assert world.home.trying_case_id in columns[4]
    every = [case_id for ids in columns.values() for case_id in ids]
    assert world.home.evaluated_case_id not in every
    labels = [column["label"] for column in board["columns"]]
    assert labels[0].startswith("Trin 1 af 4")


async def test_the_trial_shows_its_plan_days_left_and_check_ins(world: World) -> None:
    listed = await _ok(world, "/app/api/trials", world.home.staff[0].telegram_id)
    found = next(t for t in listed["trials"] if t["id"] == world.home.trial_decision_id)
    with Session(world.engine) as session:
        trial = trials.get_trial(session=session, decision_id=world.home.trial_decision_id)
        summary = trials.checkin_summary(session=session, decision_id=world.home.trial_decision_id)
    assert trial is not None
    assert (found["aim"], found["measure"], found["action"]) == (
        trial.aim,
        trial.measure,
        trial.action,
    )
    today = utcnow().astimezone(TZ).date()
    assert found["days_left"] == (trial.ends_on - today).days
    assert found["checkins"]["helped"] == summary.helped
    assert found["checkins"]["not_helped"] == summary.not_helped
    assert found["status_label"] == "Afprøves"
    if summary.total:
        assert found["chart"].startswith("<svg") and "Hjalp" in found["chart"]


async def test_moments_per_week_count_the_stored_notes(world: World) -> None:
    lead = world.home.lead.telegram_id
    shown = await _ok(world, "/app/api/moments", lead)
    assert len(shown["weeks"]) == 12 and shown["weeks"][-1].startswith("uge ")
    with Session(world.engine) as session:
        stored = session.exec(select(Note).where(Note.team_id == world.home.team_id)).all()
        marked = session.exec(
            select(NoteMarker).where(NoteMarker.team_id == world.home.team_id)
        ).all()
    now = utcnow()
    recent = [n for n in stored if now - n.created_at < timedelta(days=7 * 11)]
    assert sum(shown["total"]) >= len(recent)
    assert sum(shown["total"]) <= len(stored)
    assert shown["chart"].startswith("<svg") and "Median" in shown["chart"]
    # Filtered by a marker: only notes with that marker, newest first.
    marker = marked[0].marker
    with_marker = {m.note_id for m in marked if m.marker == marker}
    filtered = await _ok(world, "/app/api/moments", lead, query={"marker": marker})
    assert filtered["notes"] and {n["id"] for n in filtered["notes"]} <= with_marker
    ids = [n["id"] for n in filtered["notes"]]
    assert ids == sorted(ids, reverse=True)
    resident = world.home.residents[0].resident_id
    by_resident = await _ok(world, "/app/api/moments", lead, query={"resident": str(resident)})
    alias = world.home.residents[0].alias
    assert by_resident["notes"] and all(n["alias"] == alias for n in by_resident["notes"])
    bad = await _call(world, "/app/api/moments", lead, query={"marker": "nope"})
    assert bad.status == 404


async def test_the_pulse_shows_the_score_that_met_the_threshold(world: World) -> None:
    shown = await _ok(world, "/app/api/pulse", world.home.lead.telegram_id)
    with Session(world.engine) as session:
        pulse = pulses.get_team_pulse(
            session=session, team_id=world.home.team_id, pulse_id=world.home.pulse_id
        )
        assert pulse is not None
        result = pulses.result(session=session, pulse=pulse, now=utcnow())
    assert result.score is not None
    assert shown["latest"]["visible"] is True
    assert shown["latest"]["score"] == round(result.score, 1)
    assert len(shown["latest"]["statements"]) == 7
    assert shown["chart"].startswith("<svg")


async def test_a_pulse_under_the_threshold_shows_the_count_only(engine: Engine) -> None:
    with session_scope(engine) as session:
        team = make_team(session=session)
        lead = make_member(session=session, team=team, role=Role.LEAD)
        members = [make_member(session=session, team=team) for _ in range(2)]
        now = utcnow()
        opened = now - timedelta(days=8)
        pulse = pulses.start_pulse(
            session=session,
            team_id=team.id or 0,
            lead_member_id=lead.member.id or 0,
            now=opened,
            tz=TZ,
        )
        for member in members:
            pulses.record_answers(
                session=session,
                pulse=pulse,
                member_id=member.member.id or 0,
                values=[5] * 7,
                now=opened + timedelta(hours=1),
                tz=TZ,
            )
        lead_id = lead.member.telegram_id
    dashboard = Dashboard(engine=engine, bot_token=TOKEN, admins=[], texts=texts("da", TZ))
    reply = await dashboard.handle(
        "GET", "/app/api/pulse", {"authorization": _auth(lead_id)}, {}, b""
    )
    shown = reply.json()
    assert reply.status == 200
    assert shown["latest"]["visible"] is False and shown["latest"]["score"] is None
    assert shown["latest"]["statements"] == [] and shown["chart"] is None
    assert "2 har svaret" in shown["latest"]["message"]


async def test_the_meetings_ahead_carry_their_agenda(world: World) -> None:
    shown = await _ok(world, "/app/api/meetings", world.home.lead.telegram_id)
    meeting = next(m for m in shown["meetings"] if m["id"] == world.home.meeting_occurrence_id)
    with Session(world.engine) as session:
        built = agenda.build_agenda(
            session=session,
            team_id=world.home.team_id,
            occurrence_id=world.home.meeting_occurrence_id,
        )
    assert [(e["kind"], e["ref_id"]) for e in meeting["entries"]] == [
        (e.kind, e.ref_id) for e in built.entries
    ]
    assert meeting["title"].startswith("Refleksionsmøde")
    assert meeting["can_write_minutes"] is True
    staff = await _ok(world, "/app/api/meetings", world.home.staff[0].telegram_id)
    assert all(m["can_write_minutes"] is False for m in staff["meetings"])


# ------------------------------------------------------------------ the actions


async def test_the_lead_writes_the_minutes_and_the_team_gets_the_decisions(world: World) -> None:
    shown = await _ok(world, "/app/api/meetings", world.home.lead.telegram_id)
    meeting = next(m for m in shown["meetings"] if m["id"] == world.home.meeting_occurrence_id)
    ticked = [[e["kind"], e["ref_id"]] for e in meeting["entries"][:2]]
    answer = await _ok(
        world,
        f"/app/api/meetings/{meeting['id']}/minutes",
        world.home.lead.telegram_id,
        method="POST",
        body={"discussed": ticked, "decision": "Vi spørger Fru H. om morgenen først."},
    )
    assert answer["sent_to"] == 5
    assert world.woken == [1]
    with Session(world.engine) as session:
        stored = agenda.get_minutes(session=session, occurrence_id=meeting["id"])
        queued = prompts.next_pending(
            session=session, after=utcnow() - timedelta(days=1), team_id=world.home.team_id
        )
    assert stored is not None
    assert agenda.discussed_of(stored) == [(kind, ref) for kind, ref in ticked]
    assert stored.decision == "Vi spørger Fru H. om morgenen først."
    assert queued is not None
    again = await _call(
        world,
        f"/app/api/meetings/{meeting['id']}/minutes",
        world.home.lead.telegram_id,
        method="POST",
        body={"discussed": [], "decision": "Noget andet"},
    )
    assert again.status == 403


async def test_staff_cannot_write_minutes(world: World) -> None:
    reply = await _call(
        world,
        f"/app/api/meetings/{world.home.meeting_occurrence_id}/minutes",
        world.home.staff[0].telegram_id,
        method="POST",
        body={"discussed": [], "decision": "Vi prøver"},
    )
    assert reply.status == 403
    assert reply.json()["message"] == "Det kan kun teamlederen."
    with Session(world.engine) as session:
        assert (
            agenda.get_minutes(session=session, occurrence_id=world.home.meeting_occurrence_id)
            is None
        )


async def test_minutes_with_a_point_not_on_the_agenda_are_refused(world: World) -> None:
    reply = await _call(
        world,
        f"/app/api/meetings/{world.home.meeting_occurrence_id}/minutes",
        world.home.lead.telegram_id,
        method="POST",
        body={"discussed": [["note", 999999]], "decision": None},
    )
    assert reply.status == 404
    with Session(world.engine) as session:
        assert (
            agenda.get_minutes(session=session, occurrence_id=world.home.meeting_occurrence_id)
            is None
        )


async def test_a_member_adds_a_perspective_to_a_case_with_the_team(world: World) -> None:
    staff = world.home.staff[-1]
    text = "Hun bliver roligere, når vi sætter os ned først."
    answer = await _ok(
        world,
        f"/app/api/cases/{world.home.team_case_id}/perspective",
        staff.telegram_id,
        method="POST",
        body={"text": text},
    )
    assert answer == {"saved": True}
    with Session(world.engine) as session:
        stored = cases.get_perspective(
            session=session, case_id=world.home.team_case_id, member_id=staff.member_id or 0
        )
    assert stored is not None and stored.text == text
    detail = await _ok(world, f"/app/api/cases/{world.home.team_case_id}", staff.telegram_id)
    assert detail["my_perspective"] == text


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"text": "Hendes nummer er 010203-1234"}, 400, "cpr"),
        ({"text": "x" * 5000}, 400, "invalid"),
        ({"text": "   "}, 400, "empty"),
        ({"text": 12}, 400, "bad_request"),
    ],
)
async def test_a_bad_perspective_is_refused_and_nothing_is_stored(
    world: World, body: dict[str, object], status: int, error: str
) -> None:
    staff = world.home.staff[-1]
    reply = await _call(
        world,
        f"/app/api/cases/{world.home.team_case_id}/perspective",
        staff.telegram_id,
        method="POST",
        body=body,
    )
    assert (reply.status, reply.json()["error"]) == (status, error)
    with Session(world.engine) as session:
        stored = cases.get_perspective(
            session=session, case_id=world.home.team_case_id, member_id=staff.member_id or 0
        )
    assert stored is None


async def test_a_perspective_on_a_case_at_another_step_is_refused(world: World) -> None:
    reply = await _call(
        world,
        f"/app/api/cases/{world.home.listening_case_id}/perspective",
        world.home.staff[0].telegram_id,
        method="POST",
        body={"text": "Et perspektiv"},
    )
    assert reply.status == 403


async def test_a_body_that_is_not_json_is_400(world: World) -> None:
    reply = await world.dashboard.handle(
        "POST",
        f"/app/api/cases/{world.home.team_case_id}/perspective",
        {"authorization": _auth(world.home.staff[0].telegram_id)},
        {},
        b"{not json",
    )
    assert reply.status == 400


# ------------------------------------------------------------------ the consultant


async def test_the_administrator_sees_counts_of_every_team_and_nothing_personal(
    world: World,
) -> None:
    me = await _ok(world, "/app/api/me", ADMIN_ID)
    assert me["is_admin"] and me["team"] is None and me["views"] == ["overview"]
    shown = await _ok(world, "/app/api/overview", ADMIN_ID)
    teams = {team["name"]: team for site in shown["sites"] for team in site["teams"]}
    assert set(teams) >= {"Team Rosen", "Team Syd"}
    with Session(world.engine) as session:
        recent = [
            n
            for n in session.exec(select(Note).where(Note.team_id == world.home.team_id)).all()
            if utcnow() - n.created_at < timedelta(days=30)
        ]
        texts_stored = [n.text for n in recent if n.text]
    rosen = teams["Team Rosen"]
    assert rosen["moments"] == len(recent)
    assert rosen["open_cases"] == 4
    assert rosen["pulse_score"] is not None
    body = json.dumps(shown, ensure_ascii=False)
    people = [world.home.lead.first_name, *(p.first_name for p in world.home.staff)]
    assert all(alias not in body for alias in _aliases(world))
    assert all(name not in body for name in people)
    assert all(text not in body for text in texts_stored)
    residents = await _call(world, "/app/api/residents", ADMIN_ID)
    assert residents.status == 404


async def test_a_member_is_refused_the_overview(world: World) -> None:
    reply = await _call(world, "/app/api/overview", world.home.lead.telegram_id)
    assert reply.status == 403
    assert "Team Syd" not in reply.body.decode()


async def test_a_member_of_two_teams_switches_as_with_team(world: World) -> None:
    with session_scope(world.engine) as session:
        other_team = session.exec(select(Team).where(Team.name == "Team Syd")).one()
        ahmed = session.get(Member, world.home.staff[0].member_id)
        assert ahmed is not None
        session.add(Membership(member_id=ahmed.id or 0, team_id=other_team.id or 0))
        other_team_id = other_team.id
    ahmed_id = world.home.staff[0].telegram_id
    before = await _ok(world, "/app/api/me", ahmed_id)
    assert before["team"]["name"] == "Team Rosen" and len(before["teams"]) == 2
    switched = await _ok(
        world, "/app/api/team", ahmed_id, method="POST", body={"team_id": other_team_id}
    )
    assert switched == {"team_id": other_team_id}
    listed = await _ok(world, "/app/api/residents", ahmed_id)
    assert [r["alias"] for r in listed["residents"]] == [world.other_alias]
    refused = await _call(
        world,
        "/app/api/team",
        world.other_lead,
        method="POST",
        body={"team_id": world.home.team_id},
    )
    assert refused.status == 404


async def test_a_member_who_left_the_team_is_401(world: World) -> None:
    staff = world.home.staff[1]
    with session_scope(world.engine) as session:
        membership = session.exec(
            select(Membership).where(Membership.member_id == staff.member_id)
        ).one()
        membership.active = False
        session.add(membership)
    reply = await _call(world, "/app/api/residents", staff.telegram_id)
    assert reply.status == 401
    assert all(alias not in reply.body.decode() for alias in _aliases(world))


async def test_a_member_who_chose_english_gets_the_dashboard_in_english(world: World) -> None:
    jonas = next(p for p in world.home.staff if p.language == "en")
    me = await _ok(world, "/app/api/me", jonas.telegram_id)
    assert me["language"] == "en" and me["role_label"] == "staff member"
    assert (me["texts"]["tab_residents"], me["texts"]["save_minutes"]) == (
        "Residents",
        "Save the minutes",
    )
    board = await _ok(world, "/app/api/board", jonas.telegram_id)
    assert board["columns"][0]["label"].startswith("Step 1 of 4")
    card = await _ok(
        world, f"/app/api/residents/{world.home.residents[0].resident_id}", jonas.telegram_id
    )
    assert card["matters_heading"].startswith("What matters to")
    lead = await _ok(world, "/app/api/me", world.home.lead.telegram_id)
    assert lead["texts"]["tab_residents"] == "Borgere"
