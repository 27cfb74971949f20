"""How the case flow names and shows things, shared by its steps (cases.py,
listening.py): the flow's states, the question bank and the labels, the lookups of a
pressed button's case within the member's team, /cases with what each case waits for,
the case view with its voice answers to play, and a case's line on the meeting's agenda."""

from __future__ import annotations

import logging
from datetime import date

from sqlmodel import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from flows.core.engine import END, States, StemmeContext, respond
from flows.core.guard import stale_button
from flows.core.i18n import N_, Texts
from flows.core.pickers import shorten
from storage import cases
from storage.agenda import Agenda, AgendaEntry
from storage.cases import CaseOverview, CaseStep
from storage.db import require_id, utcnow
from storage.models import (
    CaseAnswer,
    CaseCloseReason,
    CaseKind,
    DecisionStatus,
    Note,
    Resident,
    ResidentCase,
)

logger = logging.getLogger(__name__)

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


def matched_id(context: StemmeContext, group: int = 1) -> int:
    """An id from the pressed button's callback data."""
    assert context.matches
    return int(context.matches[0].group(group))


def team_id_of(context: StemmeContext) -> int:
    """The id of the member's current team."""
    _member, _membership, team = context.require_member()
    return require_id(team)


def member_id_of(context: StemmeContext) -> int:
    """The id of the member who sent the update."""
    member, _membership, _team = context.require_member()
    return require_id(member)


def team_case(context: StemmeContext, case_id: int) -> ResidentCase | None:
    """The case if it belongs to the member's current team, else None."""
    return cases.get_team_case(
        session=context.session, team_id=team_id_of(context), case_id=case_id
    )


def resident_of(context: StemmeContext, case: ResidentCase) -> Resident:
    """The resident the case is about."""
    resident = context.session.get(Resident, case.resident_id)
    assert resident is not None
    return resident


def voice_label(texts: Texts, seconds: int | None) -> str:
    """A voice message as a line of text, with its length."""
    return texts._("🎤 voice message, {seconds} s").format(seconds=seconds or 0)


async def refuse_button(update: Update, context: StemmeContext) -> None:
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


def moment_line(texts: Texts, note: Note) -> str:
    """A micro-moment in one line: its day and the start of its text."""
    if note.voice_file_id:
        content = voice_label(texts, note.voice_duration)
    else:
        content = "“" + shorten(note.text or "", 40) + "”"
    return f"{texts.short_day(note.created_at)}: {content}"


# ------------------------------------------------------------------ /cases and the case view


def waiting_text(t: Texts, line: CaseOverview) -> str:
    """What the case waits for, in one line (the chat's /cases and the dashboard's board)."""
    _ = t._
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


def overdue_text(t: Texts, line: CaseOverview) -> str:
    """What is late about the case, in one line ("" when nothing is)."""
    _ = t._
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
        session=context.session, team_id=team_id_of(context), today=_today(context)
    )
    if not lines:
        await respond(update, _("No open cases. Start one with /voice."))
        return END
    blocks = []
    for line in lines:
        block = [f"{line.alias} · {_(STEP_LABELS[line.step])}"]
        if not line.resident_active:
            block.append(_("(no longer on the team's list)"))
        waiting = waiting_text(context.texts, line)
        if waiting:
            block.append(waiting)
        overdue = overdue_text(context.texts, line)
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
        return voice_label(texts, voice_duration)
    return "“" + shorten(text or "", ANSWER_SHOWN) + "”"


async def view(update: Update, context: StemmeContext) -> str | None:
    """Shows one case: summary, answers, moments, perspectives, and the lead's actions."""
    case = team_case(context, matched_id(context))
    if case is None:
        await refuse_button(update, context)
        return END
    await show_case(update, context, case)
    return END


async def show_case(update: Update, context: StemmeContext, case: ResidentCase) -> None:
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
        waiting = waiting_text(context.texts, line)
        overdue = overdue_text(context.texts, line)
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
            _("Micro-moments:") + "\n" + "\n".join("– " + moment_line(t, n) for n in moments)
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
    team_id = team_id_of(context)
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
        await refuse_button(update, context)
        return None
    if update.callback_query is not None:
        await update.callback_query.answer()
    await chat.send_voice(file_id)
    return None


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
