"""Exports: when one is answered at once and when written by a background job, the job's work,
its failure and the expiry of its files.

The policy (settings, `qianhai_grants/settings/base.py`):
- A page's request for an export of at most REPORTS_DIRECT_EXPORT_MAX_ROWS rows (5,000) is
  answered at once, CSV and XLSX alike: a CSV is streamed as it is written, an XLSX written to a
  temporary file first (a few seconds at most at that size). A larger one becomes an
  `ExportJob`: the `run_export` task writes its file into private storage, reporting progress
  every chunk of rows, and the requester downloads it from the job's page.
  `GET /api/v1/reports/{applications,awards}.{csv,xlsx}` follows the same rule, and answers 409
  `export_too_large` above it; `POST /api/v1/reports/exports/` always makes a job.
- A job's file is kept REPORTS_EXPORT_TTL (7 days) after it was written; the beat scan
  `purge_exports` then deletes it and marks the job `expired`. A job that never ran expires the
  same way, counted from its request.
- Only staff and management export (the dashboard's readers). A job and its file are seen by
  their requester and by staff (`reports.exports.selectors`).

A job's run is idempotent and safe to repeat: it claims the job (queued or running, a message
delivered again after its worker died) and writes a file under a new name each time; only the
run that finishes first while the job is still running records its file, any other deletes its
own. A failed job stays failed; the requester asks again.
"""

import logging
import tempfile
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files import File
from django.db import OperationalError, transaction
from django.db.models.functions import Greatest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from applications.uploads import private_storage
from notices.events import Event
from notices.services import notify
from qianhai_grants.errors import DomainError
from qianhai_grants.i18n import LANGUAGE_CODES
from qianhai_grants.roles import can_read_everything
from reports import exports
from reports.exports import columns
from reports.exports.selectors import export_jobs_visible_to
from reports.filters import ReportFilter
from reports.models import ExportFormat, ExportJob, ExportKind, ExportState

logger = logging.getLogger(__name__)

STORAGE_FOLDER = "exports"


def _direct_max() -> int:
    return settings.REPORTS_DIRECT_EXPORT_MAX_ROWS


def _time_limit() -> int:
    """Seconds an export's task may run before it is told to stop (then killed 60 s later)."""
    return settings.REPORTS_EXPORT_TIME_LIMIT


def _ttl() -> timedelta:
    return timedelta(seconds=settings.REPORTS_EXPORT_TTL)


def _require_reader(user) -> None:
    if user is None or not user.is_authenticated or not can_read_everything(user):
        raise DomainError("forbidden", _("Only staff and management can export."), status=403)


def _checked(kind: str, format: str) -> None:
    fields = {}
    if kind not in ExportKind.values:
        fields["kind"] = [_("Choose applications or awards.")]
    if format not in ExportFormat.values:
        fields["format"] = [_("Choose CSV or XLSX.")]
    if fields:
        raise DomainError("invalid", _("The input is not valid."), status=400, fields=fields)


def _language(language: str | None) -> str:
    code = (language or "").lower()
    return code if code in LANGUAGE_CODES else settings.LANGUAGE_CODE


def export_count(*, kind: str, filter: ReportFilter) -> int:
    """How many rows the export would hold (one COUNT query)."""
    return columns.count(exports.table_of(kind), filter)


def export_request(*, by, kind: str, format: str, filter: ReportFilter, language: str,
                   background: bool | None = None) -> ExportJob | None:
    """Ask for an export. None when it is small enough to be answered at once (the caller then
    answers with `reports.exports.direct_response`); otherwise the new job, queued, its task
    handed to Celery after the commit. `background=True` always makes a job, False never.

    403 `forbidden` for anyone but staff and management; 400 `invalid` naming `kind` or
    `format`; 409 `export_too_large` when `background=False` and the export is over the
    limit of a direct answer."""
    _require_reader(by)
    _checked(kind, format)
    total = export_count(kind=kind, filter=filter)
    if background is None:
        background = total > _direct_max()
    if not background:
        if total > _direct_max():
            raise DomainError("export_too_large", _(
                "This export has %(rows)d rows, more than %(max)d: ask for it as a background "
                "export (POST /api/v1/reports/exports/) and download it when it is ready.") % {
                "rows": total, "max": _direct_max()}, status=409)
        return None
    now = timezone.now()
    with transaction.atomic():
        job = ExportJob.objects.create(
            requested_by=by, kind=kind, format=format, filters=filter.as_query(),
            language=_language(language), rows_total=total, created_at=now,
            expires_at=now + _ttl())
        from reports.tasks import run_export  # tasks call services

        # Robust: a broker that is down does not fail the request; the job then waits as
        # queued, which its page shows, until it expires.
        transaction.on_commit(lambda: run_export.delay(job.pk), robust=True)
    return job


def _filter_of(job: ExportJob) -> ReportFilter:
    filters = job.filters or {}
    year = filters.get("funding_year")
    return ReportFilter(year=int(year) if year else None, pillar=filters.get("pillar") or "",
                        measure=filters.get("measure") or "")


def export_run(*, job_id: int) -> ExportJob | None:
    """Write the job's file (the task's one call). A job that is done, failed or expired is
    left alone; None when there is no such job. A failure marks the job failed, with the
    error, and is raised again; a lost database connection leaves it running for the task to
    retry."""
    now = timezone.now()
    claimed = ExportJob.objects.filter(
        pk=job_id, state__in=(ExportState.QUEUED, ExportState.RUNNING)).update(
        state=ExportState.RUNNING, started_at=now, rows_done=0, error="")
    job = ExportJob.objects.filter(pk=job_id).first()
    if not claimed or job is None:
        return job
    storage = private_storage()
    stored = None
    try:
        filter = _filter_of(job)
        total = export_count(kind=job.kind, filter=filter)
        ExportJob.objects.filter(pk=job.pk).update(rows_total=total)

        def progress(done: int) -> None:
            ExportJob.objects.filter(pk=job.pk, state=ExportState.RUNNING).update(
                rows_done=done, rows_total=Greatest("rows_total", done))

        ascii_name, name = exports.file_names(kind=job.kind, format=job.format, filter=filter,
                                              language=job.language)
        with tempfile.TemporaryFile(dir=settings.REPORTS_EXPORT_TMPDIR) as handle:
            done = exports.write_export(handle, kind=job.kind, format=job.format,
                                        filter=filter, language=job.language,
                                        progress=progress)
            size = handle.tell()
            handle.seek(0)
            stored = storage.save(f"{STORAGE_FOLDER}/{uuid.uuid4().hex}.{job.format}",
                                  File(handle))
        finished = timezone.now()
        with transaction.atomic():
            recorded = ExportJob.objects.filter(pk=job.pk, state=ExportState.RUNNING).update(
                state=ExportState.DONE, stored_name=stored, file_name=name or ascii_name,
                size=size, rows_done=done, rows_total=done, finished_at=finished,
                expires_at=finished + _ttl())
            if recorded:
                _tell(job.pk, Event.EXPORT_READY)
    except OperationalError:
        # The database went away: the job stays running, and the task's retry claims it again.
        if stored:
            storage.delete(stored)
        raise
    except Exception as exc:
        if stored:
            storage.delete(stored)
        export_fail(job_id=job.pk, error=f"{type(exc).__name__}: {exc}")
        raise
    if not recorded:
        # Another run of the same job finished first, or the job was failed or expired
        # meanwhile: this run's file is nobody's.
        storage.delete(stored)
    return ExportJob.objects.get(pk=job.pk)


def export_fail(*, job_id: int, error: str, states=(ExportState.QUEUED, ExportState.RUNNING)
                ) -> None:
    """Mark an unfinished job failed (it keeps no file); its requester hears it."""
    with transaction.atomic():
        failed = ExportJob.objects.filter(pk=job_id, state__in=states).update(
            state=ExportState.FAILED, finished_at=timezone.now(), error=error[:2000])
        if failed:
            _tell(job_id, Event.EXPORT_FAILED)


def _tell(job_id: int, event: str) -> None:
    """The requester of a background export hears that it is ready or failed (by email and in
    the notification centre), in the transaction that records it, linked to the job's page."""
    job = ExportJob.objects.select_related("requested_by").get(pk=job_id)
    filters = job.filters or {}
    notify(event=event, recipients=[job.requested_by], subject_key=f"export-{job.pk}",
           url=reverse("reports-export", args=[job.pk]),
           context={"export_id": job.pk, "kind": job.kind, "format": job.format,
                    "rows": job.rows_done if event == Event.EXPORT_READY else None,
                    "filters": " · ".join(str(filters[key]) for key in
                                          ("funding_year", "pillar", "measure")
                                          if filters.get(key)),
                    "expires_at": job.expires_at})


def export_open(*, by, job: ExportJob):
    """The file of a finished job, opened for reading, for its requester or staff (404 for
    anyone else, and for a job with no file: not finished, failed, expired or deleted)."""
    if not export_jobs_visible_to(by).filter(pk=job.pk).exists() or not job.is_ready:
        raise DomainError("not_found", _("Not found."), status=404)
    try:
        return private_storage().open(job.stored_name, "rb")
    except OSError:
        raise DomainError("not_found", _("Not found."), status=404) from None


def export_purge(*, now: datetime | None = None) -> int:
    """Delete the files of the jobs past their expiry and mark the jobs expired (the beat scan);
    returns how many jobs expired. A running job is left to finish (its expiry moves on when
    it does). Idempotent: an expired job is not looked at again, a missing file is no error."""
    now = now or timezone.now()
    storage = private_storage()
    # A run that outlived the task's hard time limit twice over died with its worker (a time
    # limit kills the process without a word to the job): it is failed, and expires as such.
    stale = now - 2 * timedelta(seconds=_time_limit() + 60)
    for pk in ExportJob.objects.filter(state=ExportState.RUNNING, started_at__lt=stale
                                       ).values_list("pk", flat=True)[:1000]:
        export_fail(job_id=pk, states=(ExportState.RUNNING,),
                    error="The export stopped: its worker was lost or it ran out of time.")
    due = list(ExportJob.objects.filter(expires_at__lte=now).exclude(
        state__in=(ExportState.EXPIRED, ExportState.RUNNING)).values_list("pk", "stored_name")
        [:1000])
    expired = 0
    for pk, stored in due:
        if stored:
            try:
                storage.delete(stored)
            except OSError:
                logger.warning("Export file %s could not be deleted", stored, exc_info=True)
                continue
        expired += ExportJob.objects.filter(pk=pk).exclude(state=ExportState.RUNNING).update(
            state=ExportState.EXPIRED, stored_name="", size=0)
    return expired
