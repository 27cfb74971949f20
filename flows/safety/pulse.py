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

import asyncio
import logging
from zoneinfo import ZoneInfo

from sqlmodel import Session
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, Renderer, States, StemmeContext, alert, respond
from flows.core.guard import leads_only, stale_button
from flows.core.i18n import N_, Texts, texts
from flows.loop.decisions import decision_markup
from flows.safety.chart import ITEM_LABELS, format_score, render_chart
from storage import decisions, directory
from storage import pulse as pulses
from storage.db import require_id, utcnow
from storage.models import Member, Prompt, Pulse, PulseRepeat, Role, Team

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


DEFAULT_ZONE = "Europe/Copenhagen"
CAPTION_LIMIT = 1024
ITEM_HINT = N_("Answer with one of the buttons 1 to 7, or send /cancel.")
CHART_FILENAME = "pulse.png"


class State(States):
    """The one step that waits: a statement on screen, answered with a button."""

    ITEM = "pulse.item"


STATEMENTS = {
    1: N_("If you make a mistake on this team, it is often held against you."),
    2: N_("Members of this team are able to bring up problems and tough issues."),
    3: N_("People on this team sometimes reject others for being different."),
    4: N_("It is safe to take a risk on this team."),
    5: N_("It is difficult to ask other members of this team for help."),
    6: N_("No one on this team would deliberately act in a way that undermines my efforts."),
    7: N_(
        "Working with members of this team, my unique skills and talents are valued and utilized."
    ),
}

# Reflection questions for the weakest statements, one per statement.
QUESTIONS = {
    1: N_("What happens in our team when someone makes a mistake, and what would we like?"),
    2: N_("Which problem have we not talked about yet, and what would make it easier?"),
    3: N_("How do we make room for colleagues who work, think or speak differently?"),
    4: N_("What small new thing would we like to try, and how do we back each other up?"),
    5: N_("When did you last ask a colleague for help, and what made it easy or hard?"),
    6: N_("What helps us trust that everyone supports each other's work, across shifts too?"),
    7: N_("Which skills in our team do we use too little, and how could we use them?"),
}

REPEAT_LABELS = {
    PulseRepeat.MONTHLY: N_("every month"),
    PulseRepeat.QUARTERLY: N_("every 3 months"),
}


def _zone(context: StemmeContext) -> ZoneInfo:
    return context.services.settings.tz


def _prompt_zone(prompt: Prompt) -> ZoneInfo:
    return ZoneInfo(str(prompt.payload.get("tz") or DEFAULT_ZONE))


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


def _trend(texts_: Texts, now: float, before: float | None) -> str:
    if before is None:
        return ""
    difference = now - before
    arrow = "↑" if difference >= 0.05 else "↓" if difference <= -0.05 else "→"
    return " " + texts_._("({arrow} from {before})").format(
        arrow=arrow, before=format_score(texts_, before)
    )


def result_text(texts_: Texts, team: Team, shown: pulses.PulseResult) -> str:
    """The lead's result: the count only below the threshold; else score, items,
    previous pulse and two or three questions for the weakest statements."""
    _ = texts_._
    day = texts_.day(shown.pulse.opens_at)
    answered = texts_.ngettext(
        "{count} member answered.", "{count} members answered.", shown.answers
    ).format(count=shown.answers)
    if not shown.visible or shown.score is None:
        return "\n\n".join(
            [
                _("The pulse of {day} in {team} is closed.").format(day=day, team=team.name),
                answered,
                _(
                    "Results are shown only when at least {threshold} have answered, so that "
                    "nobody's answers can be seen. Next time, remind the team that the pulse "
                    "is anonymous."
                ).format(threshold=shown.threshold),
            ]
        )
    lines = [
        _("Psychological safety in {team}: the pulse of {day}").format(team=team.name, day=day),
        answered,
        "",
        _("Team score: {score} of 7").format(score=format_score(texts_, shown.score))
        + _trend(texts_, shown.score, shown.previous_score),
        "",
        _("Statement by statement (7 is the safest; 1, 3 and 5 are turned around):"),
    ]
    for item in shown.items:
        lines.append(
            _("{number}. {label}: {mean} (spread {spread})").format(
                number=item.item,
                label=_(ITEM_LABELS[item.item]),
                mean=format_score(texts_, item.mean),
                spread=format_score(texts_, item.spread),
            )
            + _trend(texts_, item.mean, item.previous)
        )
    lines += ["", _("To talk about in the team:")]
    lines += ["• " + _(QUESTIONS[item]) for item in shown.weakest()]
    return "\n".join(lines)


async def chart_png(texts_: Texts, team: Team, shown: pulses.PulseResult) -> bytes:
    """The chart of a visible result, drawn off the event loop."""
    return await asyncio.to_thread(
        render_chart,
        texts=texts_,
        team=team.name,
        history=shown.history,
        items=shown.items,
        weakest=shown.weakest(),
    )


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


# ------------------------------------------------------------------ timed prompts


def _member_texts(member: Member, tz: ZoneInfo) -> Texts:
    return texts(member.language, tz)


def _active_member(session: Session, prompt: Prompt) -> Member | None:
    """The prompt's member while still active in the prompt's team, else None."""
    if prompt.member_id is None:
        return None
    member = directory.get_member(session=session, member_id=prompt.member_id)
    membership = directory.get_membership(
        session=session, member_id=prompt.member_id, team_id=prompt.team_id
    )
    if member is None or not member.active or membership is None or not membership.active:
        return None
    return member


def _prompt_pulse(session: Session, prompt: Prompt) -> Pulse | None:
    pulse = pulses.get_pulse(session=session, pulse_id=int(prompt.payload.get("pulse_id", 0)))
    return pulse if pulse is not None and pulse.team_id == prompt.team_id else None


async def _send_invitation(bot: Bot, prompt: Prompt, session: Session, *, reminder: bool) -> None:
    member = _active_member(session, prompt)
    pulse = _prompt_pulse(session, prompt)
    if member is None or pulse is None or not pulses.is_open(pulse, utcnow()):
        return
    if pulses.has_answered(
        session=session, pulse_id=require_id(pulse), member_id=require_id(member)
    ):
        return
    team = directory.get_team(session=session, team_id=pulse.team_id)
    texts_ = _member_texts(member, _prompt_zone(prompt))
    _ = texts_._
    threshold = pulses.threshold_for_team(session=session, team_id=pulse.team_id)
    if reminder:
        text = _(
            "A reminder: the team's pulse is open until {when}. Seven statements, one press "
            "each, under a minute. Anonymous: your name is never stored with your answers."
        ).format(when=texts_.when(pulses.ends_at(pulse)))
    else:
        text = _(
            "How safe is it to speak up in {team}? Seven short statements, one press each, "
            "under a minute.\n\nYour answers are anonymous: they are stored without your "
            "name, only as the team's numbers, and the result is shown only if at least "
            "{threshold} answer. Open until {when}."
        ).format(
            team=team.name if team else "",
            threshold=threshold,
            when=texts_.when(pulses.ends_at(pulse)),
        )
    await bot.send_message(
        member.telegram_id,
        text,
        reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("Answer now"), callback_data=f"pul:go:{pulse.id}")]]
        ),
    )


async def render_invite(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Invites a member to answer the open pulse."""
    await _send_invitation(bot, prompt, session, reminder=False)


async def render_reminder(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Reminds a member who has not answered yet."""
    await _send_invitation(bot, prompt, session, reminder=True)


async def render_closed(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Tells a lead the pulse closed, with the count and a button to the result."""
    member = _active_member(session, prompt)
    pulse = _prompt_pulse(session, prompt)
    if member is None or pulse is None or not pulses.is_closed(pulse, utcnow()):
        return
    membership = directory.get_membership(
        session=session, member_id=require_id(member), team_id=pulse.team_id
    )
    if membership is None or membership.role != Role.LEAD:
        return
    texts_ = _member_texts(member, _prompt_zone(prompt))
    shown = pulses.result(session=session, pulse=pulse, now=utcnow())
    team = directory.get_team(session=session, team_id=pulse.team_id)
    assert team is not None
    if not shown.visible:
        await bot.send_message(member.telegram_id, result_text(texts_, team, shown))
        return
    await bot.send_message(
        member.telegram_id,
        texts_.ngettext(
            "The pulse of {day} is closed: {count} member answered. The result is ready.",
            "The pulse of {day} is closed: {count} members answered. The result is ready.",
            shown.answers,
        ).format(day=texts_.day(pulse.opens_at), count=shown.answers),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        texts_._("See the result"), callback_data=f"pul:res:{pulse.id}"
                    )
                ]
            ]
        ),
    )


async def render_open(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Opens a planned pulse of a repeating series, plans the next one, and tells the
    lead who scheduled it."""
    pulse = _prompt_pulse(session, prompt)
    if pulse is None or pulse.opened:
        return
    tz = _prompt_zone(prompt)
    invited = pulses.open_pulse(session=session, pulse=pulse, now=utcnow(), tz=tz)
    member = _active_member(session, prompt)
    if member is not None:
        pulses.plan_next(session=session, pulse=pulse, lead_member_id=require_id(member), tz=tz)
    logger.info("Planned pulse %s opened in team %s", pulse.id, pulse.team_id)
    if member is None:
        return
    texts_ = _member_texts(member, tz)
    await bot.send_message(
        member.telegram_id,
        texts_.ngettext(
            "The team's pulse is open until {when}: {count} member got the invitation.",
            "The team's pulse is open until {when}: {count} members got the invitation.",
            invited,
        ).format(when=texts_.when(pulse.closes_at), count=invited),
    )


async def render_shared(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Sends a member the result the lead shared: the chart with a short caption."""
    member = _active_member(session, prompt)
    pulse = _prompt_pulse(session, prompt)
    if member is None or pulse is None:
        return
    shown = pulses.result(session=session, pulse=pulse, now=utcnow())
    team = directory.get_team(session=session, team_id=pulse.team_id)
    if not shown.visible or shown.score is None or team is None:
        return
    texts_ = _member_texts(member, _prompt_zone(prompt))
    _ = texts_._
    lines = [
        _("Your team lead shares the result of the pulse of {day}.").format(
            day=texts_.day(pulse.opens_at)
        ),
        texts_.ngettext(
            "{count} member answered.", "{count} members answered.", shown.answers
        ).format(count=shown.answers),
        _("Team score: {score} of 7").format(score=format_score(texts_, shown.score))
        + _trend(texts_, shown.score, shown.previous_score),
        "",
        _("To talk about in the team:"),
        *("• " + _(QUESTIONS[item]) for item in shown.weakest()),
    ]
    png = await chart_png(texts_, team, shown)
    await bot.send_photo(
        member.telegram_id,
        png,
        caption=shorten_caption("\n".join(lines)),
        filename=CHART_FILENAME,
    )


def shorten_caption(text: str) -> str:
    """Keeps a caption within Telegram's 1,024 characters (line breaks kept)."""
    return text if len(text) <= CAPTION_LIMIT else text[: CAPTION_LIMIT - 1] + "…"


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


def renderers() -> dict[str, Renderer]:
    """The timed prompt kinds of the pulse."""
    return {
        pulses.KIND_INVITE: render_invite,
        pulses.KIND_REMINDER: render_reminder,
        pulses.KIND_CLOSED: render_closed,
        pulses.KIND_OPEN: render_open,
        pulses.KIND_SHARED: render_shared,
    }
