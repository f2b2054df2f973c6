"""Parse and validate a measure's form inputs against its field schema.

The same parser serves the calculator, the API and the web forms, so a malformed value gets the
same field-level message everywhere. Absent or blank values are not errors here: the engine
reports a missing required input as `missing_input`, and drafts may be incomplete.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from qianhai_grants.money import CENT, MAX_DIGITS, MAX_PLACES, format_money, parse_money

FIELD_TYPES = ("text", "textarea", "money", "integer", "boolean", "choice", "date", "url", "cases")
MAX_TEXT = {"text": 200, "textarea": 5000, "url": 500}
MAX_CASES = 500
MAX_INTEGER = 10**12


@dataclass
class ParsedInputs:
    values: dict
    errors: dict[str, list[str]]

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_inputs(fields: list[dict], raw) -> ParsedInputs:
    """Parse `raw` (a mapping of field name to JSON value) by the schema `fields`.

    Unknown names are ignored. Blank values (None, "") count as absent.
    """
    if not isinstance(raw, Mapping):
        return ParsedInputs({}, {"inputs": [_("Expected an object of field names and values.")]})
    values, errors = {}, {}
    for spec in fields:
        name = spec["name"]
        value = raw.get(name)
        if _blank(value):
            continue
        try:
            values[name] = parse_value(spec, value)
        except ValueError as exc:
            errors[name] = [str(exc)]
    return ParsedInputs(values, errors)


class InputParser:
    """`parse_inputs` for one field schema, prepared once: for code that parses many inputs
    under the same schema (an award batch parses every application of a call under one or two
    catalogue versions). `InputParser(fields)(raw)` equals `parse_inputs(fields, raw)` for every
    `raw`: the usual values of the usual types (a plain amount, a date, a text, one of the
    choices) are read by a shorter path that gives the same value, and everything else (blank,
    malformed, other types) goes through `parse_value` itself, messages included."""

    def __init__(self, fields: list[dict]):
        self.fields = fields
        self._specs = [(spec["name"], spec, _usual_reader(spec)) for spec in fields]

    def __call__(self, raw) -> ParsedInputs:
        if not isinstance(raw, Mapping):
            return parse_inputs(self.fields, raw)
        values, errors = {}, {}
        for name, spec, usual in self._specs:
            value = raw.get(name)
            if value is None:
                continue
            if usual is not None and type(value) is str:
                parsed = usual(value)
                if parsed is not _UNUSUAL:
                    values[name] = parsed
                    continue
            if _blank(value):
                continue
            try:
                values[name] = parse_value(spec, value)
            except ValueError as exc:
                errors[name] = [str(exc)]
        return ParsedInputs(values, errors)


_UNUSUAL = object()
# A plain amount `parse_money` accepts as it is: digits, at most two places, not too large.
_PLAIN_MONEY = re.compile(
    rf"[0-9]{{1,{MAX_DIGITS - MAX_PLACES}}}(?:\.[0-9]{{1,{MAX_PLACES}}})?")


def _usual_reader(spec: dict):
    """A function reading the usual string values of `spec`'s type exactly as `parse_value`
    does, answering _UNUSUAL for anything else (which then goes through `parse_value`); None
    for types without one."""
    kind = spec["type"]
    if kind == "money":
        def money(value: str):
            # Leading zeros count as digits here, not in parse_money: fewer are accepted here.
            if _PLAIN_MONEY.fullmatch(value):
                return Decimal(value).quantize(CENT)
            return _UNUSUAL
        return money
    if kind in ("text", "textarea"):
        limit = MAX_TEXT[kind]

        def text(value: str):
            stripped = value.strip()
            if (stripped and len(stripped) <= limit and "\x00" not in stripped
                    and (stripped.isascii() or _encodable(stripped))):
                return stripped
            return _UNUSUAL
        return text
    if kind == "date":
        def day(value: str):
            stripped = value.strip()
            if stripped:
                try:
                    return date.fromisoformat(stripped)
                except ValueError:
                    pass
            return _UNUSUAL
        return day
    if kind == "choice":
        allowed = frozenset(c["value"] for c in spec.get("choices", [])
                            if isinstance(c["value"], str) and not _blank(c["value"]))

        def choice(value: str):
            return value if value in allowed else _UNUSUAL
        return choice
    return None


def parse_value(spec: dict, value):
    kind = spec["type"]
    if kind == "money":
        try:
            return parse_money(value)
        except ValueError:
            raise ValueError(_(
                "Enter an amount in yuan: a number of 0 or more with at most two decimal places."
            )) from None
    if kind == "integer":
        if isinstance(value, bool):
            raise ValueError(_("Enter a whole number of 0 or more."))
        if isinstance(value, str) and _ascii_digits(value.strip()):
            value = int(value.strip())
        if not isinstance(value, int) or value < 0 or value > MAX_INTEGER:
            raise ValueError(_("Enter a whole number of 0 or more."))
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(_("Answer yes or no (true or false)."))
        return value
    if kind == "date":
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise ValueError(_("Enter a date as YYYY-MM-DD."))
    if kind == "choice":
        allowed = [c["value"] for c in spec.get("choices", [])]
        if not isinstance(value, str) or value not in allowed:
            raise ValueError(_("Choose one of: %(choices)s.") % {"choices": ", ".join(allowed)})
        return value
    if kind == "cases":
        return _parse_cases(spec, value)
    if kind == "url":
        text = _text(value, MAX_TEXT["url"])
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(_("Enter a web address starting with http:// or https://."))
        return text
    return _text(value, MAX_TEXT.get(kind, MAX_TEXT["text"]))


def _text(value, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError(_("Enter text."))
    text = value.strip()
    if "\x00" in text or not _encodable(text):
        raise ValueError(_("Enter text."))
    if len(text) > limit:
        raise ValueError(_("Enter at most %(limit)d characters.") % {"limit": limit})
    return text


def _parse_cases(spec: dict, value) -> list[dict]:
    if not isinstance(value, list):
        raise ValueError(_("Expected a list of rows."))
    if len(value) > MAX_CASES:
        raise ValueError(_("At most %(limit)d rows.") % {"limit": MAX_CASES})
    rows = []
    for index, item in enumerate(value, start=1):
        if not isinstance(item, Mapping):
            raise ValueError(_("Row %(row)d: expected an object.") % {"row": index})
        row = {}
        for item_spec in spec.get("item_fields", []):
            raw = item.get(item_spec["name"])
            if _blank(raw):
                if item_spec.get("required", True):
                    raise ValueError(_("Row %(row)d: %(field)s is required.") % {
                        "row": index, "field": item_spec["name"]})
                continue
            try:
                row[item_spec["name"]] = parse_value(item_spec, raw)
            except ValueError as exc:
                raise ValueError(_("Row %(row)d, %(field)s: %(error)s") % {
                    "row": index, "field": item_spec["name"], "error": exc}) from None
        rows.append(row)
    return rows


def _ascii_digits(text: str) -> bool:
    """Only 0-9: str.isdigit() also accepts superscripts and other scripts' digits."""
    return text.isascii() and text.isdigit()


def _encodable(text: str) -> bool:
    """False for lone surrogates, which no UTF-8 response or database can carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def dump_inputs(values: Mapping) -> dict:
    """Typed values back to JSON: money as strings with two places, dates ISO 8601."""
    return {name: _dump(value) for name, value in values.items()}


def _dump(value):
    if isinstance(value, Decimal):
        return format_money(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _dump(v) for k, v in value.items()}
    return value
