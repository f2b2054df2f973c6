"""Registration numbers: the mainland USCC check character (GB 32100-2015) and the HK BR number."""

import pytest

from applications.registration import (
    USCC_CHARSET,
    hk_br_is_valid,
    normalize,
    uscc_check_character,
    uscc_is_valid,
)
from tests.factories import VALID_USCC, uscc

# Built from arbitrary first-17 strings over the whole charset, so every letter is exercised.
BUILT = [first17 + uscc_check_character(first17) for first17 in (
    "91440300MA5F00000",
    "12100000400000000",
    "52440300MJL000000",
    "Y1110000ABCDEFGHJ",
    "93440300KLMNPQRTU",
    "91440300WXY012345",
    "00000000000000000",
)]


@pytest.mark.parametrize("code", [VALID_USCC, *BUILT, *(uscc(n) for n in (0, 1, 42, 99999))])
def test_valid_uscc(code):
    assert uscc_is_valid(code)


def test_the_published_example_has_check_character_3():
    assert uscc_check_character(VALID_USCC[:17]) == "3"


@pytest.mark.parametrize("code", BUILT)
def test_every_other_last_character_is_refused(code):
    for wrong in USCC_CHARSET.replace(code[-1], ""):
        assert not uscc_is_valid(code[:17] + wrong)


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_forbidden_letters_are_refused_anywhere(letter):
    for position in (0, 8, 17):
        code = VALID_USCC[:position] + letter + VALID_USCC[position + 1:]
        assert not uscc_is_valid(code)


@pytest.mark.parametrize("code", [
    VALID_USCC[:17],              # 17 characters
    VALID_USCC + "3",             # 19
    "",
    "91350100M000100Y4",
    "91350100M000100Y43 0",
    "91350100-M000100Y43",        # punctuation is not ignored
    "91350100M000100Y4３X",
    "91350100M000100Y4\x003",
])
def test_wrong_length_or_characters_are_refused(code):
    assert not uscc_is_valid(code)


@pytest.mark.parametrize("written", [
    VALID_USCC.lower(),
    "9135 0100 M000 100Y 43",
    f"  {VALID_USCC}\n",
    "\t91350100m000100y43 ",
    "91350100M000100Y43".replace("M", "\u3000M"),      # an ideographic space
    "９１３５０１００Ｍ０００１００Ｙ４３",                   # full-width, as an IME types it
])
def test_spaces_case_and_full_width_are_normalised(written):
    assert normalize(written) == VALID_USCC
    assert uscc_is_valid(written)


@pytest.mark.parametrize(("number", "valid"), [
    ("12345678", True),
    ("00000000", True),
    (" 1234 5678 ", True),
    ("１２３４５６７８", True),         # full-width digits fold to ASCII
    ("1234567", False),
    ("123456789", False),
    ("1234567A", False),
    ("", False),
    ("12-345678", False),
    ("١٢٣٤٥٦٧٨", False),              # Arabic-Indic digits are not a BR number
    (VALID_USCC, False),
])
def test_hong_kong_business_registration_number(number, valid):
    assert hk_br_is_valid(number) is valid


def test_normalize_accepts_non_strings():
    assert normalize(12345678) == "12345678"
