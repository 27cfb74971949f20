"""Telegram's initData checked as Telegram documents it, against a published vector (the
example of docs.telegram-mini-apps.com's init-data page, signed with its public test
token), and against data this module signs itself for the cases the vector cannot show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import pytest

from webapp.initdata import MAX_AGE, InitDataRefused, Refusal, sign, signature, validate

VECTOR_TOKEN = "5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx8"
VECTOR = (
    "query_id=AAHdF6IQAAAAAN0XohDhrOrc"
    "&user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%22%2C%22last_name%22"
    "%3A%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22"
    "%2C%22is_premium%22%3Atrue%7D"
    "&auth_date=1662771648"
    "&hash=c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2"
)
SIGNED_AT = datetime.fromtimestamp(1662771648, UTC)
TOKEN = "123456:sandbox-token"


def _reason(init_data: str | None, token: str = VECTOR_TOKEN, **kwargs: datetime) -> Refusal:
    with pytest.raises(InitDataRefused) as refused:
        validate(init_data, token, now=kwargs.get("now", SIGNED_AT + timedelta(minutes=1)))
    return refused.value.reason


def test_the_published_vector_is_accepted_and_names_its_user() -> None:
    user = validate(VECTOR, VECTOR_TOKEN, now=SIGNED_AT + timedelta(minutes=1))
    assert user.telegram_id == 279058397
    assert user.language_code == "ru"
    assert user.auth_date == SIGNED_AT


def test_the_vector_with_another_token_is_forged() -> None:
    assert _reason(VECTOR, token=VECTOR_TOKEN + "x") == Refusal.FORGED


def test_a_changed_user_id_is_forged() -> None:
    assert _reason(VECTOR.replace("279058397", "279058398")) == Refusal.FORGED


def test_a_changed_hash_is_forged() -> None:
    assert _reason(VECTOR[:-1] + ("3" if VECTOR[-1] != "3" else "4")) == Refusal.FORGED


def test_missing_or_empty_hash_is_malformed() -> None:
    without = "&".join(part for part in VECTOR.split("&") if not part.startswith("hash="))
    assert _reason(without) == Refusal.MALFORMED
    assert _reason(without + "&hash=") == Refusal.MALFORMED


def test_no_init_data_at_all_is_missing() -> None:
    assert _reason(None) == Refusal.MISSING
    assert _reason("") == Refusal.MISSING


def test_a_repeated_field_is_malformed() -> None:
    assert _reason(VECTOR + "&auth_date=1662771648") == Refusal.MALFORMED


def test_the_vector_a_day_later_has_expired() -> None:
    assert _reason(VECTOR, now=SIGNED_AT + MAX_AGE + timedelta(seconds=1)) == Refusal.EXPIRED
    assert validate(VECTOR, VECTOR_TOKEN, now=SIGNED_AT + MAX_AGE - timedelta(seconds=1))


def test_a_signature_from_the_future_is_refused() -> None:
    assert _reason(VECTOR, now=SIGNED_AT - timedelta(hours=1)) == Refusal.EXPIRED


def test_what_sign_builds_is_accepted_with_the_same_token_only() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    init_data = sign(telegram_id=7001, bot_token=TOKEN, auth_date=now, language_code="da")
    user = validate(init_data, TOKEN, now=now + timedelta(hours=1))
    assert (user.telegram_id, user.language_code) == (7001, "da")
    assert _reason(init_data, token="654321:other", now=now) == Refusal.FORGED


def test_signed_data_without_a_user_is_malformed() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    fields = dict(parse_qsl(sign(telegram_id=1, bot_token=TOKEN, auth_date=now)))
    del fields["user"]
    fields["hash"] = signature(fields, TOKEN)
    assert _reason(urlencode(fields), token=TOKEN, now=now) == Refusal.MALFORMED
