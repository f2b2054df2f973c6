"""Who may use which endpoint: 401 anonymous, 404 not visible, 403 not yours (API.md)."""

import pytest

from applications.models import Application, Attachment, Invitation, StatusEvent
from tests.applications import assert_error
from tests.factories import CompanyFactory, member, staff_user

APP = "/api/v1/applications/{app}/"
ATT = APP + "attachments/{att}/"

# (method, path, body) of every endpoint that needs a login.
LOGIN_REQUIRED = [
    ("get", "/api/v1/me/", None),
    ("patch", "/api/v1/me/", {"preferred_language": "en"}),
    ("get", "/api/v1/companies/", None),
    ("post", "/api/v1/companies/", {"name": "x"}),
    ("get", "/api/v1/companies/{company}/", None),
    ("get", "/api/v1/companies/{company}/members/", None),
    ("post", "/api/v1/companies/{company}/members/", {"email": "a@example.cn",
                                                      "role": "viewer"}),
    ("post", "/api/v1/calls/", {"measure": "demo-project"}),
    ("get", "/api/v1/applications/", None),
    ("post", "/api/v1/applications/", {"call": 1, "company": 1}),
    ("get", APP, None),
    ("patch", APP, {"inputs": {"scene": "airport"}}),
    ("post", APP + "attachments/", None),
    ("delete", ATT, None),
    ("get", ATT + "download/", None),
    ("post", APP + "submit/", None),
    ("post", APP + "withdraw/", None),
    ("post", APP + "accept/", None),
    ("post", APP + "return/", {"reason": "x"}),
    ("post", APP + "reject/", {"reason": "x"}),
    ("get", APP + "history/", None),
    ("get", APP + "revisions/", None),
]

# Endpoints about one company or application: 404 for a user of another company.
DETAIL = [e for e in LOGIN_REQUIRED if "{company}" in e[1] or "{app}" in e[1]]

# Writes a viewer of the company may not make.
VIEWER_WRITES = [
    ("post", "/api/v1/companies/{company}/members/", {"email": "a@example.cn",
                                                      "role": "viewer"}),
    ("patch", APP, {"inputs": {"scene": "airport"}}),
    ("post", APP + "attachments/", None),
    ("delete", ATT, None),
    ("post", APP + "submit/", None),
    ("post", APP + "withdraw/", None),
]

# Staff-only endpoints, tried by the company's own owner.
STAFF_ONLY = [
    ("post", "/api/v1/calls/", "call"),
    ("post", APP + "accept/", None),
    ("post", APP + "return/", {"reason": "x"}),
    ("post", APP + "reject/", {"reason": "x"}),
]


@pytest.fixture
def world(api, draft, company, upload):
    """A draft of `company` with one document."""
    attachment = upload(api, draft["id"], "project_report").json()
    return {"company": company.pk, "app": draft["id"], "att": attachment["id"]}


def request(client, method, path, body, world):
    path = path.format(**world)
    if method == "post" and path.endswith("/attachments/"):
        from django.core.files.uploadedfile import SimpleUploadedFile

        from tests.factories import tiny_pdf

        return client.post(path, {"kind": "project_report", "file": SimpleUploadedFile(
            "a.pdf", tiny_pdf(), content_type="application/pdf")}, format="multipart")
    return getattr(client, method)(path, body, format="json")


def snapshot():
    """What a refused request must leave as it was."""
    return (list(Application.objects.values_list("status", "inputs")),
            list(Attachment.objects.values_list("pk", "removed_at")),
            StatusEvent.objects.count(), Invitation.objects.count())


@pytest.mark.parametrize(("method", "path", "body"), LOGIN_REQUIRED)
def test_anonymous_requests_are_401(anon, world, method, path, body):
    before = snapshot()

    response = request(anon, method, path, body, world)

    assert_error(response, 401, "not_authenticated")
    assert response.has_header("WWW-Authenticate")
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"), LOGIN_REQUIRED)
def test_a_bad_token_is_401(anon, world, method, path, body):
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert_error(request(anon, method, path, body, world), 401)


@pytest.mark.parametrize(("method", "path", "body"), DETAIL)
def test_another_companys_user_gets_404(client_for, world, method, path, body):
    stranger = client_for(CompanyFactory().created_by)
    before = snapshot()

    assert_error(request(stranger, method, path, body, world), 404, "not_found")
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"), VIEWER_WRITES)
def test_a_viewer_gets_403_on_writes(client_for, company, world, method, path, body):
    viewer = client_for(member(company, "viewer"))
    before = snapshot()

    assert_error(request(viewer, method, path, body, world), 403, "forbidden")
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"), STAFF_ONLY)
def test_staff_only_endpoints_are_403_for_company_users(api, catalogue, world, method, path,
                                                        body):
    if body == "call":
        body = {"measure": "demo-project", "funding_year": 2026,
                "opens_at": "2026-01-01T00:00:00+08:00", "closes_at": "2026-03-01T00:00:00+08:00"}
    before = snapshot()

    assert_error(request(api, method, path, body, world), 403)
    assert snapshot() == before


@pytest.mark.parametrize(("method", "path", "body"), [
    e for e in DETAIL if "{app}" in e[1]])
def test_staff_do_not_reach_a_companys_draft(client_for, world, method, path, body):
    assert_error(request(client_for(staff_user()), method, path, body, world), 404)


def test_public_endpoints_need_no_login(anon, world, call):
    assert anon.get("/api/v1/calls/").status_code == 200
    assert anon.get(f"/api/v1/calls/{call.pk}/").status_code == 200


def test_the_schema_documents_the_portal(anon, db):
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in ("/api/v1/auth/register/", "/api/v1/me/", "/api/v1/companies/",
                 "/api/v1/companies/{id}/members/", "/api/v1/calls/", "/api/v1/applications/",
                 "/api/v1/applications/{id}/", "/api/v1/applications/{id}/attachments/",
                 "/api/v1/applications/{id}/attachments/{att_id}/download/",
                 "/api/v1/applications/{id}/submit/", "/api/v1/applications/{id}/return/",
                 "/api/v1/applications/{id}/history/",
                 "/api/v1/applications/{id}/revisions/"):
        assert path in paths, path
    create = paths["/api/v1/applications/"]["post"]
    assert "requestBody" in create
    assert set(create["responses"]) >= {"201", "400", "401", "403", "409"}
    components = schema["components"]["schemas"]
    assert {"call", "company", "inputs"} <= set(components["ApplicationCreateRequest"][
        "properties"])
    assert {"estimate", "attachments", "next_actions", "inputs"} <= set(
        components["ApplicationDetail"]["properties"])
    upload = paths["/api/v1/applications/{id}/attachments/"]["post"]["requestBody"]
    assert "multipart/form-data" in upload["content"]


@pytest.mark.parametrize("path", sorted({e[1] for e in LOGIN_REQUIRED}))
@pytest.mark.parametrize("method", ["get", "options"])
def test_a_browser_or_an_options_request_never_gets_a_500(api, world, path, method):
    """The browsable API renders forms from each action's serializer."""
    response = getattr(api, method)(path.format(**world), HTTP_ACCEPT="text/html")

    assert response.status_code in (200, 405), response.content[:300]
