"""The dashboard's views as JSON-ready dicts, built from the storage functions the chat
uses and worded with the chat's own texts (``case_views``, ``decision_views``,
``agenda_views``, the pulse's statements), in the viewer's language.

Every view of a team reads the viewer's current team only; ids in a request (a resident,
a case, a meeting) are looked up within that team, so another team's id finds nothing.
The consultant's view (``overview``) is counts per team, never a note, a resident or a
person's name.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlmodel import Session

from flows.core.i18n import N_, Texts
from flows.core.pickers import shorten
from flows.loop.case_views import STEP_LABELS, overdue_text, voice_label, waiting_text
from flows.loop.decision_views import approach_lines
from flows.meetings.agenda_views import entry_line, when_and_where
from flows.moments.micromoment import MARKER_LABELS, marker_label
from flows.safety.chart import format_score
from flows.safety.result import STATEMENTS
from flows.team.onboarding import role_name
from storage import agenda as agendas
from storage import cases, dashboard, directory, listening, notes, pulse, residents, trials
from storage.cases import CaseStep
from storage.db import require_id
from storage.models import CheckinAnswer, DecisionStatus, Marker, Note, Outcome
from webapp import charts
from webapp.access import Viewer
from webapp.texts import page_texts

# How far back the moments' run chart reaches, in weeks; trials shown after their end.
WEEKS = 12
TRIALS_SHOWN_FOR = timedelta(days=60)
# Meetings shown: the last two weeks' (for their minutes) and the next five weeks'.
MEETINGS_BEFORE = timedelta(days=14)
MEETINGS_AHEAD = timedelta(days=35)
EXAMPLE_LENGTH = 120

STATUS_LABELS = {
    DecisionStatus.PROPOSING: N_("Collecting proposals"),
    DecisionStatus.VOTING: N_("The team is voting"),
    DecisionStatus.TIE: N_("Tie: the lead chooses"),
    DecisionStatus.PLANNING: N_("The lead plans the trial"),
    DecisionStatus.TRYING: N_("Being tried"),
    DecisionStatus.EVALUATING: N_("To be evaluated"),
    DecisionStatus.DONE: N_("Evaluated"),
}
OUTCOME_LABELS = {
    Outcome.KEEP: N_("Kept"),
    Outcome.ADJUST: N_("Adjusted"),
    Outcome.DROP: N_("Dropped"),
}
ANSWER_LABELS = {
    CheckinAnswer.HELPED: N_("Helped"),
    CheckinAnswer.NOT_HELPED: N_("Did not help"),
    CheckinAnswer.NOT_RELEVANT: N_("Not relevant"),
}


class NotFound(LookupError):
    """The id names nothing in the viewer's team (or nothing at all)."""


class Refused(PermissionError):
    """The viewer may not do this (a staff member writing the minutes, say)."""


# ------------------------------------------------------------------ helpers


def _team_id(viewer: Viewer) -> int:
    if viewer.team_id is None:
        raise NotFound("no team")
    return viewer.team_id


def _note(texts: Texts, note: Note, alias: str, markers: list[str]) -> dict[str, Any]:
    content = (
        voice_label(texts, note.voice_duration)
        if note.voice_file_id or (note.text is None and note.voice_duration)
        else (note.text or texts._("(text removed by the retention policy)"))
    )
    return {
        "id": note.id,
        "alias": alias,
        "when": texts.short_day(note.created_at) + " " + texts.clock(note.created_at),
        "text": content,
        "markers": [marker_label(texts, marker) for marker in markers],
    }


def week_bounds(now: datetime, texts: Texts, weeks: int = WEEKS) -> list[datetime]:
    """The UTC instants of local Monday midnights: ``weeks`` whole weeks up to this week's
    end (the current week included), so a week is a Copenhagen week across DST."""
    today = texts.local(now).date()
    monday = today - timedelta(days=today.weekday())
    days = [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks + 1)]
    return [datetime.combine(day, time(0), tzinfo=texts.tz) for day in days]


def _week_label(texts: Texts, start: datetime) -> str:
    return texts._("wk {number}").format(number=texts.local(start).isocalendar().week)


# ------------------------------------------------------------------ who and which team


def me(session: Session, viewer: Viewer) -> dict[str, Any]:
    """Who the viewer is, their teams, and which views they have."""
    teams = []
    if viewer.member is not None:
        teams = [
            {"id": team.id, "name": team.name, "role": membership.role}
            for membership, team in directory.active_memberships(
                session=session, member_id=require_id(viewer.member)
            )
        ]
    views = ["residents", "board", "trials", "moments", "pulse", "meetings"] if teams else []
    if viewer.is_admin:
        views.append("overview")
    return {
        "name": viewer.member.name if viewer.member is not None else None,
        "language": viewer.texts.language,
        "team": (
            {"id": viewer.team_id, "name": viewer.team.name} if viewer.team is not None else None
        ),
        "role": viewer.membership.role if viewer.membership is not None else None,
        "role_label": role_name(viewer.texts, viewer.membership.role)
        if viewer.membership is not None
        else viewer.texts._("administrator"),
        "is_admin": viewer.is_admin,
        "teams": teams,
        "views": views,
        "texts": page_texts(viewer.texts),
    }


# ------------------------------------------------------------------ residents and cards


def resident_list(session: Session, viewer: Viewer) -> dict[str, Any]:
    """The team's residents, each with how the team meets them now and their count."""
    team_id = _team_id(viewer)
    t = viewer.texts
    found = []
    for resident in residents.list_residents(session=session, team_id=team_id):
        resident_id = require_id(resident)
        found.append(
            {
                "id": resident_id,
                "alias": resident.alias,
                "moments": notes.count_notes(
                    session=session, team_id=team_id, resident_id=resident_id
                ),
                "approach": approach_lines(
                    t, session, team_id=team_id, resident_id=resident_id, alias=resident.alias
                )[1:],
            }
        )
    return {"residents": found}


def resident_card(session: Session, viewer: Viewer, resident_id: int) -> dict[str, Any]:
    """One resident's card: "How we meet … now" and "What matters to …" by marker."""
    team_id = _team_id(viewer)
    t = viewer.texts
    resident = residents.get_team_resident(
        session=session, team_id=team_id, resident_id=resident_id, active_only=False
    )
    if resident is None:
        raise NotFound(resident_id)
    card = notes.resident_card(session=session, team_id=team_id, resident=resident)
    approach = approach_lines(
        t, session, team_id=team_id, resident_id=resident_id, alias=resident.alias
    )
    matters = []
    for marker, count in card.counts:
        examples = card.latest.get(marker, [])
        matters.append(
            {
                "marker": marker,
                "label": marker_label(t, marker),
                "count": count,
                "example": (
                    shorten(examples[0].text or "", EXAMPLE_LENGTH)
                    if examples and examples[0].text
                    else None
                ),
            }
        )
    return {
        "id": resident_id,
        "alias": resident.alias,
        "approach_heading": t._("How we meet {alias} now").format(alias=resident.alias),
        "approach": approach[1:],
        "matters_heading": t._("What matters to {alias}").format(alias=resident.alias),
        "matters": matters,
        "total": card.total,
    }


# ------------------------------------------------------------------ the loop board


def board(session: Session, viewer: Viewer, now: datetime) -> dict[str, Any]:
    """The open cases as four columns by step, each case with what it waits for."""
    team_id = _team_id(viewer)
    t = viewer.texts
    lines = cases.open_cases(session=session, team_id=team_id, today=t.local(now).date(), now=now)
    member_id = viewer.member.id if viewer.member is not None else None
    columns = []
    for step in (CaseStep.LISTEN, CaseStep.TEAM, CaseStep.DECIDING, CaseStep.TRYING):
        columns.append(
            {
                "step": int(step),
                "label": t._(STEP_LABELS[step]),
                "cases": [
                    {
                        "id": line.case.id,
                        "number": line.case.number,
                        "alias": line.alias,
                        "waiting": waiting_text(t, line),
                        "overdue": overdue_text(t, line) or None,
                        "can_add_perspective": step == CaseStep.TEAM and member_id is not None,
                        "mine_pending": member_id in line.waiting_for,
                    }
                    for line in lines
                    if line.step == step
                ],
            }
        )
    return {"columns": columns}


def case_detail(session: Session, viewer: Viewer, case_id: int, now: datetime) -> dict[str, Any]:
    """One open case: its resident, step, and the perspectives given (text ones)."""
    team_id = _team_id(viewer)
    t = viewer.texts
    case = cases.get_team_case(session=session, team_id=team_id, case_id=case_id)
    if case is None:
        raise NotFound(case_id)
    line = cases.overview_of(session=session, case=case, today=t.local(now).date(), now=now)
    mine = None
    if viewer.member is not None:
        own = cases.get_perspective(
            session=session, case_id=case_id, member_id=require_id(viewer.member)
        )
        mine = own.text if own is not None else None
    return {
        "id": case_id,
        "number": case.number,
        "alias": line.alias,
        "step": int(line.step),
        "step_label": t._(STEP_LABELS[line.step]),
        "waiting": waiting_text(t, line),
        "summary": case.summary,
        "perspectives": cases.count_perspectives(session=session, case_id=case_id),
        "my_perspective": mine,
        "can_add_perspective": line.step == CaseStep.TEAM and viewer.member is not None,
    }


# ------------------------------------------------------------------ trial actions


def trial_list(session: Session, viewer: Viewer, now: datetime) -> dict[str, Any]:
    """The trial actions running or ended lately: plan, days left, check-ins per day."""
    team_id = _team_id(viewer)
    t = viewer.texts
    today = t.local(now).date()
    aliases = {
        require_id(r): r.alias
        for r in residents.list_residents(session=session, team_id=team_id, include_inactive=True)
    }
    found = []
    for decision, trial in dashboard.team_trials(
        session=session, team_id=team_id, since=today - TRIALS_SHOWN_FOR
    ):
        days = dashboard.checkins_by_day(session=session, trial_action_id=require_id(trial))
        labels = [t.short_day(datetime.combine(day, time(12), tzinfo=t.tz)) for day in days]
        series = [
            (t._(label), [answers.get(answer, 0) for answers in days.values()])
            for answer, label in ANSWER_LABELS.items()
        ]
        summary = trials.checkin_summary(session=session, decision_id=require_id(decision))
        found.append(
            {
                "id": decision.id,
                "title": decision.title,
                "alias": aliases.get(decision.resident_id or 0),
                "aim": trial.aim,
                "measure": trial.measure,
                "action": trial.action,
                "starts_on": t.day(trial.starts_on),
                "ends_on": t.day(trial.ends_on),
                "days_left": max((trial.ends_on - today).days, 0)
                if decision.status == DecisionStatus.TRYING
                else None,
                "status": decision.status,
                "status_label": t._(STATUS_LABELS.get(DecisionStatus(decision.status), "")),
                "outcome_label": (
                    t._(OUTCOME_LABELS[Outcome(decision.outcome)]) if decision.outcome else None
                ),
                "checkins": {
                    "helped": summary.helped,
                    "not_helped": summary.not_helped,
                    "not_relevant": summary.not_relevant,
                    "members": summary.members,
                },
                "chart": charts.stacked_bars(
                    t._("Check-ins per day: {title}").format(title=decision.title),
                    labels,
                    series,
                )
                if days
                else None,
            }
        )
    return {"trials": found, "legend": [t._(label) for label in ANSWER_LABELS.values()]}


# ------------------------------------------------------------------ micro-moments


def moments(
    session: Session,
    viewer: Viewer,
    now: datetime,
    *,
    resident_id: int | None = None,
    marker: str | None = None,
    before_id: int | None = None,
) -> dict[str, Any]:
    """Moments per week by marker (a run chart), and the moments filtered by resident and
    marker, newest first, a page at a time."""
    team_id = _team_id(viewer)
    t = viewer.texts
    known = {
        require_id(r): r.alias
        for r in residents.list_residents(session=session, team_id=team_id, include_inactive=True)
    }
    if resident_id is not None and resident_id not in known:
        raise NotFound(resident_id)
    if marker is not None and marker not in {m.value for m in Marker}:
        raise NotFound(marker)
    bounds = week_bounds(now, t)
    counts = dashboard.marker_counts_by_period(
        session=session, team_id=team_id, bounds=bounds, resident_id=resident_id
    )
    labels = [_week_label(t, start) for start in bounds[:-1]]
    shown = counts.get(marker if marker is not None else "", [0] * (len(bounds) - 1))
    title = (
        t._("Micro-moments per week: {marker}").format(marker=marker_label(t, marker))
        if marker is not None
        else t._("Micro-moments per week")
    )
    page = dashboard.filtered_notes(
        session=session,
        team_id=team_id,
        resident_id=resident_id,
        marker=marker,
        before_id=before_id,
        limit=dashboard.PAGE + 1,
    )
    listed = page[: dashboard.PAGE]
    markers = notes.markers_of(session=session, note_ids=[require_id(n) for n in listed])
    return {
        "weeks": labels,
        "per_marker": {
            key: values for key, values in sorted(counts.items()) if key and any(values)
        },
        "total": counts.get("", []),
        "chart": charts.run_chart(title, labels, shown, t._("Median")),
        "markers": [{"key": m.value, "label": t._(label)} for m, label in MARKER_LABELS.items()],
        "residents": [{"id": key, "alias": alias} for key, alias in known.items()],
        "notes": [
            _note(t, note, known.get(note.resident_id, "?"), markers.get(require_id(note), []))
            for note in listed
        ],
        "more": len(page) > dashboard.PAGE,
    }


# ------------------------------------------------------------------ the pulse


def pulse_view(session: Session, viewer: Viewer, now: datetime) -> dict[str, Any]:
    """The pulse score over time and the latest result, as far as the threshold allows:
    below it the number of answers only, never a score or a statement's result."""
    team_id = _team_id(viewer)
    t = viewer.texts
    closed = pulse.closed_pulses(session=session, team_id=team_id, now=now)
    if not closed:
        return {"latest": None, "history": [], "chart": None}
    latest = pulse.result(session=session, pulse=closed[0], now=now)
    history = latest.history if latest.visible else []
    if not latest.visible:
        for earlier in closed[1:]:
            shown = pulse.result(session=session, pulse=earlier, now=now)
            if shown.visible:
                history = shown.history
                break
    labels = [t.short_day(opened) for opened, _score in history]
    scores = [score for _opened, score in history]
    return {
        "latest": {
            "closed_on": t.day(pulse.ends_at(latest.pulse)),
            "answers": latest.answers,
            "threshold": latest.threshold,
            "visible": latest.visible,
            "score": round(latest.score, 1) if latest.score is not None else None,
            "message": None
            if latest.visible
            else t._(
                "{answers} answered; the result is shown from {threshold} answers, "
                "so that no one can be recognised."
            ).format(answers=latest.answers, threshold=latest.threshold),
            "statements": [
                {"text": t._(STATEMENTS[item.item]), "mean": round(item.mean, 1)}
                for item in latest.items
            ]
            if latest.visible
            else [],
        },
        "history": [
            {"when": label, "score": round(s, 1)} for label, s in zip(labels, scores, strict=True)
        ],
        "chart": charts.score_line(
            t._("The team's pulse over time"),
            labels,
            scores,
            label=lambda score: format_score(t, score),
        )
        if scores
        else None,
    }


# ------------------------------------------------------------------ meetings


def meetings(session: Session, viewer: Viewer, now: datetime) -> dict[str, Any]:
    """The meetings of the last two weeks and the next five, each with its agenda; the
    lead may write the minutes of one that has no minutes yet."""
    team_id = _team_id(viewer)
    t = viewer.texts
    found = []
    for occurrence, _series, minutes in dashboard.meetings_around(
        session=session, team_id=team_id, since=now - MEETINGS_BEFORE, until=now + MEETINGS_AHEAD
    ):
        occurrence_id = require_id(occurrence)
        agenda = agendas.build_agenda(
            session=session, team_id=team_id, occurrence_id=occurrence_id
        )
        discussed = set(agendas.discussed_of(minutes)) if minutes is not None else set()
        found.append(
            {
                "id": occurrence_id,
                "title": when_and_where(t, agenda),
                "past": occurrence.starts_at <= now,
                "entries": [
                    {
                        "kind": entry.kind,
                        "ref_id": entry.ref_id,
                        "line": entry_line(session, t, entry, agenda),
                        "discussed": (entry.kind, entry.ref_id) in discussed,
                    }
                    for entry in agenda.entries
                ],
                "minutes": None
                if minutes is None
                else {"decision": minutes.decision, "discussed": len(discussed)},
                "can_write_minutes": viewer.is_lead and minutes is None,
            }
        )
    return {"meetings": found}


# ------------------------------------------------------------------ the consultant


def overview(session: Session, viewer: Viewer, now: datetime) -> dict[str, Any]:
    """Every team of every site with its counts of the last 30 days and its pulse score
    where it met the threshold: never a note, a resident or a person's name."""
    if not viewer.is_admin:
        raise Refused("overview")
    t = viewer.texts
    figures = dashboard.team_figures(session=session, since=now - timedelta(days=30))
    sites: dict[int, dict[str, Any]] = {}
    for row in pulse.site_overview(session=session, now=now):
        site = sites.setdefault(
            require_id(row.site), {"id": row.site.id, "name": row.site.name, "teams": []}
        )
        team_id = require_id(row.team)
        found = figures.get(team_id, dashboard.TeamFigures(team_id=team_id))
        site["teams"].append(
            {
                "id": team_id,
                "name": row.team.name,
                "moments": found.notes,
                "residents_noted": found.residents_noted,
                "cases_opened": found.cases_opened,
                "cases_closed": found.cases_closed,
                "open_cases": found.open_cases,
                "trials_running": found.trials_running,
                "kept": found.outcomes.get(Outcome.KEEP, 0),
                "adjusted": found.outcomes.get(Outcome.ADJUST, 0),
                "dropped": found.outcomes.get(Outcome.DROP, 0),
                "meetings_with_minutes": found.meetings_with_minutes,
                "pulse_score": round(row.score, 1) if row.score is not None else None,
                "pulse_note": None
                if row.score is not None
                else (
                    t._("No pulse yet")
                    if row.answers is None
                    else t._("Under the threshold of {threshold} answers").format(
                        threshold=row.threshold
                    )
                ),
            }
        )
    return {"period": t._("The last 30 days"), "sites": list(sites.values())}


# ------------------------------------------------------------------ what the page can do


def write_minutes(
    session: Session,
    viewer: Viewer,
    occurrence_id: int,
    *,
    discussed: list[tuple[str, int]],
    decision: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The lead writes a meeting's minutes: the ticked agenda points and the decision, with
    the chat's ``record_minutes`` (which sends the decisions to the team)."""
    team_id = _team_id(viewer)
    if not viewer.is_lead or viewer.member is None:
        raise Refused("minutes")
    if (
        agendas.occurrence_of_team(session=session, team_id=team_id, occurrence_id=occurrence_id)
        is None
    ):
        raise NotFound(occurrence_id)
    if agendas.get_minutes(session=session, occurrence_id=occurrence_id) is not None:
        raise Refused("minutes written")
    agenda = agendas.build_agenda(session=session, team_id=team_id, occurrence_id=occurrence_id)
    on_agenda = {(entry.kind, entry.ref_id) for entry in agenda.entries}
    if any(pair not in on_agenda for pair in discussed):
        raise NotFound("entry")
    _minutes, fan_out = agendas.record_minutes(
        session=session,
        team_id=team_id,
        occurrence_id=occurrence_id,
        member_id=viewer.member.id,
        discussed=discussed,
        decision=decision,
        now=now,
    )
    return {"saved": True, "sent_to": fan_out.total, "scheduled": fan_out.scheduled}


def add_perspective(
    session: Session, viewer: Viewer, case_id: int, *, text: str, now: datetime
) -> dict[str, Any]:
    """A member gives (or replaces) their perspective on a case with the team (step 2)."""
    team_id = _team_id(viewer)
    if viewer.member is None:
        raise Refused("perspective")
    case = cases.get_team_case(session=session, team_id=team_id, case_id=case_id)
    if case is None:
        raise NotFound(case_id)
    if cases.case_step(session=session, case=case) != CaseStep.TEAM:
        raise Refused("step")
    listening.save_perspective(
        session=session, case=case, member_id=require_id(viewer.member), text=text, now=now
    )
    return {"saved": True}
