"""The trial action after the vote: the lead plans it (aim, measure, action, length,
check-ins, follow-up) and starts it, members answer the check-ins and add a note, and the
lead evaluates it (keep, adjust into a next round, drop). The steps of the decision flow
(decisions.py holds its table)."""

from __future__ import annotations

from datetime import date, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from flows.core.engine import END, StemmeContext, alert, respond
from flows.core.guard import stale_button
from flows.core.pickers import shorten
from flows.loop.care_record import record_button
from flows.loop.decision_views import (
    ANSWER_CODES,
    ANSWER_LABELS,
    State,
    evaluation_message,
    log_forged,
    matched_id,
    show_decision,
    team_decision,
    zone_of,
)
from storage import decisions, directory, trials, voting
from storage.db import require_id, utcnow
from storage.models import PROPOSAL_MAX_LENGTH, CheckinAnswer, DecisionStatus

TRIAL_DAYS = (7, 14, 21, 28)
CHECKIN_EVERY = (2, 3, 5, 7)


# ------------------------------------------------------------------ planning the trial


async def ask_aim(update: Update, context: StemmeContext) -> str | None:
    """Starts planning the chosen action: what do we want to achieve?"""
    decision = team_decision(context, matched_id(context))
    if decision is None or decision.status != DecisionStatus.PLANNING:
        await stale_button(update, context)
        return END
    member, _membership, _team = context.require_member()
    chosen = voting.chosen_proposal(session=context.session, decision=decision)
    context.flow_data = {
        "decision_id": decision.id,
        "action": chosen.text if chosen else "",
        # The lead follows up unless they choose someone else: one press less.
        "follow_up": member.id,
        "days": trials.DEFAULT_TRIAL_DAYS,
        "every": trials.DEFAULT_CHECKIN_EVERY_DAYS,
    }
    if decision.resident_id is not None:
        question = context.texts._(
            "The trial action: {action}\n\n1/3 What do we want to achieve for the resident? "
            "Write one or two sentences."
        )
    else:
        question = context.texts._(
            "The trial action: {action}\n\n1/3 What do we want to achieve as a team? "
            "Write one or two sentences."
        )
    await respond(update, question.format(action=context.flow_data["action"]), edit=False)
    return State.AIM


def _field(update: Update) -> str:
    message = update.effective_message
    assert message is not None and message.text is not None
    return message.text.strip()


async def _too_long(
    update: Update, context: StemmeContext, text: str, limit: int = trials.FIELD_MAX_LENGTH
) -> bool:
    """Asks for a shorter version of an over-long answer; the answer is kept (in the
    conversation and in the chat above), and the step stays where it is."""
    if len(text) <= limit:
        return False
    context.flow_data["draft"] = text
    await respond(
        update,
        context.texts._(
            "That has {length} characters; at most {limit} fit. I have kept it: copy it from "
            "your message above and send a shorter version."
        ).format(length=len(text), limit=limit),
    )
    return True


async def store_aim(update: Update, context: StemmeContext) -> str | None:
    """Keeps the aim and asks how we will know it is better."""
    text = _field(update)
    if await _too_long(update, context, text):
        return None
    context.flow_data["aim"] = text
    await respond(
        update,
        context.texts._(
            '2/3 How will we know it is better? (e.g. "She eats breakfast with us 4 days out '
            'of 7")'
        ),
    )
    return State.MEASURE


async def store_measure(update: Update, context: StemmeContext) -> str | None:
    """Keeps the measure and shows the action from the chosen proposal, to keep or change."""
    text = _field(update)
    if await _too_long(update, context, text):
        return None
    context.flow_data["measure"] = text
    await respond(
        update,
        context.texts._(
            "3/3 What do we do? From the vote:\n\n{action}\n\nKeep it, or write it more precisely."
        ).format(action=context.flow_data.get("action", "")),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        context.texts._("Keep it as it is"), callback_data="dec:keepaction"
                    )
                ]
            ]
        ),
    )
    return State.ACTION


async def store_action(update: Update, context: StemmeContext) -> str | None:
    """Takes the typed action instead of the proposal's text."""
    text = _field(update)
    if await _too_long(update, context, text):
        return None
    context.flow_data["action"] = text
    await _show_plan(update, context, edit=False)
    return State.PLAN


async def keep_action(update: Update, context: StemmeContext) -> str | None:
    """Keeps the chosen proposal's text as the action."""
    await _show_plan(update, context)
    return State.PLAN


async def _show_plan(update: Update, context: StemmeContext, *, edit: bool = True) -> None:
    """The trial action as it will start, with buttons for duration, follow-up, check-ins."""
    _ = context.texts._
    data = context.flow_data
    _member, _membership, team = context.require_member()
    days = int(data.get("days", trials.DEFAULT_TRIAL_DAYS))
    every = int(data.get("every", trials.DEFAULT_CHECKIN_EVERY_DAYS))
    today = utcnow().astimezone(zone_of(context)).date()
    follow_up = (
        directory.get_member(session=context.session, member_id=int(data["follow_up"]))
        if data.get("follow_up")
        else None
    )
    lines = [
        _("The trial action, ready to start:"),
        _("What we do: {action}").format(action=data.get("action", "")),
        _("What we want to achieve: {aim}").format(aim=data.get("aim", "")),
        _("How we will know: {measure}").format(measure=data.get("measure", "")),
        _("From {start} to {end}").format(
            start=context.texts.day(today), end=context.texts.day(today + timedelta(days=days))
        ),
        _("Follow-up: {name}").format(
            name=follow_up.name if follow_up else _("nobody chosen yet")
        ),
        context.texts.ngettext(
            "Check-in every {count} day", "Check-in every {count} days", every
        ).format(count=every),
    ]
    rows = [
        [
            InlineKeyboardButton(
                ("✓ " if n == days else "")
                + context.texts.ngettext("{count} day", "{count} days", n).format(count=n),
                callback_data=f"dec:days:{n}",
            )
            for n in TRIAL_DAYS
        ],
        [
            InlineKeyboardButton(
                ("✓ " if n == every else "") + _("every {count}").format(count=n),
                callback_data=f"dec:every:{n}",
            )
            for n in CHECKIN_EVERY
        ],
    ]
    members = directory.team_members(session=context.session, team_id=require_id(team))
    people = [
        InlineKeyboardButton(
            ("✓ " if follow_up is not None and row.member.id == follow_up.id else "")
            + shorten(row.member.name, 20),
            callback_data=f"dec:fu:{row.member.id}",
        )
        for row in members
    ]
    rows += [people[i : i + 3] for i in range(0, len(people), 3)]
    rows.append([InlineKeyboardButton(_("▶ Start the trial"), callback_data="dec:start")])
    lines += ["", _("Choose the length, how often we check in, and who follows up.")]
    await respond(update, "\n".join(lines), InlineKeyboardMarkup(rows), edit=edit)


async def set_days(update: Update, context: StemmeContext) -> str | None:
    """Sets the trial's length."""
    days = matched_id(context)
    if days not in TRIAL_DAYS:
        await stale_button(update, context)
        return None
    context.flow_data["days"] = days
    await _show_plan(update, context)
    return None


async def set_every(update: Update, context: StemmeContext) -> str | None:
    """Sets how often members are asked."""
    every = matched_id(context)
    if every not in CHECKIN_EVERY:
        await stale_button(update, context)
        return None
    context.flow_data["every"] = every
    await _show_plan(update, context)
    return None


async def set_follow_up(update: Update, context: StemmeContext) -> str | None:
    """Sets who follows up (an active member of the team)."""
    _member, _membership, team = context.require_member()
    member_id = matched_id(context)
    if not decisions.is_eligible(
        session=context.session, team_id=require_id(team), member_id=member_id
    ):
        await stale_button(update, context)
        return None
    context.flow_data["follow_up"] = member_id
    await _show_plan(update, context)
    return None


async def start_trial(update: Update, context: StemmeContext) -> str | None:
    """Starts the trial: every member is told, check-ins and the evaluation are scheduled."""
    _ = context.texts._
    member, _membership, _team = context.require_member()
    data = context.flow_data
    decision = team_decision(context, int(data.get("decision_id", 0)))
    if decision is None or decision.status != DecisionStatus.PLANNING:
        await stale_button(update, context)
        return END
    if not data.get("follow_up"):
        await alert(update, _("Choose who follows up first."))
        return None
    tz = zone_of(context)
    today = utcnow().astimezone(tz).date()
    trial = trials.start_trial(
        session=context.session,
        decision_id=require_id(decision),
        aim=str(data["aim"]),
        measure=str(data["measure"]),
        action=str(data["action"]),
        starts_on=today,
        ends_on=today + timedelta(days=int(data.get("days", trials.DEFAULT_TRIAL_DAYS))),
        follow_up_member_id=int(data["follow_up"]),
        checkin_every_days=int(data.get("every", trials.DEFAULT_CHECKIN_EVERY_DAYS)),
        by_member_id=require_id(member),
        now=utcnow(),
        tz=tz,
    )
    await respond(
        update,
        _(
            "The trial has started and everyone is told. It ends {day}; then you get the "
            "check-ins to evaluate."
        ).format(day=context.texts.day(trial.ends_on)),
    )
    return END


# ------------------------------------------------------------------ check-ins


async def check_in(update: Update, context: StemmeContext) -> str | None:
    """Stores the member's answer to a check-in and offers to add a note."""
    _ = context.texts._
    decision_id = matched_id(context)
    assert context.matches
    code, raw_day = context.matches[0].group(3), context.matches[0].group(2)
    decision = decisions.get_decision(session=context.session, decision_id=decision_id)
    member = context.member
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        decision = None
    if (
        decision is None
        or member is None
        or not decisions.is_eligible(
            session=context.session, team_id=decision.team_id, member_id=require_id(member)
        )
    ):
        log_forged(update, context, "check-in", decision_id)
        await stale_button(update, context)
        return None
    try:
        checkin = trials.record_checkin(
            session=context.session,
            decision_id=decision_id,
            member_id=require_id(member),
            day=day,
            answer=ANSWER_CODES[code],
            now=utcnow(),
        )
    except decisions.DecisionError:
        await alert(update, _("This trial is over. Nothing was changed."))
        return None
    await respond(
        update,
        _("Thank you! Your answer: {answer}.").format(
            answer=_(ANSWER_LABELS[CheckinAnswer(checkin.answer)])
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("✏️ Add a short note"), callback_data=f"dec:cinote:{checkin.id}"
                    )
                ]
            ]
        ),
    )
    return None


async def ask_checkin_note(update: Update, context: StemmeContext) -> str | None:
    """Asks for the optional note to the member's own check-in."""
    member, _membership, _team = context.require_member()
    checkin = trials.get_checkin(
        session=context.session, checkin_id=matched_id(context), member_id=require_id(member)
    )
    if checkin is None:
        await stale_button(update, context)
        return None
    context.flow_data = {"checkin_id": checkin.id}
    await respond(
        update,
        context.texts._("Write your note (at most {limit} characters). /cancel stops.").format(
            limit=trials.FIELD_MAX_LENGTH
        ),
        edit=False,
    )
    return State.CHECKIN_NOTE


async def store_checkin_note(update: Update, context: StemmeContext) -> str | None:
    """Adds the member's note to their check-in."""
    member, _membership, _team = context.require_member()
    text = _field(update)
    if await _too_long(update, context, text):
        return None
    trials.add_checkin_note(
        session=context.session,
        checkin_id=int(context.flow_data.get("checkin_id", 0)),
        member_id=require_id(member),
        note=text,
    )
    await respond(update, context.texts._("Your note is saved with the check-in."))
    return END


# ------------------------------------------------------------------ evaluation


async def evaluate_now(update: Update, context: StemmeContext) -> str | None:
    """Shows the lead the check-in summary and the evaluation buttons."""
    decision = team_decision(context, matched_id(context))
    if decision is None or decision.status not in (
        DecisionStatus.TRYING,
        DecisionStatus.EVALUATING,
    ):
        await stale_button(update, context)
        return END
    text, markup = evaluation_message(context.texts, context.session, decision)
    await respond(update, text, markup)
    return END


async def evaluate(update: Update, context: StemmeContext) -> str | None:
    """Keeps or drops the trial action, or asks for the change to try next."""
    _ = context.texts._
    member, _membership, _team = context.require_member()
    decision = team_decision(context, matched_id(context))
    assert context.matches
    outcome = context.matches[0].group(2)
    if decision is None or decision.status not in (
        DecisionStatus.TRYING,
        DecisionStatus.EVALUATING,
    ):
        await stale_button(update, context)
        return END
    if outcome == "adjust":
        trial = trials.get_trial(session=context.session, decision_id=require_id(decision))
        context.flow_data = {"decision_id": decision.id}
        await respond(
            update,
            _(
                "What do we change? Write the adjusted action (at most {limit} characters). "
                "It becomes the first proposal of the next round.\n\nNow: {action}"
            ).format(limit=PROPOSAL_MAX_LENGTH, action=trial.action if trial else ""),
            edit=False,
        )
        return State.ADJUST
    trials.evaluate(
        session=context.session,
        decision_id=require_id(decision),
        outcome=outcome,
        by_member_id=require_id(member),
    )
    markup = None
    if outcome == "keep":
        text = _(
            "Kept. It is now the team's standing approach, on the resident card for everyone."
        )
        if decision.resident_id is not None:
            # The agreed approach, ready to paste into the care record (care_record.py).
            markup = InlineKeyboardMarkup(
                [[record_button(context.texts, decision_id=require_id(decision))]]
            )
    else:
        text = _("Dropped. The trial action is no longer on the card.")
    await respond(update, text, markup)
    return END


async def store_adjustment(update: Update, context: StemmeContext) -> str | None:
    """Ends the trial as "adjust" and starts the next round with the change as a proposal."""
    member, _membership, _team = context.require_member()
    text = _field(update)
    if await _too_long(update, context, text, PROPOSAL_MAX_LENGTH):
        return None
    decision = team_decision(context, int(context.flow_data.get("decision_id", 0)))
    if decision is None or decision.status not in (
        DecisionStatus.TRYING,
        DecisionStatus.EVALUATING,
    ):
        await stale_button(update, context)
        return END
    successor = trials.evaluate(
        session=context.session,
        decision_id=require_id(decision),
        outcome="adjust",
        by_member_id=require_id(member),
        adjusted_action=text,
    )
    assert successor is not None
    await respond(
        update,
        context.texts._(
            "Adjusted. Round {number} starts with your change as the first proposal; the team "
            "can add more."
        ).format(number=successor.iteration),
    )
    await show_decision(update, context, successor, edit=False)
    return END
