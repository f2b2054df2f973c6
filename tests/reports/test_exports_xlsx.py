"""XLSX exports (reports.exports.xlsx), read back with openpyxl: headers in the requester's
language, Chinese names, money as numbers equal to the Decimal amounts with a money format,
times as local date-times, text that looks like a formula kept as text."""

import io
import re
from datetime import datetime
from decimal import Decimal

import openpyxl
import pytest
from django.http import FileResponse

from reports.exports import xlsx as xlsx_export
from reports.exports.columns import APPLICATIONS, AWARDS
from tests.reports import test_exports_csv
from tests.reports.test_exports_csv import EXPORTS, HOSTILE, PORT

exports_world = test_exports_csv.exports_world  # the fixture


def excel_text(value: str) -> str:
    """A string as Excel shows it: OOXML writes control characters as _xHHHH_ (a carriage
    return is _x000D_), which openpyxl leaves as they are in inline strings."""
    return re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), value)


def workbook(response):
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert content.startswith(b"PK\x03\x04")  # a zip file, as every XLSX
    return openpyxl.load_workbook(io.BytesIO(content))


def rows_by_id(sheet, table) -> dict[int, dict]:
    keys = [c.key for c in table.columns]
    rows = {}
    for cells in sheet.iter_rows(min_row=2):
        row = dict(zip(keys, cells, strict=True))
        rows[row[keys[0]].value] = row
    return rows


def export(client, user, kind, language="zh-hans", **filters):
    client.force_login(user)
    return client.post(EXPORTS, {"kind": kind, "format": "xlsx", **filters},
                       HTTP_ACCEPT_LANGUAGE=language)


@pytest.mark.parametrize(("language", "headers", "status", "sheet"), [
    ("zh-hans", ["资助年度", "措施"], "已获资助", "申请"),
    ("en", ["Funding year", "Measure"], "Awarded", "Applications"),
])
def test_applications_read_back_in_the_requesters_language(client, exports_world, language,
                                                           headers, status, sheet):
    w = exports_world
    response = export(client, w.management, "applications", language)
    assert isinstance(response, FileResponse)
    assert response["Content-Type"] == xlsx_export.CONTENT_TYPE
    assert response["Content-Disposition"].startswith('attachment; filename="applications_')
    book = workbook(response)
    assert book.sheetnames == [sheet]
    ws = book.active
    header = [cell.value for cell in ws[1]]
    assert header[1:4:2] == headers
    assert all(cell.font.bold for cell in ws[1])
    assert ws.freeze_panes == "A2"
    rows = rows_by_id(ws, APPLICATIONS)
    assert len(rows) == 10
    port = rows[w.apps["port"].pk]
    assert port["company"].value == PORT
    assert port["status"].value == status and port["status_code"].value == "awarded"
    assert port["funding_year"].value == 2026
    # Money: a number equal to the Decimal amount, shown with two places and separators.
    amount = port["award_amount"]
    assert amount.data_type == "n" and amount.number_format == "#,##0.00"
    assert Decimal(repr(amount.value)) == Decimal("1234567.89")
    assert Decimal(repr(port["paid"].value)) == Decimal("1000000.00")
    assert port["score"].value == 87.5 and port["score"].number_format == "0.00"
    # Times: real date-times, in Shanghai time.
    submitted = port["submitted_at"]
    assert submitted.is_date and submitted.value == datetime(2026, 3, 2, 9, 30)
    # No award (or a released one): an empty cell, not a zero.
    assert rows[w.apps["undone"].pk]["award_amount"].value is None
    assert rows[w.apps["hostile0"].pk]["award_amount"].value is None


def test_text_that_looks_like_a_formula_stays_text(client, exports_world):
    w = exports_world
    rows = rows_by_id(workbook(export(client, w.staff, "applications")).active, APPLICATIONS)
    for i, text in enumerate(HOSTILE):
        cell = rows[w.apps[f"hostile{i}"].pk]["company"]
        # Written as a string (never a formula): the text exactly, with no quote added.
        assert cell.data_type == "s" and excel_text(cell.value) == text


def test_awards_read_back(client, exports_world):
    w = exports_world
    ws = workbook(export(client, w.staff, "awards", "en")).active
    rows = rows_by_id(ws, AWARDS)
    assert set(rows) == {a.pk for a in w.awards.values()}
    port = rows[w.awards["port"].pk]
    for key, expected in (("amount", "1234567.89"), ("paid", "1000000.00"),
                          ("left_to_pay", "234567.89")):
        assert port[key].number_format == "#,##0.00"
        assert Decimal(repr(port[key].value)).quantize(Decimal("0.01")) == Decimal(expected)
    assert port["decided_at"].value == datetime(2026, 5, 11, 0, 30)
    assert port["decided_at"].is_date
    assert port["awarded_at"].value == datetime(2026, 6, 1, 10, 0)
    assert port["released_at"].value is None
    assert port["capped_by"].value == "cap per award"
    assert rows[w.awards["undone"].pk]["left_to_pay"].value == 0
    assert ws.auto_filter.ref == f"A1:O{len(rows) + 1}"


def test_filters_apply_to_the_workbook(client, exports_world):
    w = exports_world
    ws = workbook(export(client, w.management, "awards", measure="compute-platform")).active
    assert list(rows_by_id(ws, AWARDS)) == [w.awards["platform"].pk]
    assert Decimal(repr(rows_by_id(ws, AWARDS)[w.awards["platform"].pk]["amount"].value)) == \
        Decimal("6000000.00")


def test_an_empty_export_is_a_workbook_with_its_header(client, exports_world):
    ws = workbook(export(client, exports_world.management, "awards", "en",
                         funding_year="2030")).active
    assert ws.max_row == 1 and ws["A1"].value == "Award no."
