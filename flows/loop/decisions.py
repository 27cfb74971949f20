"""Deciding together: proposals, the vote, the trial action, check-ins and evaluation.

```mermaid
flowchart TD
    P["/proposals"] --> L[the team's open decisions]
    L -->|lead: new team action| T[decision.title] --> S
    L --> S[a decision: proposals and what can be done now]
    S -->|Propose| PR[decision.propose: text, at most 500] --> S
    S -->|lead: Open the vote| DL[deadline: 1 day, 3 days, 1 week, next meeting, or opens later]
    DL --> V[vote.ballot to every member, vote.group to the linked group]
    V -->|press: counted or changed, live count| V
    V -->|deadline or everyone voted| R{winner?}
    R -->|tie| TB[vote.tie: the lead chooses] --> W
    R --> W[vote.result to every member; the lead plans]
    W --> A[decision.aim] --> M[decision.measure] --> AC[decision.action, prefilled]
    AC --> PL[decision.plan: days, follow-up, check-ins, start]
    PL --> C[trial.checkin every N days: helped / not helped / not relevant]
    C -->|Add a short note| CN[decision.checkin_note] --> C
    C --> E[trial.evaluate to the lead: summary; keep / adjust / drop]
    E -->|adjust: decision.adjust, type the change| S2[iteration 2 at proposing]
```

Every button carries the decision's id and is checked: a lead's buttons against the
lead's current team, votes and check-ins against the member's *active membership of the
decision's team* (a temp in two teams votes in both). A forged or stale button changes
nothing, gets ``guard.stale_button`` and a log line with ids only. Another flow (cases,
the pulse) starts a decision with ``storage.decisions.start_decision`` and sends the lead
``decision_views.decision_markup`` (or just ``show_data(decision_id)``) to continue here.

This module holds the flow's table and its first and last steps (the overview, a team's
own trial action, one decision, withdrawing); the vote's steps are in voting.py, the
trial's in trials.py, the timed prompts in decision_notices.py, and what they all show
in decision_views.py.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, StemmeContext, respond
from flows.core.guard import leads_only, stale_button
from flows.core.i18n import N_
from flows.core.pickers import shorten
from flows.loop.decision_views import (
    BUTTON_TEXT_LENGTH,
    LIST_TEXT_LENGTH,
    STATUS_LABELS,
    State,
    decision_subject,
    log_forged,
    matched_id,
    show_data,
    show_decision,
    team_decision,
)
from flows.loop.trials import (
    ask_aim,
    ask_checkin_note,
    check_in,
    evaluate,
    evaluate_now,
    keep_action,
    set_days,
    set_every,
    set_follow_up,
    start_trial,
    store_action,
    store_adjustment,
    store_aim,
    store_checkin_note,
    store_measure,
)
from flows.loop.voting import (
    ask_deadline,
    ask_proposal,
    break_tie,
    open_later,
    open_now,
    store_proposal,
    trim_proposal,
    vote,
)
from flows.moments.micromoment import FREE_TEXT
from storage import decisions, trials
from storage.db import require_id
from storage.models import DECISION_TITLE_MAX_LENGTH, DecisionStatus

PRIVATE = filters.ChatType.PRIVATE
# Typed answers: not a command, not the permanent micro-moment button (that starts a note).
TEXT = FREE_TEXT
ID = r"(\d{1,9})"


# ------------------------------------------------------------------ the overview


async def overview(update: Update, context: StemmeContext) -> str | None:
    """Lists the team's open decisions; a lead can start a team action."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    found = decisions.open_decisions(session=context.session, team_id=require_id(team))
    rows = [
        [
            InlineKeyboardButton(
                shorten(decision_subject(context.texts, context.session, d), BUTTON_TEXT_LENGTH),
                callback_data=show_data(require_id(d)),
            )
        ]
        for d in found
    ]
    if context.is_lead:
        rows.append(
            [InlineKeyboardButton(_("➕ New trial action for the team"), callback_data="dec:new")]
        )
    if found:
        lines = [_("The team's open proposals and trial actions:")]
        lines += [
            "• "
            + _("{subject} ({status})").format(
                subject=decision_subject(context.texts, context.session, d),
                status=_(STATUS_LABELS[DecisionStatus(d.status)]),
            )
            for d in found
        ]
        text = "\n".join(lines)
    else:
        text = _("The team has no open proposals or trial actions.")
    kept = trials.approaches_for_team(session=context.session, team_id=require_id(team)).kept
    if kept:
        text += "\n\n" + _("What we keep doing as a team:")
        text += "".join("\n✅ " + shorten(a.trial.action, LIST_TEXT_LENGTH) for a in kept[:5])
    await respond(update, text, InlineKeyboardMarkup(rows) if rows else None)
    return END


async def ask_title(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead for a short title of the team's new trial action."""
    await respond(
        update,
        context.texts._(
            "What should the team find a trial action for? Write a short title "
            '(e.g. "Calmer handovers"). /cancel stops.'
        ),
    )
    return State.TITLE


async def store_title(update: Update, context: StemmeContext) -> str | None:
    """Starts a team decision with the title and shows it."""
    member, _membership, team = context.require_member()
    message = update.effective_message
    assert message is not None and message.text is not None
    title = " ".join(message.text.split())
    if len(title) > DECISION_TITLE_MAX_LENGTH:
        await respond(
            update,
            context.texts._(
                "A title can have at most {limit} characters. Write a shorter one."
            ).format(limit=DECISION_TITLE_MAX_LENGTH),
        )
        return None
    decision = decisions.start_decision(
        session=context.session,
        team_id=require_id(team),
        resident_id=None,
        origin="team",
        origin_id=None,
        title=title,
        created_by_member_id=require_id(member),
    )
    await show_decision(update, context, decision, edit=False)
    return END


# ------------------------------------------------------------------ one decision


async def show(update: Update, context: StemmeContext) -> str | None:
    """Shows one decision of the member's team."""
    decision = team_decision(context, matched_id(context))
    if decision is None:
        log_forged(update, context, "show", matched_id(context))
        await stale_button(update, context)
        return END
    await show_decision(update, context, decision)
    return END


# ------------------------------------------------------------------ withdrawing


async def confirm_withdraw(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead before withdrawing a decision."""
    _ = context.texts._
    decision = team_decision(context, matched_id(context))
    if decision is None or decision.status not in decisions.OPEN_STATUSES:
        await stale_button(update, context)
        return END
    await respond(
        update,
        _('Withdraw "{subject}"? Its proposals, vote and check-ins stop.').format(
            subject=decision_subject(context.texts, context.session, decision)
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Yes, withdraw"), callback_data=f"dec:withdraw!:{decision.id}"
                    ),
                    InlineKeyboardButton(_("No"), callback_data=show_data(require_id(decision))),
                ]
            ]
        ),
    )
    return END


async def withdraw(update: Update, context: StemmeContext) -> str | None:
    """Withdraws the decision and cancels its prompts."""
    decision = team_decision(context, matched_id(context))
    if decision is None or not decisions.withdraw(
        session=context.session, decision_id=require_id(decision)
    ):
        await stale_button(update, context)
        return END
    await respond(update, context.texts._("Withdrawn."))
    return END


# ------------------------------------------------------------------ wiring


def build_flow() -> Flow:
    """Proposals, the vote, the trial action, check-ins and evaluation."""
    lead = leads_only
    return Flow(
        name="decision",
        entry_points=[
            CommandHandler("proposals", overview, filters=PRIVATE),
            CallbackQueryHandler(overview, pattern=r"^dec:list$"),
            CallbackQueryHandler(lead(ask_title), pattern=r"^dec:new$"),
            CallbackQueryHandler(show, pattern=rf"^dec:show:{ID}$"),
            CallbackQueryHandler(ask_proposal, pattern=rf"^dec:propose:{ID}$"),
            CallbackQueryHandler(lead(ask_deadline), pattern=rf"^dec:open:{ID}$"),
            CallbackQueryHandler(lead(open_now), pattern=rf"^dec:dl:{ID}:(1d|3d|7d|meet)$"),
            CallbackQueryHandler(lead(open_later), pattern=rf"^dec:auto:{ID}:(\d)$"),
            CallbackQueryHandler(vote, pattern=rf"^dec:vote:{ID}:{ID}$"),
            CallbackQueryHandler(lead(break_tie), pattern=rf"^dec:tie:{ID}:{ID}$"),
            CallbackQueryHandler(lead(ask_aim), pattern=rf"^dec:plan:{ID}$"),
            CallbackQueryHandler(
                check_in, pattern=rf"^dec:ci:{ID}:(\d{{4}}-\d{{2}}-\d{{2}}):([hnx])$"
            ),
            CallbackQueryHandler(ask_checkin_note, pattern=rf"^dec:cinote:{ID}$"),
            CallbackQueryHandler(lead(evaluate_now), pattern=rf"^dec:evalnow:{ID}$"),
            CallbackQueryHandler(lead(evaluate), pattern=rf"^dec:ev:{ID}:(keep|adjust|drop)$"),
            CallbackQueryHandler(lead(confirm_withdraw), pattern=rf"^dec:withdraw:{ID}$"),
            CallbackQueryHandler(lead(withdraw), pattern=rf"^dec:withdraw!:{ID}$"),
        ],
        states={
            State.TITLE: [MessageHandler(TEXT, store_title)],
            State.PROPOSE: [
                MessageHandler(TEXT, store_proposal),
                CallbackQueryHandler(trim_proposal, pattern=r"^dec:trim$"),
            ],
            State.AIM: [MessageHandler(TEXT, store_aim)],
            State.MEASURE: [MessageHandler(TEXT, store_measure)],
            State.ACTION: [
                MessageHandler(TEXT, store_action),
                CallbackQueryHandler(keep_action, pattern=r"^dec:keepaction$"),
            ],
            State.PLAN: [
                CallbackQueryHandler(set_days, pattern=r"^dec:days:(\d{1,2})$"),
                CallbackQueryHandler(set_every, pattern=r"^dec:every:(\d{1,2})$"),
                CallbackQueryHandler(set_follow_up, pattern=rf"^dec:fu:{ID}$"),
                CallbackQueryHandler(lead(start_trial), pattern=r"^dec:start$"),
            ],
            State.CHECKIN_NOTE: [MessageHandler(TEXT, store_checkin_note)],
            State.ADJUST: [MessageHandler(TEXT, store_adjustment)],
        },
        hints={
            State.TITLE: N_("Write a short title as text, or send /cancel to stop."),
            State.PROPOSE: N_("Write your proposal as text, or send /cancel to stop."),
            State.AIM: N_("Write what we want to achieve as text, or send /cancel to stop."),
            State.MEASURE: N_("Write how we will know it is better, or send /cancel to stop."),
            State.ACTION: N_('Write what we do, or press "Keep it as it is".'),
            State.PLAN: N_('Use the buttons above, then press "Start the trial".'),
            State.CHECKIN_NOTE: N_("Write your note as text, or send /cancel to stop."),
            State.ADJUST: N_("Write the adjusted action as text, or send /cancel to stop."),
        },
    )
