"""Reason codes and their messages in the active language (MEASURES.md, "Reason codes")."""

from django.utils.translation import gettext_lazy as _

REASON_MESSAGES = {
    "below_min_total_investment": _(
        "The project's total investment is below the minimum the measure requires."),
    "consent_missing": _("The Qianhai Authority's consent to support the build is missing."),
    "not_self_developed": _("The model must be developed by the applicant itself."),
    "not_publicly_released": _("The model must have been publicly released."),
    "too_few_market_cases": _(
        "The model has fewer market application cases than the measure requires."),
    "already_awarded_once": _("This one-time award has already been made for this model."),
    "route_not_opened": _("An eVTOL commercial route must have been opened."),
    "lead_type_not_eligible": _(
        "The centre must be led by a Fortune Global 500 company or a national innovation "
        "carrier."),
    "cumulative_cap_reached": _("The cumulative cap for this platform has been used up."),
    "requested_amount_invalid": _("The requested amount must be more than 0.00 yuan."),
    "measure_not_configured": _(
        "The Authority has not yet set the parameters of this measure."),
    "annual_quota_full": _("This year's quota of supported projects is full."),
    "missing_input": _("A required input is missing."),
}


def reason_message(code: str) -> str:
    return str(REASON_MESSAGES.get(code, code))
