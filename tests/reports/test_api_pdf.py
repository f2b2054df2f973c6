"""Who may download the PDF documents, as pages (/reports/…) and through the API
(/api/v1/awards/{id}/letter/, /api/v1/publicity/{id}/list-pdf/): one request per role."""

import json

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from applications.models import Status
from qianhai_grants.roles import MANAGEMENT
from reviews.models import Award, Objection
from reviews.services import publicity
from tests.factories import (
    CompanyFactory,
    UserFactory,
    member,
    open_call,
    reviewer_user,
    staff_user,
)
from tests.reports.test_pdf import approve, compact, make_world, pdf_text, publish, reviewed


@pytest.fixture
def staff(db):
    return staff_user()


@pytest.fixture
def demo_call(catalogue):
    return open_call("demo-project", funding_year=2026)


@pytest.fixture
def world(demo_call, staff):
    return make_world(demo_call, staff)


@pytest.fixture
def people(world):
    """Everyone who may knock: nobody, a member of the awarded company (not its owner), the
    other awarded company's owner, a reviewer, management and staff."""
    return {"anonymous": None, "member": member(world["company"]),
            "other": world["other_award"].application.company.created_by,
            "stranger": CompanyFactory().created_by, "reviewer": reviewer_user(),
            "management": UserFactory(roles=[MANAGEMENT]), "staff": staff_user()}


def page(user, path, language="en"):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    if user is not None:
        client.force_login(user)
    return client.get(path)


def api(user, path, language="en", accept="application/pdf"):
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language, HTTP_ACCEPT=accept)
    if user is not None:
        token = Token.objects.get_or_create(user=user)[0]
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get(path)


def assert_pdf(response) -> str:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline; filename=")
    return pdf_text(response.content)


def assert_error(response, status, code):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "fields"} and body["code"] == code, body


def letter_paths(award) -> tuple[str, str]:
    return f"/reports/awards/{award.pk}/letter.pdf", f"/api/v1/awards/{award.pk}/letter/"


# ---------------------------------------------------------------- a final award's letter

@pytest.mark.parametrize(("who", "allowed"), [
    ("member", True), ("other", False), ("stranger", False), ("reviewer", False),
    ("management", True), ("staff", True)])
def test_a_final_letter_is_for_its_company_staff_and_management(world, people, who, allowed):
    path, api_path = letter_paths(world["award"])

    for response in (page(people[who], path), api(people[who], api_path)):
        if allowed:
            text = compact(assert_pdf(response))
            assert compact(world["company"].name) in text and "¥1,234,567.89" in text
            assert response["Cache-Control"] == "private, no-store"
        elif response.wsgi_request.path.startswith("/api/"):
            assert_error(response, 404, "not_found")
        else:
            assert response.status_code == 404


def test_anonymous_visitors_are_sent_to_log_in_and_the_api_answers_401(world):
    path, api_path = letter_paths(world["award"])

    response = page(None, path)
    assert response.status_code == 302 and "login" in response["Location"]
    assert_error(api(None, api_path), 401, "not_authenticated")


def test_the_letter_follows_the_readers_language(world, people):
    path, api_path = letter_paths(world["award"])

    hant = compact(assert_pdf(api(people["member"], api_path, language="zh-hant")))
    hans = compact(assert_pdf(page(people["member"], path, language="zh-hans")))

    assert "人工智能應用示範項目資金支持" in hant and "2026年11月9日" in hant
    assert "人工智能应用示范项目资金支持" in hans and "1,234,567.89元" in hans


def test_errors_stay_json_whatever_accept_asks_for(world, people):
    for accept in ("application/pdf", "image/png", "*/*"):
        assert_error(api(people["stranger"], f"/api/v1/awards/{world['award'].pk}/letter/",
                         accept=accept), 404, "not_found")


@pytest.mark.parametrize("award_id", ["999999", "999999999999999999"])
def test_an_award_that_does_not_exist_is_404(world, people, award_id):
    assert page(people["staff"], f"/reports/awards/{award_id}/letter.pdf").status_code == 404
    assert_error(api(people["staff"], f"/api/v1/awards/{award_id}/letter/"), 404, "not_found")


def test_only_get_is_answered(world, people):
    path, _api_path = letter_paths(world["award"])
    client = Client()
    client.force_login(people["staff"])

    assert client.post(path).status_code == 405


# ---------------------------------------------------------------- drafts and released awards

def test_before_the_publicity_is_finalized_only_staff_and_management_read_a_draft(
        demo_call, staff):
    application = reviewed(demo_call)
    approve(staff, application)
    publish(staff, demo_call)
    award = Award.objects.get(application=application)
    owner, management = application.company.created_by, UserFactory(roles=[MANAGEMENT])
    path, api_path = letter_paths(award)

    assert page(owner, path).status_code == 404
    assert_error(api(owner, api_path), 404, "not_found")
    assert "Draft" in assert_pdf(page(staff, path))
    assert "Draft" in assert_pdf(api(management, api_path))


def test_a_released_award_is_404_for_its_company_and_void_for_staff(demo_call, staff):
    application = reviewed(demo_call)
    approve(staff, application)
    notice = publish(staff, demo_call)
    objection = Objection.objects.create(publicity=notice, application=application,
                                         name="王小明", organization="某公司", contact="138",
                                         text="不符")
    publicity.objection_resolve(by=staff, objection=objection, upheld=True, note="属实")
    award = Award.objects.get(application=application)
    assert award.released_at is not None
    owner = application.company.created_by
    path, api_path = letter_paths(award)

    assert page(owner, path).status_code == 404
    assert_error(api(owner, api_path), 404, "not_found")
    assert "Void" in assert_pdf(api(staff, api_path))


# ---------------------------------------------------------------- the 公示 list

@pytest.mark.parametrize("who", ["anonymous", "stranger", "reviewer", "member", "staff",
                                 "management"])
def test_the_publicity_list_is_public(world, people, who):
    notice = world["notice"]

    for response in (page(people[who], f"/reports/publicity/{notice.pk}/list.pdf"),
                     api(people[who], f"/api/v1/publicity/{notice.pk}/list-pdf/")):
        text = compact(assert_pdf(response))
        assert "2,734,567.89" in text
        assert all(compact(e.company_name) in text for e in notice.entries.all())


def test_the_publicity_list_in_traditional_chinese(world):
    response = api(None, f"/api/v1/publicity/{world['notice'].pk}/list-pdf/",
                   language="zh-hant")

    text = compact(assert_pdf(response))
    assert "人工智能應用示範項目資金支持" in text and "2026年11月6日" in text


def test_a_publicity_that_does_not_exist_is_404(db):
    assert page(None, "/reports/publicity/424242/list.pdf").status_code == 404
    assert_error(api(None, "/api/v1/publicity/424242/list-pdf/"), 404, "not_found")


# ---------------------------------------------------------------- the links and the schema

def test_the_pages_that_show_an_award_link_to_its_letter(world, people):
    award = world["award"]
    link = f'href="/reports/awards/{award.pk}/letter.pdf"'

    office = page(people["management"], f"/office/applications/{award.application_id}/")
    portal = page(people["member"], f"/applications/{award.application_id}/")
    notice = page(None, f"/publicity/{world['notice'].pk}/")

    assert link in office.content.decode()
    assert link in portal.content.decode()
    assert f'href="/reports/publicity/{world["notice"].pk}/list.pdf"' in notice.content.decode()


def test_the_company_page_has_no_letter_link_before_the_award_is_final(demo_call, staff):
    application = reviewed(demo_call)
    approve(staff, application)

    response = page(application.company.created_by, f"/applications/{application.pk}/")

    assert response.status_code == 200
    assert "letter.pdf" not in response.content.decode()
    assert application.status != Status.AWARDED


def test_the_schema_documents_both_documents_as_pdf(db):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()

    for path in ("/api/v1/awards/{id}/letter/", "/api/v1/publicity/{id}/list-pdf/"):
        operation = schema["paths"][path]["get"]
        assert "application/pdf" in operation["responses"]["200"]["content"]
        assert operation["responses"]["404"]
    assert schema["paths"]["/api/v1/awards/{id}/letter/"]["get"]["responses"]["401"]
