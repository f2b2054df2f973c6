"""Companies: /api/v1/companies/, /{id}/ and /{id}/members/."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications.models import Company, Invitation, Membership
from tests.applications import assert_error
from tests.factories import CompanyFactory, company_user, member, staff_user, uscc

LIST = "/api/v1/companies/"


def new_company(**overrides):
    return {"name": "前海智算科技有限公司", "name_en": "Qianhai Compute Ltd",
            "registration_type": "mainland", "registration_number": uscc(9001),
            "in_qianhai": True, "contact_name": "王经理", "contact_phone": "+86 755 0000 0000",
            "contact_email": "contact@example.cn", **overrides}


def members_url(company):
    return f"/api/v1/companies/{company.pk}/members/"


def test_companies_need_login(anon, db):
    assert_error(anon.get(LIST), 401, "not_authenticated")
    assert_error(anon.post(LIST, new_company(), format="json"), 401, "not_authenticated")
    company = CompanyFactory()
    assert_error(anon.get(f"{LIST}{company.pk}/"), 401)
    assert_error(anon.get(members_url(company)), 401)
    assert_error(anon.post(members_url(company), {"email": "a@example.cn", "role": "viewer"},
                           format="json"), 401)


def test_creating_a_company_makes_the_creator_its_owner(api, owner):
    response = api.post(LIST, new_company(registration_number=f" {uscc(9001).lower()} "),
                        format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["my_role"] == "owner"
    assert body["registration_number"] == uscc(9001)
    assert body["name_en"] == "Qianhai Compute Ltd"
    assert body["in_qianhai"] is True
    company = Company.objects.get(pk=body["id"])
    assert Membership.objects.get(company=company, user=owner).role == "owner"


def test_a_wrong_uscc_check_character_is_400_naming_registration_number(api):
    code = uscc(9001)
    wrong = code[:17] + ("0" if code[17] != "0" else "1")

    response = api.post(LIST, new_company(registration_number=wrong), format="json")

    assert_error(response, 400, "invalid", ["registration_number"])
    assert not Company.objects.exists()


def test_a_registration_number_is_claimed_once(api, client_for):
    assert api.post(LIST, new_company(), format="json").status_code == 201

    other = client_for(company_user())
    response = other.post(LIST, new_company(name="另一家公司"), format="json")

    assert_error(response, 400, "invalid", ["registration_number"])
    assert Company.objects.count() == 1


@pytest.mark.parametrize(("overrides", "field"), [
    ({"registration_type": "moon"}, "registration_type"),
    ({"registration_type": "hong_kong", "registration_number": "1234"}, "registration_number"),
    ({"name": ""}, "name"),
    ({"name": "名" * 201}, "name"),
    ({"registration_number": ["x"]}, "registration_number"),
    ({"contact_email": "not-an-email"}, "contact_email"),
    ({"in_qianhai": "maybe"}, "in_qianhai"),
])
def test_invalid_company_is_400_naming_the_field(api, overrides, field):
    assert_error(api.post(LIST, new_company(**overrides), format="json"), 400, "invalid",
                 [field])


def test_a_hong_kong_company(api):
    response = api.post(LIST, new_company(registration_type="hong_kong",
                                          registration_number="1234 5678"), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["registration_number"] == "12345678"


def test_the_list_shows_only_ones_own_companies_with_ones_role(api, owner):
    mine = CompanyFactory(created_by=owner)
    theirs = CompanyFactory()
    Membership.objects.create(company=theirs, user=owner, role="viewer")
    CompanyFactory()  # a stranger's

    response = api.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert {(c["id"], c["my_role"]) for c in body["results"]} == {
        (mine.pk, "owner"), (theirs.pk, "viewer")}


def test_the_list_takes_the_same_queries_for_one_company_or_many(api, owner):
    CompanyFactory(created_by=owner)
    with CaptureQueriesContext(connection) as one:
        assert api.get(LIST).json()["count"] == 1
    for _ in range(5):
        CompanyFactory(created_by=owner)
    with CaptureQueriesContext(connection) as six:
        assert api.get(LIST).json()["count"] == 6

    assert len(six) == len(one) <= 4


def test_company_detail_is_404_for_non_members(api, client_for, company):
    assert api.get(f"{LIST}{company.pk}/").json()["my_role"] == "owner"

    for stranger in (company_user(), staff_user()):
        assert_error(client_for(stranger).get(f"{LIST}{company.pk}/"), 404, "not_found")
    assert_error(api.get(f"{LIST}999999999/"), 404)
    assert_error(api.get(f"{LIST}abc/"), 404)
    assert_error(api.get(f"{LIST}99999999999999999999999/"), 404)


def test_members_lists_members_and_pending_invitations(api, client_for, company, owner):
    viewer = member(company, "viewer")
    Invitation.objects.create(company=company, email="new@example.cn", role="editor",
                              invited_by=owner)

    response = client_for(viewer).get(members_url(company))

    assert response.status_code == 200, response.content
    rows = {(r["email"], r["role"], r["state"]) for r in response.json()["results"]}
    assert rows == {(owner.email, "owner", "member"), (viewer.email, "viewer", "member"),
                    ("new@example.cn", "editor", "invited")}


def test_members_is_404_for_non_members(client_for, company):
    stranger = client_for(company_user())

    assert_error(stranger.get(members_url(company)), 404)
    assert_error(stranger.post(members_url(company), {"email": "x@example.cn",
                                                      "role": "viewer"}, format="json"), 404)


def test_the_owner_invites_an_unknown_email(api, company):
    response = api.post(members_url(company), {"email": "New@Example.cn", "role": "editor"},
                        format="json")

    assert response.status_code == 201, response.content
    assert response.json() | {"since": None} == {
        "email": "new@example.cn", "role": "editor", "state": "invited", "user": None,
        "since": None}
    assert Invitation.objects.filter(company=company, email="new@example.cn").exists()


def test_the_owner_adds_an_existing_user(api, company):
    colleague = company_user()

    response = api.post(members_url(company), {"email": colleague.email, "role": "viewer"},
                        format="json")

    assert response.status_code == 201, response.content
    assert response.json()["state"] == "member"
    assert response.json()["user"] == colleague.pk
    assert Membership.objects.get(company=company, user=colleague).role == "viewer"


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_only_the_owner_invites(client_for, company, role):
    client = client_for(member(company, role))

    response = client.post(members_url(company), {"email": "x@example.cn", "role": "editor"},
                           format="json")

    assert_error(response, 403, "forbidden")
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"email": "nope", "role": "editor"}, "email"),
    ({"email": "x@example.cn", "role": "owner"}, "role"),
    ({"email": "x@example.cn"}, "role"),
    ({"email": "x" * 300 + "@example.cn", "role": "viewer"}, "email"),
])
def test_invalid_invitation_is_400_naming_the_field(api, company, body, field):
    assert_error(api.post(members_url(company), body, format="json"), 400, "invalid", [field])


def test_company_messages_in_traditional_chinese(api):
    response = api.post(LIST, new_company(registration_number="123"), format="json",
                        HTTP_ACCEPT_LANGUAGE="zh-hant")

    body = assert_error(response, 400, "invalid", ["registration_number"])
    assert body["message"] == "輸入內容無效。"
