"""Request-level tests of the company pages: register, members, invitations, scoping."""

import re

import pytest

from applications.models import Company, Invitation, Membership
from tests.factories import CompanyFactory, company_user, member, uscc


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = str(tmp_path / "private")


def field_block(page: str, name: str) -> str:
    """The markup of one form field, from its input to the end of its wrapper."""
    return page.split(f'name="{name}"', 1)[1].split("</div>", 1)[0]


def test_company_pages_need_login(client, db):
    company = CompanyFactory()
    for url in ("/companies/", "/companies/new/", f"/companies/{company.pk}/"):
        assert client.get(url)["Location"].startswith("/accounts/login/?next="), url
    assert client.post(f"/companies/{company.pk}/invite/", {})["Location"].startswith(
        "/accounts/login/")


def test_an_invalid_uscc_shows_the_field_error_and_keeps_the_values(client, db):
    client.force_login(company_user())
    wrong = uscc(7)[:-1] + ("0" if uscc(7)[-1] != "0" else "1")

    response = client.post("/companies/new/", {
        "name": "前海示例科技有限公司", "name_en": "Qianhai Example Tech",
        "registration_type": "mainland", "registration_number": wrong, "in_qianhai": "on",
        "contact_name": "王小明", "contact_phone": "0755-12345678"},
        HTTP_ACCEPT_LANGUAGE="en")

    page = response.content.decode()
    assert response.status_code == 400
    assert "does not match the check character" in field_block(page, "registration_number")
    for value in ("前海示例科技有限公司", "Qianhai Example Tech", wrong, "王小明",
                  "0755-12345678"):
        assert f'value="{value}"' in page
    assert re.search(r'<input type="radio" name="registration_type" value="mainland"[^>]*checked',
                     page)
    assert not Company.objects.exists()


def test_every_company_error_is_reported_on_its_field_at_once(client, db):
    client.force_login(company_user())

    response = client.post("/companies/new/", {"registration_type": "hong_kong",
                                                "registration_number": "1234567",
                                                "contact_email": "not-an-address"},
                           HTTP_ACCEPT_LANGUAGE="en")

    page = response.content.decode()
    assert response.status_code == 400
    assert "This field is required." in field_block(page, "name")
    assert "8-digit Business Registration number" in field_block(page, "registration_number")
    assert "Enter a valid email address." in field_block(page, "contact_email")


def test_registering_a_company_makes_the_user_its_owner(client, db):
    user = company_user()
    client.force_login(user)

    response = client.post("/companies/new/", {
        "name": "前海示例科技有限公司", "registration_type": "hong_kong",
        "registration_number": "12345678", "in_qianhai": "on"})

    company = Company.objects.get()
    assert response["Location"] == f"/companies/{company.pk}/"
    assert Membership.objects.get(company=company).user == user
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert user.email in page and "Owner" in page
    assert "/invite/" in page


def test_the_owner_invites_an_existing_user_and_a_new_address(client, db):
    company = CompanyFactory()
    colleague = company_user()
    client.force_login(company.created_by)

    first = client.post(f"/companies/{company.pk}/invite/",
                        {"email": colleague.email, "role": "editor"})
    second = client.post(f"/companies/{company.pk}/invite/",
                         {"email": "later@example.org", "role": "viewer"})

    assert first.status_code == second.status_code == 302
    assert Membership.objects.get(company=company, user=colleague).role == "editor"
    assert Invitation.objects.get(company=company).email == "later@example.org"
    page = client.get(f"/companies/{company.pk}/").content.decode()
    assert colleague.email in page and "later@example.org" in page


def test_an_invitation_with_a_bad_address_shows_the_error(client, db):
    company = CompanyFactory()
    client.force_login(company.created_by)

    response = client.post(f"/companies/{company.pk}/invite/",
                           {"email": "not an address", "role": "editor"},
                           HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert "Enter a valid email address." in field_block(response.content.decode(), "email")
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_only_the_owner_invites(client, db, role):
    company = CompanyFactory()
    client.force_login(member(company, role=role))

    page = client.get(f"/companies/{company.pk}/").content.decode()
    response = client.post(f"/companies/{company.pk}/invite/",
                           {"email": "x@example.org", "role": "editor"})

    assert "/invite/" not in page
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_another_companys_pages_are_404(client, db):
    company = CompanyFactory()
    client.force_login(CompanyFactory().created_by)

    assert client.get(f"/companies/{company.pk}/").status_code == 404
    assert client.post(f"/companies/{company.pk}/invite/",
                       {"email": "x@example.org", "role": "editor"}).status_code == 404
    assert company.name not in client.get("/companies/").content.decode()
    assert not Invitation.objects.exists()
