"""The indicators over time, on SQLite and PostgreSQL: every figure of every month of the
seeded site (tests/report_data.py) against the rows it counts, the month boundaries in
Copenhagen time on both sides of daylight saving time, and the pulse only where it met
the site's threshold."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from storage import indicators
from storage.indicators import Month, TeamMonth
from tests import report_data
from tests.report_data import EXPECTED_A, NOW

TZ = ZoneInfo("Europe/Copenhagen")
MARCH, NOVEMBER = Month(2026, 3), Month(2026, 11)


def _figures(month: TeamMonth) -> dict[str, object]:
    return {
        "moments": month.moments,
        "residents_noted": month.residents_noted,
        "cases": month.cases,
        "step_days": month.step_days,
        "trials_started": month.trials_started,
        "trials_kept": month.trials_kept,
        "trials_adjusted": month.trials_adjusted,
        "trials_dropped": month.trials_dropped,
        "meetings_held": month.meetings_held,
        "meetings_with_minutes": month.meetings_with_minutes,
        "dilemmas_brought": month.dilemmas_brought,
        "dilemmas_discussed": month.dilemmas_discussed,
        "pulse_status": month.pulse_status,
        "pulse_score": month.pulse_score,
    }


EMPTY = _figures(TeamMonth(month=MARCH))


def test_every_figure_of_every_month_is_what_the_rows_say(session: Session) -> None:
    seeded = report_data.seed(session)
    found = indicators.team_indicators(
        session=session,
        teams=[seeded.team_a, seeded.team_b],
        first=MARCH,
        last=NOVEMBER,
        tz=TZ,
        now=NOW,
    )
    assert [row.team.name for row in found] == [report_data.TEAM_A, report_data.TEAM_B]
    team_a, team_b = found
    assert [str(month.month) for month in team_a.months] == [
        f"2026-{number:02d}" for number in range(3, 12)
    ]
    for month in team_a.months:
        expected = {**EMPTY, **EXPECTED_A.get(str(month.month), {})}
        assert _figures(month) == expected, str(month.month)
    march_b = {**EMPTY, "moments": 2, "residents_noted": 1}
    june_b = {**EMPTY, "pulse_status": "shown", "pulse_score": report_data.B_JUNE_SCORE}
    for month in team_b.months:
        expected = {"2026-03": march_b, "2026-06": june_b}.get(str(month.month), EMPTY)
        assert _figures(month) == expected, str(month.month)
    # The site's June pools the two shown pulses' tallies, never a person's answers.
    june = [row.months[3] for row in found]
    assert indicators.pooled_score(m.pulse_tally for m in june) == report_data.SITE_JUNE_SCORE


def test_a_month_is_a_copenhagen_month_on_both_sides_of_daylight_saving_time(
    session: Session,
) -> None:
    """31 March 21:30 UTC is 23:30 in Copenhagen (March), 22:30 UTC already April; on 31
    October (winter time again) 22:30 UTC is still October and 23:30 UTC is November."""
    seeded = report_data.seed(session)

    def moments(first: Month, last: Month) -> list[int]:
        (row,) = indicators.team_indicators(
            session=session, teams=[seeded.team_a], first=first, last=last, tz=TZ, now=NOW
        )
        return [month.moments for month in row.months]

    assert moments(Month(2026, 2), Month(2026, 2)) == [1]  # 23:30 on 28 February local
    assert moments(MARCH, Month(2026, 4)) == [7, 3]
    assert moments(Month(2026, 10), NOVEMBER) == [1, 1]
    # In UTC the same notes would split 6 / 4 and 2 / 0: the zone is what decides.
    utc_months = indicators.team_indicators(
        session=session,
        teams=[seeded.team_a],
        first=MARCH,
        last=Month(2026, 4),
        tz=ZoneInfo("UTC"),
        now=NOW,
    )
    assert [month.moments for month in utc_months[0].months] == [6 + 1 + 1, 2]


def test_the_period_is_checked() -> None:
    with pytest.raises(ValueError):
        Month.parse("2026-13")
    with pytest.raises(ValueError):
        Month.parse("marts")
    assert Month.parse("2026-03") == MARCH
    assert indicators.months_between(Month(2025, 11), Month(2026, 2)) == [
        Month(2025, 11),
        Month(2025, 12),
        Month(2026, 1),
        Month(2026, 2),
    ]


def test_a_period_longer_than_three_years_or_backwards_is_refused(session: Session) -> None:
    seeded = report_data.seed(session)
    for first, last in ((NOVEMBER, MARCH), (Month(2020, 1), Month(2026, 1))):
        with pytest.raises(ValueError):
            indicators.team_indicators(
                session=session, teams=[seeded.team_a], first=first, last=last, tz=TZ, now=NOW
            )
