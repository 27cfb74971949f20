"""Recognises Danish CPR numbers in free text, so they are never stored or logged.

A CPR number is ``DDMMYY-XXXX`` (or with a space, or as ten digits in a row) where
``DDMMYY`` is a real date. This is the one place that decides; the bot refuses any
free text for which ``contains_cpr`` is true, and the storage functions that take
free text refuse it too, as a second line of defence.
"""

from __future__ import annotations

import re
from datetime import date

_CANDIDATE = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})[-\s‐‑–]?(\d{4})(?!\d)")


class CprNumberRefused(ValueError):
    """Raised when free text given to storage contains a CPR number."""


def _is_date(day: int, month: int, year: int) -> bool:
    # A two-digit year is 19YY or 20YY (the 7th digit decides, but any century with a
    # valid date is enough to treat the text as a CPR number): 29 Feb needs a leap year.
    for century in (1900, 2000):
        try:
            date(century + year, month, day)
        except ValueError:
            continue
        return True
    return False


def contains_cpr(text: str) -> bool:
    """Returns True if the text contains something that is, or looks exactly like, a CPR number."""
    for match in _CANDIDATE.finditer(text):
        day, month, year = (int(match.group(i)) for i in (1, 2, 3))
        if _is_date(day, month, year):
            return True
    return False


def refuse_cpr(text: str) -> str:
    """Returns the text unchanged, or raises ``CprNumberRefused`` if it holds a CPR number."""
    if contains_cpr(text):
        raise CprNumberRefused("free text contains a CPR number")
    return text
