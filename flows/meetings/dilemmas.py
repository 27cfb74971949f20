"""Care dilemmas for the team's next meeting: raised by anyone, anonymously if they wish.

```mermaid
flowchart TD
    D["/dilemma"] --> C[dilemma.content: text, at most 1,000, or voice]
    C -->|over 1,000: kept| T[send a shorter one, or keep the first 1,000] --> C
    C --> W[dilemma.author: with my name / anonymous]
    W --> S[stored; on every next agenda until discussed]
    L["/dilemmas"] --> O[the team's open dilemmas, author or "anonymous"]
    O -->|lead: ✓| X[discussed]
    O -->|lead: 🔗| K[link to an open trial action, or start one]
```
Anonymous means the author is not stored at all (``storage.dilemmas.add_dilemma``): the
member is told so before choosing, and for a voice message that a voice can be known.
"""

from __future__ import annotations

import logging

from sqlmodel import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, Renderer, States, StemmeContext, alert, respond
from flows.core.guard import leads_only, stale_button
from flows.core.i18n import N_, Texts
from flows.core.pickers import shorten
from flows.loop.decision_views import decision_markup
from storage import decisions, directory
from storage import dilemmas as dilemma_store
from storage.agenda import Agenda, AgendaEntry
from storage.db import require_id
from storage.models import DILEMMA_MAX_LENGTH, Dilemma

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


PREVIEW_LENGTH = 300
AGENDA_EXCERPT = 80
TEXT = filters.TEXT & ~filters.COMMAND


class State(States):
    """The steps of raising a dilemma."""

    CONTENT = "dilemma.content"
    AUTHOR = "dilemma.author"


async def ask(update: Update, context: StemmeContext) -> str | None:
    """Asks for the dilemma, as text or a voice message."""
    _ = context.texts._
    context.flow_data = {}
    await respond(
        update,
        _(
            "Describe the dilemma in a few sentences, or send a voice message. For example: "
            "the resident wants one thing, and the task or a colleague says another. Refer "
            "to residents by the team's alias. It goes on the agenda of the team's next "
            "meeting. (/cancel to stop)"
        ),
        edit=False,
    )
    return State.CONTENT


def _who_markup(texts_: Texts) -> InlineKeyboardMarkup:
    _ = texts_._
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(_("With my name"), callback_data="dil:who:named"),
                InlineKeyboardButton(_("Anonymous"), callback_data="dil:who:anon"),
            ]
        ]
    )


async def _ask_author(update: Update, context: StemmeContext, *, voice: bool) -> str | None:
    _ = context.texts._
    lines = [
        _("Should the team see that it is from you?"),
        _(
            "Anonymous means your name is not saved with the dilemma at all: nobody can see "
            "who wrote it, not even the team lead."
        ),
    ]
    if voice:
        lines.append(
            _("Note: in a voice message your voice can be recognised. Write it if that matters.")
        )
    await respond(update, "\n\n".join(lines), _who_markup(context.texts))
    return State.AUTHOR


async def take_text(update: Update, context: StemmeContext) -> str | None:
    """Keeps the text (an over-long one too, asking for a shorter version)."""
    _ = context.texts._
    message = update.effective_message
    assert message is not None and message.text is not None
    text = message.text.strip()
    context.flow_data = {"text": text}
    if len(text) > DILEMMA_MAX_LENGTH:
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Keep the first {limit} characters").format(limit=DILEMMA_MAX_LENGTH),
                        callback_data="dil:trim",
                    )
                ]
            ]
        )
        await respond(
            update,
            _(
                "Your text has {length} characters; a dilemma can have at most {limit}. I have "
                "kept it: send a shorter version, or keep the first {limit} characters."
            ).format(length=len(text), limit=DILEMMA_MAX_LENGTH),
            markup,
        )
        return None
    return await _ask_author(update, context, voice=False)


async def trim(update: Update, context: StemmeContext) -> str | None:
    """Keeps the first 1,000 characters of the over-long text."""
    text = context.flow_data.get("text")
    if not text:
        await stale_button(update, context)
        return None
    context.flow_data = {"text": str(text)[:DILEMMA_MAX_LENGTH].strip()}
    return await _ask_author(update, context, voice=False)


async def take_voice(update: Update, context: StemmeContext) -> str | None:
    """Keeps the voice message's file id and length."""
    message = update.effective_message
    assert message is not None and message.voice is not None
    # The raw seconds: PTB 22 is moving ``duration`` to a timedelta.
    seconds = int(message.voice.to_dict().get("duration", 0))
    context.flow_data = {"voice": message.voice.file_id, "seconds": seconds}
    return await _ask_author(update, context, voice=True)


async def store(update: Update, context: StemmeContext) -> str | None:
    """Stores the dilemma, with its author or without any, and confirms."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    assert context.matches
    anonymous = context.matches[0].group(1) == "anon"
    data = context.flow_data
    text = data.get("text")
    if text is not None and len(str(text)) > DILEMMA_MAX_LENGTH:
        await alert(update, _("Send a shorter version first, or keep the first part."))
        return None
    if text is None and data.get("voice") is None:
        await stale_button(update, context)
        return END
    dilemma = dilemma_store.add_dilemma(
        session=context.session,
        team_id=require_id(team),
        author_member_id=require_id(member),
        anonymous=anonymous,
        text=str(text) if text is not None else None,
        voice_file_id=data.get("voice"),
        voice_duration=data.get("seconds"),
    )
    context.flow_data = {}
    confirmation = (
        _("Saved anonymously ✔ dilemma #{number}. It goes on the team's next meeting agenda.")
        if anonymous
        else _("Saved ✔ dilemma #{number}. It goes on the team's next meeting agenda.")
    )
    await reply_after_commit(context, update, confirmation.format(number=dilemma.id))
    return END


# ------------------------------------------------------------------ the team's list


def dilemma_text(texts_: Texts, dilemma: Dilemma, author: str | None) -> str:
    """One dilemma as the team sees it: number, date, author or "anonymous", content."""
    _ = texts_._
    who = _("anonymous") if dilemma.anonymous or author is None else author
    header = _("#{number} · {day} · {author}").format(
        number=dilemma.id, day=texts_.short_day(dilemma.created_at), author=who
    )
    if dilemma.voice_file_id:
        content = _("🎤 voice message, {seconds} s").format(seconds=dilemma.voice_duration or 0)
    else:
        content = "“" + shorten(dilemma.text or "", PREVIEW_LENGTH) + "”"
    return header + "\n" + content


def agenda_line(session: Session, texts_: Texts, entry: AgendaEntry, agenda: Agenda) -> str:
    """A dilemma on a meeting's agenda: number, "anonymous" or the author, and the start of
    its text (for ``flows.meetings.agenda_views.ENTRY_LINES``)."""
    del agenda
    dilemma = session.get(Dilemma, entry.ref_id)
    if dilemma is None:
        return texts_._("Dilemma #{number}").format(number=entry.ref_id)
    author = None
    if dilemma.author_member_id is not None and not dilemma.anonymous:
        member = directory.get_member(session=session, member_id=dilemma.author_member_id)
        author = member.name if member is not None else None
    if dilemma.voice_file_id:
        content = texts_._("🎤 voice message, {seconds} s").format(
            seconds=dilemma.voice_duration or 0
        )
    else:
        content = "“" + shorten(dilemma.text or "", AGENDA_EXCERPT) + "”"
    return texts_._("Dilemma #{number} ({author}): {content}").format(
        number=dilemma.id, author=author or texts_._("anonymous"), content=content
    )


def _author_name(context: StemmeContext, dilemma: Dilemma) -> str | None:
    if dilemma.author_member_id is None:
        return None
    author = directory.get_member(session=context.session, member_id=dilemma.author_member_id)
    return author.name if author is not None else None


async def overview(update: Update, context: StemmeContext) -> str | None:
    """Lists the team's open dilemmas; the lead gets buttons to close or link them."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    rows = dilemma_store.open_dilemmas(session=context.session, team_id=require_id(team))
    if not rows:
        await respond(
            update, _("The team has no open dilemmas. Raise one with /dilemma."), edit=False
        )
        return END
    blocks = [_("The team's open dilemmas ({count}):").format(count=len(rows))]
    buttons: list[list[InlineKeyboardButton]] = []
    for dilemma in rows:
        blocks.append(dilemma_text(context.texts, dilemma, _author_name(context, dilemma)))
        row = []
        if dilemma.voice_file_id:
            row.append(
                InlineKeyboardButton(f"▶ #{dilemma.id}", callback_data=f"dil:play:{dilemma.id}")
            )
        if context.is_lead:
            row.append(
                InlineKeyboardButton(
                    _("✓ #{number} discussed").format(number=dilemma.id),
                    callback_data=f"dil:done:{dilemma.id}",
                )
            )
            row.append(
                InlineKeyboardButton(
                    _("🔗 #{number} trial action").format(number=dilemma.id),
                    callback_data=f"dil:link:{dilemma.id}",
                )
            )
        if row:
            buttons.append(row)
    await respond(
        update,
        "\n\n".join(blocks),
        InlineKeyboardMarkup(buttons) if buttons else None,
        edit=update.callback_query is not None,
    )
    return END


def _team_dilemma(context: StemmeContext) -> Dilemma | None:
    _member, _membership, team = context.require_member()
    assert context.matches
    return dilemma_store.get_team_dilemma(
        session=context.session,
        team_id=require_id(team),
        dilemma_id=int(context.matches[0].group(1)),
    )


async def play(update: Update, context: StemmeContext) -> str | None:
    """Sends a voice dilemma back so it can be heard."""
    dilemma = _team_dilemma(context)
    chat = update.effective_chat
    if dilemma is None or not dilemma.voice_file_id or chat is None:
        await stale_button(update, context)
        return None
    if update.callback_query is not None:
        await update.callback_query.answer()
    await chat.send_voice(dilemma.voice_file_id, caption=f"#{dilemma.id}")
    return None


@leads_only
async def discussed(update: Update, context: StemmeContext) -> str | None:
    """Marks a dilemma discussed; it leaves the next agendas."""
    dilemma = _team_dilemma(context)
    if dilemma is None or not dilemma_store.mark_discussed(
        session=context.session, dilemma=dilemma
    ):
        await stale_button(update, context)
        return None
    logger.info("Dilemma %s marked discussed in team %s", dilemma.id, dilemma.team_id)
    return await overview(update, context)


@leads_only
async def pick_decision(update: Update, context: StemmeContext) -> str | None:
    """Offers the team's open trial actions to link, or a new one from this dilemma."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    dilemma = _team_dilemma(context)
    if dilemma is None:
        await stale_button(update, context)
        return None
    rows = [
        [
            InlineKeyboardButton(
                shorten(decision.title, 60),
                callback_data=f"dil:ln:{dilemma.id}:{decision.id}",
            )
        ]
        for decision in decisions.open_decisions(session=context.session, team_id=require_id(team))
    ]
    rows.append(
        [
            InlineKeyboardButton(
                _("New trial action from this dilemma"), callback_data=f"dil:new:{dilemma.id}"
            )
        ]
    )
    await respond(
        update,
        _("Which trial action does dilemma #{number} belong to?").format(number=dilemma.id),
        InlineKeyboardMarkup(rows),
    )
    return None


@leads_only
async def link(update: Update, context: StemmeContext) -> str | None:
    """Links the dilemma to one of the team's trial actions."""
    _member, _membership, team = context.require_member()
    dilemma = _team_dilemma(context)
    assert context.matches
    decision = decisions.get_team_decision(
        session=context.session,
        team_id=require_id(team),
        decision_id=int(context.matches[0].group(2)),
    )
    if dilemma is None or decision is None:
        await stale_button(update, context)
        return None
    dilemma_store.link_decision(session=context.session, dilemma=dilemma, decision_id=decision.id)
    await reply_after_commit(
        context,
        update,
        context.texts._("Dilemma #{number} is linked to “{title}”.").format(
            number=dilemma.id, title=decision.title
        ),
    )
    return END


@leads_only
async def new_decision(update: Update, context: StemmeContext) -> str | None:
    """Starts a trial action (proposals and vote) from the dilemma and links it."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    dilemma = _team_dilemma(context)
    if dilemma is None:
        await stale_button(update, context)
        return None
    decision = decisions.start_decision(
        session=context.session,
        team_id=require_id(team),
        resident_id=None,
        origin="dilemma",
        origin_id=require_id(dilemma),
        title=_("Dilemma #{number}").format(number=dilemma.id),
        created_by_member_id=require_id(member),
    )
    dilemma_store.link_decision(session=context.session, dilemma=dilemma, decision_id=decision.id)
    await reply_after_commit(
        context,
        update,
        _("A trial action from dilemma #{number}: the team can now propose what to try.").format(
            number=dilemma.id
        ),
        decision_markup(context.texts, require_id(decision)),
    )
    return END


def build_flow() -> Flow:
    """Raising a dilemma, and the team's list of open ones."""
    return Flow(
        name="dilemma",
        entry_points=[
            CommandHandler("dilemma", ask, filters=filters.ChatType.PRIVATE),
            CommandHandler("dilemmas", overview, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(play, pattern=r"^dil:play:(\d{1,9})$"),
            CallbackQueryHandler(discussed, pattern=r"^dil:done:(\d{1,9})$"),
            CallbackQueryHandler(pick_decision, pattern=r"^dil:link:(\d{1,9})$"),
            CallbackQueryHandler(link, pattern=r"^dil:ln:(\d{1,9}):(\d{1,9})$"),
            CallbackQueryHandler(new_decision, pattern=r"^dil:new:(\d{1,9})$"),
        ],
        states={
            State.CONTENT: [
                MessageHandler(TEXT & filters.ChatType.PRIVATE, take_text),
                MessageHandler(filters.VOICE & filters.ChatType.PRIVATE, take_voice),
                CallbackQueryHandler(trim, pattern=r"^dil:trim$"),
            ],
            State.AUTHOR: [
                CallbackQueryHandler(store, pattern=r"^dil:who:(named|anon)$"),
                # A new text or voice message before choosing replaces the dilemma.
                MessageHandler(TEXT & filters.ChatType.PRIVATE, take_text),
                MessageHandler(filters.VOICE & filters.ChatType.PRIVATE, take_voice),
            ],
        },
        hints={
            State.CONTENT: N_("Write the dilemma or send a voice message, or /cancel to stop."),
            State.AUTHOR: N_("Choose with the buttons: with your name, or anonymous."),
        },
    )


def renderers() -> dict[str, Renderer]:
    """The dilemma flow sends no timed prompts: dilemmas reach the meeting's agenda."""
    return {}
