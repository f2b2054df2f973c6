"""Render the engine's trace for a reader, in the active language."""

from decimal import Decimal

from django.utils.translation import gettext as _

from measures.reasons import reason_message


def _pct(rate) -> str:
    value = (Decimal(str(rate)) * 100).normalize()
    return f"{value:f}%"


def _m(value) -> str:
    return f"{Decimal(str(value)):.2f}"


def _exact(value) -> str:
    """An intermediate amount, unrounded: at least two places, no trailing zeros beyond."""
    amount = Decimal(str(value))
    if amount == amount.quantize(Decimal("0.01")):
        return f"{amount.quantize(Decimal('0.01')):f}"
    return f"{amount.normalize():f}"


def render_step(step: dict, labels: dict[str, str] | None = None) -> str:
    """One trace step as a sentence. `labels` maps field names to their labels."""
    labels = labels or {}
    kind = step["step"]

    def label(name):
        return labels.get(name, name)

    if kind == "percent":
        return _("%(rate)s x %(base)s = %(result)s (%(field)s)") % {
            "rate": _pct(step["rate"]), "base": _m(step["base"]),
            "result": _exact(step["result"]), "field": label(step["base_field"]),
        }
    if kind == "fixed":
        return _("Fixed award: %(amount)s") % {"amount": _m(step["amount"])}
    if kind == "requested":
        return _("Requested amount (%(field)s): %(requested)s") % {
            "field": label(step["field"]), "requested": _m(step["requested"])}
    if kind == "requested_invalid":
        return _("The requested amount %(requested)s must be more than 0.00") % {
            "requested": _m(step["requested"])}
    if kind == "cap":
        return _("%(before)s is above the cap of %(cap)s: limited to %(cap)s") % {
            "before": _exact(step["before"]), "cap": _m(step["cap"])}
    if kind == "cumulative_room":
        return _("Cumulative cap %(cap)s - already awarded %(awarded)s = room %(room)s") % {
            "cap": _m(step["cumulative_cap"]), "awarded": _m(step["awarded_to_date"]),
            "room": _m(step["room"])}
    if kind == "cumulative_cap":
        return _("%(before)s is above the remaining cumulative room: limited to %(room)s") % {
            "before": _exact(step["before"]), "room": _m(step["room"])}
    if kind == "once_per":
        return _("A one-time award was already made (%(awarded)s)") % {
            "awarded": _m(step["awarded_to_date"])}
    if kind == "annual_quota":
        return _("Annual quota: %(used)s of %(quota)s used") % {
            "used": step["used"], "quota": step["quota"]}
    if kind == "condition":
        verdict = _("met") if step["holds"] else _("not met")
        return _("Condition %(field)s %(op)s %(value)s: %(actual)s, %(verdict)s") % {
            "field": label(step["field"]), "op": _op(step["op"]),
            "value": _value(step.get("value")), "actual": _value(step.get("actual")),
            "verdict": verdict,
        }
    if kind == "missing":
        return _("Missing input: %(field)s") % {"field": label(step["field"])}
    if kind == "round":
        return _("Rounded half-up to the cent: %(after)s") % {"after": _m(step["after"])}
    if kind == "no_cash":
        return _("This measure is a recognition without a cash award")
    if kind == "not_configured":
        return reason_message("measure_not_configured")
    if kind == "decided":
        return _("Amount set at the decision: %(amount)s (computed: %(before)s)") % {
            "amount": _m(step["amount"]), "before": _m(step["before"])}
    if kind == "ineligible":
        return _("Not eligible: %(reasons)s") % {
            "reasons": "; ".join(reason_message(code) for code in step["reasons"])}
    return kind


def render_trace(steps, labels: dict[str, str] | None = None) -> list[str]:
    return [render_step(s if isinstance(s, dict) else s.as_dict(), labels) for s in steps]


def _op(op: str) -> str:
    return {
        "present": _("is given"), "is_true": _("is yes"), "gte": "≥", "gt": ">", "lte": "≤",
        "lt": "<", "eq": "=", "in": _("is one of"), "min_items": _("has at least"),
    }.get(op, op)


def _value(value) -> str:
    if value is None:
        return ""
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
