"""Paged button lists shared by the flows (residents today, more later)."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from flows.i18n import Texts
from storage.models import Resident

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
