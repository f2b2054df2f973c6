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
from applications.transitions import COMPANY, STAFF, allowed
from measures.engine import compute_award
from measures.inputs import dump_inputs, parse_inputs
from measures.models import Measure
from measures.selectors import version_current
from qianhai_grants.errors import DomainError
from qianhai_grants.roles import COMPANY as COMPANY_ROLE

User = get_user_model()


def _invalid(fields: dict, message=None) -> DomainError:
    return DomainError("invalid", message or _("The input is not valid."), status=400,
                       fields=fields)


def _required(value, name, errors):
    if value is None or (isinstance(value, str) and not value.strip()):
        errors.setdefault(name, []).append(_("This field is required."))


# ---------------------------------------------------------------- accounts

def user_register(*, email: str, password: str, preferred_language: str = Language.ZH_HANS):
    """A company user's account; the email is the username. Pending invitations are accepted."""
    email = (email or "").strip().lower()
    errors: dict[str, list[str]] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter a valid email address.")]
    if preferred_language not in Language.values:
        errors["preferred_language"] = [_("Choose zh-hans, zh-hant or en.")]
    if not errors.get("email") and User.objects.filter(username__iexact=email).exists():
        errors["email"] = [_("An account with this email already exists.")]
    try:
        password_validation.validate_password(password or "", User(username=email, email=email))
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
        invitations_accept(user=user)
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
    Profile.objects.filter(user=user, email_confirmed_at__isnull=True).update(
        email_confirmed_at=timezone.now())


def invitations_accept(*, user) -> int:
    pending = Invitation.objects.select_for_update().filter(email__iexact=user.email,
                                                            accepted_at__isnull=True)
    count = 0
    for invitation in pending:
        Membership.objects.get_or_create(company=invitation.company, user=user,
                                         defaults={"role": invitation.role})
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        count += 1
    return count


# ---------------------------------------------------------------- companies

def company_validate(*, name, registration_type, registration_number) -> tuple[str, dict]:
    errors: dict[str, list[str]] = {}
    _required(name, "name", errors)
    number = registration.normalize(registration_number or "")
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
    return number, errors


def company_create(*, by, name: str, registration_type: str, registration_number: str,
                   name_en: str = "", in_qianhai: bool = False, contact_name: str = "",
                   contact_phone: str = "", contact_email: str = "") -> Company:
    """Register a company; its creator becomes the owner. A number is claimed only once."""
    number, errors = company_validate(name=name, registration_type=registration_type,
                                      registration_number=registration_number)
    if not errors and Company.objects.filter(registration_type=registration_type,
                                             registration_number=number).exists():
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
    except IntegrityError:  # the same number claimed at the same moment
        raise _invalid({"registration_number": [
            _("This registration number is already registered.")]}) from None
    return company


def member_invite(*, company: Company, by, email: str, role: str) -> Invitation | Membership:
    """The owner invites a colleague as editor or viewer."""
    owner = selectors.membership_of(by, company)
    if owner is None or owner.role != MemberRole.OWNER:
        raise DomainError("forbidden", _("Only the company's owner can invite colleagues."),
                          status=403)
    email = (email or "").strip().lower()
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

def call_open(*, by, measure: Measure, funding_year: int, opens_at: datetime,
              closes_at: datetime, reviewers_per_application: int = 3,
              trimmed_mean: bool = False) -> Call:
    """Staff open a call for a measure whose parameters are configured."""
    if not selectors.is_staff_officer(by):
        raise DomainError("forbidden", _("Only staff can open calls."), status=403)
    errors: dict[str, list[str]] = {}
    version = version_current(measure=measure)
    if version is None or not version.is_configured:
        errors["measure"] = [_("The Authority has not yet set the parameters of this measure.")]
    if not isinstance(funding_year, int) or not 2024 <= funding_year <= 2100:
        errors["funding_year"] = [_("Enter a year from 2024.")]
    if opens_at and closes_at and closes_at <= opens_at:
        errors["closes_at"] = [_("The call must close after it opens.")]
    if not isinstance(reviewers_per_application, int) or not 1 <= reviewers_per_application <= 15:
        errors["reviewers_per_application"] = [_("Enter a number from 1 to 15.")]
    if errors:
        raise _invalid(errors)
    return Call.objects.create(measure=measure, funding_year=funding_year, opens_at=opens_at,
                               closes_at=closes_at,
                               reviewers_per_application=reviewers_per_application,
                               trimmed_mean=trimmed_mean, created_by=by)


# ---------------------------------------------------------------- applications

def subject_key_of(version, values: dict) -> str:
    """The platform or model an application is for, case- and space-insensitively
    (MEASURES.md, industry-llm: `model_name` compared case- and space-insensitively)."""
    if not version.subject_field:
        return ""
    raw = values.get(version.subject_field)
    return "".join(str(raw).split()).casefold()[:200] if raw else ""


def _parse_or_400(version, inputs) -> dict:
    parsed = parse_inputs(version.fields, inputs if inputs is not None else {})
    if parsed.errors:
        raise _invalid(parsed.errors)
    return parsed.values


def _estimate(version, values, *, measure_id, subject_key, application_id=None):
    return compute_award(version.rules(), values, awarded_to_date=selectors.awarded_to_date(
        measure_id=measure_id, subject_key=subject_key,
        exclude_application_id=application_id))


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
    values = _parse_or_400(version, inputs)
    key = subject_key_of(version, values)
    result = _estimate(version, values, measure_id=call.measure_id, subject_key=key)
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
        version = (version_current(measure=application.call.measure)
                   if application.status == Status.DRAFT else application.measure_version)
        values = _parse_or_400(version, inputs)
        key = subject_key_of(version, values)
        if selectors.active_duplicate_exists(call=application.call, company=application.company,
                                             subject_key=key, exclude_id=application.pk):
            raise _duplicate_error()
        result = _estimate(version, values, measure_id=application.call.measure_id,
                           subject_key=key, application_id=application.pk)
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


def attachment_add(*, by, application: Application, kind: str, upload) -> Attachment:
    """Attach a document: refused unless its bytes are PDF, JPEG, PNG, DOCX or XLSX, at most
    20 MB. Stored under a random name outside every served folder."""
    _require_editor(by, application.company)
    if not application.is_editable:
        raise DomainError("invalid_transition", _(
            "Documents can be changed only while the application is a draft or returned."),
            status=409)
    kinds = {d["kind"] for d in application.measure_version.documents}
    errors = {}
    if kind not in kinds:
        errors["kind"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(sorted(kinds))}]
    if upload is None:
        errors["file"] = [_("Choose a file.")]
    elif upload.size > uploads.MAX_UPLOAD_BYTES:
        errors["file"] = [_("The file is larger than 20 MB.")]
    elif upload.size == 0:
        errors["file"] = [_("The file is empty.")]
    file_type = None if errors.get("file") or upload is None else uploads.sniff(upload)
    if upload is not None and not errors.get("file") and file_type is None:
        errors["file"] = [_("Only PDF, JPEG, PNG, DOCX and XLSX files are accepted; this file's "
                            "content is none of them.")]
    if errors:
        raise _invalid(errors)
    storage = uploads.private_storage()
    stored = storage.save(uploads.new_stored_name(file_type), upload)
    try:
        return Attachment.objects.create(
            application=application, kind=kind,
            original_name=uploads.sanitize_name(upload.name or "", file_type),
            stored_name=stored, content_type=file_type.content_type, size=upload.size,
            sha256=uploads.digest(upload), uploaded_by=by)
    except Exception:
        storage.delete(stored)  # nothing half-written: no file without its row
        raise


def attachment_remove(*, by, attachment: Attachment) -> None:
    _require_editor(by, attachment.application.company)
    if not attachment.application.is_editable:
        raise DomainError("invalid_transition", _(
            "Documents can be changed only while the application is a draft or returned."),
            status=409)
    Attachment.objects.filter(pk=attachment.pk).update(removed_at=timezone.now())


def application_transition(*, application: Application, to: str, by, role: str,
                           reason: str = "") -> Application:
    """The one way a status changes: lock, check the table, write the event (DESIGN rule 3)."""
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=application.pk)
        if not allowed(locked.status, to, role):
            raise DomainError("invalid_transition", _(
                "An application that is %(status)s cannot become %(to)s.") % {
                "status": Status(locked.status).label, "to": Status(to).label}, status=409)
        StatusEvent.objects.create(application=locked, by=by, from_status=locked.status,
                                   to_status=to, reason=reason or "")
        locked.status = to
        locked.save(update_fields=["status", "updated_at"])
    return locked


def application_submit(*, by, application: Application) -> Application:
    """Submit while the call is open (checked now, on the server). Every missing field, missing
    document and failing eligibility reason is reported at once; nothing changes then."""
    _require_editor(by, application.company)
    with transaction.atomic():
        locked = Application.objects.select_for_update().select_related(
            "call__measure", "measure_version").get(pk=application.pk)
        if locked.status not in (Status.DRAFT, Status.RETURNED):
            raise DomainError("invalid_transition", _("This application was already submitted."),
                              status=409)
        if not locked.call.is_open():
            raise DomainError("call_closed", _("The call is not open for submissions."),
                              status=409)
        version = locked.measure_version
        values = _parse_or_400(version, locked.inputs)
        errors: dict[str, list[str]] = {}
        for spec in version.fields:
            if spec.get("required", True) and spec["name"] not in values:
                errors[spec["name"]] = [_("This field is required.")]
        present = set(locked.attachments.filter(removed_at__isnull=True)
                      .values_list("kind", flat=True))
        missing_documents = [d["kind"] for d in version.documents
                             if d.get("required", True) and d["kind"] not in present]
        if missing_documents:
            errors["attachments"] = [_("Attach: %(kinds)s.") % {
                "kinds": ", ".join(missing_documents)}]
        result = _estimate(version, values, measure_id=locked.call.measure_id,
                           subject_key=locked.subject_key, application_id=locked.pk)
        if not result.eligible and result.reasons != ("missing_input",):
            errors["eligibility"] = list(result.reasons)
        if errors:
            raise DomainError("not_submittable", _(
                "The application cannot be submitted yet: see each field."), status=400,
                fields=errors)
        locked.revision += 1
        locked.submitted_at = timezone.now()
        locked.estimate = result.amount
        locked.save(update_fields=["revision", "submitted_at", "estimate", "updated_at"])
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


def application_screen(*, by, application: Application, to: str, reason: str = ""
                       ) -> Application:
    """Formal screening (形式審查) by staff: accept, return for changes (補正) or reject."""
    if not selectors.is_staff_officer(by):
        raise DomainError("forbidden", _("Only staff can screen applications."), status=403)
    if to in (Status.RETURNED, Status.REJECTED) and not (reason or "").strip():
        raise _invalid({"reason": [_("Say why, for the company.")]})
    return application_transition(application=application, to=to, by=by, role=STAFF,
                                  reason=reason)
