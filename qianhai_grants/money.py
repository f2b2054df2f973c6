"""Money is Decimal yuan with two places; rounding happens once, at the end, half-up."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Larger than any subsidy or investment the measures deal with (99 trillion yuan), small enough
# that arithmetic on hostile input stays cheap.
MAX_DIGITS = 16
MAX_PLACES = 2


def round_money(value: Decimal) -> Decimal:
    """Round a final amount half-up to 0.01 yuan (MEASURES.md, reading rules)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(value: Decimal) -> str:
    """The API's money format: a plain decimal string with two places, no exponent."""
    return f"{round_money(value):f}"


def parse_money(raw) -> Decimal:
    """Parse a non-negative amount in yuan with at most two places, or raise ValueError.

    Accepts decimal strings and JSON numbers (never booleans). Floats are read through their
    shortest repr so 0.1 means 0.1, not 0.1000000000000000055...
    """
    if isinstance(raw, bool) or raw is None:
        raise ValueError("not a number")
    if isinstance(raw, float):
        raw = repr(raw)
    if isinstance(raw, int):
        raw = str(raw)
    if not isinstance(raw, str):
        raise ValueError("not a number")
    text = raw.strip()
    if "," in text and _grouped(text):
        text = text.replace(",", "")
    if not text or any(c not in "0123456789.+-" for c in text):
        raise ValueError("not a number")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError("not a number") from exc
    if not value.is_finite():
        raise ValueError("not a number")
    if value < 0 or value.is_signed():  # is_signed: "-0" is not a plain zero
        raise ValueError("negative")
    _sign, digits, exponent = value.as_tuple()
    if exponent < -MAX_PLACES:
        raise ValueError("too many decimal places")
    if len(digits) + min(exponent, 0) > MAX_DIGITS - MAX_PLACES:
        raise ValueError("too large")
    return value.quantize(CENT)


def _grouped(text: str) -> bool:
    """True for thousands-grouped numbers such as 15,000,000.00 (commas only before the point)."""
    whole, _point, fraction = text.partition(".")
    if "," in fraction:
        return False
    groups = whole.lstrip("+").split(",")
    return (
        1 <= len(groups[0]) <= 3
        and all(g.isdigit() for g in groups)
        and all(len(g) == 3 for g in groups[1:])
    )
