"""The course (forløb): a lead starts one for the team, plans its three dialogue meetings
with /meeting's own steps, says what each should hold, and follows its progress.

```mermaid
flowchart TD
    F["/forloeb (lead)"] -->|no course| K[kick-off: today, tomorrow, next Monday]
    K -->|prog:start:DAY| C[course with 3 dialogue meetings]
    F -->|running| C
    C -->|📅 Plan dialogue meeting N| P["mtg:new:c:COURSE:N: /meeting's planning steps"]
    P -->|saved| C
    C -->|Use a planned meeting| C
    C -->|✏️ What meeting N holds| E[case on/off, dilemma on/off, trial: agree/evaluate/none]
    E --> C
    C -->|minutes of meeting 3 written| S[summary in counts; ordinary meetings go on]
    C -->|"⏹ Stop the course, then yes"| X[stopped: what was done stays; new kick-off offered]
    F -->|in the leadership team, or 👥| L[leadership.py]
    A["/forloeb (administrator)"] --> O[every team's course] --> T[one team: progress, start, stop]
```

Progress is computed by ``storage.programme.progress`` each time; nothing here stores it.
Every button carries the course's id and is checked against the lead's current team
(``get_team_course``), so a forged or stale press changes nothing. The flow has no
states: every step is one press.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from flows.core.engine import END, Flow, StemmeContext, respond
from flows.core.guard import lead_only, leads_only, stale_button
from flows.meetings.meeting_views import clock, local_now
from flows.programme import leadership
from flows.programme.course_views import PLAN_LABELS, progress_text, summary_text
from storage import directory, programme
from storage.db import require_id
from storage.models import Course, CourseStatus, Team, TrialPlan

logger = logging.getLogger(__name__)

_ID = r"(\d{1,9})"
_TRIAL_CYCLE = (TrialPlan.AGREE, TrialPlan.EVALUATE, TrialPlan.NONE)


def plan_button_data(course_id: int, number: int) -> str:
    """The button that starts /meeting's planning steps for a dialogue meeting."""
    return f"mtg:new:c:{course_id}:{number}"


def kickoff_days(today: date) -> list[date]:
    """The kick-off days offered: today, tomorrow and the next Monday."""
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    days = [today, today + timedelta(days=1)]
    return days + ([monday] if monday not in days else [])


def _kickoff_rows(context: StemmeContext, prefix: str) -> list[list[InlineKeyboardButton]]:
    texts = context.texts
    today = local_now(context).date()
    labels = {today: texts._("Today"), today + timedelta(days=1): texts._("Tomorrow")}
    return [
        [
            InlineKeyboardButton(
                labels.get(day, texts.day(day)), callback_data=f"{prefix}{day:%Y%m%d}"
            )
            for day in kickoff_days(today)
        ]
    ]


def _course_rows(
    context: StemmeContext, shown: programme.CourseProgress
) -> list[list[InlineKeyboardButton]]:
    """Plan or choose the next unplanned dialogue meeting; change what each holds."""
    _ = context.texts._
    course_id = require_id(shown.course)
    rows: list[list[InlineKeyboardButton]] = []
    unplanned = next((row for row in shown.meetings if not row.planned and not row.held), None)
    if unplanned is not None:
        rows.append(
            [
                InlineKeyboardButton(
                    _("📅 Plan dialogue meeting {number}").format(number=unplanned.number),
                    callback_data=plan_button_data(course_id, unplanned.number),
                )
            ]
        )
        for occurrence in programme.free_meetings(
            session=context.session, team_id=shown.course.team_id, now=clock(), limit=3
        ):
            rows.append(
                [
                    InlineKeyboardButton(
                        _("Use the meeting {when}").format(
                            when=context.texts.when(occurrence.starts_at)
                        ),
                        callback_data=(
                            f"prog:use:{course_id}:{unplanned.number}:{require_id(occurrence)}"
                        ),
                    )
                ]
            )
    rows.append(
        [
            InlineKeyboardButton(
                _("✏️ Meeting {number}").format(number=row.number),
                callback_data=f"prog:edit:{course_id}:{row.number}",
            )
            for row in shown.meetings
            if not row.held
        ]
    )
    return [row for row in rows if row]


def _team_view(
    context: StemmeContext, team: Team, *, kickoff_prefix: str
) -> tuple[str, list[list[InlineKeyboardButton]]]:
    """The team's running course with its progress, or the last course's summary and the
    kick-off buttons; ends a course whose third meeting was held."""
    _ = context.texts._
    session = context.session
    team_id = require_id(team)
    course = programme.running_course(session=session, team_id=team_id)
    if course is not None and programme.finish_if_held(
        session=session, course=course, now=clock()
    ):
        course = None
    if course is not None:
        shown = programme.progress(session=session, course=course)
        return progress_text(context.texts, team, shown), []
    latest = programme.latest_course(session=session, team_id=team_id)
    if latest is not None and latest.status == CourseStatus.ENDED:
        text = summary_text(context.texts, team, programme.summary(session=session, course=latest))
        text += "\n\n" + _("Start a new course? Choose the kick-off day.")
    elif latest is not None and latest.status == CourseStatus.STOPPED and latest.ended_at:
        text = _(
            "The course for {team} was stopped on {day}. What the team did stays, and its "
            "planned meetings stay as ordinary reflection meetings. Start a new course? "
            "Choose the kick-off day."
        ).format(team=team.name, day=context.texts.day(latest.ended_at))
    else:
        text = _(
            "No course is running for {team}. A course is a kick-off and then three dialogue "
            "meetings, each with a resident case, a dilemma and a trial action to agree or "
            "evaluate. Choose the kick-off day to start one."
        ).format(team=team.name)
    return text, _kickoff_rows(context, kickoff_prefix)


def _stop_row(context: StemmeContext, data: str) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(context.texts._("⏹ Stop the course"), callback_data=data)]


async def _show_course(update: Update, context: StemmeContext, team: Team) -> None:
    _ = context.texts._
    text, rows = _team_view(context, team, kickoff_prefix="prog:start:")
    course = programme.running_course(session=context.session, team_id=require_id(team))
    if course is not None:
        rows = _course_rows(context, programme.progress(session=context.session, course=course))
        rows.append(_stop_row(context, f"prog:stop:{course.id}"))
    rows.append([InlineKeyboardButton(_("👥 The leadership team"), callback_data="prog:lead")])
    await respond(update, text, InlineKeyboardMarkup(rows))


async def show(update: Update, context: StemmeContext) -> str | None:
    """Shows the course of the lead's team (the leadership view in the leadership team);
    an administrator who leads no team gets every team's course."""
    if not context.is_lead:
        if context.is_admin:
            return await overview(update, context)
        await lead_only(update, context)
        return END
    _member, _membership, team = context.require_member()
    if programme.is_leadership_team(session=context.session, team_id=require_id(team)):
        await leadership.show_view(update, context)
        return END
    await _show_course(update, context, team)
    return END


def _day_of(value: str) -> date | None:
    try:
        return datetime.strptime(value, "%Y%m%d").date()  # noqa: DTZ007 - a calendar date
    except ValueError:
        return None


@leads_only
async def start(update: Update, context: StemmeContext) -> str | None:
    """Starts the team's course on the chosen kick-off day."""
    member, _membership, team = context.require_member()
    assert context.matches
    day = _day_of(context.matches[0].group(1))
    if day is None or programme.running_course(session=context.session, team_id=require_id(team)):
        await stale_button(update, context)
        return END
    course = programme.start_course(
        session=context.session,
        team_id=require_id(team),
        kickoff_on=day,
        started_by_member_id=require_id(member),
        now=clock(),
    )
    logger.info("Course %s started by a lead of team %s", course.id, team.id)
    await _show_course(update, context, team)
    return END


def _course_meeting(context: StemmeContext) -> programme.CourseMeeting | None:
    """The running course's dialogue meeting a button names, within the lead's team."""
    _member, _membership, team = context.require_member()
    assert context.matches
    course = programme.get_team_course(
        session=context.session,
        team_id=require_id(team),
        course_id=int(context.matches[0].group(1)),
    )
    if course is None or course.status != CourseStatus.RUNNING:
        return None
    return programme.course_meeting(
        session=context.session,
        course_id=require_id(course),
        number=int(context.matches[0].group(2)),
    )


@leads_only
async def use_meeting(update: Update, context: StemmeContext) -> str | None:
    """Makes one of the team's planned meetings the dialogue meeting."""
    _member, _membership, team = context.require_member()
    meeting = _course_meeting(context)
    assert context.matches
    try:
        if meeting is None:
            raise programme.ProgrammeError("stale")
        programme.attach_occurrence(
            session=context.session,
            team_id=require_id(team),
            course_id=meeting.course_id,
            number=meeting.number,
            occurrence_id=int(context.matches[0].group(3)),
        )
    except programme.ProgrammeError:
        await stale_button(update, context)
        return END
    await _show_course(update, context, team)
    return END


async def _show_plan(
    update: Update, context: StemmeContext, meeting: programme.CourseMeeting
) -> None:
    _ = context.texts._
    base = f"prog:set:{meeting.course_id}:{meeting.number}"
    mark = {True: "✅", False: "▫️"}
    rows = [
        [
            InlineKeyboardButton(
                f"{mark[meeting.holds_case]} " + _("A resident case"), callback_data=f"{base}:case"
            )
        ],
        [
            InlineKeyboardButton(
                f"{mark[meeting.holds_dilemma]} " + _("A dilemma"), callback_data=f"{base}:dilemma"
            )
        ],
        [
            InlineKeyboardButton(
                _(PLAN_LABELS[TrialPlan(meeting.trial)]), callback_data=f"{base}:trial"
            )
        ],
        [InlineKeyboardButton(_("◀ Back to the course"), callback_data="prog:show")],
    ]
    await respond(
        update,
        _("What should dialogue meeting {number} hold? Press to change.").format(
            number=meeting.number
        ),
        InlineKeyboardMarkup(rows),
    )


@leads_only
async def edit_plan(update: Update, context: StemmeContext) -> str | None:
    """Shows what a dialogue meeting should hold, to change it."""
    meeting = _course_meeting(context)
    if meeting is None:
        await stale_button(update, context)
        return END
    await _show_plan(update, context, meeting)
    return END


@leads_only
async def set_plan(update: Update, context: StemmeContext) -> str | None:
    """Switches a case or a dilemma on or off, or moves the trial plan on."""
    meeting = _course_meeting(context)
    assert context.matches
    if meeting is None:
        await stale_button(update, context)
        return END
    part = context.matches[0].group(3)
    if part == "case":
        programme.set_plan(
            session=context.session, meeting=meeting, holds_case=not meeting.holds_case
        )
    elif part == "dilemma":
        programme.set_plan(
            session=context.session, meeting=meeting, holds_dilemma=not meeting.holds_dilemma
        )
    else:
        following = _TRIAL_CYCLE[(_TRIAL_CYCLE.index(TrialPlan(meeting.trial)) + 1) % 3]
        programme.set_plan(session=context.session, meeting=meeting, trial=following)
    await _show_plan(update, context, meeting)
    return END


def _stop_question(context: StemmeContext, team: Team) -> str:
    return context.texts._(
        "Stop the course for {team} before its third dialogue meeting? What the team did "
        "stays, and the meetings already planned stay as ordinary reflection meetings."
    ).format(team=team.name)


def _confirm_rows(context: StemmeContext, yes: str, no: str) -> list[list[InlineKeyboardButton]]:
    _ = context.texts._
    return [
        [
            InlineKeyboardButton(_("Yes, stop the course"), callback_data=yes),
            InlineKeyboardButton(_("No, keep it"), callback_data=no),
        ]
    ]


def _pressed_course(context: StemmeContext, team: Team, group: int) -> Course | None:
    """The team's running course, if it is the one the button names (match ``group``)."""
    assert context.matches
    course = programme.running_course(session=context.session, team_id=require_id(team))
    if course is None or course.id != int(context.matches[0].group(group)):
        return None
    return course


@leads_only
async def ask_stop(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead whether to stop the team's running course."""
    _member, _membership, team = context.require_member()
    course = _pressed_course(context, team, 1)
    if course is None:
        await stale_button(update, context)
        return END
    rows = _confirm_rows(context, f"prog:stopok:{course.id}", "prog:show")
    await respond(update, _stop_question(context, team), InlineKeyboardMarkup(rows))
    return END


@leads_only
async def stop(update: Update, context: StemmeContext) -> str | None:
    """Stops the team's running course; the view then offers a new kick-off."""
    member, _membership, team = context.require_member()
    course = _pressed_course(context, team, 1)
    if course is None:
        await stale_button(update, context)
        return END
    programme.stop_course(
        session=context.session, course=course, now=clock(), by_member_id=require_id(member)
    )
    logger.info("Course %s stopped by a lead of team %s", course.id, team.id)
    await _show_course(update, context, team)
    return END


# ------------------------------------------------------------------ administrators


async def overview(update: Update, context: StemmeContext) -> str | None:
    """Every team's course in one line each, for an administrator."""
    _ = context.texts._
    session = context.session
    lines = [_("Courses in every team:"), ""]
    rows = []
    for team in directory.list_teams(session=session):
        team_id = require_id(team)
        if programme.is_leadership_team(session=session, team_id=team_id):
            continue
        course = programme.running_course(session=session, team_id=team_id)
        if course is None:
            status = _("no course running")
        else:
            shown = programme.progress(session=session, course=course)
            status = context.texts.ngettext(
                "{count} of {total} dialogue meetings held",
                "{count} of {total} dialogue meetings held",
                shown.held,
            ).format(count=shown.held, total=len(shown.meetings))
        site = directory.get_site(session=session, site_id=team.site_id)
        name = f"{site.name if site else '?'} / {team.name}"
        lines.append(f"• {name}: {status}")
        rows.append([InlineKeyboardButton(name, callback_data=f"prog:adm:team:{team_id}")])
    await respond(update, "\n".join(lines), InlineKeyboardMarkup(rows))
    return END


def _admin_team(context: StemmeContext) -> Team | None:
    assert context.matches
    return directory.get_team(session=context.session, team_id=int(context.matches[0].group(1)))


async def admin_team(update: Update, context: StemmeContext) -> str | None:
    """One team's course as an administrator sees it, with the kick-off to start one."""
    team = _admin_team(context)
    if team is None:
        await stale_button(update, context)
        return END
    text, rows = _team_view(context, team, kickoff_prefix=f"prog:adm:start:{team.id}:")
    course = programme.running_course(session=context.session, team_id=require_id(team))
    if course is not None:
        rows.append(_stop_row(context, f"prog:adm:stop:{team.id}:{course.id}"))
    rows.append([InlineKeyboardButton(context.texts._("◀ Every team"), callback_data="prog:adm")])
    await respond(update, text, InlineKeyboardMarkup(rows))
    return END


def _admin_course(context: StemmeContext) -> tuple[Team, Course] | None:
    """The team and its running course a stop button names, if it still runs."""
    team = _admin_team(context)
    course = None if team is None else _pressed_course(context, team, 2)
    return None if team is None or course is None else (team, course)


async def admin_ask_stop(update: Update, context: StemmeContext) -> str | None:
    """Asks an administrator whether to stop a team's running course."""
    found = _admin_course(context)
    if found is None:
        await stale_button(update, context)
        return END
    team, course = found
    rows = _confirm_rows(
        context, f"prog:adm:stopok:{team.id}:{course.id}", f"prog:adm:team:{team.id}"
    )
    await respond(update, _stop_question(context, team), InlineKeyboardMarkup(rows))
    return END


async def admin_stop(update: Update, context: StemmeContext) -> str | None:
    """Stops a team's running course for an administrator."""
    found = _admin_course(context)
    if found is None:
        await stale_button(update, context)
        return END
    team, course = found
    programme.stop_course(
        session=context.session,
        course=course,
        now=clock(),
        by_member_id=context.member.id if context.member else None,
    )
    logger.info("Course %s stopped by an administrator", course.id)
    return await admin_team(update, context)


async def admin_start(update: Update, context: StemmeContext) -> str | None:
    """Starts a team's course for an administrator; its lead plans the meetings."""
    team = _admin_team(context)
    assert context.matches
    day = _day_of(context.matches[0].group(2))
    if (
        team is None
        or day is None
        or programme.running_course(session=context.session, team_id=require_id(team))
    ):
        await stale_button(update, context)
        return END
    programme.start_course(
        session=context.session,
        team_id=require_id(team),
        kickoff_on=day,
        started_by_member_id=context.member.id if context.member else None,
        now=clock(),
    )
    text, rows = _team_view(context, team, kickoff_prefix=f"prog:adm:start:{team.id}:")
    text += "\n\n" + context.texts._("The team's lead plans the dialogue meetings with /forloeb.")
    rows.append([InlineKeyboardButton(context.texts._("◀ Every team"), callback_data="prog:adm")])
    await respond(update, text, InlineKeyboardMarkup(rows))
    return END


# ------------------------------------------------------------------ wiring


def build_flow() -> Flow:
    """The course for a team's lead, and the leadership view (flows/programme/leadership)."""
    return Flow(
        name="programme",
        entry_points=[
            CommandHandler("forloeb", show, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(show, pattern=r"^prog:show$"),
            CallbackQueryHandler(start, pattern=r"^prog:start:(\d{8})$"),
            CallbackQueryHandler(use_meeting, pattern=rf"^prog:use:{_ID}:([1-3]):{_ID}$"),
            CallbackQueryHandler(edit_plan, pattern=rf"^prog:edit:{_ID}:([1-3])$"),
            CallbackQueryHandler(ask_stop, pattern=rf"^prog:stop:{_ID}$"),
            CallbackQueryHandler(stop, pattern=rf"^prog:stopok:{_ID}$"),
            CallbackQueryHandler(
                set_plan, pattern=rf"^prog:set:{_ID}:([1-3]):(case|dilemma|trial)$"
            ),
            *leadership.entry_points(),
        ],
    )


def build_admin_flow() -> Flow:
    """Every team's course for administrators (STEMME_ADMINS), who need no membership."""
    return Flow(
        name="programme.admin",
        admin_only=True,
        entry_points=[
            CommandHandler("forloeb", overview, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(overview, pattern=r"^prog:adm$"),
            CallbackQueryHandler(admin_team, pattern=rf"^prog:adm:team:{_ID}$"),
            CallbackQueryHandler(admin_start, pattern=rf"^prog:adm:start:{_ID}:(\d{{8}})$"),
            CallbackQueryHandler(admin_ask_stop, pattern=rf"^prog:adm:stop:{_ID}:{_ID}$"),
            CallbackQueryHandler(admin_stop, pattern=rf"^prog:adm:stopok:{_ID}:{_ID}$"),
        ],
    )
