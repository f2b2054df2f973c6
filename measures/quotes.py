"""The policy calculator: one quote from a measure version and raw inputs."""

from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.translation import gettext as _

from measures.engine import AwardResult, compute_award
from measures.inputs import parse_inputs
from measures.models import MeasureVersion
from measures.reasons import reason_message
from measures.trace import render_trace
from qianhai_grants.errors import DomainError
from qianhai_grants.money import ZERO, format_money, parse_money


@dataclass
class Quote:
    version: MeasureVersion
    result: AwardResult
    inputs: dict

    def as_json(self) -> dict:
        result = self.result
        return {
            "measure": self.version.measure.code,
            "eligible": result.eligible,
            "amount": format_money(result.amount),
            "currency": "CNY",
            "capped_by": result.capped_by,
            "reasons": list(result.reasons),
            "trace": render_trace(result.trace, self.version.field_labels()),
            "messages": [{"code": code, "message": reason_message(code)}
                         for code in result.reasons],
            "missing_fields": list(result.missing_fields),
            "version": self.version.number,
            "provisional": self.version.annual_quota is not None,
        }


def quote_compute(*, version: MeasureVersion, body) -> Quote:
    """Validate a calculator request body and compute the quote.

    Raises DomainError(400) naming the offending field for a body that is not an object or an
    input that is present but malformed; an absent required input is not an error but the
    reason `missing_input`.
    """
    if not isinstance(body, Mapping):
        raise DomainError("invalid", _("The request body must be a JSON object."), status=400,
                          fields={"body": [_("Expected a JSON object.")]})
    raw_inputs = body.get("inputs", {})
    if raw_inputs is None:
        raw_inputs = {}
    if not isinstance(raw_inputs, Mapping):
        raise DomainError("invalid", _("The input is not valid."), status=400,
                          fields={"inputs": [_("Expected an object of field names and values.")]})
    parsed = parse_inputs(version.fields, raw_inputs)
    errors = dict(parsed.errors)
    awarded_to_date = ZERO
    raw_awarded = body.get("awarded_to_date")
    if raw_awarded is not None and raw_awarded != "":
        try:
            awarded_to_date = parse_money(raw_awarded)
        except ValueError:
            errors["awarded_to_date"] = [_(
                "Enter an amount in yuan: a number of 0 or more with at most two decimal places."
            )]
    if errors:
        raise DomainError("invalid", _("The input is not valid."), status=400, fields=errors)
    return quote_from_values(version=version, values=parsed.values,
                             awarded_to_date=awarded_to_date)


def quote_from_values(*, version: MeasureVersion, values: dict,
                      awarded_to_date=ZERO) -> Quote:
    """Compute a quote from inputs already parsed by `measures.inputs.parse_inputs`."""
    result = compute_award(version.rules(), values, awarded_to_date=awarded_to_date)
    return Quote(version=version, result=result, inputs=values)
