"""Widgets and sentences shared by the flows: paged resident buttons, yes/no
confirmations, the over-long-text prompt, alias problems, and shortening text."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from flows.core.i18n import Texts
from storage.models import ALIAS_MAX_LENGTH, NOTE_MAX_LENGTH, Resident
from storage.residents import AliasInvalid, AliasTaken

PAGE_SIZE = 8


def resident_buttons(
    residents: Sequence[Resident],
    *,
    action: str,
    page: int,
    texts: Texts,
    extra: Sequence[Sequence[InlineKeyboardButton]] = (),
) -> InlineKeyboardMarkup:
    """One button per resident (``<action>:<id>``), paged with ``<action>:page:<n>``."""
    _ = texts._
    pages = max(1, -(-len(residents) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = residents[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    rows = [
        [InlineKeyboardButton(resident.alias, callback_data=f"{action}:{resident.id}")]
        for resident in shown
    ]
    navigation = []
    if page > 0:
        navigation.append(
            InlineKeyboardButton(_("◀ Previous"), callback_data=f"{action}:page:{page - 1}")
        )
    if page < pages - 1:
        navigation.append(
            InlineKeyboardButton(_("Next ▶"), callback_data=f"{action}:page:{page + 1}")
        )
    if navigation:
        rows.append(navigation)
    rows.extend(list(row) for row in extra)
    return InlineKeyboardMarkup(rows)


def confirm_buttons(
    texts: Texts, *, yes_label: str, yes_data: str, no_data: str
) -> InlineKeyboardMarkup:
    """A "yes, do it" button beside "No", on one row."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(yes_label, callback_data=yes_data),
                InlineKeyboardButton(texts._("No"), callback_data=no_data),
            ]
        ]
    )


def trim_markup(texts: Texts, trim_data: str) -> InlineKeyboardMarkup:
    """The one button under a too-long text: keep its first characters up to the limit."""
    label = texts._("Keep the first {limit} characters").format(limit=NOTE_MAX_LENGTH)
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=trim_data)]])


def too_long_prompt(
    texts: Texts, text: str, *, trim_data: str
) -> tuple[str, InlineKeyboardMarkup]:
    """Says a micro-moment's text is over the limit, that it is kept, and offers to trim it."""
    _ = texts._
    markup = trim_markup(texts, trim_data)
    message = _(
        "Your text has {length} characters; a micro-moment can have at most {limit}. I have "
        "kept it: send a shorter version (you can copy it from your message above), or keep "
        "the first {limit} characters."
    ).format(length=len(text.strip()), limit=NOTE_MAX_LENGTH)
    return message, markup


def shorten(text: str, limit: int) -> str:
    """Folds white space and cuts the text to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def alias_problem(texts: Texts, problem: AliasTaken | AliasInvalid) -> str:
    """Tells what is wrong with a typed alias, so the user can write another."""
    _ = texts._
    if isinstance(problem, AliasTaken):
        return _("The team already has a resident called that. Write another alias.")
    return _("An alias must be 1 to {limit} characters. Write a shorter one.").format(
        limit=ALIAS_MAX_LENGTH
    )
