"""Calls for applications."""

from datetime import datetime

from django.utils.translation import gettext as _

from applications import selectors
from applications.models import (
    Call,
)
from applications.services._common import _invalid
from measures.models import Measure
from measures.selectors import version_current
from qianhai_grants.errors import DomainError


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def call_validate(*, measure: Measure | None, funding_year, opens_at, closes_at,
                  reviewers_per_application=3) -> dict[str, list[str]]:
    """The errors per field of a call about to be opened (empty when valid)."""
    errors: dict[str, list[str]] = {}
    version = version_current(measure=measure) if isinstance(measure, Measure) else None
    if not isinstance(measure, Measure):
        errors["measure"] = [_("This field is required.")]
    elif version is None or not version.is_configured:
        errors["measure"] = [_("The Authority has not yet set the parameters of this measure.")]
    if not _whole(funding_year) or not 2024 <= funding_year <= 2100:
        errors["funding_year"] = [_("Enter a year from 2024 to 2100.")]
    for name, value in (("opens_at", opens_at), ("closes_at", closes_at)):
        if not isinstance(value, datetime):
            errors[name] = [_("Enter a date and time.")]
        elif not 2000 <= value.year <= 2100:
            # A call of the year 400 is a typing slip, and its times could not even be written
            # back: before 1901 Asia/Shanghai's offset is local mean time, +08:05:43.
            errors[name] = [_("Enter a date from 2000 to 2100.")]
    if "opens_at" not in errors and "closes_at" not in errors and closes_at <= opens_at:
        errors["closes_at"] = [_("The call must close after it opens.")]
    if not _whole(reviewers_per_application) or not 1 <= reviewers_per_application <= 15:
        errors["reviewers_per_application"] = [_("Enter a number from 1 to 15.")]
    return errors


def call_open(*, by, measure: Measure, funding_year: int, opens_at: datetime,
              closes_at: datetime, reviewers_per_application: int = 3,
              trimmed_mean: bool = False) -> Call:
    """Staff open a call for a measure whose parameters are configured."""
    if not selectors.is_staff_officer(by):
        raise DomainError("forbidden", _("Only staff can open calls."), status=403)
    errors = call_validate(measure=measure, funding_year=funding_year, opens_at=opens_at,
                           closes_at=closes_at,
                           reviewers_per_application=reviewers_per_application)
    if errors:
        raise _invalid(errors)
    return Call.objects.create(measure=measure, funding_year=funding_year, opens_at=opens_at,
                               closes_at=closes_at,
                               reviewers_per_application=reviewers_per_application,
                               trimmed_mean=bool(trimmed_mean), created_by=by)
