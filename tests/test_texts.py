"""The catalogs are complete, Danish never falls back to English, times are local."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from flows.core.i18n import LOCALE_DIR, catalog, texts

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
# Sentences that are the same word in both languages, or CLDR patterns.
SAME_IN_DANISH = {
    "{count} person",
    "Link: {link}",
    "Teams:",
    "Team: {team}",
    "#{number} · {when} · {shift} · {author}",
    "Median",
    "Median {value}",
    "Team",
    "administrator",
    "dilemma",
    "score {score}",
}
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def _msgids_in_code() -> set[str]:
    found: set[str] = set()
    for package in ("bot", "flows", "storage", "sandbox", "webapp"):
        for _filename, _lineno, message, _comments, _context in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def _po(language: str) -> dict[str, object]:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "stemme.po").open("rb") as handle:
        po = read_po(handle, locale=language)
    return {
        (m.id if isinstance(m.id, str) else m.id[0]): m.string for m in po if m.id and not m.fuzzy
    }


def _placeholders(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


def test_every_text_in_the_code_has_a_danish_translation() -> None:
    danish = _po("da")
    missing = sorted(msgid for msgid in _msgids_in_code() if not danish.get(msgid))
    assert missing == [], f"untranslated in locales/da: {missing}"


def test_every_text_in_the_code_is_in_the_english_catalog() -> None:
    english = _po("en")
    missing = sorted(msgid for msgid in _msgids_in_code() if not english.get(msgid))
    assert missing == [], f"missing in locales/en: {missing}"


def test_danish_translations_keep_the_placeholders_and_are_not_english() -> None:
    for msgid, translation in _po("da").items():
        first = translation if isinstance(translation, str) else translation[0]  # type: ignore[index]
        assert isinstance(first, str)
        assert _placeholders(first) == _placeholders(msgid), msgid
        words = re.sub(r"\{\w+\}", "", msgid)
        if msgid not in SAME_IN_DANISH and re.search(r"[a-z]{3}", words):
            assert first != msgid, f"Danish is the English msgid: {msgid!r}"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("da", "Vælg dit sprog."), ("en", "Choose your language.")],
)
def test_the_language_is_chosen_per_user(language: str, expected: str) -> None:
    catalog.cache_clear()
    assert texts(language, COPENHAGEN)._("Choose your language.") == expected


def test_an_unknown_language_falls_back_to_danish() -> None:
    assert texts("xx", COPENHAGEN)._("Choose your language.") == "Vælg dit sprog."


def test_danish_dates_read_naturally() -> None:
    moment = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    assert texts("da", COPENHAGEN).when(moment) == "tirsdag den 24. november kl. 14:00"
    assert texts("en", COPENHAGEN).when(moment) == "Tuesday 24 November at 14:00"


@pytest.mark.parametrize(
    ("utc", "local"),
    [
        # The last night of winter time and the first of summer time (29 March 2026).
        (datetime(2026, 3, 29, 0, 30, tzinfo=UTC), "01:30"),
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "03:30"),
        # Back to winter time on 25 October 2026: 02:30 happens twice.
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "02:30"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "02:30"),
        (datetime(2026, 10, 25, 2, 30, tzinfo=UTC), "03:30"),
    ],
)
def test_times_are_shown_in_copenhagen_across_daylight_saving(utc: datetime, local: str) -> None:
    assert texts("da", COPENHAGEN).clock(utc) == local


def test_danish_is_compiled_in_memory_when_the_mo_file_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = LOCALE_DIR / "da" / "LC_MESSAGES" / "stemme.po"
    target = tmp_path / "da" / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "stemme.po").write_bytes(source.read_bytes())
    monkeypatch.setattr("flows.core.i18n.LOCALE_DIR", tmp_path)
    catalog.cache_clear()
    try:
        assert texts("da", COPENHAGEN)._("Choose your language.") == "Vælg dit sprog."
    finally:
        catalog.cache_clear()
