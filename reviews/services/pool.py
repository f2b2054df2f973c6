"""The reviewer pool: reviewer accounts made by staff, and the affiliations that make a reviewer
conflicted with an applicant (matched by registration number, so an affiliation holds for a
company that registers after it was declared)."""

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from applications import selectors as application_selectors
from applications.registration import normalize
from measures.models import Measure, Pillar
from qianhai_grants.errors import DomainError
from qianhai_grants.roles import REVIEWER
from reviews.models import Affiliation, AffiliationKind, ReviewerProfile
from reviews.services._common import audit, invalid, require_staff
from reviews.services.assignments import (
    applications_lock_for_affiliation,
    reviews_recuse_for_affiliation,
)

NUMBER_MAX = Affiliation._meta.get_field("registration_number").max_length
NAME_MAX = ReviewerProfile._meta.get_field("name").max_length
NOTE_MAX = Affiliation._meta.get_field("note").max_length


def expertise_tags() -> set[str]:
    """What a reviewer's expertise may name: a measure (its code) or a pillar."""
    return set(Measure.objects.values_list("code", flat=True)) | set(Pillar.values)


def _numbers_clean(affiliations) -> list[str] | None:
    if not isinstance(affiliations, list | tuple):
        return None
    numbers: list[str] = []
    for raw in affiliations:
        if not isinstance(raw, str):
            return None
        number = normalize(raw)
        if not number or len(number) > NUMBER_MAX:
            return None
        if number not in numbers:
            numbers.append(number)
    return numbers


def reviewer_create(*, by, email: str, name: str, expertise: list[str], affiliations: list[str],
                    password: str | None = None) -> ReviewerProfile:
    """A reviewer's account (the email is the username), in the pool with their expertise and
    the companies they are affiliated with. Without a password the account has none that works:
    the reviewer sets one through password reset."""
    require_staff(by)
    User = get_user_model()
    errors: dict[str, list[str]] = {}
    email = email.strip().lower() if isinstance(email, str) else ""
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter a valid email address.")]
    if len(email) > 150:  # the email is the username, which holds 150 characters
        errors["email"] = [_("Enter at most 150 characters.")]
    if "email" not in errors and User.objects.filter(username__iexact=email).exists():
        errors["email"] = [_("An account with this email already exists.")]
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        errors["name"] = [_("Enter the reviewer's name.")]
    elif len(name) > NAME_MAX:
        errors["name"] = [_("Enter at most %(max)d characters.") % {"max": NAME_MAX}]
    tags: list[str] = []
    if not isinstance(expertise, list | tuple) or not all(isinstance(t, str) for t in expertise):
        errors["expertise"] = [_("Give a list of measure codes or pillars.")]
    else:
        known = expertise_tags()
        unknown = [t for t in expertise if t.strip() not in known]
        if unknown:
            errors["expertise"] = [_("Not a measure code or pillar: %(tags)s.") % {
                "tags": ", ".join(unknown)}]
        tags = list(dict.fromkeys(t.strip() for t in expertise))
    numbers = _numbers_clean(affiliations)
    if numbers is None:
        errors["affiliations"] = [_(
            "Give a list of registration numbers (each at most %(max)d characters).") % {
            "max": NUMBER_MAX}]
    if password is not None:
        if not isinstance(password, str):
            errors["password"] = [_("Enter a password.")]
        else:
            try:
                password_validation.validate_password(password, User(username=email,
                                                                      email=email))
            except ValidationError as exc:
                errors["password"] = list(exc.messages)
    if errors:
        raise invalid(errors)
    with transaction.atomic():
        try:
            with transaction.atomic():
                # No password given: Django stores an unusable one.
                user = User.objects.create_user(username=email, email=email, password=password)
        except IntegrityError:
            raise invalid({"email": [_("An account with this email already exists.")]}) \
                from None
        user.groups.add(Group.objects.get_or_create(name=REVIEWER)[0])
        profile = ReviewerProfile.objects.create(user=user, name=name, expertise=tags)
        audit(action="reviewer_created", by=by, data={
            "reviewer": user.pk, "email": email, "name": name, "expertise": tags})
        for number in numbers:
            Affiliation.objects.create(reviewer=profile, registration_number=number,
                                       kind=AffiliationKind.EMPLOYMENT)
            audit(action="affiliation_declared", by=by, data={
                "reviewer": user.pk, "registration_number": number,
                "kind": AffiliationKind.EMPLOYMENT.value})
    return profile


def affiliation_declare(*, by, reviewer: ReviewerProfile, registration_number,
                        kind=AffiliationKind.DECLARED, note: str = "") -> Affiliation:
    """The reviewer (or staff for them) declares a relation to a company. Declaring it again
    changes nothing. Every review the reviewer still has to score of that company's
    applications is recused at once, with the declaration as the reason, and replaced."""
    if by is None or getattr(by, "pk", None) is None or not (
            by.pk == reviewer.user_id or application_selectors.is_staff_officer(by)):
        raise DomainError("forbidden", _(
            "Only the reviewer or staff can declare the reviewer's affiliations."), status=403)
    errors: dict[str, list[str]] = {}
    number = normalize(registration_number) if isinstance(registration_number, str) else ""
    if not number or len(number) > NUMBER_MAX:
        errors["registration_number"] = [_(
            "Enter the company's registration number (at most %(max)d characters).") % {
            "max": NUMBER_MAX}]
    if kind not in AffiliationKind.values:
        errors["kind"] = [_("Choose employment, shareholding or declared.")]
    note = note.strip() if isinstance(note, str) else None
    if note is None or len(note) > NOTE_MAX:
        errors["note"] = [_("Enter at most %(max)d characters.") % {"max": NOTE_MAX}]
    if errors:
        raise invalid(errors)
    with transaction.atomic():
        # The applications first, then the reviewer's profile: the order assignments lock them
        # in, so an assignment running now either finishes first (and its review is recused
        # below) or waits and then sees the affiliation.
        applications_lock_for_affiliation(profile=reviewer, registration_number=number)
        profile = ReviewerProfile.objects.select_for_update().get(pk=reviewer.pk)
        affiliation, created = Affiliation.objects.get_or_create(
            reviewer=profile, registration_number=number,
            defaults={"kind": kind, "note": note})
        if created:
            audit(action="affiliation_declared", by=by, reason=note, data={
                "reviewer": profile.user_id, "registration_number": number, "kind": kind})
        reason = _("Declared a relation to the applicant (%(kind)s, %(number)s).") % {
            "kind": AffiliationKind(affiliation.kind).label, "number": number}
        if affiliation.note:
            reason = f"{reason} {affiliation.note}"
        reviews_recuse_for_affiliation(by=by, profile=profile, registration_number=number,
                                       reason=reason)
    return affiliation


__all__ = ["affiliation_declare", "expertise_tags", "reviewer_create"]
