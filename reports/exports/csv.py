"""CSV exports: UTF-8 with a byte order mark (so Excel opens Chinese text correctly), written
row by row in chunks, in constant memory, whatever the number of rows.

Text cells that a spreadsheet would read as a formula are neutralised (OWASP, "CSV
Injection"): a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single
quote in front, so `=HYPERLINK(...)` in a company's name stays text. Only text columns are
neutralised: numbers are ours (ids, years, amounts, never negative) and are written plain,
money as `12345.67`. Times are local (Asia/Shanghai) as `YYYY-MM-DD HH:MM:SS`.
"""

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import islice

from django.utils import translation

from reports.exports.columns import CHUNK, Labels, Table, rows
from reports.filters import ReportFilter

BOM = "\ufeff"
CONTENT_TYPE = "text/csv; charset=utf-8"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """A text cell no spreadsheet evaluates."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _timestamp(value: datetime) -> str:
    return value.isoformat(" ", "seconds")


def csv_chunks(table: Table, f: ReportFilter, language: str,
               progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """The export as text chunks: the BOM first, then the header row, then CHUNK rows at a
    time. `progress(rows_written)` is called after each chunk."""
    with translation.override(language):
        header = [str(column.label) for column in table.columns]
    labels = Labels.build(language, text=neutralise)
    cells = rows(table, f, labels, text=neutralise, when=_timestamp)
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def take() -> str:
        chunk = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return chunk

    yield BOM
    writer.writerow(header)
    yield take()
    written = 0
    while batch := list(islice(cells, CHUNK)):
        writer.writerows(batch)
        written += len(batch)
        yield take()
        if progress is not None:
            progress(written)


def write_csv(handle, table: Table, f: ReportFilter, language: str,
              progress: Callable[[int], None] | None = None) -> int:
    """Write the export into a binary file; returns the number of rows written."""
    written = 0

    def counted(done: int) -> None:
        nonlocal written
        written = done
        if progress is not None:
            progress(done)

    for chunk in csv_chunks(table, f, language, counted):
        handle.write(chunk.encode("utf-8"))
    return written
