"""Listening to a resident: step 1 of the case (/voice: the resident, conversation or
observation, three questions answered by text or voice or skipped, the resident's
micro-moments attached, the summary) and step 2's perspectives of the other members.
Over-long texts are kept and trimmed on request. The steps of the case flow (cases.py
holds its table)."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from flows.core.engine import END, StemmeContext, alert, respond
from flows.core.i18n import Texts
from flows.core.pickers import resident_buttons, shorten, trim_markup
from flows.loop.case_views import (
    ANSWER_SHOWN,
    QUESTIONS,
    STEP_LABELS,
    State,
    matched_id,
    member_id_of,
    moment_line,
    refuse_button,
    resident_of,
    team_case,
    team_id_of,
    voice_label,
)
from storage import cases, listening
from storage.cases import CaseAlreadyOpen, CaseStep, ResidentInactive, TextTooLong
from storage.db import require_id
from storage.models import NOTE_MAX_LENGTH, CaseKind, Resident, ResidentCase
from storage.residents import get_team_resident, list_residents

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------ helpers


def _voice_of(update: Update) -> tuple[str, int] | None:
    message = update.effective_message
    if message is None or message.voice is None:
        return None
    # The raw seconds: PTB 22 is moving ``duration`` to a timedelta.
    return message.voice.file_id, int(message.voice.to_dict().get("duration", 0))


def _too_long(texts: Texts, length: int, trim_data: str) -> tuple[str, InlineKeyboardMarkup]:
    _ = texts._
    markup = trim_markup(texts, trim_data)
    message = _(
        "Your text has {length} characters; at most {limit} fit here. I have kept it: send a "
        "shorter version (you can copy it from your message above), or keep the first "
        "{limit} characters."
    ).format(length=length, limit=NOTE_MAX_LENGTH)
    return message, markup


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
    case = team_case(context, int(context.flow_data.get("case_id", 0)))
    if (
        case is None
        or case.closed_at is not None
        or case.step != CaseStep.LISTEN
        or case.listener_member_id != member_id_of(context)
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
    residents = list_residents(session=context.session, team_id=team_id_of(context))
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
    return await _ask_resident(update, context, page=matched_id(context))


async def choose_resident(update: Update, context: StemmeContext) -> str | None:
    """Continues the member's own case, refuses a resident with an open case, or asks how."""
    _ = context.texts._
    resident = get_team_resident(
        session=context.session, team_id=team_id_of(context), resident_id=matched_id(context)
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
    if case.step == CaseStep.LISTEN and case.listener_member_id == member_id_of(context):
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
        case = listening.start_case(
            session=context.session,
            team_id=team_id_of(context),
            resident_id=resident_id,
            listener_member_id=member_id_of(context),
            kind=kind,
        )
    except ResidentInactive:
        await alert(update, _("That resident is no longer on the team's list. Pick another."))
        return await _ask_resident(update, context, page=0)
    except CaseAlreadyOpen as taken:
        return await _open_already(update, context, taken.case, resident_of(context, taken.case))
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
    resident = resident_of(context, case)
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
    resident = resident_of(context, case)
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
    listening.save_answer(
        session=context.session,
        case=case,
        member_id=member_id_of(context),
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
        await refuse_button(update, context)
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


async def _ask_moments(update: Update, context: StemmeContext, case: ResidentCase) -> str:
    """Offers the resident's recent micro-moments to attach, or goes on to the summary."""
    _ = context.texts._
    notes = cases.resident_moments(
        session=context.session, team_id=case.team_id, resident_id=case.resident_id
    )
    if not notes:
        return await _ask_summary(update, context, case)
    chosen = set(listening.attached_note_ids(session=context.session, case_id=case.id or 0))
    rows = [
        [
            InlineKeyboardButton(
                ("✓ " if note.id in chosen else "") + moment_line(context.texts, note),
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
        ).format(alias=resident_of(context, case).alias),
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
    note_id = matched_id(context)
    attached = note_id in listening.attached_note_ids(
        session=context.session, case_id=case.id or 0
    )
    if not listening.set_moment(
        session=context.session, case=case, note_id=note_id, attached=not attached
    ):
        await refuse_button(update, context)
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
        ).format(alias=resident_of(context, case).alias),
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
        await refuse_button(update, context)
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
    resident = resident_of(context, case)
    try:
        invitations = listening.bring_to_team(
            session=context.session,
            case=case,
            member_id=member_id_of(context),
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
    case = team_case(context, matched_id(context))
    if case is None or case.closed_at is not None:
        await refuse_button(update, context)
        return END
    alias = resident_of(context, case).alias
    own = cases.get_perspective(
        session=context.session, case_id=require_id(case), member_id=member_id_of(context)
    )
    text = _(
        "What do you see when you help {alias}? Write briefly, or send a voice message."
    ).format(alias=alias)
    if own is not None:
        shown = (
            voice_label(context.texts, own.voice_duration)
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
        await refuse_button(update, context)
        return None
    return await _store_perspective(update, context, draft.strip()[:NOTE_MAX_LENGTH], None)


async def _store_perspective(
    update: Update, context: StemmeContext, text: str | None, voice: tuple[str, int] | None
) -> str | None:
    _ = context.texts._
    case = team_case(context, int(context.flow_data.get("case_id", 0)))
    if case is None or case.closed_at is not None:
        await respond(update, _("This case is closed, so nothing more can be added."))
        return END
    try:
        listening.save_perspective(
            session=context.session,
            case=case,
            member_id=member_id_of(context),
            text=text,
            voice_file_id=voice[0] if voice else None,
            voice_duration=voice[1] if voice else None,
        )
    except TextTooLong:  # pragma: no cover - checked above
        return None
    await respond(
        update,
        _("Thank you ✔ Your perspective on {alias} is saved. The team sees it in /cases.").format(
            alias=resident_of(context, case).alias
        ),
        InlineKeyboardMarkup(
            [[InlineKeyboardButton(_("See the case"), callback_data=f"case:view:{case.id}")]]
        ),
        edit=False,
    )
    return END
