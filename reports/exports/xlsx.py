"""XLSX exports with XlsxWriter in constant-memory mode: each row goes to a temporary file as it
is written, so the memory used does not grow with the rows. Headers (bold, frozen, with a filter)
are in the requester's language; money is a number with the format `#,##0.00`, scores numbers,
times real date-times in local time (Asia/Shanghai), text always a string, never a formula.
"""

from collections.abc import Callable

import xlsxwriter
from django.conf import settings
from django.utils import translation

from reports.exports.columns import CHUNK, DATETIME, DECIMAL, INT, MONEY, TEXT, Labels, Table, rows
from reports.filters import ReportFilter

CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY_FORMAT = "#,##0.00"
DECIMAL_FORMAT = "0.00"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
# Characters a sheet's name may not hold.
_SHEET_UNSAFE = str.maketrans(dict.fromkeys("[]:*?/\\", "_"))


def write_xlsx(handle, table: Table, f: ReportFilter, language: str,
               progress: Callable[[int], None] | None = None) -> int:
    """Write the export as a workbook of one sheet into `handle` (a seekable binary file);
    returns the number of rows written."""
    workbook = xlsxwriter.Workbook(handle, {
        "constant_memory": True,
        "in_memory": False,
        "tmpdir": settings.REPORTS_EXPORT_TMPDIR,
    })
    try:
        with translation.override(language):
            header = [str(column.label) for column in table.columns]
            sheet = workbook.add_worksheet(str(table.label).translate(_SHEET_UNSAFE)[:31])
        labels = Labels.build(language)
        bold = workbook.add_format({"bold": True})
        formats = {MONEY: workbook.add_format({"num_format": MONEY_FORMAT}),
                   DECIMAL: workbook.add_format({"num_format": DECIMAL_FORMAT}),
                   DATETIME: workbook.add_format({"num_format": DATETIME_FORMAT})}
        for col, column in enumerate(table.columns):
            sheet.set_column(col, col, column.width)
        sheet.freeze_panes(1, 0)
        for col, text in enumerate(header):
            sheet.write_string(0, col, text, bold)
        write_string, write_number = sheet.write_string, sheet.write_number
        write_datetime = sheet.write_datetime
        plan = [(col, column.type, formats.get(column.type))
                for col, column in enumerate(table.columns)]
        row = 0
        for values in rows(table, f, labels):
            row += 1
            for col, kind, fmt in plan:
                value = values[col]
                if value is None or value == "":
                    continue
                if kind == TEXT:
                    # write_string, never write(): a value starting with "=" stays text.
                    write_string(row, col, value)
                elif kind == INT:
                    write_number(row, col, value)
                elif kind in (MONEY, DECIMAL):
                    # XlsxWriter writes numbers as IEEE doubles and takes no Decimal: the float is
                    # made here, at the cell, and nowhere else. A double keeps the cents of every
                    # amount below 10^13 yuan (far above any subsidy): read back, it rounds to
                    # the same Decimal.
                    write_number(row, col, float(value), fmt)
                elif kind == DATETIME:
                    # Local time without zone: Excel's date-times have none.
                    write_datetime(row, col, value, fmt)
            if progress is not None and row % CHUNK == 0:
                progress(row)
        sheet.autofilter(0, 0, row, len(table.columns) - 1)
    finally:
        workbook.close()
    if progress is not None:
        progress(row)
    return row
