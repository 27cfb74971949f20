"""Translations, chosen per user per update, and dates and times through Babel.

Catalogs live in ``locales/<lang>/LC_MESSAGES/stemme.po``; ``make texts-compile``
builds the ``.mo`` files. If a ``.mo`` is missing or older than its ``.po`` (an
install that skipped the make target), the ``.po`` is compiled in memory so
Danish never silently falls back to the English msgids.
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parents[2] / "locales"
DOMAIN = "stemme"
LANGUAGES = ("da", "en")


def N_(message: str) -> str:
    """Marks a msgid for extraction without translating it (labels defined at import time)."""
    return message


@lru_cache(maxsize=8)
def catalog(language: str) -> gettext.NullTranslations:
    """Returns the compiled catalog for a language (English msgids as the last resort)."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    mo = po.with_suffix(".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    if po.exists():
        with po.open("rb") as handle:
            messages = read_po(handle, locale=language)
        buffer = io.BytesIO()
        write_mo(buffer, messages)
        buffer.seek(0)
        return gettext.GNUTranslations(buffer)
    return gettext.NullTranslations()


@dataclass(frozen=True)
class Texts:
    """One user's language and time zone: translate with ``_`` and format times."""

    language: str
    tz: ZoneInfo

    def _(self, message: str) -> str:
        """Translates a whole-sentence msgid."""
        return catalog(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        """Translates a msgid with a plural form chosen by ``count``."""
        return catalog(self.language).ngettext(singular, plural, count)

    @property
    def babel_locale(self) -> Locale:
        """The Babel locale for this language."""
        return Locale.parse(self.language)

    def local(self, moment: datetime) -> datetime:
        """Converts an aware datetime to the user's time zone."""
        return moment.astimezone(self.tz)

    def when(self, moment: datetime) -> str:
        """Formats weekday, date and time, e.g. "tirsdag den 24. november kl. 14:00"."""
        # Translators: a Babel (CLDR) date pattern; keep the letters, translate the quoted words.
        pattern = self._("EEEE d MMMM 'at' HH:mm")
        return format_datetime(self.local(moment), pattern, locale=self.babel_locale)

    def day(self, day: date | datetime) -> str:
        """Formats a date, e.g. "24. november 2026"."""
        if isinstance(day, datetime):
            day = self.local(day).date()
        return format_date(day, "long", locale=self.babel_locale)

    def short_day(self, moment: datetime) -> str:
        """Formats a short date for lists, e.g. "24. nov." or "24 Nov"."""
        return format_skeleton("MMMd", self.local(moment), locale=self.babel_locale)

    def clock(self, moment: datetime) -> str:
        """Formats a time of day, e.g. "14:00"."""
        return format_time(self.local(moment), "HH:mm", locale=self.babel_locale)


def texts(language: str, tz: ZoneInfo) -> Texts:
    """Returns the texts for a language, falling back to Danish for unknown ones."""
    return Texts(language=language if language in LANGUAGES else "da", tz=tz)
