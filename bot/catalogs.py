"""Catalog upkeep for ``make texts-update``: the English catalog mirrors the msgids.

The msgids are English sentences, so the English catalog is complete when every
msgstr equals its msgid; this fills in new ones and never touches Danish.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

from flows.core.i18n import DOMAIN, LOCALE_DIR


def fill_english(locale_dir: Path = LOCALE_DIR) -> int:
    """Sets every empty English msgstr to its msgid; returns how many were filled."""
    path = locale_dir / "en" / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="en")
    filled = 0
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            if not isinstance(message.string, tuple | list) or not all(message.string):
                message.string = (message.id[0], message.id[1])
                filled += 1
        elif not message.string:
            message.string = message.id
            filled += 1
        message.flags.discard("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, catalog, width=99, omit_header=False)
    return filled


def main(argv: list[str]) -> int:
    """``python -m bot.catalogs fill-english``."""
    if argv[:1] != ["fill-english"]:
        sys.stderr.write("usage: python -m bot.catalogs fill-english\n")
        return 2
    fill_english()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
