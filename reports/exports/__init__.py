"""Exports of applications and awards as CSV and XLSX, with the dashboard's filters applied.

- `columns`: the columns of each export (label, type, value), defined once for both formats,
  and the rows, read in chunks with a fixed number of queries;
- `csv`: streamed text, UTF-8 with a BOM, formula-like cells neutralised;
- `xlsx`: XlsxWriter in constant-memory mode, money and times as numbers and dates;
- `selectors`: the export jobs a user may see.

Here: the file names and the HTTP answers shared by the pages and the API. When an export is
written at once and when by a background job is `reports.services`' decision.
"""

import tempfile
from datetime import datetime
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone, translation

from reports.exports import csv as csv_export
from reports.exports import xlsx as xlsx_export
from reports.exports.columns import TABLES, Table
from reports.filters import ReportFilter

CONTENT_TYPES = {"csv": csv_export.CONTENT_TYPE, "xlsx": xlsx_export.CONTENT_TYPE}


def table_of(kind: str) -> Table:
    return TABLES[kind]


def write_export(handle, *, kind: str, format: str, filter: ReportFilter, language: str,
                 progress=None) -> int:
    """Write an export into a binary file (seekable for XLSX); returns its number of rows."""
    writer = csv_export.write_csv if format == "csv" else xlsx_export.write_xlsx
    return writer(handle, TABLES[kind], filter, language, progress)


def file_names(*, kind: str, format: str, filter: ReportFilter, language: str,
               at: datetime | None = None) -> tuple[str, str]:
    """The download's name: plain ASCII (`applications_2026_demo-project_20261130-0915.csv`)
    and in the export's language (`申请_2026_demo-project_20261130-0915.csv`)."""
    stamp = timezone.localtime(at or timezone.now()).strftime("%Y%m%d-%H%M")
    # Filter values are a year, a pillar code and a measure code (a slug): ASCII already.
    parts = [str(v) for v in (filter.year, filter.pillar, filter.measure) if v]
    with translation.override(language):
        label = str(TABLES[kind].label)
    tail = "_".join([*parts, stamp])
    return f"{kind}_{tail}.{format}", f"{label}_{tail}.{format}"


def content_disposition(ascii_name: str, name: str) -> str:
    """`attachment` with an ASCII name for old clients and the real one as RFC 6266
    `filename*` (only the names made by `file_names` come here: no quotes, no paths)."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _private(response):
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _in_transaction(chunks):
    """The chunks read in one transaction: on PostgreSQL the rows' server-side cursor then
    streams them as they are fetched; outside a transaction it is declared WITH HOLD, and the
    database first copies the whole result aside."""
    with transaction.atomic():
        yield from chunks


def direct_response(*, kind: str, format: str, filter: ReportFilter, language: str):
    """The export as a download answered at once: CSV streamed as it is written; XLSX written
    to a temporary file first (a workbook is a zip file: it is complete only when closed),
    then streamed from it and deleted when the response closes."""
    ascii_name, name = file_names(kind=kind, format=format, filter=filter, language=language)
    if format == "csv":
        response = StreamingHttpResponse(
            _in_transaction(csv_export.csv_chunks(TABLES[kind], filter, language)),
            content_type=csv_export.CONTENT_TYPE)
    else:
        # The response closes (and so deletes) it once sent.
        handle = tempfile.TemporaryFile(dir=settings.REPORTS_EXPORT_TMPDIR)  # noqa: SIM115
        try:
            with transaction.atomic():
                write_export(handle, kind=kind, format=format, filter=filter,
                             language=language)
            handle.seek(0)
        except BaseException:
            handle.close()
            raise
        response = FileResponse(handle, content_type=xlsx_export.CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition(ascii_name, name)
    return _private(response)


def stored_response(job, handle):
    """A finished job's file (opened by the caller from private storage)."""
    response = FileResponse(handle, content_type=CONTENT_TYPES[job.format])
    fallback = f"{job.kind}_{job.pk}.{job.format}"
    name = job.file_name or fallback
    response["Content-Disposition"] = content_disposition(
        name if name.isascii() else fallback, name)
    return _private(response)
