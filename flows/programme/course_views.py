"""What a course looks like to people: its progress meeting by meeting ("Dialogmøde 2 af 3:
sag og dilemma klar, prøvehandling mangler") and its summary in counts. Used by /forloeb,
the administrators' overview and the minutes, which say when a course ended."""

from __future__ import annotations

from babel.lists import format_list

from flows.core.i18n import N_, Texts
from storage.models import MEETINGS_PER_COURSE, Team, TrialPlan
from storage.programme import CourseProgress, CourseSummary, MeetingProgress

PART_LABELS = {
    "case": N_("case"),
    "dilemma": N_("dilemma"),
}
TRIAL_LABELS = {
    TrialPlan.AGREE: N_("trial action"),
    TrialPlan.EVALUATE: N_("evaluation"),
}
PLAN_LABELS = {
    TrialPlan.AGREE: N_("Trial action: agree one"),
    TrialPlan.EVALUATE: N_("Trial action: evaluate it"),
    TrialPlan.NONE: N_("Trial action: none"),
}


def _names(texts: Texts, meeting: MeetingProgress, parts: list[str]) -> str:
    labels = [
        texts._(TRIAL_LABELS[meeting.trial]) if part == "trial" else texts._(PART_LABELS[part])
        for part in parts
    ]
    return format_list(labels, locale=texts.babel_locale)


def meeting_status(texts: Texts, meeting: MeetingProgress) -> str:
    """One dialogue meeting's status, e.g. "sag og dilemma klar, prøvehandling mangler"."""
    _ = texts._
    if meeting.cancelled:
        return _("the meeting was cancelled, plan a new one")
    if not meeting.planned:
        return _("not planned yet")
    pieces = [_("held ✔")] if meeting.held else []
    if meeting.ready:
        pieces.append(_("{items} ready").format(items=_names(texts, meeting, meeting.ready)))
    if meeting.missing:
        pieces.append(_("{items} missing").format(items=_names(texts, meeting, meeting.missing)))
    if not pieces:
        pieces.append(_("planned"))
    return ", ".join(pieces)


def meeting_line(texts: Texts, meeting: MeetingProgress) -> str:
    """ "Dialogue meeting 2 of 3: …", and the meeting's time below when it is planned."""
    line = texts._("Dialogue meeting {number} of {total}: {status}").format(
        number=meeting.number, total=MEETINGS_PER_COURSE, status=meeting_status(texts, meeting)
    )
    if meeting.planned and meeting.starts_at is not None:
        line += "\n   📅 " + texts.when(meeting.starts_at)
    return line


def progress_text(texts: Texts, team: Team, shown: CourseProgress) -> str:
    """The course: kick-off, each dialogue meeting's status, and what comes next."""
    _ = texts._
    lines = [
        _("Course for {team}, kick-off {day}").format(
            team=team.name, day=texts.day(shown.course.kickoff_on)
        ),
        texts.ngettext(
            "{count} of {total} dialogue meetings held.",
            "{count} of {total} dialogue meetings held.",
            shown.held,
        ).format(count=shown.held, total=MEETINGS_PER_COURSE),
        "",
    ]
    lines += [meeting_line(texts, meeting) for meeting in shown.meetings]
    current = shown.current
    if current is not None:
        lines.append("")
        if not current.planned:
            lines.append(
                _("Next: plan dialogue meeting {number} with /meeting's steps.").format(
                    number=current.number
                )
            )
        elif current.missing:
            lines.append(
                _("Before dialogue meeting {number}: {items} missing.").format(
                    number=current.number, items=_names(texts, current, current.missing)
                )
            )
        else:
            lines.append(
                _("Dialogue meeting {number} is ready. Write the minutes afterwards.").format(
                    number=current.number
                )
            )
    return "\n".join(lines)


def summary_text(texts: Texts, team: Team, summary: CourseSummary) -> str:
    """The course's end: what the team did, in counts only."""
    _ = texts._
    outcomes = summary.outcomes
    return "\n".join(
        [
            _("The course is over ✔ {team} held {count} dialogue meetings.").format(
                team=team.name, count=summary.meetings_held
            ),
            _("Cases discussed: {count}").format(count=summary.cases),
            _("Dilemmas discussed: {count}").format(count=summary.dilemmas),
            _("Trial actions agreed: {count}").format(count=summary.trials_agreed),
            _("Evaluated: {keep} kept, {adjust} adjusted, {drop} dropped").format(
                keep=outcomes.get("keep", 0),
                adjust=outcomes.get("adjust", 0),
                drop=outcomes.get("drop", 0),
            ),
            "",
            _("The team goes on with its ordinary reflection meetings (/meeting)."),
        ]
    )
