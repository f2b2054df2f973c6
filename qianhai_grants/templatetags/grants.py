from decimal import Decimal, InvalidOperation

from django import template

from qianhai_grants.i18n import localized as _localized
from qianhai_grants.money import round_money

register = template.Library()


@register.filter
def yuan(value) -> str:
    """20000000 -> '20,000,000.00' (grouped, two places, never exponent notation)."""
    try:
        amount = round_money(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return ""
    return f"{amount:,.2f}"


@register.filter
def count(value) -> str:
    """1234 -> '1,234' (grouped as amounts are, in every language)."""
    try:
        return f"{int(value):,}"
    except (ValueError, TypeError):
        return ""


@register.filter
def percent(rate) -> str:
    """0.05 -> '5%'."""
    try:
        value = (Decimal(str(rate)) * 100).normalize()
    except (InvalidOperation, ValueError, TypeError):
        return ""
    return f"{value:f}%"


@register.filter
def localized(texts) -> str:
    return _localized(texts)
