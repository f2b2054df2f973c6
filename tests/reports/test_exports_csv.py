"""CSV exports (reports.exports.csv): UTF-8 with a BOM, Chinese text that comes back as it went
in, cells a spreadsheet would evaluate neutralised, money plain, local times, the dashboard's
filters applied, streamed, and the same number of queries for 10 rows as for 100.

The data of these tests (`exports_world`) is shared by the other export tests."""

import codecs
import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext

from applications.models import Application, Status
from qianhai_grants.roles import MANAGEMENT
from reports.exports import csv as csv_export
from reports.exports.columns import APPLICATIONS, AWARDS
from reports.filters import ReportFilter
from reviews.models import Assessment, Award
from tests.factories import (
    CompanyFactory,
    UserFactory,
    application_in,
    company_user,
    open_call,
    staff_user,
)
from tests.reports.test_summary import PLATFORM

EXPORTS = "/reports/exports/"
SUBMITTED = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in Shanghai
DECIDED = datetime(2026, 5, 10, 16, 30, tzinfo=UTC)  # 00:30 on 11 May in Shanghai
AWARDED = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
PORT = "深圳前海智能港口有限公司"
# What OWASP lists as formula starts, each as a company's name.
HOSTILE = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1"]


def management_user(**kwargs):
    return UserFactory(roles=[MANAGEMENT], **kwargs)


@dataclass
class ExportsWorld:
    staff: object
    management: object
    demo_2026: object
    demo_2025: object
    platform_2026: object
    apps: dict = field(default_factory=dict)
    awards: dict = field(default_factory=dict)


def make_award(application, amount, *, by, paid="0.00", capped_by="", released=False,
               awarded=True) -> Award:
    version = application.measure_version
    return Award.objects.create(
        application=application, measure_version=version, amount=Decimal(amount),
        capped_by=capped_by, parameters=version.parameters(), inputs=application.inputs,
        trace=[], decided_by=by, decided_at=DECIDED, paid=Decimal(paid),
        awarded_at=AWARDED if awarded else None,
        released_at=AWARDED if released else None)


@pytest.fixture
def exports_world(catalogue) -> ExportsWorld:
    staff = staff_user()
    w = ExportsWorld(staff=staff, management=management_user(),
                     demo_2026=open_call("demo-project", funding_year=2026),
                     demo_2025=open_call("demo-project", funding_year=2025),
                     platform_2026=open_call("compute-platform", funding_year=2026))

    def app(name, status, call=None, **kwargs):
        application = application_in(status, call=call or w.demo_2026, **kwargs)
        Application.objects.filter(pk=application.pk).update(submitted_at=SUBMITTED)
        w.apps[name] = application
        return application

    port = app("port", Status.AWARDED, company=CompanyFactory(
        name=PORT, name_en="Qianhai Smart Port Co., Ltd."))
    Assessment.objects.create(application=port, score=Decimal("87.50"), reviews_count=3)
    w.awards["port"] = make_award(port, "1234567.89", by=staff, paid="1000000.00",
                                  capped_by="cap")
    undone = app("undone", Status.REJECTED, company=CompanyFactory(name="撤销资助科技有限公司"))
    w.awards["undone"] = make_award(undone, "800000.00", by=staff, released=True)
    for i, text in enumerate(HOSTILE):
        app(f"hostile{i}", Status.SUBMITTED, company=CompanyFactory(name=text, name_en=text))
    app("old", Status.AWARDED, call=w.demo_2025, company=CompanyFactory(name="二〇二五年公司"))
    w.awards["old"] = make_award(w.apps["old"], "500000.00", by=staff)
    app("platform", Status.PROPOSED, call=w.platform_2026, inputs=PLATFORM,
        company=CompanyFactory(name="前海智算中心有限公司"))
    w.awards["platform"] = make_award(w.apps["platform"], "6000000.00", by=staff,
                                      capped_by="cumulative_cap", awarded=False)
    # Never exported: a company's draft, and a draft withdrawn before it was ever submitted.
    w.apps["draft"] = application_in(Status.DRAFT, call=w.demo_2026)
    w.apps["withdrawn_draft"] = application_in(Status.DRAFT, call=w.demo_2026)
    Application.objects.filter(pk=w.apps["withdrawn_draft"].pk).update(
        status=Status.WITHDRAWN)
    return w


def read_csv(response) -> list[list[str]]:
    content = b"".join(response.streaming_content)
    assert content.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def by_key(table, rows: list[list[str]]) -> list[dict]:
    keys = [c.key for c in table.columns]
    return [dict(zip(keys, row, strict=True)) for row in rows[1:]]


def post_export(client, user, kind="applications", format="csv", **filters):
    client.force_login(user)
    return client.post(EXPORTS, {"kind": kind, "format": format, **filters})


def test_applications_csv_is_streamed_with_a_bom_and_chinese_text_comes_back(client,
                                                                             exports_world):
    w = exports_world
    response = post_export(client, w.management)

    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="applications_')
    assert "filename*=UTF-8''%E7%94%B3%E8%AF%B7_" in disposition  # 申请_
    assert response["Cache-Control"] == "private, no-store"
    rows = read_csv(response)
    # The page's language (zh-hans by default) for the headers.
    assert rows[0][1] == "资助年度" and rows[0][8] == "状态"
    lines = {row["application"]: row for row in by_key(APPLICATIONS, rows)}
    port = lines[str(w.apps["port"].pk)]
    assert port == {
        "application": str(w.apps["port"].pk), "funding_year": "2026",
        "measure_code": "demo-project", "measure": w.demo_2026.measure.name_zh_hans,
        "clause": "3.2", "company": PORT, "company_en": "Qianhai Smart Port Co., Ltd.",
        "registration_number": w.apps["port"].company.registration_number,
        "status": "已获资助", "status_code": "awarded",
        "submitted_at": "2026-03-02 09:30:00", "score": "87.50",
        "award_amount": "1234567.89", "paid": "1000000.00",
    }
    # A released award is no longer owed: no amount beside its application.
    assert lines[str(w.apps["undone"].pk)]["award_amount"] == ""
    assert lines[str(w.apps["undone"].pk)]["status_code"] == "rejected"
    # Never a draft, nor a draft withdrawn before it was submitted.
    assert str(w.apps["draft"].pk) not in lines
    assert str(w.apps["withdrawn_draft"].pk) not in lines
    assert len(lines) == 10
    assert [int(pk) for pk in lines] == sorted(int(pk) for pk in lines)


def test_cells_a_spreadsheet_would_evaluate_are_neutralised(client, exports_world):
    w = exports_world
    lines = {row["application"]: row for row in
             by_key(APPLICATIONS, read_csv(post_export(client, w.management)))}
    for i, text in enumerate(HOSTILE):
        line = lines[str(w.apps[f"hostile{i}"].pk)]
        assert line["company"] == "'" + text
        assert line["company_en"] == "'" + text
    # Numbers stay numbers and ordinary text stays as it was.
    port = lines[str(w.apps["port"].pk)]
    assert port["company"] == PORT and port["award_amount"] == "1234567.89"


@pytest.mark.parametrize(("text", "expected"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("前海", "前海"), ("a=1", "a=1"), (" =1", " =1"), ("", ""),
])
def test_neutralise(text, expected):
    assert csv_export.neutralise(text) == expected


def test_awards_csv_in_english(client, exports_world):
    w = exports_world
    client.force_login(w.staff)
    response = client.post(EXPORTS, {"kind": "awards", "format": "csv"},
                           HTTP_ACCEPT_LANGUAGE="en")
    rows = read_csv(response)
    assert rows[0][:3] == ["Award no.", "Application no.", "Funding year"]
    assert "filename*=UTF-8''Awards_" in response["Content-Disposition"]
    lines = {row["award"]: row for row in by_key(AWARDS, rows)}
    assert set(lines) == {str(a.pk) for a in w.awards.values()}
    port = lines[str(w.awards["port"].pk)]
    assert port == {
        "award": str(w.awards["port"].pk), "application": str(w.apps["port"].pk),
        "funding_year": "2026", "measure_code": "demo-project",
        "measure": w.demo_2026.measure.name_en, "company": PORT,
        "registration_number": w.apps["port"].company.registration_number,
        "status": "Awarded", "amount": "1234567.89", "paid": "1000000.00",
        "left_to_pay": "234567.89", "capped_by": "cap per award",
        "decided_at": "2026-05-11 00:30:00", "awarded_at": "2026-06-01 10:00:00",
        "released_at": "",
    }
    undone = lines[str(w.awards["undone"].pk)]
    assert (undone["left_to_pay"], undone["released_at"]) == ("0.00", "2026-06-01 10:00:00")
    assert lines[str(w.awards["platform"].pk)]["capped_by"] == "cumulative cap"
    assert lines[str(w.awards["platform"].pk)]["awarded_at"] == ""


@pytest.mark.parametrize(("filters", "names"), [
    ({"funding_year": "2025"}, {"old"}),
    ({"year": "2025"}, {"old"}),
    ({"measure": "compute-platform"}, {"platform"}),
    ({"pillar": "factor_supply"}, {"platform"}),
    ({"funding_year": "2026", "pillar": "application_demo"},
     {"port", "undone", *(f"hostile{i}" for i in range(len(HOSTILE)))}),
])
def test_the_dashboards_filters_are_applied(client, exports_world, filters, names):
    w = exports_world
    lines = by_key(APPLICATIONS, read_csv(post_export(client, w.management, **filters)))
    assert {row["application"] for row in lines} == {str(w.apps[n].pk) for n in names}
    awards = by_key(AWARDS, read_csv(post_export(client, w.management, kind="awards",
                                                 **filters)))
    assert {row["award"] for row in awards} == {str(w.awards[n].pk) for n in names
                                                if n in w.awards}


def test_an_invalid_filter_is_shown_on_the_page(client, exports_world):
    response = post_export(client, exports_world.management, measure="no-such-measure")
    assert response.status_code == 400
    assert response.templates[0].name == "reports/exports.html"
    assert list(response.context["form"].errors) == ["measure"]


def grow(call, n: int) -> None:
    """n more submitted applications of the call, made in bulk."""
    template = application_in(Status.SUBMITTED, call=call)
    company = CompanyFactory(name="批量测试公司")
    Application.objects.bulk_create([Application(
        call=call, company=company, measure_version=template.measure_version,
        status=Status.SUBMITTED, inputs=template.inputs, subject_key=f"bulk-{i}", revision=1,
        submitted_at=SUBMITTED, created_by=template.created_by) for i in range(n - 1)])


@pytest.mark.parametrize("n", [10, 100])
def test_the_rows_cost_two_queries_whatever_their_number(exports_world,
                                                         django_assert_num_queries, n):
    grow(exports_world.demo_2026, n)
    expected = Application.objects.exclude(status=Status.DRAFT).exclude(
        status=Status.WITHDRAWN, revision=0).count()
    # The measures' names, then the rows (one cursor, read in chunks).
    with django_assert_num_queries(2):
        text = "".join(csv_export.csv_chunks(APPLICATIONS, ReportFilter(), "zh-hans"))
    assert len(list(csv.reader(io.StringIO(text, newline="")))) == expected + 1


def test_the_page_answers_with_the_same_number_of_queries_for_10_and_100_rows(client,
                                                                              exports_world):
    client.force_login(exports_world.management)

    def queries(n):
        grow(exports_world.demo_2026, n)
        with CaptureQueriesContext(connection) as captured:
            rows = read_csv(client.post(EXPORTS, {"kind": "applications", "format": "csv"}))
        return len(captured), len(rows)

    few, few_rows = queries(10)
    many, many_rows = queries(90)
    assert many_rows == few_rows + 90
    assert few == many


def test_only_staff_and_management_export(client, exports_world):
    client.force_login(company_user())
    assert client.get(EXPORTS).status_code == 403
    assert client.post(EXPORTS, {"kind": "applications", "format": "csv"}).status_code == 403
    client.logout()
    response = client.post(EXPORTS, {"kind": "applications", "format": "csv"})
    assert response.status_code == 302 and "/login" in response["Location"]
