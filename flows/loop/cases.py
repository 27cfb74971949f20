"""Borgerens stemme: listening to a resident (/voice), the team's perspectives, and /cases.

```mermaid
flowchart TD
    V["/voice"] --> R[case.resident: pick resident]
    R -->|open case, mine, step 1| Q
    R -->|open case of someone else| X[told where it is; ends]
    R --> K[case.kind: conversation or observation] --> Q
    Q[case.answer: question n of 3, text or voice, or skip] -->|over 1,000 characters: kept| Q
    Q -->|last question| M[case.moments: attach the resident's micro-moments]
    M --> S[case.summary: typed, or skip]
    S --> T[step 2: on the agenda; every other member invited once]
    P["case.perspective prompt or button"] --> PP[case.perspective: text or voice] --> PS[saved]
    C["/cases"] --> L[open cases: step, waiting for, overdue] --> CV[case view]
    CV -->|lead: Go to decision| D[step 3: decision started, propose button]
    CV -->|lead: back one step| CV
    CV -->|lead: close| CR[reason] --> CN[case.close_note: text or skip] --> CC[closed]
```
Step 2 begins when the listener finishes the summary: there is no separate "bring it to
the team" button, because a finished listening is always meant for the team. Every
button carries a case, answer or perspective id looked up within the member's team.

This module holds the flow's table, the lead's actions on a case and the invitation
prompt; the listening and the perspectives are in listening.py, /cases, the case view and
what the steps share in case_views.py.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from sqlmodel import Session
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, Renderer, StemmeContext, Step, alert, respond
from flows.core.guard import leads_only
from flows.core.i18n import N_, texts
from flows.loop.case_views import (
    CLOSE_REASONS,
    STEP_LABELS,
    State,
    matched_id,
    member_id_of,
    play,
    refuse_button,
    resident_of,
    show_case,
    show_cases,
    team_case,
    view,
)
from flows.loop.listening import (
    ask_perspective,
    choose_kind,
    choose_resident,
    moments_done,
    receive_answer,
    receive_perspective,
    receive_summary,
    resident_page,
    skip_question,
    skip_summary,
    start_listen,
    toggle_moment,
    trim_answer,
    trim_perspective,
    trim_summary,
)
from flows.moments.micromoment import CONTENT, FREE_TEXT, PRIVATE
from storage import cases, directory
from storage.cases import CaseProblem, CaseStep
from storage.db import require_id
from storage.models import NOTE_MAX_LENGTH, CaseCloseReason, Prompt, Resident, ResidentCase

logger = logging.getLogger(__name__)

DEFAULT_ZONE = "Europe/Copenhagen"


# ------------------------------------------------------------------ the lead's actions


async def _lead_case(update: Update, context: StemmeContext) -> ResidentCase | None:
    case = team_case(context, matched_id(context))
    if case is None or case.closed_at is not None:
        await refuse_button(update, context)
        return None
    return case


@leads_only
async def go_to_decision(update: Update, context: StemmeContext) -> str | None:
    """Step 2 -> 3: starts the case's decision and gives the lead the propose button."""
    _ = context.texts._
    case = await _lead_case(update, context)
    if case is None:
        return END
    alias = resident_of(context, case).alias
    try:
        decision = cases.go_to_decision(
            session=context.session, case=case, member_id=member_id_of(context), title=alias
        )
    except CaseProblem:
        await refuse_button(update, context)
        return END
    logger.info("Case %s goes to decision %s", case.id, decision.id)
    await respond(
        update,
        _(
            "The case of {alias} is now at step 3: deciding. Everyone can propose trial "
            "actions: what do we do differently, concretely?"
        ).format(alias=alias),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Propose a trial action"), callback_data=f"dec:propose:{decision.id}"
                    )
                ],
                [InlineKeyboardButton(_("All cases"), callback_data="case:list")],
            ]
        ),
    )
    return END


@leads_only
async def move_back(update: Update, context: StemmeContext) -> str | None:
    """Moves the case back one step (3 -> 2 withdraws its decision)."""
    _ = context.texts._
    case = await _lead_case(update, context)
    if case is None:
        return END
    try:
        step = cases.move_back(session=context.session, case=case, member_id=member_id_of(context))
    except CaseProblem:
        await refuse_button(update, context)
        return END
    await alert(update, _("Moved back to {step}.").format(step=_(STEP_LABELS[step])))
    await show_case(update, context, case)
    return END


@leads_only
async def ask_close(update: Update, context: StemmeContext) -> str | None:
    """Asks why the case is closed."""
    _ = context.texts._
    case = await _lead_case(update, context)
    if case is None:
        return END
    rows = [
        [InlineKeyboardButton(_(label), callback_data=f"case:closewhy:{case.id}:{reason}")]
        for reason, label in CLOSE_REASONS.items()
    ]
    rows.append([InlineKeyboardButton(_("Do not close"), callback_data=f"case:view:{case.id}")])
    await respond(
        update,
        _("Close the case of {alias}? Why?").format(alias=resident_of(context, case).alias),
        InlineKeyboardMarkup(rows),
    )
    return END


@leads_only
async def choose_close_reason(update: Update, context: StemmeContext) -> str | None:
    """Keeps the reason and asks for an optional short note."""
    _ = context.texts._
    case = await _lead_case(update, context)
    assert context.matches
    try:
        reason = CaseCloseReason(context.matches[0].group(2))
    except ValueError:
        case = None
    if case is None or reason not in CLOSE_REASONS:
        await refuse_button(update, context)
        return END
    context.flow_data = {"case_id": case.id, "reason": reason.value}
    await respond(
        update,
        _("Write a short note on why, if you like, or close it without one."),
        InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("Close without a note"), callback_data="case:closeskip")]]
        ),
    )
    return State.CLOSE_NOTE


async def receive_close_note(update: Update, context: StemmeContext) -> str | None:
    """Closes the case with the typed note."""
    message = update.effective_message
    assert message is not None and message.text is not None
    if len(message.text.strip()) > NOTE_MAX_LENGTH:
        await respond(
            update,
            context.texts._(
                "Your note has {length} characters; at most {limit} fit. Write a shorter one."
            ).format(length=len(message.text.strip()), limit=NOTE_MAX_LENGTH),
        )
        return None
    return await _close(update, context, message.text)


async def close_without_note(update: Update, context: StemmeContext) -> str | None:
    """Closes the case without a note."""
    return await _close(update, context, None)


async def _close(update: Update, context: StemmeContext, note: str | None) -> str:
    _ = context.texts._
    if not context.is_lead:
        await alert(update, _("Only the team lead can do that."))
        return END
    case = team_case(context, int(context.flow_data.get("case_id", 0)))
    if case is None or case.closed_at is not None or "reason" not in context.flow_data:
        await refuse_button(update, context)
        return END
    cases.close_case(
        session=context.session,
        case=case,
        member_id=member_id_of(context),
        reason=CaseCloseReason(context.flow_data["reason"]),
        note=note,
    )
    logger.info("Case %s closed", case.id)
    await respond(
        update,
        _("Closed ✔ The case of {alias} stays readable in its view.").format(
            alias=resident_of(context, case).alias
        ),
        InlineKeyboardMarkup([[InlineKeyboardButton(_("All cases"), callback_data="case:list")]]),
        edit=update.callback_query is not None,
    )
    return END


# ------------------------------------------------------------------ the invitation prompt


async def render_perspective(bot: Bot, prompt: Prompt, session: Session) -> None:
    """Invites one member to add their perspective before the meeting (one message)."""
    case_id = int(prompt.payload.get("case_id", 0))
    case = session.get(ResidentCase, case_id)
    member = directory.get_member(session=session, member_id=prompt.member_id or 0)
    if case is None or member is None or case.closed_at is not None:
        return
    membership = directory.get_membership(
        session=session, member_id=require_id(member), team_id=case.team_id
    )
    if membership is None or not membership.active or not member.active:
        return  # they left the team after the invitation was scheduled
    resident = session.get(Resident, case.resident_id)
    if resident is None or cases.case_step(session=session, case=case) != CaseStep.TEAM:
        return
    t = texts(member.language, ZoneInfo(str(prompt.payload.get("tz") or DEFAULT_ZONE)))
    _ = t._
    listener = (
        directory.get_member(session=session, member_id=case.listener_member_id)
        if case.listener_member_id
        else None
    )
    text = _(
        "Borgerens stemme: {name} has listened to {alias}. Before the team talks about it: "
        "what do you see when you help {alias}?"
    ).format(name=listener.name if listener else _("a colleague"), alias=resident.alias)
    if prompt.expires_at is not None:
        text += "\n" + _("The team talks about it at the meeting {when}.").format(
            when=t.when(prompt.expires_at)
        )
    await bot.send_message(
        member.telegram_id,
        text,
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("✍️ Add my perspective"), callback_data=f"case:persp:{case.id}"
                    )
                ],
                [InlineKeyboardButton(_("See the case"), callback_data=f"case:view:{case.id}")],
            ]
        ),
    )


# ------------------------------------------------------------------ wiring


HINTS: dict[str, str] = {
    State.RESIDENT: N_("Choose the resident with the buttons above, or send /cancel to stop."),
    State.KIND: N_("Choose Conversation or Observation above, or send /cancel to stop."),
    State.ANSWER: N_(
        "Write the answer as text, or send a voice message. Press Skip to leave the question "
        "out. Stickers, photos and files cannot be saved."
    ),
    State.MOMENTS: N_("Tap the micro-moments to attach, then Next."),
    State.SUMMARY: N_("Write the summary as text, or press Skip."),
    State.PERSPECTIVE: N_(
        "Write what you see as text, or send a voice message. Stickers, photos and files "
        "cannot be saved."
    ),
    State.CLOSE_NOTE: N_("Write a short note as text, or press Close without a note."),
}

ID = r"(\d{1,9})"
# Anything else a member sends in a step (stickers, photos, text where a button is
# expected): the step's hint, so it is never taken as a new micro-moment.
STRAY = filters.ALL & ~filters.COMMAND & PRIVATE


def _hint_for(state: str) -> Step:
    async def hint(update: Update, context: StemmeContext) -> str | None:
        """Answers input that does not fit this step; the flow stays where it was."""
        await respond(update, context.texts._(HINTS[state]), edit=False)
        return None

    return hint


def build_flow() -> Flow:
    """Listening (/voice), perspectives, /cases and the case view."""
    return Flow(
        name="case",
        entry_points=[
            CommandHandler("voice", start_listen, filters=PRIVATE),
            CommandHandler("cases", show_cases, filters=PRIVATE),
            CallbackQueryHandler(show_cases, pattern=r"^case:list$"),
            CallbackQueryHandler(view, pattern=rf"^case:view:{ID}$"),
            CallbackQueryHandler(play, pattern=rf"^case:play:(a|p):{ID}$"),
            CallbackQueryHandler(ask_perspective, pattern=rf"^case:persp:{ID}$"),
            CallbackQueryHandler(go_to_decision, pattern=rf"^case:decide:{ID}$"),
            CallbackQueryHandler(move_back, pattern=rf"^case:back:{ID}$"),
            CallbackQueryHandler(ask_close, pattern=rf"^case:close:{ID}$"),
            CallbackQueryHandler(
                choose_close_reason, pattern=rf"^case:closewhy:{ID}:(\w{{1,20}})$"
            ),
        ],
        states={
            State.RESIDENT: [
                CallbackQueryHandler(resident_page, pattern=r"^case:res:page:(\d{1,4})$"),
                CallbackQueryHandler(choose_resident, pattern=rf"^case:res:{ID}$"),
                MessageHandler(STRAY, _hint_for(State.RESIDENT)),
            ],
            State.KIND: [
                CallbackQueryHandler(
                    choose_kind, pattern=r"^case:kind:(conversation|observation)$"
                ),
                MessageHandler(STRAY, _hint_for(State.KIND)),
            ],
            State.ANSWER: [
                CallbackQueryHandler(skip_question, pattern=r"^case:skip$"),
                CallbackQueryHandler(trim_answer, pattern=r"^case:trim$"),
                MessageHandler(CONTENT, receive_answer),
                MessageHandler(STRAY, _hint_for(State.ANSWER)),
            ],
            State.MOMENTS: [
                CallbackQueryHandler(toggle_moment, pattern=rf"^case:mom:{ID}$"),
                CallbackQueryHandler(moments_done, pattern=r"^case:momdone$"),
                MessageHandler(STRAY, _hint_for(State.MOMENTS)),
            ],
            State.SUMMARY: [
                CallbackQueryHandler(skip_summary, pattern=r"^case:sumskip$"),
                CallbackQueryHandler(trim_summary, pattern=r"^case:sumtrim$"),
                MessageHandler(FREE_TEXT, receive_summary),
                MessageHandler(STRAY, _hint_for(State.SUMMARY)),
            ],
            State.PERSPECTIVE: [
                CallbackQueryHandler(trim_perspective, pattern=r"^case:pertrim$"),
                MessageHandler(CONTENT, receive_perspective),
                MessageHandler(STRAY, _hint_for(State.PERSPECTIVE)),
            ],
            State.CLOSE_NOTE: [
                CallbackQueryHandler(close_without_note, pattern=r"^case:closeskip$"),
                MessageHandler(FREE_TEXT, receive_close_note),
                MessageHandler(STRAY, _hint_for(State.CLOSE_NOTE)),
            ],
        },
        hints=HINTS,
    )


def renderers() -> dict[str, Renderer]:
    """The timed prompt kinds this flow sends."""
    return {cases.KIND_PERSPECTIVE: render_perspective}
