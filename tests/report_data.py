"""A site with two teams and nine months of what stemme stores, each row written at a
known moment, for the indicators (tests/storage/test_indicators.py) and ``stemme report``
(tests/test_cli_report.py). The moments sit on the edges that matter: the last hour of a
month in Copenhagen (which is the next month's first hour in UTC, or not, depending on
daylight saving time), the period's first and last day, a cancelled and a future
meeting, a pulse below the threshold.

``EXPECTED`` holds what each figure must be, worked out by hand from these rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session

from storage.db import require_id
from storage.models import (
    Decision,
    DecisionOrigin,
    DecisionStatus,
    Dilemma,
    MeetingMinutes,
    MeetingOccurrence,
    MeetingSeries,
    Note,
    NoteMarker,
    OccurrenceStatus,
    Outcome,
    Pulse,
    PulseParticipation,
    PulseTally,
    Resident,
    ResidentCase,
    Role,
    Site,
    Team,
    TrialAction,
)
from storage.pulse import ITEMS
from tests.factories import id_of, make_member, make_resident, make_site, make_team

# "now" for every computation over this data.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SITE = "Solbakken"
TEAM_A = "Ahornen"
TEAM_B = "Birken"
# Words that must never appear in a report: every alias, every member's name, note text.
SECRET_NOTE = "Fru Hansen smilede da vi sang Den blå anemone"
ALIASES = ["Fru Hansen", "Hr. Berg", "Fru Dahl", "Hr. Holm", "Fru Krog", "Hr. Lund"]
MEMBER_NAMES = ["Lise Bager", "Omar Khalil", "Birte Sand"]
CASE_SUMMARY = "Hr. Berg vil selv vælge sin morgenmad"
TRIAL_ACTION = "Vi spørger Fru Hansen om kaffe på altanen hver morgen"
DILEMMA_TEXT = "Skal vi vække Fru Dahl til morgenmad, når hun sover længe?"


def utc(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Seeded:
    site: Site
    team_a: Team
    team_b: Team
    residents: dict[str, Resident]


def _note(session: Session, team: Team, resident: Resident, author: int, at: datetime) -> None:
    note = Note(
        team_id=id_of(team),
        resident_id=id_of(resident),
        author_member_id=author,
        created_at=at,
        shift="day",
        text=SECRET_NOTE,
    )
    session.add(note)
    session.flush()
    session.add(
        NoteMarker(
            note_id=require_id(note),
            marker="tryghed",
            team_id=id_of(team),
            resident_id=id_of(resident),
        )
    )


def _decision(
    session: Session,
    team: Team,
    *,
    origin: str,
    origin_id: int | None,
    created: datetime,
    resident: Resident | None = None,
    outcome: str | None = None,
    evaluated: datetime | None = None,
    trial: tuple[datetime, date] | None = None,
) -> Decision:
    decision = Decision(
        team_id=id_of(team),
        resident_id=None if resident is None else id_of(resident),
        origin=origin,
        origin_id=origin_id,
        title="Morgenkaffe",
        status=DecisionStatus.DONE if outcome else DecisionStatus.TRYING,
        outcome=outcome,
        created_at=created,
        updated_at=evaluated or created,
    )
    session.add(decision)
    session.flush()
    if trial is not None:
        planned, starts_on = trial
        session.add(
            TrialAction(
                decision_id=require_id(decision),
                aim="Fru Hansen starter dagen roligt",
                measure="Hun smiler ved morgenmaden",
                action=TRIAL_ACTION,
                starts_on=starts_on,
                ends_on=starts_on + timedelta(days=14),
                created_at=planned,
            )
        )
        session.flush()
    return decision


def _case(
    session: Session,
    team: Team,
    resident: Resident,
    created: datetime,
    in_team: datetime | None,
    *,
    closed: bool = False,
) -> ResidentCase:
    case = ResidentCase(
        team_id=id_of(team),
        resident_id=id_of(resident),
        open_resident_id=None if closed else id_of(resident),
        step=2 if in_team else 1,
        summary=CASE_SUMMARY,
        created_at=created,
        in_team_at=in_team,
        closed_at=NOW if closed else None,
    )
    session.add(case)
    session.flush()
    return case


def _meeting(
    session: Session,
    series: MeetingSeries,
    number: int,
    at: datetime,
    status: str = OccurrenceStatus.SCHEDULED,
) -> MeetingOccurrence:
    occurrence = MeetingOccurrence(
        series_id=require_id(series),
        number=number,
        starts_at=at,
        ends_at=at + timedelta(hours=1),
        status=status,
    )
    session.add(occurrence)
    session.flush()
    return occurrence


def _pulse(
    session: Session, team: Team, opens: datetime, answers: int, value: int, members: list[int]
) -> None:
    pulse = Pulse(
        team_id=id_of(team),
        opens_at=opens,
        closes_at=opens + timedelta(days=7),
        opened=True,
        invited=len(members),
        created_at=opens,
    )
    session.add(pulse)
    session.flush()
    for member_id in members[:answers]:
        session.add(
            PulseParticipation(
                pulse_id=require_id(pulse), member_id=member_id, answered_on=opens.date()
            )
        )
    for item in ITEMS:
        session.add(PulseTally(pulse_id=require_id(pulse), item=item, value=value, count=answers))
    session.flush()


def seed(session: Session) -> Seeded:
    """Writes the site; commits nothing (the caller does)."""
    site = make_site(session=session, name=SITE)
    team_a = make_team(session=session, site=site, name=TEAM_A)
    team_b = make_team(session=session, site=site, name=TEAM_B)
    lead = make_member(session=session, team=team_a, role=Role.LEAD, name=MEMBER_NAMES[0])
    staff = make_member(session=session, team=team_a, name=MEMBER_NAMES[1])
    other = make_member(session=session, team=team_b, name=MEMBER_NAMES[2])
    author = id_of(staff.member)
    residents = {
        alias: make_resident(session=session, team=team_a, alias=alias) for alias in ALIASES
    }
    birk = make_resident(session=session, team=team_b, alias="Hr. Birk")
    hansen, berg, dahl = residents["Fru Hansen"], residents["Hr. Berg"], residents["Fru Dahl"]

    # Micro-moments. Before the period: not counted.
    _note(session, team_a, hansen, author, utc(2026, 2, 28, 22, 30))  # 23:30 on 28 Feb local
    # March: 7 notes about 6 residents; the last at 23:30 on 31 March in Copenhagen
    # (summer time since the 29th: 21:30 UTC).
    for index, alias in enumerate(ALIASES):
        _note(session, team_a, residents[alias], author, utc(2026, 3, 2 + index))
    _note(session, team_a, hansen, author, utc(2026, 3, 31, 21, 30))
    # April: 00:30 on 1 April in Copenhagen is 22:30 UTC on 31 March; 3 notes, 2 residents.
    _note(session, team_a, hansen, author, utc(2026, 3, 31, 22, 30))
    _note(session, team_a, berg, author, utc(2026, 4, 15))
    _note(session, team_a, berg, author, utc(2026, 4, 16))
    # October ends in winter time again: 22:30 UTC on 31 October is 23:30 local (October),
    # 23:30 UTC is 00:30 on 1 November (November).
    _note(session, team_a, dahl, author, utc(2026, 10, 31, 22, 30))
    _note(session, team_a, dahl, author, utc(2026, 10, 31, 23, 30))
    # Team B: 2 notes in March.
    _note(session, team_b, birk, id_of(other.member), utc(2026, 3, 10))
    _note(session, team_b, birk, id_of(other.member), utc(2026, 3, 11))

    # Cases. Fru Hansen: listen 3 days, team 7 days, decide 1 hour, try 20 days 22 hours.
    case_1 = _case(session, team_a, hansen, utc(2026, 3, 2, 10), utc(2026, 3, 5, 10), closed=True)
    _decision(
        session,
        team_a,
        origin=DecisionOrigin.CASE,
        origin_id=require_id(case_1),
        resident=hansen,
        created=utc(2026, 3, 12, 10),
        trial=(utc(2026, 3, 12, 11), date(2026, 3, 13)),
        outcome=Outcome.KEEP,
        evaluated=utc(2026, 4, 2, 9),
    )
    # Hr. Berg: listen 2 days in April, then waiting for the team.
    _case(session, team_a, berg, utc(2026, 4, 10, 9), utc(2026, 4, 12, 9))
    # Fru Dahl: began in February (not counted), reached the team on 1 March after 9 days.
    _case(session, team_a, dahl, utc(2026, 2, 20, 12), utc(2026, 3, 1, 12))
    # Team trial actions: adjusted in May; dropped in May; one before the period.
    _decision(
        session,
        team_a,
        origin=DecisionOrigin.TEAM,
        origin_id=None,
        created=utc(2026, 5, 1),
        trial=(utc(2026, 5, 1, 13), date(2026, 5, 4)),
        outcome=Outcome.ADJUST,
        evaluated=utc(2026, 5, 20),
    )
    _decision(
        session,
        team_a,
        origin=DecisionOrigin.PULSE,
        origin_id=None,
        created=utc(2026, 5, 2),
        trial=(utc(2026, 5, 2, 13), date(2026, 5, 6)),
        outcome=Outcome.DROP,
        evaluated=utc(2026, 5, 25),
    )
    _decision(
        session,
        team_a,
        origin=DecisionOrigin.TEAM,
        origin_id=None,
        created=utc(2026, 1, 5),
        trial=(utc(2026, 1, 5, 13), date(2026, 1, 6)),
        outcome=Outcome.KEEP,
        evaluated=utc(2026, 2, 1),
    )

    # Meetings of team A: two held in March (one with minutes), one cancelled in April,
    # one still to come on 25 November.
    series = MeetingSeries(
        team_id=id_of(team_a),
        created_by_member_id=id_of(lead.member),
        first_date=date(2026, 3, 10),
        start_time=time(14),
        duration_minutes=60,
    )
    session.add(series)
    session.flush()
    held = _meeting(session, series, 1, utc(2026, 3, 10, 13))
    session.add(
        MeetingMinutes(
            occurrence_id=require_id(held),
            team_id=id_of(team_a),
            recorded_by_member_id=id_of(lead.member),
            decision="Vi prøver morgenkaffe med Fru Hansen",
        )
    )
    _meeting(session, series, 2, utc(2026, 3, 24, 13))
    _meeting(session, series, 3, utc(2026, 4, 7, 12), status=OccurrenceStatus.CANCELLED)
    _meeting(session, series, 4, utc(2026, 11, 25, 13))

    # Dilemmas: two brought in March (one discussed in March), one brought in April and
    # discussed in May.
    for created, discussed in (
        (utc(2026, 3, 3), utc(2026, 3, 10, 14)),
        (utc(2026, 3, 20), None),
        (utc(2026, 4, 1), utc(2026, 5, 5)),
    ):
        session.add(
            Dilemma(
                team_id=id_of(team_a),
                author_member_id=author,
                text=DILEMMA_TEXT,
                created_at=created,
                discussed_at=discussed,
            )
        )

    # Pulses. June: A has 6 answers of 4 everywhere (score 4.0), B 5 answers of 6 (items
    # 1, 3 and 5 are reversed: (3 * 2 + 4 * 6) / 7). September: A has 3 answers, below the
    # site's threshold of 5. Members are only needed as ids for the participations.
    a_members = [id_of(make_member(session=session, team=team_a).member) for _ in range(6)]
    b_members = [id_of(make_member(session=session, team=team_b).member) for _ in range(5)]
    _pulse(session, team_a, utc(2026, 6, 1, 6), 6, 4, a_members)
    _pulse(session, team_b, utc(2026, 6, 2, 6), 5, 6, b_members)
    _pulse(session, team_a, utc(2026, 9, 1, 6), 3, 4, a_members)
    session.flush()
    return Seeded(site=site, team_a=team_a, team_b=team_b, residents=residents)


# Team A's exact figures by month (months not named are all zero, pulse "none").
EXPECTED_A: dict[str, dict[str, object]] = {
    "2026-03": {
        "moments": 7,
        "residents_noted": 6,
        "cases": {"listen": 1, "team": 2, "decide": 1, "try": 1, "evaluated": 0},
        "step_days": {"listen": 6.0, "team": 7.0, "decide": 0.0, "try": None},
        "trials_started": 1,
        "meetings_held": 2,
        "meetings_with_minutes": 1,
        "dilemmas_brought": 2,
        "dilemmas_discussed": 1,
    },
    "2026-04": {
        "moments": 3,
        "residents_noted": 2,
        "cases": {"listen": 1, "team": 1, "decide": 0, "try": 0, "evaluated": 1},
        "step_days": {"listen": 2.0, "team": None, "decide": None, "try": 20.9},
        "trials_kept": 1,
        "dilemmas_brought": 1,
    },
    "2026-05": {
        "trials_started": 2,
        "trials_adjusted": 1,
        "trials_dropped": 1,
        "dilemmas_discussed": 1,
    },
    "2026-06": {"pulse_status": "shown", "pulse_score": 4.0},
    "2026-09": {"pulse_status": "below_threshold"},
    "2026-10": {"moments": 1, "residents_noted": 1},
    "2026-11": {"moments": 1, "residents_noted": 1},
}
B_JUNE_SCORE = round((3 * 2 + 4 * 6) / 7, 2)
# The site's June: A and B pooled: reversed items (6 * 4 + 5 * 2) / 11, the others
# (6 * 4 + 5 * 6) / 11.
SITE_JUNE_SCORE = round((3 * 34 / 11 + 4 * 54 / 11) / 7, 2)
