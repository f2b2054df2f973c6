"""Money helpers: Decimal yuan, two places, rounded once half-up (MEASURES.md, reading rules)."""

from decimal import Decimal

import pytest

from qianhai_grants.money import format_money, parse_money, round_money


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", "0.01"),
        ("0.004", "0.00"),
        ("0.0049999", "0.00"),
        ("0.015", "0.02"),
        ("0.025", "0.03"),  # banker's rounding would give 0.02
        ("2.675", "2.68"),  # as a float 2.675 is 2.67499...; as a Decimal it is exactly half
        ("2.665", "2.67"),
        ("61728.3945", "61728.39"),  # rounded once: rounding to 3 places first would give .40
        ("1999999.995", "2000000.00"),
        ("0", "0.00"),
        ("7", "7.00"),
        ("1E+7", "10000000.00"),
    ],
)
def test_round_money_is_half_up_to_the_cent(value, expected):
    result = round_money(Decimal(value))
    assert result == Decimal(expected)
    assert result.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1E+7"), "10000000.00"),
        (Decimal("2E+13"), "20000000000000.00"),
        (Decimal("1500000"), "1500000.00"),
        (Decimal("1500000.0000"), "1500000.00"),
        (Decimal("0.005"), "0.01"),
        (Decimal("0E-10"), "0.00"),
        (Decimal("0"), "0.00"),
        (Decimal("99999999999999.99"), "99999999999999.99"),
    ],
)
def test_format_money_is_a_plain_string_with_two_places(value, expected):
    text = format_money(value)
    assert text == expected
    assert "E" not in text.upper()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("15000000", "15000000.00"),
        ("15000000.5", "15000000.50"),
        ("15000000.55", "15000000.55"),
        (" 15000000.00 ", "15000000.00"),
        ("15,000,000.00", "15000000.00"),
        ("1,000", "1000.00"),
        ("+5", "5.00"),
        (".5", "0.50"),
        ("0", "0.00"),
        ("0.00", "0.00"),
        (15000000, "15000000.00"),
        (0, "0.00"),
        (0.1, "0.10"),  # read through repr: 0.1 means 0.1
        (15000000.5, "15000000.50"),
        ("99999999999999.99", "99999999999999.99"),  # 14 integer digits: the largest allowed
        ("00000000000000000001", "1.00"),  # leading zeros are not significant digits
    ],
)
def test_parse_money_accepts_non_negative_amounts_with_two_places(raw, expected):
    value = parse_money(raw)
    assert value == Decimal(expected)
    assert value.as_tuple().exponent == -2
    assert format_money(value) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "-1",
        "-0.01",
        "abc",
        "",
        "   ",
        "1e400",
        "1E5",
        "1e-2",
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        "1.001",
        "0.005",
        "0x10",
        "1_000",
        "１２３",  # full-width digits
        "1,5",
        "1,000,00",
        "1,0000",
        ",000",
        "--1",
        "+-1",
        "1..2",
        ".",
        "+",
        "100000000000000",  # 15 integer digits: beyond anything the measures deal with
        "100000000000000.00",
        10**400,
        float("nan"),
        float("inf"),
        1e20,
        0.30000000000000004,  # 0.1 + 0.2: more than two places
        True,
        False,
        None,
        [],
        {},
        ["15000000"],
    ],
)
def test_parse_money_refuses_what_is_not_a_non_negative_amount(raw):
    with pytest.raises(ValueError):
        parse_money(raw)


def test_parse_money_refuses_commas_inside_the_fraction():
    # Thousands grouping belongs to the whole part; "1,000.5,0" is no number in any notation.
    with pytest.raises(ValueError):
        parse_money("1,000.5,0")


@pytest.mark.parametrize("raw", ["-0", "-0.00", "-0.0"])
def test_parse_money_never_yields_a_negative_zero(raw):
    # "-0" may be refused or read as zero, but it must never come back as "-0.00" in a quote.
    try:
        value = parse_money(raw)
    except ValueError:
        return
    assert value == 0
    assert value.as_tuple().sign == 0
    assert format_money(value) == "0.00"
