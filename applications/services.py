"""Every write of the company portal (DESIGN rules 1 and 2)."""

from datetime import datetime

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from applications import registration, selectors, uploads
from applications.models import (
    Application,
    Attachment,
    Call,
    Company,
    Invitation,
    Language,
    MemberRole,
    Membership,
    Profile,
    RegistrationType,
    Revision,
    Status,
    StatusEvent,
)
from applications.selectors import subject_key_of
from applications.transitions import COMPANY, STAFF, allowed
from measures.engine import MISSING_INPUT
from measures.inputs import dump_inputs, parse_inputs
from measures.models import Measure
from measures.reasons import reason_message
from measures.selectors import version_current
from qianhai_grants.errors import DomainError
from qianhai_grants.i18n import localized
from qianhai_grants.roles import COMPANY as COMPANY_ROLE

User = get_user_model()


def _invalid(fields: dict, message=None) -> DomainError:
    return DomainError("invalid", message or _("The input is not valid."), status=400,
                       fields=fields)


# ---------------------------------------------------------------- accounts

def user_register(*, email: str, password: str, preferred_language: str = Language.ZH_HANS):
    """A company user's account; the email is the username. Invitations to that email are
    accepted once it is confirmed (email_confirm)."""
    email = email.strip().lower() if isinstance(email, str) else ""
    password = password if isinstance(password, str) else ""
    errors: dict[str, list[str]] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter a valid email address.")]
    if len(email) > 150:  # the email is the username, which holds 150 characters
        errors["email"] = [_("Enter at most 150 characters.")]
    if preferred_language not in Language.values:
        errors["preferred_language"] = [_("Choose zh-hans, zh-hant or en.")]
    if not errors.get("email") and User.objects.filter(username__iexact=email).exists():
        errors["email"] = [_("An account with this email already exists.")]
    try:
        password_validation.validate_password(password, User(username=email, email=email))
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise _invalid(errors)
    with transaction.atomic():
        try:
            user = User.objects.create_user(username=email, email=email, password=password)
        except IntegrityError:
            raise _invalid({"email": [_("An account with this email already exists.")]}) from None
        Profile.objects.create(user=user, preferred_language=preferred_language)
        user.groups.add(Group.objects.get_or_create(name=COMPANY_ROLE)[0])
        # Invitations wait for the confirmed email: whoever registers an address does not
        # yet prove they own it.
    return user


def profile_of(user) -> Profile:
    return Profile.objects.get_or_create(user=user)[0]


def profile_update(*, user, preferred_language: str) -> Profile:
    if preferred_language not in Language.values:
        raise _invalid({"preferred_language": [_("Choose zh-hans, zh-hant or en.")]})
    profile = profile_of(user)
    profile.preferred_language = preferred_language
    profile.save(update_fields=["preferred_language"])
    return profile


def email_confirm(*, user) -> None:
    """The user proved they own their email: mark it and accept the invitations sent to it."""
    with transaction.atomic():
        Profile.objects.filter(user=user, email_confirmed_at__isnull=True).update(
            email_confirmed_at=timezone.now())
        invitations_accept(user=user)


def invitations_accept(*, user) -> int:
    """Turn the pending invitations for the user's email into memberships."""
    if not user.email:
        return 0
    count = 0
    with transaction.atomic():  # select_for_update needs a transaction of its own when alone
        pending = Invitation.objects.select_for_update().filter(email__iexact=user.email,
                                                                accepted_at__isnull=True)
        for invitation in pending:
            Membership.objects.get_or_create(company=invitation.company, user=user,
                                             defaults={"role": invitation.role})
            invitation.accepted_at = timezone.now()
            invitation.save(update_fields=["accepted_at"])
            count += 1
    return count


# ---------------------------------------------------------------- companies

def _text_field(value, name, errors, *, limit: int, required: bool = False) -> None:
    """A text input: a string (or absent) of at most `limit` characters (the column's size)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.setdefault(name, []).append(_("This field is required."))
    elif not isinstance(value, str) or "\x00" in value:
        errors.setdefault(name, []).append(_("Enter text."))
    elif len(value.strip()) > limit:
        errors.setdefault(name, []).append(
            _("Enter at most %(limit)d characters.") % {"limit": limit})


def company_validate(*, name, registration_type, registration_number, name_en="",
                     contact_name="", contact_phone="", contact_email="") -> tuple[str, dict]:
    """The normalised registration number and the errors per field (empty when valid)."""
    errors: dict[str, list[str]] = {}
    _text_field(name, "name", errors, limit=200, required=True)
    _text_field(name_en, "name_en", errors, limit=200)
    _text_field(contact_name, "contact_name", errors, limit=100)
    _text_field(contact_phone, "contact_phone", errors, limit=40)
    _text_field(contact_email, "contact_email", errors, limit=254)
    if isinstance(contact_email, str) and contact_email.strip() and "contact_email" not in errors:
        try:
            validate_email(contact_email.strip())
        except ValidationError:
            errors["contact_email"] = [_("Enter a valid email address.")]
    number = (registration.normalize(registration_number)
              if isinstance(registration_number, str) else "")
    if registration_type not in RegistrationType.values:
        errors["registration_type"] = [_("Choose mainland, hong_kong or other.")]
    elif not number:
        errors["registration_number"] = [_("This field is required.")]
    elif registration_type == RegistrationType.MAINLAND and not registration.uscc_is_valid(number):
        errors["registration_number"] = [_(
            "Enter the 18-character Unified Social Credit Code; its last character does not "
            "match the check character.")]
    elif registration_type == RegistrationType.HONG_KONG and not registration.hk_br_is_valid(
            number):
        errors["registration_number"] = [_("Enter the 8-digit Business Registration number.")]
    elif len(number) > 32:
        errors["registration_number"] = [_("Enter at most 32 characters.")]
    elif registration_type == RegistrationType.OTHER and registration.uscc_is_valid(number):
        # Else one USCC could be claimed twice: once as mainland and once as "other".
        errors["registration_type"] = [_(
            "This is a Unified Social Credit Code: choose mainland.")]
    return number, errors


def company_create(*, by, name: str, registration_type: str, registration_number: str,
                   name_en: str = "", in_qianhai: bool = False, contact_name: str = "",
                   contact_phone: str = "", contact_email: str = "") -> Company:
    """Register a company; its creator becomes the owner. A number is claimed only once."""
    number, errors = company_validate(
        name=name, registration_type=registration_type, registration_number=registration_number,
        name_en=name_en, contact_name=contact_name, contact_phone=contact_phone,
        contact_email=contact_email)
    if not errors and selectors.company_number_taken(registration_type=registration_type,
                                                     registration_number=number):
        errors["registration_number"] = [_("This registration number is already registered.")]
    if errors:
        raise _invalid(errors)
    try:
        with transaction.atomic():
            company = Company.objects.create(
                name=name.strip(), name_en=(name_en or "").strip(),
                registration_type=registration_type, registration_number=number,
                in_qianhai=bool(in_qianhai), contact_name=(contact_name or "").strip(),
                contact_phone=(contact_phone or "").strip(),
                contact_email=(contact_email or "").strip(), created_by=by)
            Membership.objects.create(company=company, user=by, role=MemberRole.OWNER)
    except IntegrityError:  # the same number claimed at the same moment: the unique constraint
        raise _invalid({"registration_number": [
            _("This registration number is already registered.")]}) from None
    return company


def member_invite(*, company: Company, by, email: str, role: str) -> Invitation | Membership:
    """The owner invites a colleague as editor or viewer. An existing account becomes a member
    at once; an unknown email gets an invitation, accepted when that person registers."""
    owner = selectors.membership_of(by, company)
    if owner is None:  # not the user's company: it is not visible (DESIGN rule 6)
        raise DomainError("not_found", _("Not found."), status=404)
    if owner.role != MemberRole.OWNER:
        raise DomainError("forbidden", _("Only the company's owner can invite colleagues."),
                          status=403)
    email = email.strip().lower() if isinstance(email, str) else ""
    errors = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter a valid email address.")]
    if role not in (MemberRole.EDITOR, MemberRole.VIEWER):
        errors["role"] = [_("Choose editor or viewer.")]
    if errors:
        raise _invalid(errors)
    with transaction.atomic():
        user = User.objects.filter(username__iexact=email).first()
        if user is not None:
            membership, created = Membership.objects.get_or_create(
                company=company, user=user, defaults={"role": role})
            if not created and membership.role != MemberRole.OWNER:
                membership.role = role
                membership.save(update_fields=["role"])
            return membership
        invitation, _created = Invitation.objects.update_or_create(
            company=company, email=email, accepted_at=None,
            defaults={"role": role, "invited_by": by})
        return invitation


# ---------------------------------------------------------------- calls

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


# ---------------------------------------------------------------- applications

def _parse_or_400(version, inputs) -> dict:
    parsed = parse_inputs(version.fields, inputs if inputs is not None else {})
    if parsed.errors:
        raise _invalid(parsed.errors)
    return parsed.values


def _estimate(version, values, *, measure_id, company_id, subject_key, application_id=None):
    return selectors.inputs_quote(version=version, values=values, measure_id=measure_id,
                                  company_id=company_id, subject_key=subject_key,
                                  application_id=application_id).result


def _version_for(application: Application):
    """The rules an application is edited and submitted under: a draft follows the catalogue
    version in force now; once submitted, the version it was submitted under stays."""
    if application.status == Status.DRAFT:
        return version_current(measure=application.call.measure) or application.measure_version
    return application.measure_version


def _require_editor(user, company):
    if not selectors.can_edit_for(user, company):
        if selectors.membership_of(user, company) is None:
            raise DomainError("not_found", _("Not found."), status=404)
        raise DomainError("forbidden", _("Viewers cannot change applications."), status=403)


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


def _not_editable_documents() -> DomainError:
    return DomainError("invalid_transition", _(
        "Documents can be changed only while the application is a draft or returned."),
        status=409)


def attachment_add(*, by, application: Application, kind: str, upload) -> Attachment:
    """Attach a document: refused unless its bytes are PDF, JPEG, PNG, DOCX or XLSX, at most
    20 MB. Stored under a random name outside every served folder."""
    _require_editor(by, application.company)
    if not application.is_editable:
        raise _not_editable_documents()
    kinds = {d["kind"] for d in _version_for(application).documents}
    errors = {}
    if not isinstance(kind, str) or kind not in kinds:
        errors["kind"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(sorted(kinds))}]
    size = getattr(upload, "size", None)
    if upload is None:
        errors["file"] = [_("Choose a file.")]
    elif size is None or size > uploads.MAX_UPLOAD_BYTES:
        errors["file"] = [_("The file is larger than 20 MB.")]
    elif size == 0:
        errors["file"] = [_("The file is empty.")]
    file_type = None if errors.get("file") else uploads.sniff(upload)
    if not errors.get("file") and file_type is None:
        errors["file"] = [_("Only PDF, JPEG, PNG, DOCX and XLSX files are accepted; this file's "
                            "content is none of them.")]
    if errors:
        raise _invalid(errors)
    sha256 = uploads.digest(upload)
    storage = uploads.private_storage()
    stored = None
    try:
        with transaction.atomic():
            # Locked, so a document cannot slip in while the application is being submitted.
            locked = Application.objects.select_for_update().get(pk=application.pk)
            if not locked.is_editable:
                raise _not_editable_documents()
            stored = storage.save(uploads.new_stored_name(file_type), upload)
            return Attachment.objects.create(
                application=locked, kind=kind,
                original_name=uploads.sanitize_name(getattr(upload, "name", None) or "",
                                                    file_type),
                stored_name=stored, content_type=file_type.content_type, size=size,
                sha256=sha256, uploaded_by=by)
    except BaseException:
        if stored is not None:
            storage.delete(stored)  # nothing half-written: no file without its row
        raise


def attachment_remove(*, by, attachment: Attachment) -> None:
    _require_editor(by, attachment.application.company)
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=attachment.application_id)
        if not locked.is_editable:
            raise _not_editable_documents()
        Attachment.objects.filter(pk=attachment.pk, removed_at__isnull=True).update(
            removed_at=timezone.now())


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
        return application_transition(application=locked, to=Status.SUBMITTED, by=by,
                                      role=COMPANY)


def application_withdraw(*, by, application: Application, reason: str = "") -> Application:
    _require_editor(by, application.company)
    return application_transition(application=application, to=Status.WITHDRAWN, by=by,
                                  role=COMPANY, reason=reason)


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
    return application_transition(application=application, to=to, by=by, role=STAFF,
                                  reason=reason or "", expected_from=(Status.SUBMITTED,))
