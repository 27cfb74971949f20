"""The leadership track: the site's leads form a leadership team, see the site's pulse
(pooled over the teams at or above the threshold, never a person's answers) and the teams'
trial actions from their debriefs, and agree their own trial action for the whole home.

```mermaid
flowchart TD
    L["/forloeb in the leadership team, or 👥 from a team's course"] --> V{leadership team?}
    V -->|none yet| F[prog:lead:form: the site's leads become its members]
    V --> S[site pulse, each team's state, the teams' pulse trial actions]
    S -->|every team pulsed and debriefed| T[prog:lead:trial: a decision of the leadership team]
    T --> D["/proposals' own steps: proposals, vote, trial, check-ins, evaluation"]
```

The leadership team is an ordinary team: its members switch to it with /team, and its
decision goes through flows/loop as any team's does. A lead sees only their own site.
"""

from __future__ import annotations

import logging
from typing import Any

from babel.lists import format_list
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from flows.core.engine import END, StemmeContext, respond
from flows.core.guard import leads_only, stale_button
from flows.core.i18n import N_
from flows.loop.decision_views import STATUS_LABELS, decision_markup
from flows.meetings.meeting_views import clock
from flows.safety.chart import ITEM_LABELS, format_score
from storage import decisions, programme
from storage.db import require_id
from storage.models import DecisionStatus, Team

logger = logging.getLogger(__name__)

LEADERSHIP_TEAM_NAME = N_("Leadership team")


def _site_id(context: StemmeContext) -> int:
    _member, _membership, team = context.require_member()
    return team.site_id


def _pulse_lines(context: StemmeContext, shown: programme.SitePulse) -> list[str]:
    texts = context.texts
    _ = texts._
    lines = [
        _("Psychological safety: {done} of {total} teams have pulsed and debriefed.").format(
            done=shown.debriefed, total=len(shown.teams)
        )
    ]
    for row in shown.teams:
        if row.pulse is None:
            state = _("no closed pulse yet")
        elif row.score is None:
            state = _("below the threshold of {threshold} answers").format(
                threshold=shown.threshold
            )
        else:
            state = _("score {score}").format(score=format_score(texts, row.score))
        debrief = _("debriefed ✔") if row.debriefed else _("not debriefed yet")
        lines.append(f"• {row.team.name}: {state}, {debrief}")
    lines.append("")
    if shown.score is None:
        lines.append(_("No team has a result at or above the threshold yet."))
    else:
        lines.append(
            texts.ngettext(
                "The site's score: {score} of 7 ({answers} answers from {count} team).",
                "The site's score: {score} of 7 ({answers} answers from {count} teams).",
                sum(1 for row in shown.teams if row.score is not None),
            ).format(
                score=format_score(texts, shown.score),
                answers=shown.answers,
                count=sum(1 for row in shown.teams if row.score is not None),
            )
        )
        weakest = [_(ITEM_LABELS[item]) for item in shown.weakest()]
        lines.append(
            _("Weakest across the teams: {statements}").format(
                statements=format_list(weakest, locale=texts.babel_locale)
            )
        )
    return lines


def _trial_lines(context: StemmeContext, site_id: int) -> list[str]:
    _ = context.texts._
    found = programme.pulse_trials(session=context.session, site_id=site_id)
    if not found:
        return [_("The teams have no trial actions from their pulse yet.")]
    lines = [_("The teams' trial actions from their pulse:")]
    for row in found:
        what = row.action or row.decision.title
        status = _(STATUS_LABELS[DecisionStatus(row.decision.status)])
        lines.append(f"• {row.team.name}: {what} ({status})")
    return lines


def _view(
    context: StemmeContext, leadership: Team | None
) -> tuple[str, list[list[InlineKeyboardButton]]]:
    """The site's leadership view, and what the lead can do from here."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    site_id = team.site_id
    rows: list[list[InlineKeyboardButton]] = []
    if leadership is None:
        text = _(
            "The site has no leadership team yet. Form it: every lead of the site's teams "
            "becomes a member, and it agrees a trial action for the whole home."
        )
        rows.append(
            [
                InlineKeyboardButton(
                    _("👥 Form the leadership team"), callback_data="prog:lead:form"
                )
            ]
        )
        return text, rows
    programme.sync_leaders(session=context.session, site_id=site_id)
    shown = programme.site_pulse(session=context.session, site_id=site_id, now=clock())
    lines = [
        _("{team}: {count} leads.").format(
            team=leadership.name,
            count=len(programme.site_lead_ids(session=context.session, site_id=site_id)),
        ),
        "",
        *_pulse_lines(context, shown),
        "",
        *_trial_lines(context, site_id),
        "",
    ]
    own = programme.leadership_decision(session=context.session, team_id=require_id(leadership))
    inside = team.id == leadership.id
    if own is not None:
        lines.append(
            _("The leadership team's trial action: {title} ({status})").format(
                title=own.title, status=_(STATUS_LABELS[DecisionStatus(own.status)])
            )
        )
        if inside:
            rows = [
                list(row)
                for row in decision_markup(context.texts, require_id(own)).inline_keyboard
            ]
    elif not shown.ready:
        lines.append(
            _(
                "The leadership team agrees its own trial action once every team has pulsed "
                "and debriefed."
            )
        )
    elif inside:
        lines.append(
            _("Every team has pulsed and debriefed: agree the leadership team's trial action.")
        )
        rows.append(
            [
                InlineKeyboardButton(
                    _("▶ Start the leadership team's trial action"),
                    callback_data="prog:lead:trial",
                )
            ]
        )
    if not inside:
        lines.append(_("Switch to {team} with /team to work in it.").format(team=leadership.name))
    return "\n".join(lines), rows


async def show_view(update: Update, context: StemmeContext) -> None:
    """Shows the site's leadership view."""
    leadership = programme.leadership_team(session=context.session, site_id=_site_id(context))
    text, rows = _view(context, leadership)
    await respond(update, text, InlineKeyboardMarkup(rows) if rows else None)


@leads_only
async def show(update: Update, context: StemmeContext) -> str | None:
    """The 👥 button: the leadership view of the lead's site."""
    await show_view(update, context)
    return END


@leads_only
async def form(update: Update, context: StemmeContext) -> str | None:
    """Forms the site's leadership team with the site's leads as its members."""
    member, _membership, team = context.require_member()
    if programme.is_leadership_team(session=context.session, team_id=require_id(team)):
        await stale_button(update, context)
        return END
    leadership = programme.form_leadership_team(
        session=context.session,
        site_id=team.site_id,
        name=context.texts._(LEADERSHIP_TEAM_NAME),
        created_by_member_id=require_id(member),
        now=clock(),
    )
    logger.info("Leadership team %s formed from team %s", leadership.id, team.id)
    await show_view(update, context)
    return END


@leads_only
async def start_trial(update: Update, context: StemmeContext) -> str | None:
    """Starts the leadership team's own trial action: proposals, vote, trial, evaluation."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    team_id = require_id(team)
    session = context.session
    if (
        not programme.is_leadership_team(session=session, team_id=team_id)
        or programme.leadership_decision(session=session, team_id=team_id) is not None
        or not programme.site_pulse(session=session, site_id=team.site_id, now=clock()).ready
    ):
        await stale_button(update, context)
        return END
    decision = decisions.start_decision(
        session=session,
        team_id=team_id,
        resident_id=None,
        origin="team",
        origin_id=None,
        title=_("The leadership team's trial action for the whole home"),
        created_by_member_id=require_id(member),
    )
    logger.info("Leadership decision %s started in team %s", decision.id, team_id)
    await respond(
        update,
        _(
            "The leadership team's trial action: every lead can now propose what the "
            "leadership will try for the whole home, and then you open the vote."
        ),
        decision_markup(context.texts, require_id(decision)),
    )
    return END


def entry_points() -> list[BaseHandler[Update, StemmeContext, Any]]:
    """The leadership track's buttons, part of the programme flow."""
    return [
        CallbackQueryHandler(show, pattern=r"^prog:lead$"),
        CallbackQueryHandler(form, pattern=r"^prog:lead:form$"),
        CallbackQueryHandler(start_trial, pattern=r"^prog:lead:trial$"),
    ]
