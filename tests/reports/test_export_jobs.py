"""Export jobs (reports.services, reports.tasks): an export over the limit of a direct answer
runs in the background (Celery, eager here), reports its progress, and its file is downloaded
by its requester and staff only, until the expiry scan deletes it."""

import codecs
import csv
import io
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from django.core import mail
from django.utils import timezone

from applications.models import Application, Profile, Status
from notices.events import Event
from notices.models import Channel, Notice
from reports import services
from reports.filters import ReportFilter
from reports.models import ExportJob, ExportState
from reports.tasks import purge_exports, run_export
from tests.factories import company_user, staff_user
from tests.reports import test_exports_csv
from tests.reports.test_exports_csv import EXPORTS, PORT, management_user

exports_world = test_exports_csv.exports_world  # the fixture


@pytest.fixture(autouse=True)
def private_root(settings, tmp_path) -> Path:
    """Files of these tests in a folder of their own; at most 3 rows answered at once."""
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    settings.REPORTS_DIRECT_EXPORT_MAX_ROWS = 3
    return settings.PRIVATE_STORAGE_ROOT


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "exports").glob("*")) if (root / "exports").exists() else []


def ask(client, user, django_capture_on_commit_callbacks, *, format="csv", kind="applications",
        **filters):
    """Ask for an export from the page, running the task queued after the commit."""
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(EXPORTS, {"kind": kind, "format": format, **filters},
                           HTTP_ACCEPT_LANGUAGE="en")


def test_a_large_export_runs_in_the_background_and_downloads_when_done(
        client, exports_world, django_capture_on_commit_callbacks, private_root):
    w = exports_world
    response = ask(client, w.management, django_capture_on_commit_callbacks)

    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reports/exports/{job.pk}/"
    assert (job.requested_by, job.kind, job.format, job.language, job.filters) == (
        w.management, "applications", "csv", "en", {})
    assert job.state == ExportState.DONE
    assert (job.rows_total, job.rows_done, job.percent) == (10, 10, 100)
    assert job.started_at <= job.finished_at
    assert job.expires_at == job.finished_at + timedelta(days=7)
    assert job.file_name.startswith("Applications_") and job.file_name.endswith(".csv")
    assert stored_files(private_root) == [private_root / job.stored_name]
    assert job.size == (private_root / job.stored_name).stat().st_size

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/reports/exports/{job.pk}/download/"' in html
    assert 'hx-trigger="every 2s"' not in html  # done: nothing left to poll

    download = client.get(f"/reports/exports/{job.pk}/download/")
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert "filename*=UTF-8''Applications_" in download["Content-Disposition"]
    assert download["Cache-Control"] == "private, no-store"
    content = b"".join(download.streaming_content)
    assert content.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert rows[0][1] == "Funding year" and len(rows) == 11
    assert PORT in {row[5] for row in rows}

    # "My exports" lists it.
    listing = client.get(EXPORTS).content.decode()
    assert f'href="/reports/exports/{job.pk}/"' in listing


def test_the_job_keeps_the_filters_and_writes_xlsx_in_its_language(
        client, exports_world, django_capture_on_commit_callbacks, private_root):
    w = exports_world
    client.force_login(w.staff)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(EXPORTS, {"kind": "applications", "format": "xlsx", "funding_year": "2026",
                              "pillar": "application_demo"})
    job = ExportJob.objects.get()
    assert job.filters == {"funding_year": "2026", "pillar": "application_demo"}
    assert job.language == "zh-hans" and job.state == ExportState.DONE
    assert job.rows_done == 8  # the 2026 demo-project applications
    book = openpyxl.load_workbook(private_root / job.stored_name)
    assert book.active["B1"].value == "资助年度"
    assert book.active.max_row == 9
    html = client.get(f"/reports/exports/{job.pk}/").content.decode()
    assert "2026" in html and "应用示范" in html  # the filters, shown


def test_a_small_export_downloads_at_once_without_a_job(client, exports_world):
    client.force_login(exports_world.management)
    response = client.post(EXPORTS, {"kind": "applications", "format": "csv",
                                     "measure": "compute-platform"})
    assert response.status_code == 200 and response.streaming
    assert not ExportJob.objects.exists()


def test_progress_while_running_is_polled(client, exports_world):
    w = exports_world
    job = services.export_request(by=w.management, kind="awards", format="csv",
                                  filter=ReportFilter(), language="en", background=True)
    ExportJob.objects.filter(pk=job.pk).update(state=ExportState.RUNNING, rows_total=40,
                                               rows_done=10)
    client.force_login(w.management)
    page = client.get(f"/reports/exports/{job.pk}/").content.decode()
    assert f'hx-get="/reports/exports/{job.pk}/"' in page and 'hx-trigger="every 2s"' in page
    partial = client.get(f"/reports/exports/{job.pk}/", HTTP_HX_REQUEST="true",
                         HTTP_ACCEPT_LANGUAGE="en")
    assert partial.templates[0].name == "reports/_export_job.html"
    body = partial.content.decode()
    assert body.lstrip().startswith('<section id="export-job"')
    assert 'value="25"' in body and "10 of 40 rows" in body
    assert "/download/" not in body
    assert client.get(f"/reports/exports/{job.pk}/download/").status_code == 404


def test_only_the_requester_and_staff_download(client, exports_world,
                                               django_capture_on_commit_callbacks):
    w = exports_world
    ask(client, w.management, django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()
    page, download = f"/reports/exports/{job.pk}/", f"/reports/exports/{job.pk}/download/"

    client.force_login(staff_user())
    assert client.get(page).status_code == 200
    assert client.get(download).status_code == 200
    for other in (management_user(), company_user()):
        client.force_login(other)
        assert client.get(page).status_code == 404
        assert client.get(download).status_code == 404
    client.logout()
    response = client.get(download)
    assert response.status_code == 302 and "/login" in response["Location"]


def test_the_expiry_scan_deletes_the_file(client, exports_world,
                                          django_capture_on_commit_callbacks, private_root):
    w = exports_world
    ask(client, w.management, django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()
    path = private_root / job.stored_name
    assert path.exists()

    assert purge_exports.delay().get() == 0  # not due yet
    assert path.exists()
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert purge_exports.delay().get() == 1
    job.refresh_from_db()
    assert job.state == ExportState.EXPIRED and job.stored_name == ""
    assert not path.exists() and stored_files(private_root) == []
    assert client.get(f"/reports/exports/{job.pk}/download/").status_code == 404
    assert services.export_purge() == 0  # nothing left to do


def test_a_job_run_again_is_left_alone(exports_world, private_root):
    w = exports_world
    job = services.export_request(by=w.management, kind="awards", format="csv",
                                  filter=ReportFilter(), language="en", background=True)
    run_export.delay(job.pk)
    job.refresh_from_db()
    first = (job.state, job.stored_name, job.finished_at)
    assert first[0] == ExportState.DONE
    run_export.delay(job.pk)  # the message delivered again
    job.refresh_from_db()
    assert (job.state, job.stored_name, job.finished_at) == first
    assert stored_files(private_root) == [private_root / job.stored_name]


def test_a_worker_that_died_mid_file_is_replaced_by_a_fresh_run(exports_world, private_root):
    w = exports_world
    job = services.export_request(by=w.management, kind="applications", format="xlsx",
                                  filter=ReportFilter(), language="en", background=True)
    # What a killed worker leaves: the job running, half its rows counted.
    ExportJob.objects.filter(pk=job.pk).update(state=ExportState.RUNNING, rows_done=5)
    run_export.delay(job.pk)
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total) == (ExportState.DONE, 10, 10)
    assert len(stored_files(private_root)) == 1


def test_a_failed_export_keeps_no_file(exports_world, private_root, monkeypatch):
    w = exports_world
    job = services.export_request(by=w.management, kind="applications", format="csv",
                                  filter=ReportFilter(), language="en", background=True)

    def broken(*args, **kwargs):
        raise ValueError("disk full")

    monkeypatch.setattr("reports.exports.write_export", broken)
    with pytest.raises(ValueError, match="disk full"):
        run_export.delay(job.pk)
    job.refresh_from_db()
    assert job.state == ExportState.FAILED and job.error == "ValueError: disk full"
    assert job.stored_name == "" and stored_files(private_root) == []
    # Failed, it expires like any other job.
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now())
    assert services.export_purge() == 1


def test_a_run_that_outlived_its_time_limit_is_failed_by_the_scan(exports_world, settings):
    w = exports_world
    job = services.export_request(by=w.management, kind="applications", format="csv",
                                  filter=ReportFilter(), language="en", background=True)
    long_ago = timezone.now() - timedelta(seconds=2 * (settings.REPORTS_EXPORT_TIME_LIMIT + 61))
    ExportJob.objects.filter(pk=job.pk).update(state=ExportState.RUNNING, started_at=long_ago)
    services.export_purge()
    job.refresh_from_db()
    assert job.state == ExportState.FAILED and "worker was lost" in job.error


def test_a_new_application_during_the_run_is_counted(exports_world, private_root, monkeypatch):
    """rows_total follows the rows actually written, never below them."""
    w = exports_world
    job = services.export_request(by=w.management, kind="applications", format="csv",
                                  filter=ReportFilter(), language="en", background=True)
    monkeypatch.setattr("reports.services.export_count", lambda **kwargs: 4)
    services.export_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.rows_done, job.rows_total) == (10, 10)


def test_only_staff_and_management_ask(exports_world):
    from qianhai_grants.errors import DomainError

    with pytest.raises(DomainError) as refused:
        services.export_request(by=company_user(), kind="applications", format="csv",
                                filter=ReportFilter(), language="en")
    assert refused.value.status == 403
    with pytest.raises(DomainError) as invalid:
        services.export_request(by=exports_world.staff, kind="payments", format="pdf",
                                filter=ReportFilter(), language="en")
    assert invalid.value.status == 400 and set(invalid.value.fields) == {"kind", "format"}


def test_the_dashboard_shows_the_export_buttons_with_its_filter(client, exports_world):
    client.force_login(exports_world.management)
    html = client.get("/reports/?funding_year=2026&measure=demo-project").content.decode()
    assert html.count(f'action="{EXPORTS}"') == 2
    assert html.count('<input type="hidden" name="funding_year" value="2026">') == 2
    assert html.count('<input type="hidden" name="measure" value="demo-project">') == 2
    assert 'name="format" value="xlsx"' in html


def test_drafts_are_never_exported_even_by_a_job(exports_world, private_root):
    w = exports_world
    job = services.export_request(by=w.staff, kind="applications", format="csv",
                                  filter=ReportFilter(), language="en", background=True)
    services.export_run(job_id=job.pk)
    job.refresh_from_db()
    text = (private_root / job.stored_name).read_bytes().decode("utf-8-sig")
    ids = {row[0] for row in csv.reader(io.StringIO(text, newline=""))}
    assert str(w.apps["draft"].pk) not in ids and str(w.apps["port"].pk) in ids
    assert Application.objects.filter(status=Status.DRAFT).exists()


def export_notices(user):
    return {n.channel: n for n in Notice.objects.filter(recipient=user)}


def test_the_requester_hears_when_the_export_is_ready_by_email_and_in_the_app(
        client, exports_world, django_capture_on_commit_callbacks):
    w = exports_world
    Profile.objects.update_or_create(user=w.management, defaults={"preferred_language": "en"})
    ask(client, w.management, django_capture_on_commit_callbacks, format="xlsx")
    job = ExportJob.objects.get()
    notices = export_notices(w.management)
    assert set(notices) == {Channel.EMAIL, Channel.IN_APP}
    in_app = notices[Channel.IN_APP]
    assert in_app.event == Event.EXPORT_READY
    assert in_app.subject == f"Your export #{job.pk} is ready"
    assert in_app.url.endswith(f"/reports/exports/{job.pk}/")
    assert f"Applications, XLSX · {job.rows_done} rows" in in_app.body
    assert "Filters: None: every funding year, pillar and measure" in in_app.body
    assert "Download it before" in in_app.body
    assert [m.to for m in mail.outbox] == [[w.management.email]]
    # Run again (the message delivered twice): nothing new is written, nobody hears it twice.
    run_export.delay(job.pk)
    assert Notice.objects.filter(recipient=w.management).count() == 2
    assert not Notice.objects.exclude(recipient=w.management).exists()


def test_the_requester_hears_when_the_export_failed(exports_world, monkeypatch):
    w = exports_world
    Profile.objects.update_or_create(user=w.management, defaults={"preferred_language": "zh-hant"})
    job = services.export_request(by=w.management, kind="applications", format="csv",
                                  filter=ReportFilter(), language="en", background=True)

    def broken(*args, **kwargs):
        raise ValueError("disk full")

    monkeypatch.setattr("reports.exports.write_export", broken)
    with pytest.raises(ValueError):
        run_export.delay(job.pk)
    notice = export_notices(w.management)[Channel.IN_APP]
    assert notice.event == Event.EXPORT_FAILED
    assert notice.subject == f"您的匯出 #{job.pk} 失敗"  # the requester's language
    assert "disk full" not in notice.body  # the error is for staff, not the requester


def test_a_job_the_scan_fails_is_told_once(exports_world, settings):
    w = exports_world
    job = services.export_request(by=w.management, kind="applications", format="csv",
                                  filter=ReportFilter(), language="en", background=True)
    long_ago = timezone.now() - timedelta(seconds=2 * (settings.REPORTS_EXPORT_TIME_LIMIT + 61))
    ExportJob.objects.filter(pk=job.pk).update(state=ExportState.RUNNING, started_at=long_ago)
    services.export_purge()
    services.export_purge()
    assert [n.event for n in Notice.objects.filter(recipient=w.management,
                                                   channel=Channel.IN_APP)] == ["export_failed"]
