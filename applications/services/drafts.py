"""Drafts: creating and editing an application, its estimate and its rules version."""


from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from applications import selectors
from applications.models import (
    Application,
    Call,
    Company,
    Status,
)
from applications.selectors import subject_key_of
from applications.services._common import _invalid, _require_editor
from measures.inputs import dump_inputs, parse_inputs
from measures.selectors import version_current
from qianhai_grants.errors import DomainError


def _parse_or_400(version, inputs) -> dict:
    parsed = parse_inputs(version.fields, inputs if inputs is not None else {})
    if parsed.errors:
        raise _invalid(parsed.errors)
    return parsed.values


_UNREAD = object()  # `current_id` not given


def _estimate(version, values, *, measure_id, company_id, subject_key, application_id=None):
    return selectors.inputs_quote(version=version, values=values, measure_id=measure_id,
                                  company_id=company_id, subject_key=subject_key,
                                  application_id=application_id).result


def _version_for(application: Application, *, current_id=_UNREAD):
    """The rules an application is edited and submitted under: a draft follows the catalogue
    version in force now; once submitted, the version it was submitted under stays.

    `current_id`, when the caller read the id of the version in force with the application
    (`version_current_id_subquery`), spares reading the version again when it is the one the
    application already holds (None: no version in force)."""
    if application.status == Status.DRAFT:
        if current_id is not _UNREAD and current_id in (None, application.measure_version_id):
            return application.measure_version
        return version_current(measure=application.call.measure) or application.measure_version
    return application.measure_version





def _duplicate_error() -> DomainError:
    return DomainError("duplicate_application", _(
        "Your company already has an active application in this call for this platform or "
        "model."), status=409)


def application_create(*, by, call: Call, company: Company, inputs: dict | None = None
                       ) -> tuple[Application, object]:
    """A draft. Returns the application and the engine's estimate."""
    _require_editor(by, company)
    if call.status_at() == "closed":
        raise DomainError("call_closed", _("This call has closed."), status=409)
    version = version_current(measure=call.measure)
    if version is None or not version.is_configured:
        raise DomainError("measure_not_configured", _(
            "The Authority has not yet set the parameters of this measure."), status=409)
    values = _parse_or_400(version, inputs)
    key = subject_key_of(version, values)
    result = _estimate(version, values, measure_id=call.measure_id, company_id=company.pk,
                       subject_key=key)
    if selectors.active_duplicate_exists(call=call, company=company, subject_key=key):
        raise _duplicate_error()
    try:
        with transaction.atomic():
            application = Application.objects.create(
                call=call, company=company, measure_version=version, inputs=dump_inputs(values),
                subject_key=key, estimate=result.amount if result.eligible else None,
                created_by=by)
    except IntegrityError:
        raise _duplicate_error() from None
    return application, result


def application_update(*, by, application: Application, inputs: dict
                       ) -> tuple[Application, object]:
    """Save the form (a draft, or a returned application being corrected)."""
    _require_editor(by, application.company)
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        if not application.is_editable:
            raise DomainError("invalid_transition", _(
                "A submitted application cannot be changed unless staff return it for changes."),
                status=409)
        version = _version_for(application)
        values = _parse_or_400(version, inputs)
        key = subject_key_of(version, values)
        if selectors.active_duplicate_exists(call=application.call, company=application.company,
                                             subject_key=key, exclude_id=application.pk):
            raise _duplicate_error()
        result = _estimate(version, values, measure_id=application.call.measure_id,
                           company_id=application.company_id, subject_key=key,
                           application_id=application.pk)
        application.inputs = dump_inputs(values)
        application.measure_version = version
        application.subject_key = key
        application.estimate = result.amount if result.eligible else None
        try:
            with transaction.atomic():
                application.save()
        except IntegrityError:
            raise _duplicate_error() from None
    return application, result
