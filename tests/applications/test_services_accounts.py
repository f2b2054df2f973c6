"""Accounts: registering a company user, language preference, invitations accepted on sign-up."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation

from applications import services
from applications.models import Invitation, Language, Membership, Profile
from qianhai_grants.errors import DomainError
from qianhai_grants.roles import COMPANY
from tests.factories import CompanyFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "Qianhai-AI-2024!"


def register(**overrides):
    data = {"email": "li.wei@example.cn", "password": PASSWORD, "preferred_language": "zh-hans"}
    return services.user_register(**{**data, **overrides})


def refused(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def test_register_makes_a_company_user_with_a_profile():
    user = register(preferred_language="zh-hant")
    assert user.username == user.email == "li.wei@example.cn"
    assert user.check_password(PASSWORD)
    assert set(user.groups.values_list("name", flat=True)) == {COMPANY}
    assert Profile.objects.get(user=user).preferred_language == Language.ZH_HANT
    assert not user.is_staff and not user.is_superuser


@pytest.mark.parametrize("written", ["  Li.Wei@Example.CN ", "LI.WEI@EXAMPLE.CN",
                                     "\tli.wei@example.cn\n"])
def test_email_is_normalised(written):
    user = register(email=written)
    assert user.username == user.email == "li.wei@example.cn"


@pytest.mark.parametrize("second", ["li.wei@example.cn", "LI.WEI@example.cn",
                                    " Li.Wei@Example.Cn "])
def test_duplicate_email_is_400_naming_email(second):
    register()
    error = refused(lambda: register(email=second))
    assert (error.status, error.code) == (400, "invalid")
    assert list(error.fields) == ["email"]
    assert User.objects.count() == 1


def test_an_existing_username_in_other_case_counts_as_taken():
    UserFactory(username="Wang.Fang@Example.org", email="Wang.Fang@Example.org")
    error = refused(lambda: register(email="wang.fang@example.org"))
    assert "email" in error.fields


@pytest.mark.parametrize("email", ["", "   ", "not-an-email", "a@", "@example.cn", None,
                                   "a b@example.cn", 12345])
def test_invalid_email_is_400_naming_email(email):
    error = refused(lambda: register(email=email))
    assert error.status == 400 and "email" in error.fields
    assert not User.objects.exists()


@pytest.mark.parametrize("password", ["short", "12345678901234", "password123",
                                      "li.wei@example.cn", "", None])
def test_weak_password_is_400_naming_password(password):
    error = refused(lambda: register(password=password))
    assert error.status == 400 and "password" in error.fields
    assert "email" not in error.fields
    assert not User.objects.exists()


@pytest.mark.parametrize("language", ["fr", "zh-cn", "", None, "ZH-HANS", "zh_hans"])
def test_invalid_language_is_400_naming_it(language):
    error = refused(lambda: register(preferred_language=language))
    assert error.status == 400 and list(error.fields) == ["preferred_language"]
    assert not User.objects.exists()


def test_every_problem_is_reported_at_once():
    error = refused(lambda: register(email="nope", password="1", preferred_language="xx"))
    assert set(error.fields) == {"email", "password", "preferred_language"}


def test_pending_invitations_are_accepted_once_the_email_is_confirmed():
    first, second = CompanyFactory(), CompanyFactory()
    Invitation.objects.create(company=first, email="li.wei@example.cn", role="editor",
                              invited_by=first.created_by)
    Invitation.objects.create(company=second, email="li.wei@example.cn", role="viewer",
                              invited_by=second.created_by)
    user = register(email="Li.Wei@Example.cn")
    # Registering an address proves nothing: no membership before the confirmation.
    assert not Membership.objects.filter(user=user).exists()
    services.email_confirm(user=user)
    assert dict(Membership.objects.filter(user=user).values_list("company", "role")) == {
        first.pk: "editor", second.pk: "viewer"}
    assert not Invitation.objects.filter(accepted_at__isnull=True).exists()


def test_someone_elses_invitation_is_not_accepted():
    company = CompanyFactory()
    Invitation.objects.create(company=company, email="someone.else@example.cn", role="editor",
                              invited_by=company.created_by)
    user = register()
    assert not Membership.objects.filter(user=user).exists()
    assert Invitation.objects.get().accepted_at is None


def test_invitations_accept_on_its_own_is_idempotent():
    company = CompanyFactory()
    user = UserFactory(username="zhao@example.cn", email="zhao@example.cn")
    Invitation.objects.create(company=company, email="ZHAO@example.cn", role="viewer",
                              invited_by=company.created_by)
    assert services.invitations_accept(user=user) == 1
    assert services.invitations_accept(user=user) == 0
    assert Membership.objects.get(user=user).role == "viewer"


def test_profile_update_and_refusal():
    user = register()
    assert services.profile_update(user=user, preferred_language="en").preferred_language == "en"
    error = refused(lambda: services.profile_update(user=user, preferred_language="de"))
    assert error.status == 400 and "preferred_language" in error.fields
    assert Profile.objects.get(user=user).preferred_language == "en"


def test_profile_of_makes_a_missing_profile():
    user = UserFactory()
    assert services.profile_of(user).preferred_language == Language.ZH_HANS


def test_email_confirm_sets_the_time_once():
    user = register()
    services.email_confirm(user=user)
    first = Profile.objects.get(user=user).email_confirmed_at
    assert first is not None
    services.email_confirm(user=user)
    assert Profile.objects.get(user=user).email_confirmed_at == first


def test_messages_follow_the_active_language():
    with translation.override("en"):
        english = refused(lambda: register(email="nope")).fields["email"][0]
    with translation.override("zh-hans"):
        chinese = refused(lambda: register(email="nope")).fields["email"][0]
    assert english == "Enter a valid email address."
    assert chinese != english
