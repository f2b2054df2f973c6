"""The award engine: pure functions from a measure's rules and an applicant's inputs to an award.

No ORM and no settings here (DESIGN rule 4): dataclasses in, an `AwardResult` out, so the engine is
tested by tables and by hypothesis. Nothing branches on a measure's code; a measure's behaviour is
its award kind, its parameters and its eligibility conditions, all of them data.

Money is `Decimal`; the amount is rounded once, half-up to 0.01, at the end (MEASURES.md, reading
rules). The trace is a list of `TraceStep`s: language-neutral facts with their numbers, rendered
for a reader by `measures.trace.render_trace` in the reader's language.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any

from qianhai_grants.money import ZERO, round_money

PERCENT_OF_BASE = "percent_of_base"
FIXED = "fixed"
UP_TO_CAP = "up_to_cap"
CONFIGURED = "configured"
NONE = "none"
AWARD_KINDS = (PERCENT_OF_BASE, FIXED, UP_TO_CAP, CONFIGURED, NONE)

# Reason codes (MEASURES.md, "Reason codes"): stable and machine-readable.
MISSING_INPUT = "missing_input"
MEASURE_NOT_CONFIGURED = "measure_not_configured"
REQUESTED_AMOUNT_INVALID = "requested_amount_invalid"
CUMULATIVE_CAP_REACHED = "cumulative_cap_reached"
ALREADY_AWARDED_ONCE = "already_awarded_once"
ANNUAL_QUOTA_FULL = "annual_quota_full"

# What limited an amount (MEASURES.md, `capped_by`).
CAPPED_BY_CAP = "cap"
CAPPED_BY_CUMULATIVE_CAP = "cumulative_cap"
CAPPED_BY_REQUESTED_AMOUNT = "requested_amount"

OPERATORS = ("present", "is_true", "gte", "gt", "lte", "lt", "eq", "in", "min_items")


@dataclass(frozen=True)
class Condition:
    """One eligibility condition: `field op value`, failing with `reason`."""

    field: str
    op: str
    reason: str
    value: Any = None

    def __post_init__(self):
        if self.op not in OPERATORS:
            raise ValueError(f"unknown condition operator {self.op!r}")


@dataclass(frozen=True)
class AwardRules:
    """What the engine needs of one catalogue version of a measure."""

    award_kind: str
    rate: Decimal | None = None
    base_field: str | None = None
    per_award_cap: Decimal | None = None
    requested_field: str | None = None
    cumulative_cap: Decimal | None = None
    fixed_amount: Decimal | None = None
    once_per: str | None = None
    annual_quota: int | None = None
    conditions: tuple[Condition, ...] = ()

    def __post_init__(self):
        if self.award_kind not in AWARD_KINDS:
            raise ValueError(f"unknown award kind {self.award_kind!r}")

    # Both read once per rules, not once per award (cached: the rules are frozen).
    @cached_property
    def needed_fields(self) -> tuple[str, ...]:
        """The inputs an award cannot be computed without; absent, they are `missing_input`.

        A form may ask for more (names, dates); those are checked when an application is
        submitted, not by the engine. A `present` condition reports its own reason instead.
        """
        names = [self.base_field if self.award_kind == PERCENT_OF_BASE else None,
                 self.requested_field if self.award_kind == UP_TO_CAP else None,
                 *(c.field for c in self.conditions if c.op != "present")]
        return tuple(dict.fromkeys(n for n in names if n))

    @cached_property
    def is_configured(self) -> bool:
        """A measure whose parameters staff have not yet set cannot be quoted or applied for."""
        if self.award_kind == CONFIGURED:
            return False
        if self.award_kind == PERCENT_OF_BASE:
            return self.rate is not None and bool(self.base_field)
        if self.award_kind == FIXED:
            return self.fixed_amount is not None
        if self.award_kind == UP_TO_CAP:
            return self.per_award_cap is not None and bool(self.requested_field)
        return True


@dataclass(frozen=True)
class TraceStep:
    """One step of a computation: what was done (`step`) and with which numbers (`data`)."""

    step: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        shown = {"step": self.step}
        for key, value in self.data.items():
            kind = type(value)  # the common cases first: a step's numbers, its plain values
            if kind is Decimal:
                shown[key] = f"{value:f}"
            elif kind in _AS_IS:
                shown[key] = value
            else:
                shown[key] = _jsonable(value)
        return shown


@dataclass(frozen=True)
class AwardResult:
    eligible: bool
    amount: Decimal
    capped_by: str | None
    reasons: tuple[str, ...]
    trace: tuple[TraceStep, ...]
    missing_fields: tuple[str, ...] = ()


def compute_award(
    rules: AwardRules,
    inputs: Mapping[str, Any],
    *,
    awarded_to_date: Decimal = ZERO,
    quota_used: int | None = None,
) -> AwardResult:
    """Compute one award.

    `inputs` are the form's values already parsed to Python types (money as Decimal, booleans as
    bool, lists as lists). `awarded_to_date` is what the same platform or model already received:
    it bounds cumulative caps and refuses a second one-time award. `quota_used` is how many awards
    the measure already holds in the funding year, when known.
    """
    trace: list[TraceStep] = []
    if not rules.is_configured:
        trace.append(TraceStep("not_configured"))
        return _refused(trace, [MEASURE_NOT_CONFIGURED])

    reasons: list[str] = []
    missing = tuple(name for name in rules.needed_fields if _is_blank(inputs.get(name)))
    for name in missing:
        trace.append(TraceStep("missing", {"field": name}))
    if missing:
        reasons.append(MISSING_INPUT)

    for condition in rules.conditions:
        actual = inputs.get(condition.field)
        if condition.op != "present" and _is_blank(actual):
            continue  # an absent input is reported once, as missing_input
        holds = _holds(condition, actual)
        trace.append(TraceStep("condition", {
            "field": condition.field, "op": condition.op, "value": condition.value,
            "actual": _shown(actual), "holds": holds, "reason": condition.reason,
        }))
        if not holds:
            _add(reasons, condition.reason)

    if rules.once_per and awarded_to_date > 0:
        trace.append(TraceStep("once_per", {"subject": rules.once_per,
                                            "awarded_to_date": awarded_to_date}))
        _add(reasons, ALREADY_AWARDED_ONCE)

    room = None
    if rules.cumulative_cap is not None:
        room = rules.cumulative_cap - awarded_to_date
        trace.append(TraceStep("cumulative_room", {
            "cumulative_cap": rules.cumulative_cap, "awarded_to_date": awarded_to_date,
            "room": max(room, ZERO),
        }))
        if room <= 0:
            _add(reasons, CUMULATIVE_CAP_REACHED)

    requested = None
    if rules.award_kind == UP_TO_CAP:
        requested = inputs.get(rules.requested_field)
        if not _is_blank(requested) and not requested > 0:
            trace.append(TraceStep("requested_invalid", {"requested": requested}))
            _add(reasons, REQUESTED_AMOUNT_INVALID)

    if rules.annual_quota is not None and quota_used is not None:
        full = quota_used >= rules.annual_quota
        trace.append(TraceStep("annual_quota", {"quota": rules.annual_quota, "used": quota_used,
                                                "holds": not full}))
        if full:
            _add(reasons, ANNUAL_QUOTA_FULL)

    if reasons:
        return _refused(trace, reasons, missing)

    amount, capped_by = _amount(rules, inputs, requested, room, trace)
    final = round_money(amount)
    trace.append(TraceStep("round", {"before": amount, "after": final}))
    return AwardResult(True, final, capped_by, (), tuple(trace), ())


def _amount(rules, inputs, requested, room, trace) -> tuple[Decimal, str | None]:
    capped_by = None
    if rules.award_kind == PERCENT_OF_BASE:
        base = inputs[rules.base_field]
        amount = rules.rate * base
        trace.append(TraceStep("percent", {"rate": rules.rate, "base_field": rules.base_field,
                                           "base": base, "result": amount}))
    elif rules.award_kind == FIXED:
        amount = rules.fixed_amount
        trace.append(TraceStep("fixed", {"amount": amount}))
    elif rules.award_kind == UP_TO_CAP:
        amount = requested
        trace.append(TraceStep("requested", {"field": rules.requested_field,
                                             "requested": requested}))
        capped_by = CAPPED_BY_REQUESTED_AMOUNT
    else:  # NONE: a recognition without money
        amount = ZERO
        trace.append(TraceStep("no_cash"))

    if rules.per_award_cap is not None and amount > rules.per_award_cap:
        trace.append(TraceStep("cap", {"cap": rules.per_award_cap, "before": amount}))
        amount, capped_by = rules.per_award_cap, CAPPED_BY_CAP
    if room is not None and amount > room:
        trace.append(TraceStep("cumulative_cap", {"room": room, "before": amount}))
        amount, capped_by = room, CAPPED_BY_CUMULATIVE_CAP
    return amount, capped_by


def _refused(trace, reasons, missing=()) -> AwardResult:
    trace.append(TraceStep("ineligible", {"reasons": list(reasons)}))
    return AwardResult(False, ZERO, None, tuple(reasons), tuple(trace), tuple(missing))


def _add(reasons: list[str], code: str) -> None:
    if code not in reasons:
        reasons.append(code)


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _holds(condition: Condition, actual) -> bool:
    op, expected = condition.op, condition.value
    if op == "present":
        return not _is_blank(actual)
    if op == "is_true":
        return actual is True
    if op == "in":
        return actual in (expected or ())
    if op == "min_items":
        return isinstance(actual, Sequence) and len(actual) >= int(expected)
    if op == "eq" and isinstance(actual, str) and isinstance(expected, str) and (
            _comparable(actual) is None or _comparable(expected) is None):
        return actual == expected  # a choice or text compared as text
    left, right = _comparable(actual), _comparable(expected)
    if left is None or right is None or isinstance(left, date) != isinstance(right, date):
        return False  # unlike things (a date and a number) never satisfy a comparison
    return _COMPARE[op](left, right)


_COMPARE = {
    "gte": lambda a, b: a >= b, "gt": lambda a, b: a > b, "lte": lambda a, b: a <= b,
    "lt": lambda a, b: a < b, "eq": lambda a, b: a == b,
}


def _comparable(value):
    """A number or a date to compare, or None. Dates given as ISO text compare as dates."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal, date)):
        return value
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except ArithmeticError:
            try:
                return date.fromisoformat(value)
            except ValueError:
                return None
        return number if number.is_finite() else None
    return None


def _shown(value):
    """What a trace shows of an input: lists by their length."""
    if isinstance(value, (list, tuple)):
        return len(value)
    return value


_AS_IS = frozenset((str, int, bool, type(None)))  # what _jsonable gives back unchanged


def _jsonable(value):
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
