"""Accounts: registration, profile, email confirmation, invitations."""


from django.contrib.auth import password_validation
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.models import (
    Invitation,
    Language,
    Membership,
    Profile,
)
from applications.services._common import User, _invalid
from qianhai_grants.roles import COMPANY as COMPANY_ROLE


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
