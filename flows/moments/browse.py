"""Reading the team's micro-moments, the resident card, and changing one's own notes.

```mermaid
flowchart TD
    M["/moments"] --> P[newest 5 notes, paged]
    P -->|Filter by resident| R[pick resident] --> P
    P -->|▶ #id| V[the voice message is played]
    P -->|✏️ #id: own, within 24 h| E[moments.edit_text: new text] --> S[changed]
    E -->|marker buttons| E
    P -->|🗑 #id: own within 24 h, or lead| C[confirm] --> D[deleted]
    K["/card"] --> KR[pick resident] --> KC["Det betyder noget for Fru H."]
```
Every button carries a note or resident id that is looked up within the member's
team, so no one reaches another team's notes.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, States, StemmeContext, alert, respond
from flows.core.guard import stale_button
from flows.core.i18n import N_, Texts
from flows.core.pickers import confirm_buttons, resident_buttons, shorten, too_long_prompt
from flows.loop.care_record import record_button
from flows.loop.decision_views import approach_lines_of
from flows.moments.micromoment import FREE_TEXT, marker_label, note_keyboard, tidy
from storage.directory import get_member
from storage.models import NOTE_MAX_LENGTH, Marker, Note
from storage.notes import (
    MAX_MARKERS,
    NoteLocked,
    can_edit,
    count_notes,
    delete_note,
    edit_note,
    get_team_note,
    markers_of,
    recent_notes,
    resident_card,
)
from storage.residents import get_team_resident, list_residents
from storage.trials import approaches_for_resident

logger = logging.getLogger(__name__)

PAGE_SIZE = 5
EXAMPLE_LENGTH = 50


class State(States):
    """Steps that wait for typed input while reading notes."""

    EDIT_TEXT = "moments.edit_text"


SHIFT_LABELS = {"day": N_("day shift"), "evening": N_("evening shift"), "night": N_("night shift")}


def _content(texts: Texts, note: Note, limit: int) -> str:
    if note.redacted_at is not None:
        return texts._("(the text was removed after the retention period)")
    if note.voice_file_id:
        return texts._("🎤 voice message, {seconds} s").format(seconds=note.voice_duration or 0)
    return "“" + shorten(note.text or "", limit) + "”"


def _example(texts: Texts, note: Note) -> str:
    """One short line on the resident card: date and the start of the note."""
    return f"  – {texts.short_day(note.created_at)}: {_content(texts, note, EXAMPLE_LENGTH)}"


def _note_block(context: StemmeContext, note: Note, markers: list[str], alias: str) -> str:
    texts = context.texts
    _ = texts._
    author = (
        get_member(session=context.session, member_id=note.author_member_id)
        if note.author_member_id
        else None
    )
    header = _("#{number} · {when} · {shift} · {author}").format(
        number=note.id,
        when=texts.when(note.created_at),
        shift=_(SHIFT_LABELS.get(note.shift, note.shift)),
        author=author.name if author else _("former member"),
    )
    marker_text = ", ".join(marker_label(texts, marker) for marker in markers)
    line = alias + (" — " + marker_text if marker_text else "")
    return "\n".join([header, line, _content(texts, note, 300)])


async def _show_page(
    update: Update, context: StemmeContext, *, resident_id: int, page: int
) -> str | None:
    _ = context.texts._
    member, _membership, team = context.require_member()
    team_id = team.id or 0
    resident = None
    if resident_id:
        resident = get_team_resident(
            session=context.session, team_id=team_id, resident_id=resident_id, active_only=False
        )
        if resident is None:
            await stale_button(update, context)
            return END
    total = count_notes(session=context.session, team_id=team_id, resident_id=resident_id or None)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    notes = recent_notes(
        session=context.session,
        team_id=team_id,
        resident_id=resident_id or None,
        offset=page * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    markers = markers_of(session=context.session, note_ids=[note.id or 0 for note in notes])
    aliases = {
        r.id: r.alias
        for r in list_residents(session=context.session, team_id=team_id, include_inactive=True)
    }
    if resident is not None:
        title = _("Micro-moments about {alias} ({count}):").format(
            alias=resident.alias, count=total
        )
    else:
        title = _("The team's micro-moments ({count}), newest first:").format(count=total)
    if not notes:
        body = [_("Nothing noted yet. Use /note or the Micro-moment button.")]
    else:
        body = [
            _note_block(
                context, note, markers.get(note.id or 0, []), aliases.get(note.resident_id, "?")
            )
            for note in notes
        ]
    rows: list[list[InlineKeyboardButton]] = []
    for note in notes:
        row = []
        if note.voice_file_id:
            row.append(InlineKeyboardButton(f"▶ #{note.id}", callback_data=f"mom:play:{note.id}"))
        if can_edit(note, member_id=member.id or 0):
            row.append(InlineKeyboardButton(f"✏️ #{note.id}", callback_data=f"mom:edit:{note.id}"))
        if context.is_lead or can_edit(note, member_id=member.id or 0):
            row.append(InlineKeyboardButton(f"🗑 #{note.id}", callback_data=f"mom:del:{note.id}"))
        if row:
            rows.append(row)
    navigation = []
    if page > 0:
        navigation.append(
            InlineKeyboardButton(_("◀ Newer"), callback_data=f"mom:page:{resident_id}:{page - 1}")
        )
    if page < pages - 1:
        navigation.append(
            InlineKeyboardButton(_("Older ▶"), callback_data=f"mom:page:{resident_id}:{page + 1}")
        )
    if navigation:
        rows.append(navigation)
    if resident is not None:
        rows.append(
            [
                InlineKeyboardButton(
                    _("What matters to {alias}").format(alias=resident.alias),
                    callback_data=f"card:res:{resident.id}",
                ),
                InlineKeyboardButton(_("All residents"), callback_data="mom:page:0:0"),
            ]
        )
    else:
        rows.append([InlineKeyboardButton(_("Filter by resident"), callback_data="mom:pick:0")])
    await respond(update, title + "\n\n" + "\n\n".join(body), InlineKeyboardMarkup(rows))
    return END


async def show(update: Update, context: StemmeContext) -> str | None:
    """Shows the team's newest micro-moments."""
    return await _show_page(update, context, resident_id=0, page=0)


async def turn_page(update: Update, context: StemmeContext) -> str | None:
    """Shows another page (of one resident's notes, or of all)."""
    assert context.matches
    resident_id, page = (int(group) for group in context.matches[0].groups())
    return await _show_page(update, context, resident_id=resident_id, page=page)


async def pick_resident(update: Update, context: StemmeContext) -> str | None:
    """Lets the member choose whose notes to see."""
    _member, _membership, team = context.require_member()
    assert context.matches
    residents = list_residents(session=context.session, team_id=team.id or 0)
    await respond(
        update,
        context.texts._("Whose micro-moments do you want to see?"),
        resident_buttons(
            residents, action="mom:res", page=int(context.matches[0].group(1)), texts=context.texts
        ),
    )
    return END


async def resident_page(update: Update, context: StemmeContext) -> str | None:
    """Shows one resident's notes."""
    assert context.matches
    return await _show_page(update, context, resident_id=int(context.matches[0].group(1)), page=0)


async def picker_page(update: Update, context: StemmeContext) -> str | None:
    """Pages the resident picker."""
    return await pick_resident(update, context)


def _note_from_button(context: StemmeContext) -> Note | None:
    _member, _membership, team = context.require_member()
    assert context.matches
    return get_team_note(
        session=context.session, team_id=team.id or 0, note_id=int(context.matches[0].group(1))
    )


async def play(update: Update, context: StemmeContext) -> str | None:
    """Sends a voice note back so the member can listen to it."""
    note = _note_from_button(context)
    chat = update.effective_chat
    if note is None or not note.voice_file_id or chat is None:
        await stale_button(update, context)
        return None
    if update.callback_query is not None:
        await update.callback_query.answer()
    await chat.send_voice(note.voice_file_id, caption=f"#{note.id}")
    return None


async def _locked(update: Update, context: StemmeContext) -> None:
    await alert(
        update,
        context.texts._(
            "A micro-moment can only be changed by its author, for 24 hours after it was "
            "written. Your team lead can still delete it."
        ),
    )


def _edit_markup(context: StemmeContext, note: Note, chosen: list[str]) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            ("✓ " if marker.value in chosen else "") + marker_label(context.texts, marker),
            callback_data=f"mom:mk:{note.id}:{marker.value}",
        )
        for marker in Marker
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    last = [InlineKeyboardButton(context.texts._("Done"), callback_data="mom:page:0:0")]
    if note.text is not None:
        last.insert(
            0,
            InlineKeyboardButton(
                context.texts._("✏️ Change the text"), callback_data=f"mom:text:{note.id}"
            ),
        )
    rows.append(last)
    return InlineKeyboardMarkup(rows)


async def start_edit(update: Update, context: StemmeContext) -> str | None:
    """Offers to change the note's markers, and its text if it has one."""
    member, _membership, _team = context.require_member()
    note = _note_from_button(context)
    if note is None:
        await stale_button(update, context)
        return END
    if not can_edit(note, member_id=member.id or 0):
        await _locked(update, context)
        return END
    await _show_edit(update, context, note)
    return END


async def _show_edit(update: Update, context: StemmeContext, note: Note) -> None:
    chosen = markers_of(session=context.session, note_ids=[note.id or 0]).get(note.id or 0, [])
    await respond(
        update,
        context.texts._("Changing #{number}: change the markers with the buttons.").format(
            number=note.id
        )
        + "\n\n"
        + _content(context.texts, note, 300),
        _edit_markup(context, note, chosen),
    )


async def ask_text(update: Update, context: StemmeContext) -> str | None:
    """Asks for the new text of the member's own note."""
    member, _membership, _team = context.require_member()
    note = _note_from_button(context)
    if note is None or note.text is None:
        await stale_button(update, context)
        return END
    if not can_edit(note, member_id=member.id or 0):
        await _locked(update, context)
        return END
    message = await respond(
        update,
        context.texts._("Send the new text for #{number}. (/cancel to keep the old one)").format(
            number=note.id
        ),
    )
    context.flow_data = {"note_id": note.id, "msgs": _message_ids(update, message)}
    return State.EDIT_TEXT


def _message_ids(update: Update, *messages: object) -> list[int]:
    ids = [getattr(m, "message_id", None) for m in (update.effective_message, *messages)]
    return sorted({i for i in ids if isinstance(i, int)})


async def toggle_marker(update: Update, context: StemmeContext) -> str | None:
    """Adds or removes a marker on the member's own note."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    assert context.matches
    note = get_team_note(
        session=context.session, team_id=team.id or 0, note_id=int(context.matches[0].group(1))
    )
    try:
        marker = Marker(context.matches[0].group(2)).value
    except ValueError:
        note = None
    if note is None:
        await stale_button(update, context)
        return None
    chosen = markers_of(session=context.session, note_ids=[note.id or 0]).get(note.id or 0, [])
    if marker in chosen:
        chosen.remove(marker)
    elif len(chosen) >= MAX_MARKERS:
        await alert(update, _("At most {max} markers. Remove one first.").format(max=MAX_MARKERS))
        return None
    else:
        chosen.append(marker)
    try:
        edit_note(session=context.session, note=note, member_id=member.id or 0, markers=chosen)
    except NoteLocked:
        await _locked(update, context)
        return None
    await _show_edit(update, context, note)
    return END


async def store_text(update: Update, context: StemmeContext) -> str | None:
    """Replaces the text of the member's own note, then tidies the chat."""
    message = update.effective_message
    assert message is not None and message.text is not None
    context.flow_data["msgs"] = sorted({*context.flow_data.get("msgs", []), message.message_id})
    if len(message.text.strip()) > NOTE_MAX_LENGTH:
        context.flow_data["draft"] = message.text
        return await _edit_too_long(update, context, message.text)
    return await _apply_text(update, context, message.text)


async def trim_text(update: Update, context: StemmeContext) -> str | None:
    """Uses the first 1,000 characters of the over-long new text."""
    draft = context.flow_data.get("draft")
    if not draft:
        await stale_button(update, context)
        return None
    return await _apply_text(update, context, draft.strip()[:NOTE_MAX_LENGTH])


async def _edit_too_long(update: Update, context: StemmeContext, text: str) -> str | None:
    message, markup = too_long_prompt(context.texts, text, trim_data="mom:trim")
    reply = await respond(update, message, markup)
    context.flow_data["msgs"] = sorted({*context.flow_data["msgs"], *_message_ids(update, reply)})
    return None


async def _apply_text(update: Update, context: StemmeContext, text: str) -> str | None:
    _ = context.texts._
    member, _membership, team = context.require_member()
    note = get_team_note(
        session=context.session,
        team_id=team.id or 0,
        note_id=int(context.flow_data.get("note_id", 0)),
    )
    if note is None:
        await respond(update, _("That micro-moment no longer exists."))
        return END
    try:
        edit_note(session=context.session, note=note, member_id=member.id or 0, text=text)
    except NoteLocked:
        await _locked(update, context)
        return END
    chat = update.effective_chat

    async def aftermath() -> None:
        if team.chat_hygiene:
            await tidy(update, context)
        if update.callback_query is not None:
            await update.callback_query.answer()
        if chat is not None:
            await chat.send_message(
                _("Changed ✔ micro-moment #{number}").format(number=note.id),
                reply_markup=note_keyboard(context.texts),
            )

    context.after_commit(aftermath)
    return END


async def confirm_delete(update: Update, context: StemmeContext) -> str | None:
    """Asks before deleting a note."""
    _ = context.texts._
    member, _membership, _team = context.require_member()
    note = _note_from_button(context)
    if note is None:
        await stale_button(update, context)
        return None
    if not context.is_lead and not can_edit(note, member_id=member.id or 0):
        await _locked(update, context)
        return None
    markup = confirm_buttons(
        context.texts,
        yes_label=_("Yes, delete"),
        yes_data=f"mom:del!:{note.id}",
        no_data="mom:page:0:0",
    )
    await respond(
        update,
        _("Delete micro-moment #{number}? It cannot be undone.").format(number=note.id),
        markup,
    )
    return None


async def delete(update: Update, context: StemmeContext) -> str | None:
    """Deletes the note (its author within 24 hours, or a lead)."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    note = _note_from_button(context)
    if note is None:
        await stale_button(update, context)
        return None
    number = note.id
    try:
        delete_note(
            session=context.session, note=note, member_id=member.id or 0, is_lead=context.is_lead
        )
    except NoteLocked:
        await _locked(update, context)
        return None
    logger.info("Note %s deleted in team %s by member %s", number, team.id, member.id)
    await respond(update, _("Deleted micro-moment #{number}.").format(number=number))
    return END


# ------------------------------------------------------------------ the resident card


async def card_pick(update: Update, context: StemmeContext) -> str | None:
    """Asks whose card to show."""
    _member, _membership, team = context.require_member()
    page = int(context.matches[0].group(1)) if context.matches else 0
    residents = list_residents(session=context.session, team_id=team.id or 0)
    if not residents:
        await respond(update, context.texts._("The team has no residents yet."), edit=False)
        return END
    await respond(
        update,
        context.texts._("Whose card do you want to see?"),
        resident_buttons(residents, action="card:res", page=page, texts=context.texts),
        edit=update.callback_query is not None,
    )
    return END


async def card(update: Update, context: StemmeContext) -> str | None:
    """Shows what matters to the resident, grouped by marker, in one message."""
    _ = context.texts._
    _member, _membership, team = context.require_member()
    assert context.matches
    resident = get_team_resident(
        session=context.session,
        team_id=team.id or 0,
        resident_id=int(context.matches[0].group(1)),
        active_only=False,
    )
    if resident is None:
        await stale_button(update, context)
        return END
    result = resident_card(session=context.session, team_id=team.id or 0, resident=resident)
    # "Sådan møder vi Fru H. nu": the trial action being tried and the kept approaches.
    found = approaches_for_resident(
        session=context.session, team_id=team.id or 0, resident_id=resident.id or 0
    )
    approaches = approach_lines_of(context.texts, found, alias=resident.alias)
    lines = [
        *approaches,
        *([""] if approaches else []),
        _("What matters to {alias}").format(alias=resident.alias),
        context.texts.ngettext(
            "{count} micro-moment", "{count} micro-moments", result.total
        ).format(count=result.total),
    ]
    shown: set[int] = set()
    for marker, count in result.counts:
        example = next(
            (note for note in result.latest.get(marker, []) if note.id not in shown), None
        )
        line = f"{marker_label(context.texts, marker)} · {count}"
        if example is not None:
            shown.add(example.id or 0)
            line += "\n" + _example(context.texts, example)
        lines.append(line)
    if result.unmarked:
        lines.append(_("Without a marker") + "\n" + _example(context.texts, result.unmarked[0]))
    if result.total == 0:
        lines += ["", _("Nothing noted yet. Use /note or the Micro-moment button.")]
    rows = [
        [
            InlineKeyboardButton(
                _("All micro-moments about {alias}").format(alias=resident.alias),
                callback_data=f"mom:res:{resident.id}",
            )
        ]
    ]
    if found.kept:
        rows.append([record_button(context.texts, resident_id=resident.id or 0)])
    await respond(update, "\n".join(lines), InlineKeyboardMarkup(rows))
    return END


def build_flow() -> Flow:
    """Reading, the resident card, and editing one's own notes."""
    return Flow(
        name="moments",
        entry_points=[
            CommandHandler("moments", show, filters=filters.ChatType.PRIVATE),
            CommandHandler("card", card_pick, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(turn_page, pattern=r"^mom:page:(\d{1,9}):(\d{1,6})$"),
            CallbackQueryHandler(picker_page, pattern=r"^mom:pick:(\d{1,4})$"),
            CallbackQueryHandler(pick_resident, pattern=r"^mom:res:page:(\d{1,4})$"),
            CallbackQueryHandler(resident_page, pattern=r"^mom:res:(\d{1,9})$"),
            CallbackQueryHandler(play, pattern=r"^mom:play:(\d{1,9})$"),
            CallbackQueryHandler(start_edit, pattern=r"^mom:edit:(\d{1,9})$"),
            CallbackQueryHandler(ask_text, pattern=r"^mom:text:(\d{1,9})$"),
            CallbackQueryHandler(toggle_marker, pattern=r"^mom:mk:(\d{1,9}):(\w{1,20})$"),
            CallbackQueryHandler(confirm_delete, pattern=r"^mom:del:(\d{1,9})$"),
            CallbackQueryHandler(delete, pattern=r"^mom:del!:(\d{1,9})$"),
            CallbackQueryHandler(card_pick, pattern=r"^card:res:page:(\d{1,4})$"),
            CallbackQueryHandler(card, pattern=r"^card:res:(\d{1,9})$"),
        ],
        states={
            State.EDIT_TEXT: [
                MessageHandler(FREE_TEXT, store_text),
                CallbackQueryHandler(trim_text, pattern=r"^mom:trim$"),
            ]
        },
        hints={State.EDIT_TEXT: N_("Send the new text, or /cancel to keep the old one.")},
    )
