"""Telegram's ``initData``: the signed query string a Mini App receives, checked as
Telegram documents it (core.telegram.org/bots/webapps, "Validating data received via
the Mini App").

The data-check-string is every field but ``hash``, as ``key=value`` sorted by key and
joined by line feeds; the secret key is HMAC-SHA256 of the bot token with the key
``WebAppData``; the hash is the hex HMAC-SHA256 of the data-check-string with that secret
key. Data older than ``MAX_AGE`` is refused, so a copied ``initData`` stops working.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import parse_qsl, urlencode

MAX_AGE = timedelta(hours=24)
# A signature a little in the future is the clocks' difference, not a forgery.
CLOCK_SKEW = timedelta(minutes=5)
# Longer initData is not Telegram's (its own is well under 4 KB).
MAX_LENGTH = 8192


class Refusal(StrEnum):
    """Why initData was refused: the reason is logged, never the data."""

    MISSING = "missing"
    MALFORMED = "malformed"
    FORGED = "forged"
    EXPIRED = "expired"


class InitDataRefused(ValueError):
    """The initData is missing, malformed, not signed with this bot's token, or too old."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class WebAppUser:
    """Who opened the Mini App, as Telegram signed it."""

    telegram_id: int
    language_code: str | None
    auth_date: datetime


def _secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def data_check_string(fields: dict[str, str]) -> str:
    """Every field but ``hash``, as ``key=value`` lines sorted by key."""
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def signature(fields: dict[str, str], bot_token: str) -> str:
    """The hex hash Telegram puts in ``hash`` for these fields."""
    message = data_check_string(fields).encode()
    return hmac.new(_secret_key(bot_token), message, hashlib.sha256).hexdigest()


def validate(
    init_data: str | None, bot_token: str, *, now: datetime, max_age: timedelta = MAX_AGE
) -> WebAppUser:
    """The signed user of ``init_data``, or ``InitDataRefused`` with the reason."""
    if not init_data:
        raise InitDataRefused(Refusal.MISSING)
    if len(init_data) > MAX_LENGTH:
        raise InitDataRefused(Refusal.MALFORMED)
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataRefused(Refusal.MALFORMED) from None
    fields = dict(pairs)
    if len(fields) != len(pairs) or not fields.get("hash"):
        raise InitDataRefused(Refusal.MALFORMED)
    if not hmac.compare_digest(signature(fields, bot_token), fields["hash"]):
        raise InitDataRefused(Refusal.FORGED)
    try:
        signed_at = datetime.fromtimestamp(int(fields["auth_date"]), UTC)
        user = json.loads(fields["user"])
        telegram_id = int(user["id"])
    except (KeyError, ValueError, TypeError, OverflowError):
        raise InitDataRefused(Refusal.MALFORMED) from None
    if now - signed_at > max_age or signed_at - now > CLOCK_SKEW:
        raise InitDataRefused(Refusal.EXPIRED)
    language = user.get("language_code")
    return WebAppUser(
        telegram_id=telegram_id,
        language_code=language if isinstance(language, str) else None,
        auth_date=signed_at,
    )


def sign(
    *,
    telegram_id: int,
    bot_token: str,
    auth_date: datetime,
    language_code: str = "da",
    **extra: str,
) -> str:
    """initData for ``telegram_id`` signed with ``bot_token``, as Telegram builds it: for
    the sandbox (which is its own Telegram) and for tests."""
    user = {"id": telegram_id, "first_name": "Mini App", "language_code": language_code}
    fields = {
        "auth_date": str(int(auth_date.timestamp())),
        "user": json.dumps(user, separators=(",", ":")),
        **extra,
    }
    fields["hash"] = signature(fields, bot_token)
    return urlencode(fields)
