"""Documents: the measure's kinds only, recognised by content, at most 20 MB, stored privately."""

import hashlib
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError

from applications import services, uploads
from applications.models import Application, Attachment, Status
from qianhai_grants.errors import DomainError
from tests.applications.test_uploads import (
    ELF,
    JPEG_1PX,
    WINDOWS_EXE,
    docm_bytes,
    docx_bytes,
    png_1px,
    xlsx_bytes,
    zip_of,
)
from tests.factories import (
    DEMO_PROJECT_INPUTS,
    CompanyFactory,
    member,
    open_call,
    staff_user,
    tiny_pdf,
    uscc,
)


@pytest.fixture
def company(catalogue):
    return CompanyFactory(registration_number=uscc(11))


@pytest.fixture
def owner(company):
    return company.created_by


@pytest.fixture
def draft(owner, company):
    return services.application_create(by=owner, call=open_call(), company=company,
                                       inputs=DEMO_PROJECT_INPUTS)[0]


def pdf(name="投资证明.pdf", data=None):
    return SimpleUploadedFile(name, tiny_pdf() if data is None else data, "application/pdf")


def add(by, application, kind="investment_evidence", upload=None):
    return services.attachment_add(by=by, application=application, kind=kind,
                                   upload=pdf() if upload is None else upload)


def refused(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def stored_files() -> list[Path]:
    return [p for p in Path(settings.PRIVATE_STORAGE_ROOT).rglob("*") if p.is_file()]


def test_a_document_is_stored_privately_with_its_facts(owner, draft):
    attachment = add(owner, draft)
    path = Path(settings.PRIVATE_STORAGE_ROOT) / attachment.stored_name
    assert path.read_bytes() == tiny_pdf()
    assert stored_files() == [path]
    assert (attachment.kind, attachment.original_name, attachment.content_type) == (
        "investment_evidence", "投资证明.pdf", "application/pdf")
    assert attachment.size == len(tiny_pdf())
    assert attachment.sha256 == hashlib.sha256(tiny_pdf()).hexdigest()
    assert attachment.uploaded_by == owner and attachment.removed_at is None
    assert attachment.stored_name != attachment.original_name
    assert attachment.stored_name.endswith(".pdf")


def test_the_stored_file_is_outside_every_served_folder(owner, draft):
    path = (Path(settings.PRIVATE_STORAGE_ROOT) / add(owner, draft).stored_name).resolve()
    for served in (settings.STATIC_ROOT, settings.MEDIA_ROOT, *settings.STATICFILES_DIRS):
        if served:
            assert Path(served).resolve() not in path.parents
    assert Path(settings.PRIVATE_STORAGE_ROOT).resolve() in path.parents


def test_documents_are_refused_when_private_storage_is_served(owner, draft, settings):
    settings.PRIVATE_STORAGE_ROOT = str(Path(settings.STATIC_ROOT) / "private")
    with pytest.raises(Exception, match="STATIC_ROOT"):
        add(owner, draft)
    assert not Attachment.objects.exists()


@pytest.mark.parametrize(("data", "name", "content_type", "stored_as"), [
    (tiny_pdf(), "a.pdf", "application/pdf", "a.pdf"),
    (JPEG_1PX, "现场照片.jpeg", "image/jpeg", "现场照片.jpg"),
    (png_1px(), "scan.PNG", "image/png", "scan.png"),
    (docx_bytes(), "报告.docx", uploads.DOCX.content_type, "报告.docx"),
    (xlsx_bytes(), "预算.xlsx", uploads.XLSX.content_type, "预算.xlsx"),
    (tiny_pdf(), "report.docx", "application/pdf", "report.pdf"),   # the true extension wins
    (tiny_pdf(), "../../etc/passwd", "application/pdf", "passwd.pdf"),
])
def test_every_accepted_type(owner, draft, data, name, content_type, stored_as):
    attachment = add(owner, draft, upload=SimpleUploadedFile(name, data, "text/plain"))
    assert (attachment.content_type, attachment.original_name) == (content_type, stored_as)


@pytest.mark.parametrize(("data", "name"), [
    (WINDOWS_EXE, "report.pdf"),
    (ELF, "report.pdf"),
    (zip_of({"a.txt": "x"}), "report.docx"),
    (docm_bytes(), "report.docx"),
    (b"<html><body>hi</body></html>", "report.pdf"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "chart.png"),
    (b"just text", "notes.pdf"),
])
def test_content_that_is_not_an_accepted_type_is_refused(owner, draft, data, name):
    error = refused(lambda: add(owner, draft, upload=SimpleUploadedFile(
        name, data, "application/pdf")))
    assert (error.status, list(error.fields)) == (400, ["file"])
    assert not Attachment.objects.exists() and stored_files() == []


def test_an_empty_file_is_refused(owner, draft):
    error = refused(lambda: add(owner, draft, upload=pdf(data=b"")))
    assert list(error.fields) == ["file"]


def test_no_file_is_refused(owner, draft):
    error = refused(lambda: services.attachment_add(by=owner, application=draft,
                                                    kind="investment_evidence", upload=None))
    assert list(error.fields) == ["file"]


def test_twenty_mb_is_accepted_and_one_byte_more_refused(owner, draft):
    exactly = tiny_pdf() + b"\x00" * (uploads.MAX_UPLOAD_BYTES - len(tiny_pdf()))
    assert add(owner, draft, upload=pdf(data=exactly)).size == uploads.MAX_UPLOAD_BYTES
    error = refused(lambda: add(owner, draft, upload=pdf(data=exactly + b"\x00")))
    assert (error.status, list(error.fields)) == (400, ["file"])
    assert Attachment.objects.count() == 1 and len(stored_files()) == 1


@pytest.mark.parametrize("kind", ["consent_letter", "research_plan", "", None, "../x",
                                  ["investment_evidence"], 7])
def test_the_kind_must_be_a_document_of_the_measure(owner, draft, kind):
    error = refused(lambda: add(owner, draft, kind=kind))
    assert (error.status, list(error.fields)) == (400, ["kind"])
    assert "investment_evidence" in error.fields["kind"][0]
    assert stored_files() == []


def test_kind_and_file_problems_are_reported_together(owner, draft):
    error = refused(lambda: add(owner, draft, kind="nope", upload=pdf(data=WINDOWS_EXE)))
    assert set(error.fields) == {"kind", "file"}


def test_an_upload_without_a_name_gets_one(owner, draft):
    upload = pdf()
    upload.name = None
    assert add(owner, draft, upload=upload).original_name == "document.pdf"


def test_a_database_failure_removes_the_stored_file(owner, draft):
    with mock.patch.object(Attachment.objects, "create", side_effect=DatabaseError("disk full")
                           ), pytest.raises(DatabaseError):
        add(owner, draft)
    assert stored_files() == []


def test_a_failure_after_the_row_is_written_removes_the_file_and_the_row(owner, draft):
    real_create = Attachment.objects.create

    def create_then_fail(**kwargs):
        real_create(**kwargs)
        raise DatabaseError("connection lost")

    with mock.patch.object(Attachment.objects, "create", side_effect=create_then_fail), \
            pytest.raises(DatabaseError):
        add(owner, draft)
    assert stored_files() == [] and not Attachment.objects.exists()


def test_an_editor_may_add_a_viewer_may_not_a_stranger_gets_404(draft, company):
    assert add(member(company, "editor"), draft).pk
    assert refused(lambda: add(member(company, "viewer"), draft)).status == 403
    assert refused(lambda: add(staff_user(), draft)).status == 404
    assert Attachment.objects.count() == 1 and len(stored_files()) == 1


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.ACCEPTED, Status.WITHDRAWN])
def test_documents_are_fixed_once_submitted(owner, draft, status):
    Application.objects.filter(pk=draft.pk).update(status=status)
    draft.refresh_from_db()
    error = refused(lambda: add(owner, draft))
    assert (error.status, error.code) == (409, "invalid_transition")
    assert stored_files() == []


def test_a_stale_object_does_not_let_a_document_slip_in_after_submission(owner, draft):
    Application.objects.filter(pk=draft.pk).update(status=Status.SUBMITTED)
    assert draft.status == Status.DRAFT  # the caller's copy is out of date
    error = refused(lambda: add(owner, draft))
    assert error.code == "invalid_transition"
    assert stored_files() == [] and not Attachment.objects.exists()


def test_a_returned_application_takes_documents(owner, draft):
    Application.objects.filter(pk=draft.pk).update(status=Status.RETURNED)
    draft.refresh_from_db()
    assert add(owner, draft).pk


def test_remove_marks_the_document_removed_and_keeps_the_file(owner, draft):
    attachment = add(owner, draft)
    services.attachment_remove(by=owner, attachment=attachment)
    attachment.refresh_from_db()
    assert attachment.removed_at is not None
    assert len(stored_files()) == 1  # revisions may refer to it


def test_remove_is_refused_after_submission_and_for_viewers(owner, draft, company):
    attachment = add(owner, draft)
    assert refused(lambda: services.attachment_remove(
        by=member(company, "viewer"), attachment=attachment)).status == 403
    Application.objects.filter(pk=draft.pk).update(status=Status.SUBMITTED)
    attachment.refresh_from_db()
    assert refused(lambda: services.attachment_remove(
        by=owner, attachment=attachment)).code == "invalid_transition"
    attachment.refresh_from_db()
    assert attachment.removed_at is None
