"""Request-level tests of documents: upload, list, download, remove, and who may do each."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from applications import services, uploads
from applications.models import Attachment, Status
from tests import factories
from tests.factories import DEMO_PROJECT_INPUTS, CompanyFactory, member, open_call


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = str(tmp_path / "private")


@pytest.fixture
def draft(catalogue):
    company = CompanyFactory()
    application, _ = services.application_create(
        by=company.created_by, call=open_call("demo-project"), company=company,
        inputs=DEMO_PROJECT_INPUTS)
    return application


@pytest.fixture
def owner(draft):
    return draft.company.created_by


def upload(client, application, kind="investment_evidence", name="x.pdf", content=None,
           **headers):
    return client.post(f"/applications/{application.pk}/attachments/", {
        "kind": kind, "file": SimpleUploadedFile(name, content or factories.tiny_pdf())},
        **headers)


def test_the_required_documents_are_uploaded_listed_and_downloaded(client, draft, owner):
    client.force_login(owner)

    for document in draft.measure_version.documents:
        response = upload(client, draft, kind=document["kind"], name="../../报告 final.pdf")
        assert response.status_code == 302
    page = client.get(f"/applications/{draft.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    attachment = Attachment.objects.filter(application=draft).first()
    response = client.get(f"/applications/{draft.pk}/attachments/{attachment.pk}/")

    assert page.count("报告 final.pdf") == 2
    assert "Evidence of actual investment" in page
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == factories.tiny_pdf()
    assert response["Content-Type"] == "application/pdf"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert ".." not in disposition and "/" not in disposition.split("filename", 1)[1]
    assert attachment.original_name == "报告 final.pdf"


def test_a_renamed_executable_is_refused_with_the_field_error(client, draft, owner):
    client.force_login(owner)

    response = upload(client, draft, name="invoice.pdf",
                      content=b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 64,
                      HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    page = response.content.decode()
    field = page.split('name="file"', 1)[1].split("</div>", 1)[0]
    assert "Only PDF, JPEG, PNG, DOCX and XLSX files are accepted" in field
    assert not Attachment.objects.exists()


def test_an_unknown_document_kind_is_refused_on_its_field(client, draft, owner):
    client.force_login(owner)

    response = upload(client, draft, kind="passport", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    field = response.content.decode().split('name="kind"', 1)[1].split("</div>", 1)[0]
    assert "Choose one of:" in field


def test_a_document_is_removed_while_the_application_is_editable(client, draft, owner):
    client.force_login(owner)
    upload(client, draft)
    attachment = Attachment.objects.get()

    response = client.post(f"/applications/{draft.pk}/attachments/{attachment.pk}/remove/")

    assert response.status_code == 302
    attachment.refresh_from_db()
    assert attachment.removed_at is not None
    page = client.get(f"/applications/{draft.pk}/").content.decode()
    assert f"/attachments/{attachment.pk}/remove/" not in page


def test_documents_cannot_change_after_submission(client, draft, owner):
    client.force_login(owner)
    for document in draft.measure_version.documents:
        upload(client, draft, kind=document["kind"])
    client.post(f"/applications/{draft.pk}/submit/")
    draft.refresh_from_db()
    assert draft.status == Status.SUBMITTED
    attachment = Attachment.objects.first()

    page = client.get(f"/applications/{draft.pk}/").content.decode()
    removed = client.post(f"/applications/{draft.pk}/attachments/{attachment.pk}/remove/")
    added = upload(client, draft)

    assert "/remove/" not in page
    assert removed.status_code == 409
    assert added.status_code == 409
    attachment.refresh_from_db()
    assert attachment.removed_at is None
    assert Attachment.objects.count() == 2


def test_downloads_are_for_those_who_may_see_the_application(client, draft, owner):
    client.force_login(owner)
    upload(client, draft)
    attachment = Attachment.objects.get()
    url = f"/applications/{draft.pk}/attachments/{attachment.pk}/"
    client.logout()

    assert client.get(url)["Location"].startswith("/accounts/login/")
    client.force_login(CompanyFactory().created_by)
    assert client.get(url).status_code == 404
    client.force_login(member(draft.company, role="viewer"))
    assert client.get(url).status_code == 200


def test_an_attachment_of_another_application_is_404(client, draft, owner):
    client.force_login(owner)
    upload(client, draft)
    attachment = Attachment.objects.get()
    other = CompanyFactory()
    mine, _ = services.application_create(by=other.created_by, call=draft.call, company=other)
    client.force_login(other.created_by)

    assert client.get(f"/applications/{mine.pk}/attachments/{attachment.pk}/").status_code == 404
    assert client.post(
        f"/applications/{mine.pk}/attachments/{attachment.pk}/remove/").status_code == 404


def test_viewers_cannot_upload_or_remove(client, draft, owner):
    client.force_login(owner)
    upload(client, draft)
    attachment = Attachment.objects.get()
    client.force_login(member(draft.company, role="viewer"))

    assert upload(client, draft).status_code == 403
    assert client.post(
        f"/applications/{draft.pk}/attachments/{attachment.pk}/remove/").status_code == 403
    assert Attachment.objects.filter(removed_at__isnull=True).count() == 1


def test_files_are_kept_in_private_storage(client, draft, owner, settings):
    client.force_login(owner)
    upload(client, draft)
    attachment = Attachment.objects.get()

    assert str(uploads.private_storage().location).startswith(str(settings.PRIVATE_STORAGE_ROOT))
    assert uploads.private_storage().exists(attachment.stored_name)
