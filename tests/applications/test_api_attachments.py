"""Documents: upload, download and removal through /api/v1/applications/{id}/attachments/."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from applications.models import Attachment
from tests.applications import assert_error
from tests.factories import CompanyFactory, company_user, member, staff_user, tiny_pdf

EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
TWENTY_MB = 20 * 1024 * 1024


def attachments_url(application_id):
    return f"/api/v1/applications/{application_id}/attachments/"


def test_uploading_a_pdf(api, draft, upload, private_storage):
    response = upload(api, draft["id"], "investment_evidence", name="../../投资 证明.PDF")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "investment_evidence"
    assert body["name"] == "投资 证明.pdf"
    assert body["size"] == len(tiny_pdf())
    assert body["content_type"] == "application/pdf"
    assert body["download_url"].startswith("http://testserver/api/v1/applications/")
    stored = Attachment.objects.get(pk=body["id"]).stored_name
    assert (private_storage / stored).read_bytes() == tiny_pdf()
    detail = api.get(f"/api/v1/applications/{draft['id']}/").json()
    assert [a["id"] for a in detail["attachments"]] == [body["id"]]


def test_a_renamed_executable_is_refused_naming_file(api, draft, upload, private_storage):
    response = upload(api, draft["id"], "investment_evidence", content=EXECUTABLE, name="x.pdf")

    assert_error(response, 400, "invalid", ["file"])
    assert not Attachment.objects.exists()
    assert not private_storage.exists() or not any(private_storage.iterdir())


def test_a_file_over_20_mb_is_refused_naming_file(api, draft, upload):
    content = tiny_pdf() + b"0" * (TWENTY_MB + 1 - len(tiny_pdf()))

    response = upload(api, draft["id"], "investment_evidence", content=content)

    assert_error(response, 400, "invalid", ["file"])
    assert not Attachment.objects.exists()


def test_a_file_of_exactly_20_mb_is_accepted(api, draft, upload):
    content = tiny_pdf() + b"0" * (TWENTY_MB - len(tiny_pdf()))

    response = upload(api, draft["id"], "investment_evidence", content=content)

    assert response.status_code == 201, response.content
    assert response.json()["size"] == TWENTY_MB


@pytest.mark.parametrize(("kind", "content", "field"), [
    ("no_such_document", None, "kind"),
    ("", None, "kind"),
    ("investment_evidence", b"", "file"),
])
def test_invalid_uploads_are_400_naming_the_field(api, draft, upload, kind, content, field):
    assert_error(upload(api, draft["id"], kind, content=content), 400, "invalid", [field])


def test_an_upload_without_a_file_is_400_naming_file(api, draft):
    response = api.post(attachments_url(draft["id"]), {"kind": "investment_evidence"},
                        format="multipart")

    assert_error(response, 400, "invalid", ["file"])


def test_uploads_are_multipart_only(api, draft):
    response = api.post(attachments_url(draft["id"]), {"kind": "investment_evidence"},
                        format="json")

    assert_error(response, 415)


def test_a_viewer_cannot_upload(client_for, company, draft, upload):
    viewer = client_for(member(company, "viewer"))

    assert_error(upload(viewer, draft["id"], "investment_evidence"), 403, "forbidden")


def test_another_company_cannot_upload(client_for, draft, upload):
    stranger = client_for(CompanyFactory().created_by)

    assert_error(upload(stranger, draft["id"], "investment_evidence"), 404)


def test_uploading_needs_login(anon, draft, upload):
    assert_error(upload(anon, draft["id"], "investment_evidence"), 401, "not_authenticated")


def test_no_uploads_once_submitted(api, submitted, upload):
    assert_error(upload(api, submitted["id"], "investment_evidence"), 409, "invalid_transition")


# ---------------------------------------------------------------- download

def download(client, application_id, attachment_id, **headers):
    return client.get(f"{attachments_url(application_id)}{attachment_id}/download/", **headers)


def test_downloading_a_document(api, draft, upload):
    attachment = upload(api, draft["id"], "project_report", name="报告.pdf").json()

    response = download(api, draft["id"], attachment["id"], HTTP_ACCEPT="application/pdf")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == tiny_pdf()
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "%E6%8A%A5%E5%91%8A.pdf" in response["Content-Disposition"]


def test_the_download_url_in_the_detail_works(api, draft, upload):
    upload(api, draft["id"], "project_report")
    url = api.get(f"/api/v1/applications/{draft['id']}/").json()["attachments"][0][
        "download_url"]

    response = api.get(url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == tiny_pdf()


def test_staff_download_documents_of_submitted_applications(client_for, submitted):
    attachment = Attachment.objects.filter(application_id=submitted["id"]).first()

    response = download(client_for(staff_user()), submitted["id"], attachment.pk)

    assert response.status_code == 200


def test_downloads_are_404_for_whoever_cannot_see_the_application(client_for, draft, upload,
                                                                   api):
    attachment = upload(api, draft["id"], "project_report").json()

    for user in (CompanyFactory().created_by, company_user(), staff_user()):
        assert_error(download(client_for(user), draft["id"], attachment["id"]), 404)


def test_a_document_of_another_application_is_404(api, client_for, call, upload, draft):
    other = CompanyFactory()
    theirs = client_for(other.created_by)
    their_draft = theirs.post("/api/v1/applications/", {"call": call.pk, "company": other.pk},
                              format="json").json()
    their_document = upload(theirs, their_draft["id"], "project_report").json()

    # The id of someone else's document under one's own application's path.
    assert_error(download(api, draft["id"], their_document["id"]), 404)
    assert_error(api.delete(f"{attachments_url(draft['id'])}{their_document['id']}/"), 404)


def test_downloading_needs_login(anon, api, draft, upload):
    attachment = upload(api, draft["id"], "project_report").json()

    assert_error(download(anon, draft["id"], attachment["id"]), 401)


def test_a_missing_stored_file_is_404(api, draft, upload, private_storage):
    attachment = upload(api, draft["id"], "project_report").json()
    (private_storage / Attachment.objects.get(pk=attachment["id"]).stored_name).unlink()

    assert_error(download(api, draft["id"], attachment["id"]), 404)


# ---------------------------------------------------------------- removal

def test_removing_a_document(api, draft, upload):
    attachment = upload(api, draft["id"], "project_report").json()

    response = api.delete(f"{attachments_url(draft['id'])}{attachment['id']}/")

    assert response.status_code == 204
    assert Attachment.objects.get(pk=attachment["id"]).removed_at is not None
    assert api.get(f"/api/v1/applications/{draft['id']}/").json()["attachments"] == []
    assert_error(api.delete(f"{attachments_url(draft['id'])}{attachment['id']}/"), 404)


def test_a_viewer_cannot_remove_a_document(api, client_for, company, draft, upload):
    attachment = upload(api, draft["id"], "project_report").json()
    viewer = client_for(member(company, "viewer"))

    response = viewer.delete(f"{attachments_url(draft['id'])}{attachment['id']}/")

    assert_error(response, 403, "forbidden")
    assert Attachment.objects.get(pk=attachment["id"]).removed_at is None


def test_no_removal_once_submitted(api, submitted):
    attachment = Attachment.objects.filter(application_id=submitted["id"]).first()

    response = api.delete(f"{attachments_url(submitted['id'])}{attachment.pk}/")

    assert_error(response, 409, "invalid_transition")


def test_uploading_with_a_session_login(db, draft, company, owner):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(owner)
    file = SimpleUploadedFile("a.pdf", tiny_pdf(), content_type="application/pdf")

    response = client.post(attachments_url(draft["id"]),
                           {"kind": "project_report", "file": file}, format="multipart")

    assert response.status_code == 201, response.content
