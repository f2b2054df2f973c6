"""The reviewer pool: reviewer accounts made by staff, and declared affiliations."""

import pytest
from django.contrib.auth import get_user_model

from qianhai_grants.errors import DomainError
from qianhai_grants.roles import MANAGEMENT, REVIEWER
from reviews.models import Affiliation, AffiliationKind, AuditEntry, ReviewerProfile
from reviews.services.pool import affiliation_declare, expertise_tags, reviewer_create
from tests.factories import UserFactory, company_user, reviewer_user, uscc

User = get_user_model()


def refused(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def create(by, **overrides):
    data = {"email": "Expert@Example.org", "name": "王专家",
            "expertise": ["demo-project", "factor_supply"], "affiliations": [uscc(7)]}
    return reviewer_create(by=by, **{**data, **overrides})


# ---------------------------------------------------------------- reviewer_create

def test_staff_create_a_reviewer_who_resets_their_password(catalogue, staff):
    profile = create(staff)
    user = profile.user
    assert user.username == user.email == "expert@example.org"
    assert not user.has_usable_password()  # the reviewer sets one through password reset
    assert set(user.groups.values_list("name", flat=True)) == {REVIEWER}
    assert profile.name == "王专家" and profile.active
    assert profile.expertise == ["demo-project", "factor_supply"]
    assert list(profile.affiliations.values_list("registration_number", "kind")) == [
        (uscc(7), AffiliationKind.EMPLOYMENT)]
    actions = list(AuditEntry.objects.values_list("action", "by", "data__reviewer"))
    assert actions == [("reviewer_created", staff.pk, user.pk),
                       ("affiliation_declared", staff.pk, user.pk)]


def test_a_reviewer_created_with_a_password_can_log_in(catalogue, staff):
    profile = create(staff, password="a long and unusual passphrase 42")
    assert profile.user.check_password("a long and unusual passphrase 42")


def test_affiliations_are_stored_normalised_and_once(catalogue, staff):
    number = uscc(8)
    spaced_lower = f" {number[:6].lower()} {number[6:]} "
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in number)  # as a Chinese IME types it
    profile = create(staff, affiliations=[spaced_lower, full_width, number, "12345678"])
    assert sorted(profile.affiliations.values_list("registration_number", flat=True)) == sorted(
        [number, "12345678"])


def test_expertise_takes_measure_codes_and_pillars(catalogue, staff):
    tags = expertise_tags()
    assert {"demo-project", "core-algorithm", "application_demo", "ecosystem"} <= tags
    profile = create(staff, expertise=["core-algorithm", "ecosystem"], affiliations=[])
    assert profile.expertise == ["core-algorithm", "ecosystem"]
    assert not profile.affiliations.exists()


@pytest.mark.parametrize("make_user", [
    company_user,
    lambda: reviewer_user(),
    lambda: UserFactory(roles=[MANAGEMENT]),
    lambda: UserFactory(is_staff=True),  # Django's flag is not the staff role
])
def test_only_staff_create_reviewers(catalogue, make_user):
    error = refused(lambda: create(make_user()))
    assert (error.status, error.code) == (403, "forbidden")
    assert not User.objects.filter(username="expert@example.org").exists()


@pytest.mark.parametrize(("overrides", "field"), [
    ({"email": "not an email"}, "email"),
    ({"email": ""}, "email"),
    ({"email": None}, "email"),
    ({"email": "a" * 140 + "@example.org"}, "email"),
    ({"name": "   "}, "name"),
    ({"name": None}, "name"),
    ({"name": "名" * 101}, "name"),
    ({"expertise": ["demo-project", "cooking"]}, "expertise"),
    ({"expertise": "demo-project"}, "expertise"),
    ({"expertise": [1]}, "expertise"),
    ({"affiliations": [""]}, "affiliations"),
    ({"affiliations": ["   "]}, "affiliations"),
    ({"affiliations": [123]}, "affiliations"),
    ({"affiliations": uscc(7)}, "affiliations"),
    ({"affiliations": ["9" * 33]}, "affiliations"),
    ({"password": "123"}, "password"),
])
def test_bad_input_is_refused_naming_the_field(catalogue, staff, overrides, field):
    error = refused(lambda: create(staff, **overrides))
    assert (error.status, error.code) == (400, "invalid")
    assert field in error.fields
    assert not ReviewerProfile.objects.exists()
    assert not AuditEntry.objects.exists()


def test_every_bad_field_is_reported_at_once(catalogue, staff):
    error = refused(lambda: create(staff, email="x", name="", expertise=["?"],
                                   affiliations=[""]))
    assert set(error.fields) == {"email", "name", "expertise", "affiliations"}


def test_an_email_that_has_an_account_is_refused_whatever_its_case(catalogue, staff):
    UserFactory(username="expert@example.org")
    error = refused(lambda: create(staff, email="EXPERT@example.org"))
    assert error.status == 400 and "email" in error.fields


# ---------------------------------------------------------------- affiliation_declare

def test_a_reviewer_declares_an_affiliation_once(catalogue):
    user = reviewer_user()
    profile = user.reviewer_profile
    first = affiliation_declare(by=user, reviewer=profile, registration_number=f" {uscc(9)} ",
                                note="曾任顾问")
    again = affiliation_declare(by=user, reviewer=profile, registration_number=uscc(9).lower())
    assert first.pk == again.pk
    assert (first.registration_number, first.kind, first.note) == (
        uscc(9), AffiliationKind.DECLARED, "曾任顾问")
    assert Affiliation.objects.filter(reviewer=profile).count() == 1
    entries = AuditEntry.objects.filter(action="affiliation_declared")
    assert list(entries.values_list("by", "data__registration_number")) == [(user.pk, uscc(9))]


def test_staff_declare_an_affiliation_for_a_reviewer(catalogue, staff):
    profile = reviewer_user().reviewer_profile
    affiliation = affiliation_declare(by=staff, reviewer=profile, registration_number=uscc(10),
                                      kind=AffiliationKind.SHAREHOLDING)
    assert affiliation.kind == AffiliationKind.SHAREHOLDING
    assert AuditEntry.objects.get(action="affiliation_declared").by == staff


@pytest.mark.parametrize("make_user", [lambda: reviewer_user(), company_user,
                                       lambda: UserFactory(roles=[MANAGEMENT])])
def test_nobody_else_declares_for_a_reviewer(catalogue, make_user):
    profile = reviewer_user().reviewer_profile
    error = refused(lambda: affiliation_declare(by=make_user(), reviewer=profile,
                                                registration_number=uscc(11)))
    assert (error.status, error.code) == (403, "forbidden")
    assert not Affiliation.objects.exists()


@pytest.mark.parametrize(("overrides", "field"), [
    ({"registration_number": ""}, "registration_number"),
    ({"registration_number": None}, "registration_number"),
    ({"registration_number": "9" * 33}, "registration_number"),
    ({"kind": "friendship"}, "kind"),
    ({"note": "x" * 201}, "note"),
    ({"note": None}, "note"),
])
def test_a_bad_declaration_is_refused_naming_the_field(catalogue, overrides, field):
    user = reviewer_user()
    error = refused(lambda: affiliation_declare(
        by=user, reviewer=user.reviewer_profile,
        **{"registration_number": uscc(12), **overrides}))
    assert (error.status, error.code) == (400, "invalid")
    assert field in error.fields
    assert not Affiliation.objects.exists()

