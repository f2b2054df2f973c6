"""Status changes: submission, withdrawal and screening, through the one transition table."""


from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from applications import selectors
from applications.models import (
    Application,
    Revision,
    Status,
    StatusEvent,
)
from applications.selectors import subject_key_of
from applications.services._common import _invalid, _require_editor
from applications.services.drafts import _duplicate_error, _estimate, _version_for
from applications.transitions import COMPANY, STAFF, allowed
from measures.engine import MISSING_INPUT
from measures.inputs import dump_inputs, parse_inputs
from measures.reasons import reason_message
from notices.events import Event
from notices.services import SCREENING_EVENTS, notify_status_change
from qianhai_grants.errors import DomainError
from qianhai_grants.i18n import localized


def application_transition(*, application: Application, to: str, by, role: str,
                           reason: str = "", expected_from: tuple[str, ...] | None = None
                           ) -> Application:
    """The one way a status changes: lock, check the table, write the event (DESIGN rule 3).

    `expected_from` narrows the table for one step (screening acts only on `submitted`)."""
    if to not in Status.values:
        raise _invalid({"to": [_("Unknown status.")]})
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=application.pk)
        if not allowed(locked.status, to, role) or (
                expected_from is not None and locked.status not in expected_from):
            raise DomainError("invalid_transition", _(
                "An application that is %(status)s cannot become %(to)s.") % {
                "status": Status(locked.status).label, "to": Status(to).label}, status=409)
        StatusEvent.objects.create(application=locked, by=by, from_status=locked.status,
                                   to_status=to, reason=(reason or "").strip())
        locked.status = to
        locked.save(update_fields=["status", "updated_at"])
    return locked


def application_submit(*, by, application: Application) -> Application:
    """Submit while the call is open (checked now, on the server). Every missing field, missing
    document and failing eligibility reason is reported at once; nothing changes then.

    The stored inputs are what is submitted (not what a form may hold); a draft is checked
    against the catalogue version in force now, and that version is recorded with it."""
    _require_editor(by, application.company)
    with transaction.atomic():
        locked = Application.objects.select_for_update().select_related(
            "call__measure", "measure_version").get(pk=application.pk)
        if locked.status not in (Status.DRAFT, Status.RETURNED):
            raise DomainError("invalid_transition", _(
                "An application that is %(status)s cannot be submitted.") % {
                "status": Status(locked.status).label}, status=409)
        # A first submission must fall within the call. A returned application (補正) was
        # submitted in time; staff asked for changes, so its resubmission is not bound to it.
        if locked.status == Status.DRAFT and not locked.call.is_open():
            raise DomainError("call_closed", _("The call is not open for submissions."),
                              status=409)
        version = _version_for(locked)
        parsed = parse_inputs(version.fields, locked.inputs)
        values = parsed.values
        errors: dict[str, list[str]] = dict(parsed.errors)
        for spec in version.fields:
            if spec.get("required", True) and spec["name"] not in values:
                errors.setdefault(spec["name"], [_("This field is required.")])
        present = set(locked.attachments.filter(removed_at__isnull=True)
                      .values_list("kind", flat=True))
        missing_documents = [localized(d.get("label")) or d["kind"] for d in version.documents
                             if d.get("required", True) and d["kind"] not in present]
        if missing_documents:
            errors["attachments"] = [_("Attach: %(kinds)s.") % {
                "kinds": ", ".join(missing_documents)}]
        key = subject_key_of(version, values)
        result = _estimate(version, values, measure_id=locked.call.measure_id,
                           company_id=locked.company_id, subject_key=key,
                           application_id=locked.pk)
        for name in result.missing_fields:  # needed by the engine though the form says optional
            errors.setdefault(name, [_("This field is required.")])
        failing = [code for code in result.reasons if code != MISSING_INPUT]
        if failing:
            errors["eligibility"] = [reason_message(code) for code in failing]
        if errors:
            error = DomainError("not_submittable", _(
                "The application cannot be submitted yet: see each field."), status=400,
                fields=errors)
            error.reasons = tuple(failing)
            raise error
        if key != locked.subject_key and selectors.active_duplicate_exists(
                call=locked.call, company=locked.company, subject_key=key, exclude_id=locked.pk):
            raise _duplicate_error()
        locked.inputs = dump_inputs(values)
        locked.measure_version = version
        locked.subject_key = key
        locked.revision += 1
        locked.submitted_at = timezone.now()
        locked.estimate = result.amount
        try:
            with transaction.atomic():
                locked.save(update_fields=["inputs", "measure_version", "subject_key",
                                           "revision", "submitted_at", "estimate", "updated_at"])
        except IntegrityError:
            raise _duplicate_error() from None
        Revision.objects.create(
            application=locked, number=locked.revision, inputs=locked.inputs,
            measure_version=version, submitted_at=locked.submitted_at, submitted_by=by,
            attachments=list(locked.attachments.filter(removed_at__isnull=True).values(
                "id", "kind", "original_name", "sha256")))
        submitted = application_transition(application=locked, to=Status.SUBMITTED, by=by,
                                           role=COMPANY)
        notify_status_change(event=Event.SUBMISSION_RECEIVED, application=submitted,
                             revision=submitted.revision, submitted_at=submitted.submitted_at)
        return submitted


def application_withdraw(*, by, application: Application, reason: str = "") -> Application:
    """Withdraw until the award is final; a proposed award given up frees its quota slot and its
    amount on the platform's or model's ledger, in the same transaction."""
    from reviews.services.decisions import award_release  # reviews builds on applications

    _require_editor(by, application.company)
    with transaction.atomic():
        withdrawn = application_transition(application=application, to=Status.WITHDRAWN, by=by,
                                           role=COMPANY, reason=reason)
        award_release(by=by, application=withdrawn, reason=reason)
    return withdrawn


SCREENING_OUTCOMES = (Status.ACCEPTED, Status.RETURNED, Status.REJECTED)


def application_screen(*, by, application: Application, to: str, reason: str = ""
                       ) -> Application:
    """Formal screening (形式審查) by staff: accept, return for changes (補正) or reject."""
    if not selectors.is_staff_officer(by):
        raise DomainError("forbidden", _("Only staff can screen applications."), status=403)
    if to not in SCREENING_OUTCOMES:
        raise _invalid({"to": [_("Choose accepted, returned or rejected.")]})
    if to in (Status.RETURNED, Status.REJECTED) and not (
            isinstance(reason, str) and reason.strip()):
        raise _invalid({"reason": [_("Say why, for the company.")]})
    with transaction.atomic():
        screened = application_transition(application=application, to=to, by=by, role=STAFF,
                                          reason=reason or "", expected_from=(Status.SUBMITTED,))
        notify_status_change(event=SCREENING_EVENTS[to], application=screened)
    return screened
