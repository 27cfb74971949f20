"""CPR numbers are recognised wherever they appear, and only real ones."""

from __future__ import annotations

import pytest

from storage.cpr import CprNumberRefused, contains_cpr, refuse_cpr


@pytest.mark.parametrize(
    "text",
    [
        "010190-1234",
        "0101901234",
        "Fru H. 010190 1234 stue 12",
        "cpr: 311299-4321.",
        "født 290200-1234",  # 29 February 2000 existed
        "ring 0101901234!",
        "cpr-010190-1234",
        "010190-1234-a",
        "Fru H.:010190–1234",
    ],
)
def test_cpr_numbers_are_recognised(text: str) -> None:
    assert contains_cpr(text)
    with pytest.raises(CprNumberRefused):
        refuse_cpr(text)


@pytest.mark.parametrize(
    "text",
    [
        "Fru H., stue 12",
        "tlf 12345678",
        "123456-7890",  # 12/34 is no date
        "290201-1234",  # 29 February 1901/2001 did not exist
        "2024-11-24 kl 14",
        "12345678901",  # eleven digits
        "Hun drak 1,5 l i dag",
    ],
)
def test_other_numbers_are_not_taken_for_cpr(text: str) -> None:
    assert not contains_cpr(text)
    assert refuse_cpr(text) == text
