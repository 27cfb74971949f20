"""The lead's team settings: the shift pattern and chat hygiene.

```mermaid
flowchart LR
    S["/settings (lead)"] --> V[shift starts, chat hygiene on/off]
    V -->|Change shift times| T[settings.shifts: "07 15 23"] --> V
    V -->|Chat hygiene| V
```
"""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from flows.core.engine import END, Flow, States, StemmeContext, respond
from flows.core.guard import leads_only, stale_button
from flows.core.i18n import N_
from flows.moments.micromoment import FREE_TEXT
from storage.audit import record
from storage.notes import set_chat_hygiene, set_shift_pattern

logger = logging.getLogger(__name__)

TIME = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?$")


class State(States):
    """The step that waits for the typed shift times."""

    SHIFTS = "settings.shifts"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


async def _show(update: Update, context: StemmeContext, prefix: str = "") -> str:
    _ = context.texts._
    _member, _membership, team = context.require_member()
    text = _(
        "Settings for {team}\n\nShifts: day from {day}, evening from {evening}, night from "
        "{night}.\nChat hygiene: {hygiene}."
    ).format(
        team=team.name,
        day=_clock(team.day_starts_at),
        evening=_clock(team.evening_starts_at),
        night=_clock(team.night_starts_at),
        hygiene=_("on: messages are deleted after a note is saved")
        if team.chat_hygiene
        else _("off: messages stay in the chat"),
    )
    markup = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(_("Change shift times"), callback_data="set:shifts")],
            [
                InlineKeyboardButton(
                    _("Turn chat hygiene off") if team.chat_hygiene else _("Turn chat hygiene on"),
                    callback_data=f"set:hygiene:{team.id}:{0 if team.chat_hygiene else 1}",
                )
            ],
        ]
    )
    await respond(update, (prefix + "\n\n" if prefix else "") + text, markup)
    return END


@leads_only
async def show(update: Update, context: StemmeContext) -> str | None:
    """Shows the team's settings."""
    return await _show(update, context)


@leads_only
async def ask_shifts(update: Update, context: StemmeContext) -> str | None:
    """Asks for the three shift start times."""
    await respond(
        update,
        context.texts._(
            'Send the start of the day, evening and night shift, e.g. "07 15 23" or '
            '"06:45 14:45 22:45". (/cancel to keep them)'
        ),
    )
    return State.SHIFTS


def _parse(text: str) -> list[int] | None:
    parts = text.replace(",", " ").split()
    if len(parts) != 3:
        return None
    minutes = []
    for part in parts:
        match = TIME.match(part)
        if match is None:
            return None
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if hour > 23 or minute > 59:
            return None
        minutes.append(hour * 60 + minute)
    return minutes


async def store_shifts(update: Update, context: StemmeContext) -> str | None:
    """Stores the new shift pattern."""
    _ = context.texts._
    member, _membership, team = context.require_member()
    message = update.effective_message
    assert message is not None and message.text is not None
    if not context.is_lead:
        await respond(update, _("Only the team lead can do that."))
        return END
    times = _parse(message.text)
    try:
        if times is None:
            raise ValueError("unreadable")
        set_shift_pattern(
            session=context.session, team=team, day=times[0], evening=times[1], night=times[2]
        )
    except ValueError:
        await respond(
            update,
            _('I could not read three increasing times. Write them like "07 15 23".'),
        )
        return None
    record(
        session=context.session,
        actor=f"member:{member.id}",
        action="team.shifts",
        team_id=team.id,
        detail={"day": times[0], "evening": times[1], "night": times[2]},
    )
    return await _show(update, context, _("Shift times saved ✔"))


@leads_only
async def toggle_hygiene(update: Update, context: StemmeContext) -> str | None:
    """Turns chat hygiene on or off for the team."""
    member, _membership, team = context.require_member()
    assert context.matches
    team_id, enabled = (int(group) for group in context.matches[0].groups())
    if team_id != team.id:
        await stale_button(update, context)
        return END
    set_chat_hygiene(session=context.session, team=team, enabled=bool(enabled))
    record(
        session=context.session,
        actor=f"member:{member.id}",
        action="team.chat_hygiene",
        team_id=team.id,
        detail={"enabled": bool(enabled)},
    )
    return await _show(update, context)


def build_flow() -> Flow:
    """The lead's settings flow."""
    return Flow(
        name="settings",
        lead_only=True,
        entry_points=[
            CommandHandler("settings", show, filters=filters.ChatType.PRIVATE),
            CallbackQueryHandler(ask_shifts, pattern=r"^set:shifts$"),
            CallbackQueryHandler(toggle_hygiene, pattern=r"^set:hygiene:(\d{1,9}):([01])$"),
        ],
        states={State.SHIFTS: [MessageHandler(FREE_TEXT, store_shifts)]},
        hints={State.SHIFTS: N_('Write the three times as text, e.g. "07 15 23", or /cancel.')},
    )
