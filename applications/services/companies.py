"""Companies and their members."""


from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from applications import registration, selectors
from applications.models import (
    Company,
    Invitation,
    MemberRole,
    Membership,
    RegistrationType,
)
from applications.services._common import User, _invalid
from qianhai_grants.errors import DomainError


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
