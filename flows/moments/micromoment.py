"""Noting a micro-moment: what mattered to a resident, in seconds.

```mermaid
flowchart TD
    N["/note or the Mikroøjeblik button"] --> R[note.resident: pick resident]
    F["plain text or voice outside a flow (fast path)"] --> R
    R -->|typing filters| R
    R -->|lead: new resident| A[note.new_resident: write alias] --> C
    R -->|content already given| D
    R --> C[note.content: text or voice]
    C -->|over 1,000 characters: kept, shorten or trim| C
    C --> D[note.details: up to 3 markers, verbal/non-verbal, to the team]
    D -->|Gem| S[stored; messages deleted; "Gemt ✔ mikroøjeblik #123"]
```
From /note to saved with one marker: resident, marker, save = three presses plus
the text or voice. Nothing typed is lost: an over-long text is kept, and the
content survives a wrong resident or a restart (it is in the conversation row).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, States, StemmeContext, Step, alert, respond
from flows.core.guard import stale_button
from flows.core.i18n import LANGUAGES, N_, Texts, texts
from flows.core.pickers import alias_problem, resident_buttons, shorten, too_long_prompt
from storage.models import ALIAS_MAX_LENGTH, NOTE_MAX_LENGTH, Expression, Marker, Resident
from storage.notes import MAX_MARKERS, NoteTooLong, add_note
from storage.notes import recently_noted_resident_ids as recent_ids
from storage.residents import (
    AliasInvalid,
    AliasTaken,
    add_resident,
    get_team_resident,
    list_residents,
)

logger = logging.getLogger(__name__)

BUTTON_LABEL = N_("Micro-moment")

MARKER_LABELS: dict[Marker, str] = {
    Marker.SAFETY: N_("Safety"),
    Marker.PRESENCE: N_("Presence"),
    Marker.RESPECT: N_("Respect"),
    Marker.SELF_DETERMINATION: N_("Self-determination"),
    Marker.HOMELINESS: N_("Homeliness"),
    Marker.EVERYDAY_LIFE: N_("Everyday life"),
    Marker.PROFESSIONALISM: N_("Professionalism"),
    Marker.HEALTH: N_("Health"),
    Marker.SELF_RELIANCE: N_("Self-reliance"),
    Marker.CONTINUITY: N_("Continuity"),
    Marker.COHERENCE: N_("Coherence"),
}


class State(States):
    """The steps of noting a micro-moment."""

    RESIDENT = "note.resident"
    NEW_RESIDENT = "note.new_resident"
    CONTENT = "note.content"
    DETAILS = "note.details"


def marker_label(texts: Texts, marker: str) -> str:
    """The marker's name in the user's language."""
    try:
        return texts._(MARKER_LABELS[Marker(marker)])
    except ValueError:
        return marker


@lru_cache(maxsize=16)
def note_keyboard(texts: Texts) -> ReplyKeyboardMarkup:
    """The permanent keyboard with the Micro-moment button (immutable, built once)."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(texts._(BUTTON_LABEL))]], resize_keyboard=True, is_persistent=True
    )


def _button_labels() -> list[str]:
    utc = ZoneInfo("UTC")
    return sorted({texts(language, utc)._(BUTTON_LABEL) for language in LANGUAGES})


PRIVATE = filters.ChatType.PRIVATE
# The permanent keyboard's button: it always starts a new note, in every step.
NOTE_BUTTON = filters.Regex("^(" + "|".join(_button_labels()) + ")$")
# Typed text that is an answer: not a command and not the permanent button.
FREE_TEXT = filters.TEXT & ~filters.COMMAND & ~NOTE_BUTTON & PRIVATE
CONTENT = (FREE_TEXT | filters.VOICE) & PRIVATE
# Anything else a member can send in a step (stickers, photos, files, locations).
OTHER_INPUT = filters.ALL & ~filters.COMMAND & ~NOTE_BUTTON & ~CONTENT & PRIVATE
DELETE_BATCH = 100  # Telegram deletes at most 100 messages per call
STORY_LENGTH = 30  # typed text this long that names no resident is a story, not a search


# ------------------------------------------------------------------ helpers


def _track(context: StemmeContext, message: Message | None) -> None:
    """Remembers a message of this flow, to delete it after saving (chat hygiene)."""
    if message is None:
        return
    ids: list[int] = context.flow_data.setdefault("msgs", [])
    if message.message_id not in ids:
        ids.append(message.message_id)


def _track_incoming(update: Update, context: StemmeContext) -> None:
    if update.callback_query is None:
        _track(context, update.effective_message)


async def _say(
    update: Update,
    context: StemmeContext,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    edit: bool = True,
) -> None:
    _track_incoming(update, context)
    _track(context, await respond(update, text, markup, edit=edit))
    if update.callback_query is not None and update.effective_message is not None:
        _track(context, update.effective_message)


def _has_content(context: StemmeContext) -> bool:
    return "text" in context.flow_data or "voice" in context.flow_data


def _ordered_residents(context: StemmeContext, query: str | None = None) -> list[Resident]:
    """The team's residents: the ones this member noted recently first, then by alias."""
    member, _membership, team = context.require_member()
    residents = list_residents(session=context.session, team_id=team.id or 0)
    if query:
        needle = query.casefold()
        residents = [r for r in residents if needle in r.alias.casefold()]
    recent = recent_ids(
        session=context.session, team_id=team.id or 0, author_member_id=member.id or 0
    )
    rank = {resident_id: index for index, resident_id in enumerate(recent)}
    return sorted(residents, key=lambda r: (rank.get(r.id or 0, len(rank)), r.alias.casefold()))


async def _ask_resident(
    update: Update, context: StemmeContext, *, page: int = 0, query: str | None = None
) -> str:
    _ = context.texts._
    residents = _ordered_residents(context, query)
    extra = []
    if context.is_lead:
        extra.append([InlineKeyboardButton(_("➕ New resident"), callback_data="note:newres")])
    if query and not residents:
        text = _(
            'No resident matches "{query}". Try fewer letters, or pick from the list.'
        ).format(query=query)
        residents = _ordered_residents(context)
    elif not residents:
        if not context.is_lead:
            await _say(
                update, context, _("The team has no residents yet. Your team lead adds them.")
            )
            return END
        text = _("The team has no residents yet. Add the first one:")
    elif _has_content(context):
        text = _("Save this as a micro-moment? Who is it about? (Type part of a name to search.)")
    else:
        text = _("Who is it about? (Type part of a name to search.)")
    markup = resident_buttons(
        residents, action="note:res", page=page, texts=context.texts, extra=extra
    )
    await _say(update, context, text, markup, edit=update.callback_query is not None)
    return State.RESIDENT


# ------------------------------------------------------------------ steps


def _fresh(context: StemmeContext) -> None:
    """Starts the flow data afresh, keeping the messages still to be tidied."""
    context.flow_data = {"msgs": list(context.flow_data.get("msgs", []))}


async def start(update: Update, context: StemmeContext) -> str | None:
    """Starts a note: asks which resident it is about."""
    _fresh(context)
    return await _ask_resident(update, context)


async def fast_path(update: Update, context: StemmeContext) -> str | None:
    """Keeps text or voice sent outside any flow and offers to save it as a micro-moment."""
    _fresh(context)
    message = update.effective_message
    assert message is not None
    if not _take_content(update, context):
        return END
    _track(context, message)
    return await _after_content(update, context)


async def page(update: Update, context: StemmeContext) -> str | None:
    """Shows another page of residents (of the search, if there is one)."""
    assert context.matches
    return await _ask_resident(
        update,
        context,
        page=int(context.matches[0].group(1)),
        query=context.flow_data.get("query"),
    )


async def search(update: Update, context: StemmeContext) -> str | None:
    """Filters the residents by what the member typed."""
    message = update.effective_message
    assert message is not None and message.text is not None
    typed = message.text.strip()
    is_story = len(typed) >= STORY_LENGTH or len(typed) > ALIAS_MAX_LENGTH
    if not _has_content(context) and is_story and not _ordered_residents(context, typed):
        # A story typed before choosing the resident: keep it, do not treat it as a search.
        _take_content(update, context)
        _track(context, message)
        return await _after_content(update, context)
    context.flow_data["query"] = typed[:ALIAS_MAX_LENGTH]
    return await _ask_resident(update, context, query=context.flow_data["query"])


async def content_at_resident(update: Update, context: StemmeContext) -> str | None:
    """Keeps a voice message sent while choosing the resident, and asks again."""
    _take_content(update, context)
    _track(context, update.effective_message)
    return await _after_content(update, context)


async def choose_resident(update: Update, context: StemmeContext) -> str | None:
    """Remembers the resident and asks what happened (or goes on to the details)."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    assert context.matches
    resident = get_team_resident(
        session=context.session, team_id=team.id or 0, resident_id=int(context.matches[0].group(1))
    )
    if resident is None:
        await alert(update, _("That resident is no longer on the team's list. Pick another."))
        return await _ask_resident(update, context)
    return await _with_resident(update, context, resident)


async def _with_resident(update: Update, context: StemmeContext, resident: Resident) -> str:
    """Remembers the resident, then asks for the content unless it is already there."""
    context.flow_data["resident_id"] = resident.id
    context.flow_data["alias"] = resident.alias
    if _has_content(context):
        return await _ask_details(update, context)
    await _say(
        update,
        context,
        context.texts._(
            "{alias}: what happened, and what mattered to them? Write briefly, or send a voice "
            "message."
        ).format(alias=resident.alias),
    )
    return State.CONTENT


async def ask_new_resident(update: Update, context: StemmeContext) -> str | None:
    """Asks the lead for the new resident's alias."""
    _ = context.texts._
    if not context.is_lead:
        await alert(update, _("Only the team lead can do that."))
        return None
    await _say(
        update,
        context,
        _(
            'Write the new resident\'s alias, e.g. "Mrs H., room 12". Never a CPR number or '
            "full name."
        ),
    )
    return State.NEW_RESIDENT


async def store_new_resident(update: Update, context: StemmeContext) -> str | None:
    """Adds the resident on the spot and continues the note with them."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    message = update.effective_message
    assert message is not None and message.text is not None
    _track(context, message)
    try:
        resident = add_resident(
            session=context.session,
            team_id=team.id or 0,
            alias=message.text,
            actor_member_id=member.id or 0,
        )
    except (AliasTaken, AliasInvalid) as problem:
        await _say(update, context, alias_problem(context.texts, problem))
        return None
    return await _with_resident(update, context, resident)


def _take_content(update: Update, context: StemmeContext) -> bool:
    """Keeps the message's text or voice in the flow; False if it is neither."""
    message = update.effective_message
    assert message is not None
    if message.voice is not None:
        context.flow_data.pop("text", None)
        context.flow_data["voice"] = {
            "file_id": message.voice.file_id,
            # The raw seconds: PTB 22 is moving ``duration`` to a timedelta.
            "duration": int(message.voice.to_dict().get("duration", 0)),
        }
        return True
    if message.text is not None:
        context.flow_data.pop("voice", None)
        context.flow_data["text"] = message.text
        context.flow_data["content_msg"] = message.message_id
        return True
    return False


async def receive_content(update: Update, context: StemmeContext) -> str | None:
    """Keeps the text or voice; asks to shorten a text over the limit."""
    message = update.effective_message
    assert message is not None
    _take_content(update, context)
    _track(context, message)
    return await _after_content(update, context)


async def _after_content(update: Update, context: StemmeContext) -> str:
    """With content in hand: shorten it if too long, else ask what is still missing."""
    text = context.flow_data.get("text")
    if text is not None and len(text.strip()) > NOTE_MAX_LENGTH:
        return await _too_long(update, context, text)
    if "resident_id" not in context.flow_data:
        return await _ask_resident(update, context)
    return await _ask_details(update, context)


async def _too_long(update: Update, context: StemmeContext, text: str) -> str:
    message, markup = too_long_prompt(context.texts, text, trim_data="note:trim")
    await _say(update, context, message, markup, edit=False)
    return State.CONTENT


async def trim(update: Update, context: StemmeContext) -> str | None:
    """Keeps the first 1,000 characters of the over-long text."""
    text = context.flow_data.get("text")
    if text is None:
        await stale_button(update, context)
        return None
    context.flow_data["text"] = text.strip()[:NOTE_MAX_LENGTH]
    return await _after_content(update, context)


def _details_text(context: StemmeContext) -> str:
    _ = context.texts._
    data = context.flow_data
    if "voice" in data:
        seconds = int(data["voice"]["duration"])
        content = context.texts.ngettext(
            "Voice message, {seconds} second", "Voice message, {seconds} seconds", seconds
        ).format(seconds=seconds)
    else:
        content = shorten(data.get("text", ""), 200)
    return _(
        "{alias}: {content}\n\nWhat did it mean to the resident? Choose up to {max} markers, "
        "then save."
    ).format(alias=data.get("alias", ""), content=content, max=MAX_MARKERS)


def _details_markup(context: StemmeContext) -> InlineKeyboardMarkup:
    data = context.flow_data
    chosen = frozenset(marker for marker in data.get("markers", []) if isinstance(marker, str))
    nonverbal = data.get("expression") == Expression.NONVERBAL
    return _details_keyboard(context.texts, chosen, nonverbal, bool(data.get("for_team")))


# Keyboards are immutable: the combinations in use are built once (232 marker choices x 4).
@lru_cache(maxsize=256)
def _details_keyboard(
    texts: Texts, chosen: frozenset[str], nonverbal: bool, for_team: bool
) -> InlineKeyboardMarkup:
    _ = texts._
    buttons = [
        InlineKeyboardButton(
            ("✓ " if marker.value in chosen else "") + marker_label(texts, marker),
            callback_data=f"note:mk:{marker.value}",
        )
        for marker in Marker
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append(
        [
            InlineKeyboardButton(
                ("○ " if nonverbal else "● ") + _("Said in words"),
                callback_data=f"note:expr:{Expression.VERBAL.value}",
            ),
            InlineKeyboardButton(
                ("● " if nonverbal else "○ ") + _("Shown without words"),
                callback_data=f"note:expr:{Expression.NONVERBAL.value}",
            ),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                ("☑ " if for_team else "☐ ") + _("Take it to the team"),
                callback_data="note:team",
            )
        ]
    )
    rows.append([InlineKeyboardButton(_("Save ✔"), callback_data="note:save")])
    return InlineKeyboardMarkup(rows)


async def _ask_details(update: Update, context: StemmeContext) -> str:
    await _say(
        update,
        context,
        _details_text(context),
        _details_markup(context),
        edit=update.callback_query is not None,
    )
    return State.DETAILS


async def toggle_marker(update: Update, context: StemmeContext) -> str | None:
    """Adds or removes one marker (at most three)."""
    assert context.matches
    try:
        marker = Marker(context.matches[0].group(1)).value
    except ValueError:
        await stale_button(update, context)
        return None
    chosen: list[str] = context.flow_data.setdefault("markers", [])
    if marker in chosen:
        chosen.remove(marker)
    elif len(chosen) >= MAX_MARKERS:
        await alert(
            update,
            context.texts._("At most {max} markers. Remove one first.").format(max=MAX_MARKERS),
        )
        return None
    else:
        chosen.append(marker)
    return await _ask_details(update, context)


async def set_expression(update: Update, context: StemmeContext) -> str | None:
    """Records whether the resident said it in words or showed it without words."""
    assert context.matches
    context.flow_data["expression"] = Expression(context.matches[0].group(1)).value
    return await _ask_details(update, context)


async def toggle_team(update: Update, context: StemmeContext) -> str | None:
    """Switches "take it to the team" on or off."""
    context.flow_data["for_team"] = not context.flow_data.get("for_team", False)
    return await _ask_details(update, context)


async def save(update: Update, context: StemmeContext) -> str | None:
    """Stores the micro-moment, tidies the chat and confirms without naming the resident."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    data = context.flow_data
    resident = get_team_resident(
        session=context.session, team_id=team.id or 0, resident_id=int(data.get("resident_id", 0))
    )
    if resident is None:
        await alert(update, _("That resident is no longer on the team's list. Pick another."))
        data.pop("resident_id", None)
        return await _ask_resident(update, context)
    voice: dict[str, Any] | None = data.get("voice")
    try:
        note = add_note(
            session=context.session,
            team=team,
            resident=resident,
            author_member_id=member.id or 0,
            tz=context.texts.tz,
            text=data.get("text") if voice is None else None,
            voice_file_id=voice["file_id"] if voice else None,
            voice_duration=voice["duration"] if voice else None,
            markers=data.get("markers", []),
            expression=Expression(data.get("expression", Expression.VERBAL)),
            for_team=bool(data.get("for_team")),
        )
    except NoteTooLong:
        return await _too_long(update, context, str(data.get("text", "")))
    logger.info("Note %s saved for team %s", note.id, team.id)
    if update.callback_query is not None:
        _track(context, update.effective_message)
    chat = update.effective_chat
    assert chat is not None
    confirmation = _("Saved ✔ micro-moment #{number}").format(number=note.id) + (
        "\n" + _("It goes on the team's next meeting.") if note.for_team else ""
    )

    async def tidy_and_confirm() -> None:
        if team.chat_hygiene:
            await tidy(update, context)
        try:
            await chat.send_message(confirmation, reply_markup=note_keyboard(context.texts))
        except TelegramError as error:
            logger.warning(
                "Note %s saved, confirmation not sent: %s", note.id, type(error).__name__
            )

    async def answer() -> None:
        if update.callback_query is not None:
            with contextlib.suppress(TelegramError):
                await update.callback_query.answer()

    async def aftermath() -> None:
        # The button's spinner is stopped while the chat is tidied and the note confirmed.
        await asyncio.gather(answer(), tidy_and_confirm())

    # Only once the note is committed, so neither can undo a note the user saw confirmed.
    context.after_commit(aftermath)
    return END


async def tidy(update: Update, context: StemmeContext) -> None:
    """Deletes this flow's messages; a failure is logged and never loses anything."""
    chat = update.effective_chat
    ids = sorted({int(i) for i in context.flow_data.get("msgs", [])})
    if chat is None or not ids:
        return
    for start_at in range(0, len(ids), DELETE_BATCH):
        batch = ids[start_at : start_at + DELETE_BATCH]
        try:
            await context.bot.delete_messages(chat.id, batch)
        except TelegramError as error:
            logger.info("Could not tidy %s messages: %s", len(batch), type(error).__name__)
    context.flow_data["msgs"] = []


async def edit_content(update: Update, context: StemmeContext) -> str | None:
    """Takes a typo fixed in the draft's text message: the new text is the one saved."""
    message = update.edited_message
    assert message is not None and message.text is not None
    if message.message_id != context.flow_data.get("content_msg") or "voice" in context.flow_data:
        return None
    context.flow_data["text"] = message.text
    if len(message.text.strip()) > NOTE_MAX_LENGTH:
        return await _too_long(update, context, message.text)
    await _say(
        update, context, context.texts._("Corrected ✔ I will save the new text."), edit=False
    )
    return None


HINTS = {
    "note.resident": N_("Choose the resident with the buttons above, or type part of the name."),
    "note.new_resident": N_("Write the resident's alias as text, or send /cancel to stop."),
    "note.content": N_(
        "Write what happened as text, or send a voice message. Stickers, photos and files "
        "cannot be saved."
    ),
    "note.details": N_(
        "Choose markers with the buttons above and press Save, or send /cancel to stop."
    ),
}


def _hint_for(state: str) -> Step:
    async def hint(update: Update, context: StemmeContext) -> str | None:
        """Answers input that does not fit this step; both messages are tidied later."""
        _track(context, update.effective_message)
        await _say(update, context, context.texts._(HINTS[state]), edit=False)
        return None

    return hint


# ------------------------------------------------------------------ wiring


def build_flow() -> Flow:
    """The micro-moment flow, with the fast path for plain text and voice."""
    return Flow(
        name="note",
        entry_points=[
            CommandHandler("note", start, filters=PRIVATE),
            MessageHandler(NOTE_BUTTON & PRIVATE, start),
            MessageHandler(CONTENT, fast_path),
        ],
        states={
            State.RESIDENT: [
                CallbackQueryHandler(page, pattern=r"^note:res:page:(\d{1,4})$"),
                CallbackQueryHandler(choose_resident, pattern=r"^note:res:(\d{1,9})$"),
                CallbackQueryHandler(ask_new_resident, pattern=r"^note:newres$"),
                MessageHandler(FREE_TEXT, search),
                MessageHandler(filters.VOICE & PRIVATE, content_at_resident),
                MessageHandler(OTHER_INPUT, _hint_for(State.RESIDENT)),
            ],
            State.NEW_RESIDENT: [
                MessageHandler(FREE_TEXT, store_new_resident),
                MessageHandler(OTHER_INPUT | filters.VOICE, _hint_for(State.NEW_RESIDENT)),
            ],
            State.CONTENT: [
                CallbackQueryHandler(trim, pattern=r"^note:trim$"),
                MessageHandler(CONTENT, receive_content),
                MessageHandler(OTHER_INPUT, _hint_for(State.CONTENT)),
            ],
            State.DETAILS: [
                CallbackQueryHandler(toggle_marker, pattern=r"^note:mk:(\w{1,20})$"),
                CallbackQueryHandler(set_expression, pattern=r"^note:expr:(verbal|nonverbal)$"),
                CallbackQueryHandler(toggle_team, pattern=r"^note:team$"),
                CallbackQueryHandler(save, pattern=r"^note:save$"),
                # New text or voice replaces the content; resident and markers stay.
                MessageHandler(CONTENT, receive_content),
                MessageHandler(OTHER_INPUT, _hint_for(State.DETAILS)),
            ],
        },
        hints=HINTS,
        edits=[
            MessageHandler(
                filters.UpdateType.EDITED_MESSAGE & filters.TEXT & PRIVATE, edit_content
            )
        ],
    )
