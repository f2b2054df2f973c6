"""Status changes: submission, withdrawal and screening, through the one transition table."""

from contextlib import nullcontext

from django.db import IntegrityError, transaction
from django.db.models import OuterRef
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
from applications.services._common import (
    _invalid,
    _require_editor,
    _require_editor_of_members,
)
from applications.services.drafts import _duplicate_error, _estimate, _version_for
from applications.transitions import COMPANY, STAFF, allowed
from measures.engine import MISSING_INPUT
from measures.inputs import dump_inputs, parse_inputs
from measures.reasons import reason_message
from measures.selectors import version_current_id_subquery
from notices.events import Event
from notices.services import SCREENING_EVENTS, notify_status_change
from qianhai_grants.errors import DomainError
from qianhai_grants.i18n import localized


def application_transition(*, application: Application, to: str, by, role: str,
                           reason: str = "", expected_from: tuple[str, ...] | None = None,
                           locked: bool = False, save_fields: tuple[str, ...] = ()
                           ) -> Application:
    """The one way a status changes: lock, check the table, write the event (DESIGN rule 3).

    `expected_from` narrows the table for one step (screening acts only on `submitted`).
    `locked=True` says that `application` is the row the caller already locked
    (`select_for_update`) in the transaction it is in: it is not read again, and the fields
    named in `save_fields`, changed by the caller, go in the same UPDATE as the status.
    The StatusEvent written is kept on the returned instance as `transition_event` (for
    `notify_status_change`, which is keyed on it)."""
    if to not in Status.values:
        raise _invalid({"to": [_("Unknown status.")]})
    if locked and not transaction.get_connection().in_atomic_block:
        raise RuntimeError("locked=True needs the caller's transaction, which holds the lock")
    with nullcontext() if locked else transaction.atomic():
        if not locked:
            # The application's row only (`of`): a plain FOR UPDATE would lock the joined
            # call, measure and company rows too, and queue every decision of the call.
            application = (Application.objects.select_for_update(of=("self",))
                           .select_related("call__measure", "company").get(pk=application.pk))
        if not allowed(application.status, to, role) or (
                expected_from is not None and application.status not in expected_from):
            raise DomainError("invalid_transition", _(
                "An application that is %(status)s cannot become %(to)s.") % {
                "status": Status(application.status).label, "to": Status(to).label}, status=409)
        event = StatusEvent.objects.create(application=application, by=by,
                                           from_status=application.status, to_status=to,
                                           reason=(reason or "").strip())
        application.status = to
        application.save(update_fields=["status", "updated_at", *save_fields])
        application.transition_event = event
    return application


def application_submit(*, by, application: Application) -> Application:
    """Submit while the call is open (checked now, on the server). Every missing field, missing
    document and failing eligibility reason is reported at once; nothing changes then.

    The stored inputs are what is submitted (not what a form may hold); a draft is checked
    against the catalogue version in force now, and that version is recorded with it."""
    # Read once: who may submit, and who hears of the receipt.
    members = _require_editor_of_members(by, application.company)
    with transaction.atomic():
        # The application's row only (`of`): its call, measure and company are read with it,
        # not locked (a plain FOR UPDATE would queue every submission to the call).
        locked = (Application.objects.select_for_update(of=("self",))
                  .select_related("call__measure", "company", "measure_version")
                  .annotate(current_version_id=version_current_id_subquery(
                      measure_id=OuterRef("call__measure_id")))
                  .get(pk=application.pk))
        if locked.status not in (Status.DRAFT, Status.RETURNED):
            raise DomainError("invalid_transition", _(
                "An application that is %(status)s cannot be submitted.") % {
                "status": Status(locked.status).label}, status=409)
        # A first submission must fall within the call. A returned application (補正) was
        # submitted in time; staff asked for changes, so its resubmission is not bound to it.
        if locked.status == Status.DRAFT and not locked.call.is_open():
            raise DomainError("call_closed", _("The call is not open for submissions."),
                              status=409)
        version = _version_for(locked, current_id=locked.current_version_id)
        parsed = parse_inputs(version.fields, locked.inputs)
        values = parsed.values
        errors: dict[str, list[str]] = dict(parsed.errors)
        for spec in version.fields:
            if spec.get("required", True) and spec["name"] not in values:
                errors.setdefault(spec["name"], [_("This field is required.")])
        # Read once: checked here, recorded with the revision below (the application's lock
        # keeps them as they are: attachments are added and removed under it).
        attachments = list(locked.attachments.filter(removed_at__isnull=True).values(
            "id", "kind", "original_name", "sha256"))
        present = {attachment["kind"] for attachment in attachments}
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
        Revision.objects.create(
            application=locked, number=locked.revision, inputs=locked.inputs,
            measure_version=version, submitted_at=locked.submitted_at, submitted_by=by,
            attachments=attachments)
        try:
            # The new values and the status in one UPDATE, under the lock already held.
            submitted = application_transition(
                application=locked, to=Status.SUBMITTED, by=by, role=COMPANY, locked=True,
                save_fields=("inputs", "measure_version", "subject_key", "revision",
                             "submitted_at", "estimate"))
        except IntegrityError:
            # The one active application per company, call and subject (a concurrent draft
            # took the key). No savepoint: the error leaves this transaction, which rolls back.
            raise _duplicate_error() from None
        notify_status_change(event=Event.SUBMISSION_RECEIVED, application=submitted,
                             recipients=members, revision=submitted.revision,
                             submitted_at=submitted.submitted_at)
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
