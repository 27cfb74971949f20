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
"""

from __future__ import annotations

import logging
from datetime import date
from zoneinfo import ZoneInfo

from sqlmodel import Session
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, Renderer, States, StemmeContext, Step, alert, respond
from flows.core.guard import leads_only, stale_button
from flows.core.i18n import N_, Texts, texts
from flows.core.pickers import resident_buttons, shorten
from flows.moments.micromoment import CONTENT, FREE_TEXT, PRIVATE
from storage import cases, directory
from storage.agenda import Agenda, AgendaEntry
from storage.cases import (
    CaseAlreadyOpen,
    CaseOverview,
    CaseProblem,
    CaseStep,
    ResidentInactive,
    TextTooLong,
)
from storage.db import require_id, utcnow
from storage.models import (
    NOTE_MAX_LENGTH,
    CaseAnswer,
    CaseCloseReason,
    CaseKind,
    DecisionStatus,
    Note,
    Prompt,
    Resident,
    ResidentCase,
)
from storage.residents import get_team_resident, list_residents

logger = logging.getLogger(__name__)

DEFAULT_ZONE = "Europe/Copenhagen"
VIEW_LIMIT = 4000  # Telegram's 4,096 characters, with room to spare
ANSWER_SHOWN = 400
SHORT_SHOWN = 200

# The question bank: a stable key (stored with each answer) and the question's msgid.
QUESTIONS: dict[CaseKind, tuple[tuple[str, str], ...]] = {
    CaseKind.CONVERSATION: (
        ("conversation.matters", N_("What matters to you in your day?")),
        ("conversation.good_day", N_("When is a good day for you?")),
        ("conversation.differently", N_("What should we do differently?")),
    ),
    CaseKind.OBSERVATION: (
        ("observation.saw", N_("What did you see?")),
        ("observation.reaction", N_("How did the resident react?")),
        ("observation.mattered", N_("What seemed to matter to the resident?")),
    ),
}
QUESTION_TEXT = {key: msgid for bank in QUESTIONS.values() for key, msgid in bank}

KIND_LABELS = {
    CaseKind.CONVERSATION: N_("Conversation"),
    CaseKind.OBSERVATION: N_("Observation"),
}
STEP_LABELS = {
    CaseStep.LISTEN: N_("Step 1 of 4: listening"),
    CaseStep.TEAM: N_("Step 2 of 4: in the team"),
    CaseStep.DECIDING: N_("Step 3 of 4: deciding"),
    CaseStep.TRYING: N_("Step 4 of 4: trying"),
    CaseStep.EVALUATED: N_("Closed"),
}
CLOSE_REASONS = {
    CaseCloseReason.SETTLED: N_("Talked through, no trial action needed"),
    CaseCloseReason.RESIDENT_LEFT: N_("The resident has left"),
    CaseCloseReason.OTHER: N_("Another reason"),
}
CLOSE_REASON_SHOWN = {
    **CLOSE_REASONS,
    CaseCloseReason.EVALUATED: N_("The trial action was evaluated"),
}


class State(States):
    """The steps of listening, adding a perspective and closing a case."""

    RESIDENT = "case.resident"
    KIND = "case.kind"
    ANSWER = "case.answer"
    MOMENTS = "case.moments"
    SUMMARY = "case.summary"
    PERSPECTIVE = "case.perspective"
    CLOSE_NOTE = "case.close_note"


# ------------------------------------------------------------------ helpers


def _id(context: StemmeContext, group: int = 1) -> int:
    assert context.matches
    return int(context.matches[0].group(group))


def _team_id(context: StemmeContext) -> int:
    _member, _membership, team = context.require_member()
    return require_id(team)


def _member_id(context: StemmeContext) -> int:
    member, _membership, _team = context.require_member()
    return require_id(member)


def _case(context: StemmeContext, case_id: int) -> ResidentCase | None:
    return cases.get_team_case(session=context.session, team_id=_team_id(context), case_id=case_id)


def _resident(context: StemmeContext, case: ResidentCase) -> Resident:
    resident = context.session.get(Resident, case.resident_id)
    assert resident is not None
    return resident


def _voice_of(update: Update) -> tuple[str, int] | None:
    message = update.effective_message
    if message is None or message.voice is None:
        return None
    # The raw seconds: PTB 22 is moving ``duration`` to a timedelta.
    return message.voice.file_id, int(message.voice.to_dict().get("duration", 0))


def _voice_label(texts: Texts, seconds: int | None) -> str:
    return texts._("🎤 voice message, {seconds} s").format(seconds=seconds or 0)


def _too_long(texts: Texts, length: int, trim_data: str) -> tuple[str, InlineKeyboardMarkup]:
    _ = texts._
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Keep the first {limit} characters").format(limit=NOTE_MAX_LENGTH),
                    callback_data=trim_data,
                )
            ]
        ]
    )
    message = _(
        "Your text has {length} characters; at most {limit} fit here. I have kept it: send a "
        "shorter version (you can copy it from your message above), or keep the first "
        "{limit} characters."
    ).format(length=length, limit=NOTE_MAX_LENGTH)
    return message, markup


async def _refused(update: Update, context: StemmeContext) -> None:
    """Answers a stale or forged button (a case of another team, or one that moved on)
    with the usual "no longer active", and logs it with ids only."""
    query = update.callback_query
    logger.info(
        "Refused case button %s from member %s (update %s)",
        query.data if query is not None else None,
        context.member.id if context.member else None,
        update.update_id,
    )
    await stale_button(update, context)


async def _resident_gone(update: Update, context: StemmeContext, alias: str) -> str:
    """Tells the listener the resident left the team's list; the case stays readable."""
    await respond(
        update,
        context.texts._(
            "{alias} is no longer on the team's list, so this case cannot go on. What you "
            "wrote is kept: the case is in /cases."
        ).format(alias=alias),
        edit=False,
    )
    return END


async def _listening(update: Update, context: StemmeContext) -> ResidentCase | None:
    """The case being listened to, if it is still the member's, open and at step 1."""
    case = _case(context, int(context.flow_data.get("case_id", 0)))
    if (
        case is None
        or case.closed_at is not None
        or case.step != CaseStep.LISTEN
        or case.listener_member_id != _member_id(context)
    ):
        await respond(
            update,
            context.texts._(
                "This case is no longer waiting for you to listen. See where it is in /cases."
            ),
            edit=False,
        )
        return None
    return case


# ------------------------------------------------------------------ step 1: listening


async def start_listen(update: Update, context: StemmeContext) -> str | None:
    """Starts listening: asks which resident it is about."""
    context.flow_data = {}
    return await _ask_resident(update, context, page=0)


async def _ask_resident(update: Update, context: StemmeContext, *, page: int) -> str:
    _ = context.texts._
    residents = list_residents(session=context.session, team_id=_team_id(context))
    if not residents:
        await respond(update, _("The team has no residents yet. Your team lead adds them."))
        return END
    await respond(
        update,
        _(
            "Borgerens stemme: listen to what matters to a resident, in a short conversation "
            "or by observing. Whom will you listen to?"
        ),
        resident_buttons(residents, action="case:res", page=page, texts=context.texts),
    )
    return State.RESIDENT


async def resident_page(update: Update, context: StemmeContext) -> str | None:
    """Shows another page of residents."""
    return await _ask_resident(update, context, page=_id(context))


async def choose_resident(update: Update, context: StemmeContext) -> str | None:
    """Continues the member's own case, refuses a resident with an open case, or asks how."""
    _ = context.texts._
    resident = get_team_resident(
        session=context.session, team_id=_team_id(context), resident_id=_id(context)
    )
    if resident is None:
        await alert(update, _("That resident is no longer on the team's list. Pick another."))
        return await _ask_resident(update, context, page=0)
    existing = cases.open_case_of_resident(
        session=context.session, resident_id=require_id(resident)
    )
    if existing is not None:
        return await _open_already(update, context, existing, resident)
    context.flow_data = {"resident_id": resident.id}
    await respond(
        update,
        _("{alias}: will you talk with them, or did you observe something?").format(
            alias=resident.alias
        ),
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("💬 Conversation"), callback_data=f"case:kind:{CaseKind.CONVERSATION}"
                    ),
                    InlineKeyboardButton(
                        _("👀 Observation"), callback_data=f"case:kind:{CaseKind.OBSERVATION}"
                    ),
                ]
            ]
        ),
    )
    return State.KIND


async def _open_already(
    update: Update, context: StemmeContext, case: ResidentCase, resident: Resident
) -> str:
    """Resumes the member's own unfinished listening, or says where the open case is."""
    _ = context.texts._
    if case.step == CaseStep.LISTEN and case.listener_member_id == _member_id(context):
        context.flow_data = {"case_id": case.id}
        await respond(
            update,
            _("You started listening to {alias} on {day}. Let us go on where you stopped.").format(
                alias=resident.alias, day=context.texts.day(case.created_at)
            ),
        )
        return await _next_question(update, context, case)
    step = cases.case_step(session=context.session, case=case)
    await respond(
        update,
        _(
            "{alias} already has an open case ({step}). A resident has one case at a time: "
            "add your perspective to it instead."
        ).format(alias=resident.alias, step=_(STEP_LABELS[step])),
        InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("See the case"), callback_data=f"case:view:{case.id}")]]
        ),
    )
    return END


async def choose_kind(update: Update, context: StemmeContext) -> str | None:
    """Opens the case (step 1) and asks the first question."""
    _ = context.texts._
    assert context.matches
    kind = CaseKind(context.matches[0].group(1))
    resident_id = int(context.flow_data.get("resident_id", 0))
    try:
        case = cases.start_case(
            session=context.session,
            team_id=_team_id(context),
            resident_id=resident_id,
            listener_member_id=_member_id(context),
            kind=kind,
        )
    except ResidentInactive:
        await alert(update, _("That resident is no longer on the team's list. Pick another."))
        return await _ask_resident(update, context, page=0)
    except CaseAlreadyOpen as taken:
        return await _open_already(update, context, taken.case, _resident(context, taken.case))
    context.flow_data = {"case_id": case.id}
    return await _next_question(update, context, case)


def _bank(case: ResidentCase) -> tuple[tuple[str, str], ...]:
    return QUESTIONS[CaseKind(case.kind)]


async def _next_question(update: Update, context: StemmeContext, case: ResidentCase) -> str:
    """Asks the next question not answered or skipped yet, or goes on to the moments."""
    answered = {
        a.question for a in cases.answers_of(session=context.session, case_id=case.id or 0)
    }
    skipped = set(context.flow_data.get("skipped", []))
    bank = _bank(case)
    for index, (key, _msgid) in enumerate(bank):
        if key not in answered and key not in skipped:
            context.flow_data["q"] = index
            return await _ask_question(update, context, case, index)
    return await _ask_moments(update, context, case)


async def _ask_question(
    update: Update, context: StemmeContext, case: ResidentCase, index: int
) -> str:
    _ = context.texts._
    bank = _bank(case)
    resident = _resident(context, case)
    text = _("{alias} · question {number} of {total}").format(
        alias=resident.alias, number=index + 1, total=len(bank)
    )
    text += "\n\n" + _(bank[index][1]) + "\n\n"
    text += _("Write the answer, or send a voice message.")
    await respond(
        update,
        text,
        InlineKeyboardMarkup([[InlineKeyboardButton(_("Skip"), callback_data="case:skip")]]),
        edit=False,
    )
    return State.ANSWER


async def receive_answer(update: Update, context: StemmeContext) -> str | None:
    """Stores the answer (text or voice) and asks the next question."""
    case = await _listening(update, context)
    if case is None:
        return END
    resident = _resident(context, case)
    if not resident.active:
        return await _resident_gone(update, context, resident.alias)
    message = update.effective_message
    assert message is not None
    voice = _voice_of(update)
    text = None if voice is not None else (message.text or "")
    if text is not None and len(text.strip()) > NOTE_MAX_LENGTH:
        context.flow_data["draft"] = text
        prompt, markup = _too_long(context.texts, len(text.strip()), "case:trim")
        await respond(update, prompt, markup, edit=False)
        return None
    return await _store_answer(update, context, case, text, voice)


async def _store_answer(
    update: Update,
    context: StemmeContext,
    case: ResidentCase,
    text: str | None,
    voice: tuple[str, int] | None,
) -> str:
    index = int(context.flow_data.get("q", 0))
    key = _bank(case)[index][0]
    cases.save_answer(
        session=context.session,
        case=case,
        member_id=_member_id(context),
        question=key,
        position=index,
        text=text,
        voice_file_id=voice[0] if voice else None,
        voice_duration=voice[1] if voice else None,
    )
    context.flow_data.pop("draft", None)
    return await _next_question(update, context, case)


async def trim_answer(update: Update, context: StemmeContext) -> str | None:
    """Keeps the first 1,000 characters of the over-long answer."""
    draft = context.flow_data.get("draft")
    case = await _listening(update, context) if draft else None
    if not draft or case is None:
        await _refused(update, context)
        return None
    return await _store_answer(update, context, case, draft.strip()[:NOTE_MAX_LENGTH], None)


async def skip_question(update: Update, context: StemmeContext) -> str | None:
    """Leaves the question unanswered and asks the next one."""
    case = await _listening(update, context)
    if case is None:
        return END
    index = int(context.flow_data.get("q", 0))
    skipped: list[str] = context.flow_data.setdefault("skipped", [])
    skipped.append(_bank(case)[index][0])
    context.flow_data.pop("draft", None)
    return await _next_question(update, context, case)


def _moment_line(texts: Texts, note: Note) -> str:
    if note.voice_file_id:
        content = _voice_label(texts, note.voice_duration)
    else:
        content = "“" + shorten(note.text or "", 40) + "”"
    return f"{texts.short_day(note.created_at)}: {content}"


async def _ask_moments(update: Update, context: StemmeContext, case: ResidentCase) -> str:
    """Offers the resident's recent micro-moments to attach, or goes on to the summary."""
    _ = context.texts._
    notes = cases.resident_moments(
        session=context.session, team_id=case.team_id, resident_id=case.resident_id
    )
    if not notes:
        return await _ask_summary(update, context, case)
    chosen = set(cases.attached_note_ids(session=context.session, case_id=case.id or 0))
    rows = [
        [
            InlineKeyboardButton(
                ("✓ " if note.id in chosen else "") + _moment_line(context.texts, note),
                callback_data=f"case:mom:{note.id}",
            )
        ]
        for note in notes
    ]
    rows.append([InlineKeyboardButton(_("Next ▶"), callback_data="case:momdone")])
    await respond(
        update,
        _(
            "Do any of the team's micro-moments about {alias} belong with this? Tap to attach "
            "them, then Next."
        ).format(alias=_resident(context, case).alias),
        InlineKeyboardMarkup(rows),
        edit=update.callback_query is not None and "moments" in context.flow_data,
    )
    context.flow_data["moments"] = True
    return State.MOMENTS


async def toggle_moment(update: Update, context: StemmeContext) -> str | None:
    """Attaches or detaches one micro-moment."""
    case = await _listening(update, context)
    if case is None:
        return END
    note_id = _id(context)
    attached = note_id in cases.attached_note_ids(session=context.session, case_id=case.id or 0)
    if not cases.set_moment(
        session=context.session, case=case, note_id=note_id, attached=not attached
    ):
        await _refused(update, context)
        return None
    return await _ask_moments(update, context, case)


async def moments_done(update: Update, context: StemmeContext) -> str | None:
    """Goes on to the summary."""
    case = await _listening(update, context)
    if case is None:
        return END
    return await _ask_summary(update, context, case)


async def _ask_summary(update: Update, context: StemmeContext, case: ResidentCase) -> str:
    _ = context.texts._
    await respond(
        update,
        _(
            "Last step: in a sentence or two, what is {alias}'s own view? Write it, or press "
            "Skip: then your answers are the summary."
        ).format(alias=_resident(context, case).alias),
        InlineKeyboardMarkup([[InlineKeyboardButton(_("Skip"), callback_data="case:sumskip")]]),
        edit=False,
    )
    return State.SUMMARY


async def receive_summary(update: Update, context: StemmeContext) -> str | None:
    """Keeps the summary and brings the case to the team."""
    message = update.effective_message
    assert message is not None and message.text is not None
    if len(message.text.strip()) > NOTE_MAX_LENGTH:
        context.flow_data["draft"] = message.text
        prompt, markup = _too_long(context.texts, len(message.text.strip()), "case:sumtrim")
        await respond(update, prompt, markup, edit=False)
        return None
    return await _finish(update, context, message.text)


async def trim_summary(update: Update, context: StemmeContext) -> str | None:
    """Keeps the first 1,000 characters of the over-long summary."""
    draft = context.flow_data.get("draft")
    if not draft:
        await _refused(update, context)
        return None
    return await _finish(update, context, draft.strip()[:NOTE_MAX_LENGTH])


async def skip_summary(update: Update, context: StemmeContext) -> str | None:
    """Brings the case to the team without a summary."""
    return await _finish(update, context, None)


async def _finish(update: Update, context: StemmeContext, summary: str | None) -> str:
    """Step 2: the case goes to the team and every other member is invited once."""
    _ = context.texts._
    case = await _listening(update, context)
    if case is None:
        return END
    resident = _resident(context, case)
    try:
        invitations = cases.bring_to_team(
            session=context.session,
            case=case,
            member_id=_member_id(context),
            summary=summary,
            tz=str(context.texts.tz),
        )
    except ResidentInactive:
        return await _resident_gone(update, context, resident.alias)
    logger.info("Case %s is with the team; %s invited", case.id, len(invitations))
    count = len(invitations)
    text = _("Saved ✔ What {alias} told you is now with the team (step 2 of 4).").format(
        alias=resident.alias
    )
    text += "\n" + context.texts.ngettext(
        "I have asked {count} colleague to add what they see.",
        "I have asked {count} colleagues to add what they see.",
        count,
    ).format(count=count)
    text += "\n" + _("It goes on the agenda of the team's next meeting.")
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(_("See the case"), callback_data=f"case:view:{case.id}")]]
    )
    if update.callback_query is not None:
        await update.callback_query.answer()
    chat = update.effective_chat
    assert chat is not None

    async def confirm() -> None:
        await chat.send_message(text, reply_markup=markup)

    # Only once the case is committed at step 2 is the listener told so.
    context.after_commit(confirm)
    return END


# ------------------------------------------------------------------ step 2: perspectives


async def ask_perspective(update: Update, context: StemmeContext) -> str | None:
    """Asks what the member sees when they help the resident (or for a new version)."""
    _ = context.texts._
    case = _case(context, _id(context))
    if case is None or case.closed_at is not None:
        await _refused(update, context)
        return END
    alias = _resident(context, case).alias
    own = cases.get_perspective(
        session=context.session, case_id=require_id(case), member_id=_member_id(context)
    )
    text = _(
        "What do you see when you help {alias}? Write briefly, or send a voice message."
    ).format(alias=alias)
    if own is not None:
        shown = (
            _voice_label(context.texts, own.voice_duration)
            if own.voice_file_id
            else "“" + shorten(own.text or "", ANSWER_SHOWN) + "”"
        )
        text = (
            _("Your perspective on {alias} now:").format(alias=alias)
            + "\n"
            + shown
            + "\n\n"
            + _("Send a new text or voice message to replace it, or /cancel to keep it.")
        )
    context.flow_data = {"case_id": case.id}
    await respond(update, text, edit=False)
    return State.PERSPECTIVE


async def receive_perspective(update: Update, context: StemmeContext) -> str | None:
    """Stores the member's perspective (text or voice)."""
    message = update.effective_message
    assert message is not None
    voice = _voice_of(update)
    text = None if voice is not None else (message.text or "")
    if text is not None and len(text.strip()) > NOTE_MAX_LENGTH:
        context.flow_data["draft"] = text
        prompt, markup = _too_long(context.texts, len(text.strip()), "case:pertrim")
        await respond(update, prompt, markup, edit=False)
        return None
    return await _store_perspective(update, context, text, voice)


async def trim_perspective(update: Update, context: StemmeContext) -> str | None:
    """Keeps the first 1,000 characters of the over-long perspective."""
    draft = context.flow_data.get("draft")
    if not draft:
        await _refused(update, context)
        return None
    return await _store_perspective(update, context, draft.strip()[:NOTE_MAX_LENGTH], None)


async def _store_perspective(
    update: Update, context: StemmeContext, text: str | None, voice: tuple[str, int] | None
) -> str | None:
    _ = context.texts._
    case = _case(context, int(context.flow_data.get("case_id", 0)))
    if case is None or case.closed_at is not None:
        await respond(update, _("This case is closed, so nothing more can be added."))
        return END
    try:
        cases.save_perspective(
            session=context.session,
            case=case,
            member_id=_member_id(context),
            text=text,
            voice_file_id=voice[0] if voice else None,
            voice_duration=voice[1] if voice else None,
        )
    except TextTooLong:  # pragma: no cover - checked above
        return None
    await respond(
        update,
        _("Thank you ✔ Your perspective on {alias} is saved. The team sees it in /cases.").format(
            alias=_resident(context, case).alias
        ),
        InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("See the case"), callback_data=f"case:view:{case.id}")]]
        ),
        edit=False,
    )
    return END


# ------------------------------------------------------------------ /cases and the case view


def _waiting_text(context: StemmeContext, line: CaseOverview) -> str:
    """What the case waits for, in one line."""
    _ = context.texts._
    t = context.texts
    if line.step == CaseStep.LISTEN:
        name = line.listener.name if line.listener else _("former member")
        return _("Waiting for {name} to finish listening.").format(name=name)
    if line.step == CaseStep.TEAM:
        if not line.waiting_for:
            return _("Ready for the team to decide.")
        return t.ngettext(
            "Waiting for {count} perspective.",
            "Waiting for {count} perspectives.",
            len(line.waiting_for),
        ).format(count=len(line.waiting_for))
    decision = line.decision
    if line.step == CaseStep.DECIDING and decision is not None:
        if decision.status == DecisionStatus.VOTING and decision.closes_at is not None:
            return _("The vote closes {when}.").format(when=t.when(decision.closes_at))
        if decision.status == DecisionStatus.VOTING:
            return _("The team is voting.")
        if decision.status in (DecisionStatus.TIE, DecisionStatus.PLANNING):
            return _("Waiting for the lead to settle the trial action.")
        return _("Waiting for proposals for a trial action.")
    if line.step == CaseStep.TRYING:
        if decision is not None and decision.status == DecisionStatus.EVALUATING:
            return _("Waiting for the team's evaluation.")
        if line.trial_ends_on is not None:
            return _("The trial ends {day}.").format(day=t.day(line.trial_ends_on))
        return _("The team is trying the action.")
    return ""


def _overdue_text(context: StemmeContext, line: CaseOverview) -> str:
    _ = context.texts._
    t = context.texts
    if not line.overdue:
        return ""
    if line.step == CaseStep.LISTEN:
        return _("Overdue: listening began {day}.").format(day=t.day(line.case.created_at))
    if line.step == CaseStep.TEAM and line.case.in_team_at is not None:
        return _("Overdue: with the team since {day}, not decided.").format(
            day=t.day(line.case.in_team_at)
        )
    if line.step == CaseStep.TRYING and line.trial_ends_on is not None:
        return _("Overdue: the trial ended {day} and is not evaluated.").format(
            day=t.day(line.trial_ends_on)
        )
    return ""


def _today(context: StemmeContext) -> date:
    return context.texts.local(utcnow()).date()


async def show_cases(update: Update, context: StemmeContext) -> str | None:
    """Lists the team's open cases: step, what each waits for, what is overdue."""
    _ = context.texts._
    lines = cases.open_cases(
        session=context.session, team_id=_team_id(context), today=_today(context)
    )
    if not lines:
        await respond(update, _("No open cases. Start one with /voice."))
        return END
    blocks = []
    for line in lines:
        block = [f"{line.alias} · {_(STEP_LABELS[line.step])}"]
        if not line.resident_active:
            block.append(_("(no longer on the team's list)"))
        waiting = _waiting_text(context, line)
        if waiting:
            block.append(waiting)
        overdue = _overdue_text(context, line)
        if overdue:
            block.append("⚠ " + overdue)
        blocks.append("\n".join(block))
    text = _("Open cases ({count}):").format(count=len(lines)) + "\n\n" + "\n\n".join(blocks)
    rows = [
        [InlineKeyboardButton(line.alias, callback_data=f"case:view:{line.case.id}")]
        for line in lines
    ]
    await respond(update, shorten_block(text), InlineKeyboardMarkup(rows))
    return END


def shorten_block(text: str) -> str:
    """Cuts a long message to what Telegram takes, keeping line breaks."""
    return text if len(text) <= VIEW_LIMIT else text[: VIEW_LIMIT - 1] + "…"


def _content(texts: Texts, text: str | None, voice_duration: int | None, *, voice: bool) -> str:
    if voice:
        return _voice_label(texts, voice_duration)
    return "“" + shorten(text or "", ANSWER_SHOWN) + "”"


async def view(update: Update, context: StemmeContext) -> str | None:
    """Shows one case: summary, answers, moments, perspectives, and the lead's actions."""
    case = _case(context, _id(context))
    if case is None:
        await _refused(update, context)
        return END
    await _show_case(update, context, case)
    return END


async def _show_case(update: Update, context: StemmeContext, case: ResidentCase) -> None:
    _ = context.texts._
    t = context.texts
    session = context.session
    case_id = require_id(case)
    line = cases.overview_of(session=session, case=case, today=_today(context))
    parts = [
        _("Case {number} · {alias} · {step}").format(
            number=case.number, alias=line.alias, step=_(STEP_LABELS[line.step])
        )
    ]
    listener = line.listener.name if line.listener else _("former member")
    parts.append(
        _("{kind} by {name}, {day}").format(
            kind=_(KIND_LABELS[CaseKind(case.kind)]), name=listener, day=t.day(case.created_at)
        )
    )
    if case.closed_at is not None:
        reason = CLOSE_REASON_SHOWN.get(CaseCloseReason(case.close_reason or "other"), "")
        parts.append(
            _("Closed {day}: {reason}").format(day=t.day(case.closed_at), reason=_(reason))
            + (f"\n“{shorten(case.close_note, SHORT_SHOWN)}”" if case.close_note else "")
        )
    else:
        waiting = _waiting_text(context, line)
        overdue = _overdue_text(context, line)
        parts.append("\n".join(x for x in (waiting, "⚠ " + overdue if overdue else "") if x))
    if case.summary:
        parts.append(_("Summary:") + "\n“" + shorten(case.summary, ANSWER_SHOWN) + "”")
    answers = cases.answers_of(session=session, case_id=case_id)
    rows: list[list[InlineKeyboardButton]] = []
    if answers:
        parts.append(_answers_text(t, answers))
        for number, answer in enumerate(answers, start=1):
            if answer.voice_file_id:
                rows.append(
                    [
                        InlineKeyboardButton(
                            _("▶ Answer {number}").format(number=number),
                            callback_data=f"case:play:a:{answer.id}",
                        )
                    ]
                )
    moments = cases.case_moments(session=session, case_id=case_id)
    if moments:
        parts.append(
            _("Micro-moments:") + "\n" + "\n".join("– " + _moment_line(t, n) for n in moments)
        )
    perspectives = cases.perspectives_of(session=session, case_id=case_id)
    if perspectives:
        lines = []
        for perspective, author in perspectives:
            name = author.name if author else _("former member")
            content = _content(
                t,
                perspective.text,
                perspective.voice_duration,
                voice=bool(perspective.voice_file_id),
            )
            lines.append(f"{name}: {content}")
            if perspective.voice_file_id:
                rows.append(
                    [
                        InlineKeyboardButton(
                            "▶ " + name, callback_data=f"case:play:p:{perspective.id}"
                        )
                    ]
                )
        parts.append(_("Perspectives:") + "\n" + "\n".join(lines))
    if case.closed_at is None:
        rows.append(
            [InlineKeyboardButton(_("✍️ My perspective"), callback_data=f"case:persp:{case_id}")]
        )
        if context.is_lead:
            rows.extend(_lead_rows(t, case_id, line.step))
    rows.append([InlineKeyboardButton(_("All cases"), callback_data="case:list")])
    await respond(
        update, shorten_block("\n\n".join(p for p in parts if p)), InlineKeyboardMarkup(rows)
    )


def _answers_text(t: Texts, answers: list[CaseAnswer]) -> str:
    blocks = []
    for answer in answers:
        question = t._(QUESTION_TEXT.get(answer.question, answer.question))
        content = _content(t, answer.text, answer.voice_duration, voice=bool(answer.voice_file_id))
        blocks.append(f"❓ {question}\n{content}")
    return "\n".join(blocks)


def _lead_rows(t: Texts, case_id: int, step: CaseStep) -> list[list[InlineKeyboardButton]]:
    _ = t._
    rows = []
    if step == CaseStep.TEAM:
        rows.append(
            [InlineKeyboardButton(_("Go to decision ▶"), callback_data=f"case:decide:{case_id}")]
        )
    if step in (CaseStep.TEAM, CaseStep.DECIDING):
        rows.append(
            [InlineKeyboardButton(_("◀ Back one step"), callback_data=f"case:back:{case_id}")]
        )
    rows.append([InlineKeyboardButton(_("Close the case"), callback_data=f"case:close:{case_id}")])
    return rows


async def play(update: Update, context: StemmeContext) -> str | None:
    """Sends a voice answer or perspective back so the member can listen to it."""
    assert context.matches
    what, row_id = context.matches[0].group(1), int(context.matches[0].group(2))
    team_id = _team_id(context)
    file_id = None
    if what == "a":
        answer = cases.get_team_answer(session=context.session, team_id=team_id, answer_id=row_id)
        file_id = answer.voice_file_id if answer else None
    else:
        perspective = cases.get_team_perspective(
            session=context.session, team_id=team_id, perspective_id=row_id
        )
        file_id = perspective.voice_file_id if perspective else None
    chat = update.effective_chat
    if file_id is None or chat is None:
        await _refused(update, context)
        return None
    if update.callback_query is not None:
        await update.callback_query.answer()
    await chat.send_voice(file_id)
    return None


# ------------------------------------------------------------------ the lead's actions


async def _lead_case(update: Update, context: StemmeContext) -> ResidentCase | None:
    case = _case(context, _id(context))
    if case is None or case.closed_at is not None:
        await _refused(update, context)
        return None
    return case


@leads_only
async def go_to_decision(update: Update, context: StemmeContext) -> str | None:
    """Step 2 -> 3: starts the case's decision and gives the lead the propose button."""
    _ = context.texts._
    case = await _lead_case(update, context)
    if case is None:
        return END
    alias = _resident(context, case).alias
    try:
        decision = cases.go_to_decision(
            session=context.session, case=case, member_id=_member_id(context), title=alias
        )
    except CaseProblem:
        await _refused(update, context)
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
        step = cases.move_back(session=context.session, case=case, member_id=_member_id(context))
    except CaseProblem:
        await _refused(update, context)
        return END
    await alert(update, _("Moved back to {step}.").format(step=_(STEP_LABELS[step])))
    await _show_case(update, context, case)
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
        _("Close the case of {alias}? Why?").format(alias=_resident(context, case).alias),
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
        await _refused(update, context)
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
    case = _case(context, int(context.flow_data.get("case_id", 0)))
    if case is None or case.closed_at is not None or "reason" not in context.flow_data:
        await _refused(update, context)
        return END
    cases.close_case(
        session=context.session,
        case=case,
        member_id=_member_id(context),
        reason=CaseCloseReason(context.flow_data["reason"]),
        note=note,
    )
    logger.info("Case %s closed", case.id)
    await respond(
        update,
        _("Closed ✔ The case of {alias} stays readable in its view.").format(
            alias=_resident(context, case).alias
        ),
        InlineKeyboardMarkup([[InlineKeyboardButton(_("All cases"), callback_data="case:list")]]),
        edit=update.callback_query is not None,
    )
    return END


# ------------------------------------------------------------------ on the meeting's agenda


def agenda_line(session: Session, texts: Texts, entry: AgendaEntry, agenda: Agenda) -> str:
    """A case on the meeting's agenda: resident, the summary's start, the perspectives."""
    _ = texts._
    case = session.get(ResidentCase, entry.ref_id)
    alias = agenda.aliases.get(entry.resident_id or 0, "?")
    if case is None or case.team_id != agenda.team_id:
        return alias
    count = cases.count_perspectives(session=session, case_id=entry.ref_id)
    line = _("The resident's voice, {alias}").format(alias=alias)
    if case.summary:
        line += ": “" + shorten(case.summary, 80) + "”"
    return (
        line
        + " · "
        + texts.ngettext("{count} perspective", "{count} perspectives", count).format(count=count)
    )


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
