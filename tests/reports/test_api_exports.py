"""The exports' API: direct downloads (`GET /api/v1/reports/{applications,awards}.{csv,xlsx}`)
and background jobs (`/api/v1/reports/exports/`): 202 with Location, progress, the file; 400
naming the field, 401, 403, 404 for a job that is not yours, 409 above the direct limit."""

import codecs
import csv
import io

import openpyxl
import pytest
from rest_framework.test import APIClient

from reports.models import ExportJob, ExportState
from tests.factories import company_user, staff_user
from tests.reports import test_exports_csv
from tests.reports.test_exports_csv import PORT, management_user

exports_world = test_exports_csv.exports_world  # the fixture

JOBS = "/api/v1/reports/exports/"


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    return settings.PRIVATE_STORAGE_ROOT


@pytest.fixture
def api():
    return APIClient()


def as_user(api, user) -> APIClient:
    api.force_authenticate(user)
    return api


def test_a_background_export_answers_202_then_done_then_the_file(
        api, exports_world, django_capture_on_commit_callbacks):
    w = exports_world
    as_user(api, w.management)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(JOBS, {"kind": "awards", "format": "xlsx", "funding_year": 2026},
                            format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 202, response.content
    job = ExportJob.objects.get()
    body = response.json()
    assert response["Location"] == body["url"] == f"http://testserver{JOBS}{job.pk}/"
    assert (body["kind"], body["format"], body["filters"], body["language"]) == (
        "awards", "xlsx", {"funding_year": "2026"}, "en")
    assert body["state"] == "queued" and body["download_url"] is None

    detail = api.get(response["Location"]).json()
    assert detail["state"] == "done" and detail["percent"] == 100
    assert detail["rows_done"] == detail["rows_total"] == 3  # the 2026 awards
    assert detail["download_url"] == f"http://testserver{JOBS}{job.pk}/download/"

    download = api.get(detail["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content)))
    assert book.active["A1"].value == "Award no." and book.active.max_row == 4

    listed = api.get(JOBS).json()
    assert [j["id"] for j in listed["results"]] == [job.pk]


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "payments", "format": "csv"}, "kind"),
    ({"kind": "awards", "format": "pdf"}, "format"),
    ({"format": "csv"}, "kind"),
    ({"kind": "awards", "format": "csv", "funding_year": "soon"}, "funding_year"),
    ({"kind": "awards", "format": "csv", "funding_year": 1900}, "funding_year"),
    ({"kind": "awards", "format": "csv", "year": 1900}, "year"),
    ({"kind": "awards", "format": "csv", "pillar": "moon"}, "pillar"),
    ({"kind": "awards", "format": "csv", "measure": "no-such-measure"}, "measure"),
])
def test_invalid_input_is_a_400_naming_the_field(api, exports_world, body, field):
    response = as_user(api, exports_world.management).post(JOBS, body, format="json")
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid" and list(error["fields"]) == [field]
    assert not ExportJob.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(api, exports_world):
    response = as_user(api, exports_world.staff).post(JOBS, [1, 2], format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_a_job_is_its_requesters_and_staffs(api, exports_world,
                                            django_capture_on_commit_callbacks):
    w = exports_world
    with django_capture_on_commit_callbacks(execute=True):
        as_user(api, w.management).post(JOBS, {"kind": "applications", "format": "csv"},
                                        format="json")
    job = ExportJob.objects.get()
    detail, download = f"{JOBS}{job.pk}/", f"{JOBS}{job.pk}/download/"

    as_user(api, staff_user())
    assert api.get(detail).status_code == 200 and api.get(download).status_code == 200
    assert api.get(JOBS).json()["count"] == 0  # the list is one's own

    as_user(api, management_user())
    for url in (detail, download):
        response = api.get(url)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api.get(f"{JOBS}999999/").status_code == 404

    as_user(api, company_user())
    assert api.get(detail).status_code == 403
    assert api.post(JOBS, {"kind": "awards", "format": "csv"}, format="json").status_code == 403
    api.force_authenticate(None)
    response = api.get(detail)
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_a_job_not_done_has_no_file(api, exports_world):
    w = exports_world
    as_user(api, w.management)
    response = api.post(JOBS, {"kind": "applications", "format": "csv"}, format="json")
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.state == ExportState.QUEUED  # no commit in this test: never handed to Celery
    assert api.get(f"{JOBS}{job.pk}/download/").status_code == 404


def test_direct_csv_download_with_filters(api, exports_world):
    w = exports_world
    response = as_user(api, w.management).get(
        "/api/v1/reports/applications.csv?year=2026&measure=demo-project",
        HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    content = b"".join(response.streaming_content)
    assert content.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert len(rows) == 9 and PORT in {row[5] for row in rows}
    assert {row[1] for row in rows[1:]} == {"2026"}


def test_direct_xlsx_download(api, exports_world):
    response = as_user(api, exports_world.staff).get("/api/v1/reports/awards.xlsx",
                                                    HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert book.sheetnames == ["Awards"] and book.active.max_row == 5


def test_direct_download_errors(api, exports_world, settings):
    w = exports_world
    response = as_user(api, w.management).get("/api/v1/reports/awards.csv?year=soon",
                                               HTTP_ACCEPT="text/csv")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()["fields"]) == ["year"]

    settings.REPORTS_DIRECT_EXPORT_MAX_ROWS = 3
    response = api.get("/api/v1/reports/applications.csv")
    assert response.status_code == 409 and response.json()["code"] == "export_too_large"
    assert api.get("/api/v1/reports/applications.csv?measure=compute-platform").status_code \
        == 200

    as_user(api, company_user())
    assert api.get("/api/v1/reports/applications.xlsx").status_code == 403
    api.force_authenticate(None)
    assert api.get("/api/v1/reports/applications.xlsx").status_code == 401
