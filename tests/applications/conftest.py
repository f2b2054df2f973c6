"""Fixtures of the company portal's API tests."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import DEMO_PROJECT_INPUTS, CompanyFactory, company_user, open_call, tiny_pdf


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    """Uploaded documents go to a temporary folder, never into the repository."""
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    return settings.PRIVATE_STORAGE_ROOT


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def client_for():
    """An API client authenticated with the user's token, as outside clients are."""

    def make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0]}")
        return client

    return make


@pytest.fixture
def owner(db):
    return company_user()


@pytest.fixture
def company(owner):
    return CompanyFactory(created_by=owner)


@pytest.fixture
def call(catalogue):
    return open_call("demo-project")


@pytest.fixture
def api(client_for, owner):
    """The company owner's client."""
    return client_for(owner)


@pytest.fixture
def draft(api, call, company):
    """A demo-project draft of `company`, created through the API; returns its JSON."""
    response = api.post("/api/v1/applications/", {
        "call": call.pk, "company": company.pk, "inputs": DEMO_PROJECT_INPUTS}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def upload():
    """Upload a file to an application as `client`; returns the response."""

    def send(client, application_id, kind, content=None, name="document.pdf"):
        file = SimpleUploadedFile(name, tiny_pdf() if content is None else content,
                                  content_type="application/pdf")
        return client.post(f"/api/v1/applications/{application_id}/attachments/",
                           {"kind": kind, "file": file}, format="multipart")

    return send


@pytest.fixture
def complete(upload, call):
    """Attach every required document of the call's measure version to an application."""

    def attach_all(client, application_id):
        version = call.measure.versions.order_by("-number").first()
        for document in version.documents:
            response = upload(client, application_id, document["kind"])
            assert response.status_code == 201, response.content

    return attach_all


@pytest.fixture
def submitted(api, draft, complete):
    """The draft, complete and submitted; returns its JSON."""
    complete(api, draft["id"])
    response = api.post(f"/api/v1/applications/{draft['id']}/submit/")
    assert response.status_code == 200, response.content
    return response.json()
