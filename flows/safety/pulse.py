"""The psychological safety pulse: seven statements, one press each, anonymously.

```mermaid
flowchart TD
    L["/pulse (lead)"] --> N[start now / every month / every 3 months]
    N --> I[pulse.invite to every active member]
    I -->|Answer now| Q[pulse.item: statement 1..7, buttons 1-7]
    Q -->|7th press| S[counts added, participation noted, flow data gone]
    R[pulse.reminder after 2 days, to those who have not answered] --> Q
    L -->|Close now| C[closed]
    X[pulse.closed after 7 days, to the leads] --> V
    C --> V{answers >= threshold?}
    V -->|no| K[the count only]
    V -->|yes| P[chart PNG + score, items, previous pulse, questions]
    P -->|Share with the team| SH[pulse.shared to every member, once each]
    P -->|Start a trial action for the team| D[storage.decisions.start_decision, origin pulse]
```
While a member answers, the answers so far live only in their conversation data; the
seventh press stores them as counts (``storage.pulse.record_answers``) and ends the
conversation, which deletes that row. Nothing logs a value.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, States, StemmeContext, alert, respond
from flows.core.guard import leads_only, stale_button
from flows.core.i18n import N_, Texts
from flows.loop.decision_views import decision_markup
from flows.safety.result import CHART_FILENAME, STATEMENTS, chart_png, result_text
from storage import decisions
from storage import pulse as pulses
from storage.db import require_id, utcnow
from storage.models import Pulse, PulseRepeat

logger = logging.getLogger(__name__)


async def reply_after_commit(
    context: StemmeContext,
    update: Update,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    edit: bool = True,
) -> None:
    """Answers once the step's changes are committed, so what the user reads is stored."""

    async def send() -> None:
        await respond(update, text, markup, edit=edit)

    context.after_commit(send)


ITEM_HINT = N_("Answer with one of the buttons 1 to 7, or send /cancel.")


class State(States):
    """The one step that waits: a statement on screen, answered with a button."""

    ITEM = "pulse.item"


REPEAT_LABELS = {
    PulseRepeat.MONTHLY: N_("every month"),
    PulseRepeat.QUARTERLY: N_("every 3 months"),
}


def _zone(context: StemmeContext) -> ZoneInfo:
    return context.services.settings.tz


def _group(context: StemmeContext, number: int = 1) -> str:
    assert context.matches
    return str(context.matches[0].group(number))


def _team_pulse(context: StemmeContext) -> Pulse | None:
    _member, _membership, team = context.require_member()
    return pulses.get_team_pulse(
        session=context.session, team_id=require_id(team), pulse_id=int(_group(context))
    )


# ------------------------------------------------------------------ answering


def _scale_buttons(item: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(str(value), callback_data=f"pul:a:{item}:{value}")
                for value in pulses.VALUES
            ]
        ]
    )


def _statement_text(texts_: Texts, item: int) -> str:
    _ = texts_._
    return "\n\n".join(
        [
            _("Statement {number} of 7").format(number=item),
            _(STATEMENTS[item]),
            _("1 = strongly disagree · 7 = strongly agree"),
        ]
    )


async def begin(update: Update, context: StemmeContext) -> str | None:
    """Shows the first statement of an open pulse the member has not answered."""
    _ = context.texts._
    member, _membership, _team = context.require_member()
    pulse = _team_pulse(context)
    now = utcnow()
    if pulse is None or not pulses.is_open(pulse, now):
        await alert(update, _("This pulse is closed. Thank you all the same."))
        return END
    if pulses.has_answered(
        session=context.session, pulse_id=require_id(pulse), member_id=require_id(member)
    ):
        await alert(update, _("You have already answered this pulse. Thank you!"))
        return END
    context.flow_data = {"pulse": pulse.id, "answers": []}
    await respond(update, _statement_text(context.texts, 1), _scale_buttons(1))
    return State.ITEM


async def answer(update: Update, context: StemmeContext) -> str | None:
    """Keeps one answer in the conversation and shows the next statement, or stores all
    seven as counts after the last one."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    item, value = int(_group(context, 1)), int(_group(context, 2))
    answers: list[int] = list(context.flow_data.get("answers", []))
    if item != len(answers) + 1 or value not in pulses.VALUES:
        await stale_button(update, context)  # a double press, or an old message's button
        return None
    answers.append(value)
    if len(answers) < len(pulses.ITEMS):
        context.flow_data["answers"] = answers
        await respond(update, _statement_text(context.texts, item + 1), _scale_buttons(item + 1))
        return None
    pulse = pulses.get_team_pulse(
        session=context.session,
        team_id=require_id(team),
        pulse_id=int(context.flow_data.get("pulse", 0)),
    )
    context.flow_data = {}
    if pulse is None:
        await stale_button(update, context)
        return END
    try:
        pulses.record_answers(
            session=context.session,
            pulse=pulse,
            member_id=require_id(member),
            values=answers,
            now=utcnow(),
            tz=_zone(context),
        )
    except pulses.PulseClosed:
        await respond(update, _("This pulse closed before you finished. Thank you all the same."))
        return END
    except pulses.AlreadyAnswered:
        await respond(update, _("You have already answered this pulse. Thank you!"))
        return END
    logger.info("Pulse %s answered in team %s", pulse.id, team.id)
    await reply_after_commit(
        context,
        update,
        _(
            "Thank you! Your answers are saved without your name, only as part of the team's "
            "numbers. The result is shown when the pulse closes, and only if at least "
            "{threshold} have answered."
        ).format(
            threshold=pulses.threshold_for_team(session=context.session, team_id=require_id(team))
        ),
    )
    return END


async def not_a_press(update: Update, context: StemmeContext) -> str | None:
    """Answers typed text or a voice message mid-way with a hint; the answers so far stay
    (it is not taken as a micro-moment, which would end the questionnaire)."""
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(context.texts._(ITEM_HINT))
    return None


# ------------------------------------------------------------------ the /pulse menu


async def menu(update: Update, context: StemmeContext) -> str | None:
    """Shows the member the open pulse; the lead also starting, closing and results."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    session = context.session
    team_id = require_id(team)
    now = utcnow()
    current = pulses.open_pulse_of_team(session=session, team_id=team_id, now=now)
    lines: list[str] = []
    rows: list[list[InlineKeyboardButton]] = []
    if current is not None:
        answered = pulses.has_answered(
            session=session, pulse_id=require_id(current), member_id=require_id(member)
        )
        lines.append(
            _("A pulse is open until {when}.").format(
                when=context.texts.when(pulses.ends_at(current))
            )
        )
        if answered:
            lines.append(_("You have answered it. Thank you!"))
        else:
            rows.append(
                [
                    InlineKeyboardButton(
                        _("Answer now (under a minute)"), callback_data=f"pul:go:{current.id}"
                    )
                ]
            )
        if context.is_lead:
            lines.append(
                _("{answered} of {invited} have answered so far.").format(
                    answered=pulses.answer_count(session=session, pulse_id=require_id(current)),
                    invited=current.invited,
                )
            )
            rows.append(
                [InlineKeyboardButton(_("Close it now"), callback_data=f"pul:close:{current.id}")]
            )
    else:
        lines.append(_("No pulse is open right now."))
    if context.is_lead:
        planned = pulses.planned_pulse(session=session, team_id=team_id)
        if planned is not None:
            lines.append(
                _("The next pulse opens {when} ({repeat}).").format(
                    when=context.texts.when(planned.opens_at),
                    repeat=_(REPEAT_LABELS.get(PulseRepeat(planned.repeat), planned.repeat)),
                )
            )
            rows.append([InlineKeyboardButton(_("Stop repeating"), callback_data="pul:stop")])
        elif current is None:
            lines.append(
                _(
                    "Start a pulse: every member gets seven short statements about how safe "
                    "it is to speak up in the team, answered anonymously in under a minute. "
                    "It stays open for 7 days."
                )
            )
            rows.append([InlineKeyboardButton(_("Start now"), callback_data="pul:new:none")])
            rows.append(
                [
                    InlineKeyboardButton(
                        _("Now, and every month"), callback_data="pul:new:monthly"
                    ),
                    InlineKeyboardButton(
                        _("Now, and every 3 months"), callback_data="pul:new:quarterly"
                    ),
                ]
            )
        for closed in pulses.closed_pulses(session=session, team_id=team_id, now=now)[:3]:
            rows.append(
                [
                    InlineKeyboardButton(
                        _("Result of {day}").format(day=context.texts.day(closed.opens_at)),
                        callback_data=f"pul:res:{closed.id}",
                    )
                ]
            )
    elif current is None:
        lines.append(_("Your team lead starts the pulse; you will get a message."))
    await respond(update, "\n\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)
    return END


@leads_only
async def start(update: Update, context: StemmeContext) -> str | None:
    """Starts a pulse now, once or repeating; the invitations go out at once."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    now = utcnow()
    if pulses.open_pulse_of_team(session=context.session, team_id=require_id(team), now=now):
        await alert(update, _("A pulse is already open."))
        return END
    repeat = PulseRepeat(_group(context))
    if repeat != PulseRepeat.NONE:
        pulses.stop_repeating(session=context.session, team_id=require_id(team), now=now)
    pulse = pulses.start_pulse(
        session=context.session,
        team_id=require_id(team),
        lead_member_id=require_id(member),
        now=now,
        tz=_zone(context),
        repeat=repeat,
    )
    text = context.texts.ngettext(
        "The pulse is open until {when}. {count} member gets the invitation now, and a "
        "reminder after two days if they have not answered.",
        "The pulse is open until {when}. {count} members get the invitation now, and a "
        "reminder after two days if they have not answered.",
        pulse.invited,
    ).format(when=context.texts.when(pulse.closes_at), count=pulse.invited)
    await reply_after_commit(context, update, text)
    return END


@leads_only
async def stop(update: Update, context: StemmeContext) -> str | None:
    """Stops a repeating pulse (an open one stays open)."""
    _member, _membership, team = context.require_member()
    pulses.stop_repeating(session=context.session, team_id=require_id(team), now=utcnow())
    await reply_after_commit(context, update, context.texts._("The pulse no longer repeats."))
    return END


@leads_only
async def confirm_close(update: Update, context: StemmeContext) -> str | None:
    """Asks before closing the pulse early, saying how many have answered."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    pulse = _team_pulse(context)
    if pulse is None or not pulses.is_open(pulse, utcnow()):
        await stale_button(update, context)
        return END
    answered = pulses.answer_count(session=context.session, pulse_id=require_id(pulse))
    threshold = pulses.threshold_for_team(session=context.session, team_id=require_id(team))
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(_("Yes, close it"), callback_data=f"pul:close!:{pulse.id}"),
                InlineKeyboardButton(_("No"), callback_data="pul:menu"),
            ]
        ]
    )
    await respond(
        update,
        _(
            "Close the pulse now? {answered} have answered. A result needs at least "
            "{threshold} answers; nobody can answer after it is closed."
        ).format(answered=answered, threshold=threshold),
        markup,
    )
    return END


@leads_only
async def close(update: Update, context: StemmeContext) -> str | None:
    """Closes the pulse now and shows the result (or only the count)."""
    member, _membership, _team = context.require_member()
    pulse = _team_pulse(context)
    now = utcnow()
    if pulse is None or not pulses.close_pulse(
        session=context.session,
        pulse=pulse,
        now=now,
        tz=_zone(context),
        closing_member_id=require_id(member),
    ):
        await stale_button(update, context)
        return END
    logger.info("Pulse %s closed early by a lead of team %s", pulse.id, pulse.team_id)
    await _send_result(update, context, pulse)
    return END


@leads_only
async def show_result(update: Update, context: StemmeContext) -> str | None:
    """Shows a closed pulse's result to the lead."""
    pulse = _team_pulse(context)
    if pulse is None or not pulses.is_closed(pulse, utcnow()):
        await stale_button(update, context)
        return END
    await _send_result(update, context, pulse)
    return END


async def _send_result(update: Update, context: StemmeContext, pulse: Pulse) -> None:
    _ = context.texts._
    _member, _membership, team = context.require_member()
    shown = pulses.result(session=context.session, pulse=pulse, now=utcnow())
    text = result_text(context.texts, team, shown)
    chat = update.effective_chat
    if not shown.visible:
        await reply_after_commit(context, update, text)
        return
    png = await chart_png(context.texts, team, shown)
    rows = []
    if pulse.shared_at is None:
        rows.append(
            [InlineKeyboardButton(_("Share with the team"), callback_data=f"pul:share:{pulse.id}")]
        )
    rows.append(
        [
            InlineKeyboardButton(
                _("Start a trial action for the team"), callback_data=f"pul:trial:{pulse.id}"
            )
        ]
    )

    async def send() -> None:
        if update.callback_query is not None:
            await update.callback_query.answer()
        if chat is not None:
            await chat.send_photo(png, filename=CHART_FILENAME)
            await chat.send_message(text, reply_markup=InlineKeyboardMarkup(rows))

    context.after_commit(send)


@leads_only
async def share(update: Update, context: StemmeContext) -> str | None:
    """Shares a visible result with every member of the team, once each."""
    _ = context.texts._
    member, _membership, _team = context.require_member()
    pulse = _team_pulse(context)
    now = utcnow()
    if pulse is None or not pulses.result(session=context.session, pulse=pulse, now=now).visible:
        await stale_button(update, context)
        return None
    if pulse.shared_at is not None:
        await alert(update, _("The result has already been shared with the team."))
        return None
    count = pulses.share(
        session=context.session,
        pulse=pulse,
        sharer_member_id=require_id(member),
        now=now,
        tz=_zone(context),
    )
    logger.info("Pulse %s shared with %s members of team %s", pulse.id, count, pulse.team_id)
    await alert(
        update,
        context.texts.ngettext(
            "Shared with {count} member of the team.",
            "Shared with {count} members of the team.",
            count,
        ).format(count=count),
    )
    return None


@leads_only
async def start_trial(update: Update, context: StemmeContext) -> str | None:
    """Starts a team decision (proposals, vote, trial action) from the pulse's result."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    pulse = _team_pulse(context)
    now = utcnow()
    if pulse is None or not pulses.result(session=context.session, pulse=pulse, now=now).visible:
        await stale_button(update, context)
        return None
    existing = decisions.latest_decision(
        session=context.session, origin="pulse", origin_id=require_id(pulse)
    )
    decision = existing or decisions.start_decision(
        session=context.session,
        team_id=require_id(team),
        resident_id=None,
        origin="pulse",
        origin_id=require_id(pulse),
        title=_("Psychological safety: the pulse of {day}").format(
            day=context.texts.day(pulse.opens_at)
        ),
        created_by_member_id=require_id(member),
    )
    await reply_after_commit(
        context,
        update,
        _(
            "A trial action for the whole team: everyone can now propose what the team will "
            "try, and then you open the vote."
        ),
        decision_markup(context.texts, require_id(decision)),
        edit=False,
    )
    return None


def build_flow() -> Flow:
    """The pulse: /pulse, answering, and the lead's start, close, result and share."""
    return Flow(
        name="pulse",
        entry_points=[
            CommandHandler("pulse", menu, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(menu, pattern=r"^pul:menu$"),
            CallbackQueryHandler(begin, pattern=r"^pul:go:(\d{1,9})$"),
            CallbackQueryHandler(start, pattern=r"^pul:new:(none|monthly|quarterly)$"),
            CallbackQueryHandler(stop, pattern=r"^pul:stop$"),
            CallbackQueryHandler(confirm_close, pattern=r"^pul:close:(\d{1,9})$"),
            CallbackQueryHandler(close, pattern=r"^pul:close!:(\d{1,9})$"),
            CallbackQueryHandler(show_result, pattern=r"^pul:res:(\d{1,9})$"),
            CallbackQueryHandler(share, pattern=r"^pul:share:(\d{1,9})$"),
            CallbackQueryHandler(start_trial, pattern=r"^pul:trial:(\d{1,9})$"),
        ],
        states={
            State.ITEM: [
                CallbackQueryHandler(answer, pattern=r"^pul:a:(\d):(\d)$"),
                MessageHandler(filters.ChatType.PRIVATE & ~filters.COMMAND, not_a_press),
            ],
        },
        hints={State.ITEM: ITEM_HINT},
    )
