"""Companies: registration with a checked number claimed once; the owner invites colleagues."""

import pytest

from applications import services
from applications.models import Company, Invitation, Membership
from applications.registration import uscc_check_character
from qianhai_grants.errors import DomainError
from tests.factories import VALID_USCC, CompanyFactory, company_user, member, uscc

pytestmark = pytest.mark.django_db


def create(by, **overrides):
    data = {"name": "前海智算科技有限公司", "registration_type": "mainland",
            "registration_number": VALID_USCC}
    return services.company_create(by=by, **{**data, **overrides})


def refused(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


# ---------------------------------------------------------------- company_create

def test_creator_becomes_owner():
    user = company_user()
    company = create(user, name="  前海智算科技有限公司 ", name_en=" Qianhai Compute Ltd ",
                     in_qianhai=True, contact_name="李伟", contact_phone="+86 755 1234 5678",
                     contact_email="li.wei@example.cn")
    assert company.name == "前海智算科技有限公司"
    assert company.name_en == "Qianhai Compute Ltd"
    assert company.in_qianhai is True
    assert company.created_by == user
    assert list(Membership.objects.filter(company=company).values_list("user", "role")) == [
        (user.pk, "owner")]


@pytest.mark.parametrize("written", [VALID_USCC.lower(), "9135 0100 M000 100Y 43",
                                     f" {VALID_USCC} ", "９１３５０１００Ｍ０００１００Ｙ４３"])
def test_the_number_is_stored_normalised(written):
    assert create(company_user(), registration_number=written).registration_number == VALID_USCC


@pytest.mark.parametrize("number", [
    VALID_USCC[:17] + "4",            # wrong check character
    VALID_USCC[:17],                  # too short
    VALID_USCC + "0",                 # too long
    "91350100O000100Y43",             # forbidden letter O
    "12345678",                       # a Hong Kong number is not a USCC
])
def test_invalid_uscc_is_400_naming_registration_number(number):
    error = refused(lambda: create(company_user(), registration_number=number))
    assert (error.status, error.code) == (400, "invalid")
    assert list(error.fields) == ["registration_number"]
    assert not Company.objects.exists()


@pytest.mark.parametrize(("number", "stored"), [("12345678", "12345678"),
                                                 (" 1234 5678", "12345678")])
def test_hong_kong_business_registration_number(number, stored):
    company = create(company_user(), registration_type="hong_kong", registration_number=number)
    assert (company.registration_type, company.registration_number) == ("hong_kong", stored)


@pytest.mark.parametrize("number", ["1234567", "123456789", "ABCDEFGH", VALID_USCC])
def test_invalid_hong_kong_number_is_400(number):
    error = refused(lambda: create(company_user(), registration_type="hong_kong",
                                   registration_number=number))
    assert list(error.fields) == ["registration_number"]


def test_other_registration_takes_any_number_up_to_32_characters():
    company = create(company_user(), registration_type="other",
                     registration_number="sg-201912345k")
    assert company.registration_number == "SG-201912345K"
    error = refused(lambda: create(company_user(), registration_type="other",
                                   registration_number="X" * 33))
    assert list(error.fields) == ["registration_number"]


def test_a_uscc_cannot_be_registered_as_other():
    create(company_user())
    error = refused(lambda: create(company_user(), registration_type="other"))
    assert "registration_type" in error.fields
    assert Company.objects.count() == 1


@pytest.mark.parametrize("second", [VALID_USCC, VALID_USCC.lower(), "9135 0100 M000 100Y 43",
                                    f"\t{VALID_USCC.lower()} "])
def test_duplicate_number_is_400_whatever_the_spacing_or_case(second):
    create(company_user())
    error = refused(lambda: create(company_user(), name="另一家公司", registration_number=second))
    assert (error.status, list(error.fields)) == (400, ["registration_number"])
    assert Company.objects.count() == 1


def test_the_same_hong_kong_number_is_claimed_once():
    create(company_user(), registration_type="hong_kong", registration_number="12345678")
    error = refused(lambda: create(company_user(), registration_type="hong_kong",
                                   registration_number="1234 5678"))
    assert "registration_number" in error.fields


@pytest.mark.parametrize(("overrides", "field"), [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": None}, "name"),
    ({"name": "名" * 201}, "name"),
    ({"name": 42}, "name"),
    ({"name_en": "N" * 201}, "name_en"),
    ({"contact_name": "名" * 101}, "contact_name"),
    ({"contact_phone": "1" * 41}, "contact_phone"),
    ({"contact_email": "not an email"}, "contact_email"),
    ({"registration_type": "offshore"}, "registration_type"),
    ({"registration_type": None}, "registration_type"),
    ({"registration_number": ""}, "registration_number"),
    ({"registration_number": None}, "registration_number"),
    ({"registration_number": 913501}, "registration_number"),
])
def test_invalid_fields_are_named(overrides, field):
    error = refused(lambda: create(company_user(), **overrides))
    assert error.status == 400 and field in error.fields
    assert not Company.objects.exists()


def test_name_of_exactly_200_characters_is_fine():
    assert len(create(company_user(), name="名" * 200).name) == 200


def test_many_companies_with_built_codes():
    user = company_user()
    for n in range(5):
        first17 = f"91440300MA5F{n:05d}"
        create(user, name=f"公司{n}", registration_number=first17 + uscc_check_character(first17))
    assert Membership.objects.filter(user=user, role="owner").count() == 5


# ---------------------------------------------------------------- member_invite

@pytest.fixture
def company():
    return CompanyFactory(registration_number=uscc(7))


def test_owner_invites_an_unknown_email_as_an_invitation(company):
    result = services.member_invite(company=company, by=company.created_by,
                                    email=" New.Colleague@Example.CN ", role="editor")
    assert isinstance(result, Invitation)
    assert (result.email, result.role, result.accepted_at) == ("new.colleague@example.cn",
                                                               "editor", None)
    assert result.invited_by == company.created_by


def test_inviting_the_same_email_again_updates_the_invitation(company):
    services.member_invite(company=company, by=company.created_by, email="x@example.cn",
                           role="editor")
    services.member_invite(company=company, by=company.created_by, email="X@example.cn",
                           role="viewer")
    assert list(Invitation.objects.values_list("email", "role")) == [("x@example.cn", "viewer")]


def test_owner_invites_an_existing_user_as_a_membership(company):
    colleague = company_user(username="Colleague@example.cn", email="Colleague@example.cn")
    result = services.member_invite(company=company, by=company.created_by,
                                    email="colleague@EXAMPLE.cn", role="viewer")
    assert isinstance(result, Membership)
    assert (result.user, result.role) == (colleague, "viewer")
    assert not Invitation.objects.exists()


def test_inviting_an_existing_member_changes_the_role_but_never_the_owners(company):
    editor = member(company, "editor")
    services.member_invite(company=company, by=company.created_by, email=editor.email,
                           role="viewer")
    assert Membership.objects.get(user=editor).role == "viewer"
    services.member_invite(company=company, by=company.created_by,
                           email=company.created_by.email, role="viewer")
    assert Membership.objects.get(user=company.created_by).role == "owner"


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_only_the_owner_may_invite(company, role):
    colleague = member(company, role)
    error = refused(lambda: services.member_invite(company=company, by=colleague,
                                                   email="x@example.cn", role="viewer"))
    assert (error.status, error.code) == (403, "forbidden")
    assert not Invitation.objects.exists()


def test_a_stranger_gets_404_not_403(company):
    error = refused(lambda: services.member_invite(company=company, by=company_user(),
                                                   email="x@example.cn", role="viewer"))
    assert (error.status, error.code) == (404, "not_found")


def test_the_owner_of_another_company_cannot_invite_here(company):
    other = CompanyFactory(registration_number=uscc(8))
    error = refused(lambda: services.member_invite(company=company, by=other.created_by,
                                                   email="x@example.cn", role="viewer"))
    assert error.status == 404


@pytest.mark.parametrize(("email", "role", "fields"), [
    ("not-an-email", "editor", {"email"}),
    ("", "editor", {"email"}),
    (None, "viewer", {"email"}),
    ("x@example.cn", "owner", {"role"}),
    ("x@example.cn", "admin", {"role"}),
    ("nope", "boss", {"email", "role"}),
])
def test_invalid_invitation_is_400_naming_the_fields(company, email, role, fields):
    error = refused(lambda: services.member_invite(company=company, by=company.created_by,
                                                   email=email, role=role))
    assert error.status == 400 and set(error.fields) == fields
    assert not Invitation.objects.exists()
