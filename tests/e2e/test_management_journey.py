"""Management's journey in a real browser, in Traditional Chinese (the browser's language, Hong
Kong): log in, read the dashboard (every chart drawn from our own scripts under the site's
Content Security Policy, each beside its table), then download the awards as XLSX from the
exports page and read the workbook back."""

import openpyxl
from django.utils import timezone
from playwright.sync_api import expect

from applications.models import Status
from qianhai_grants.roles import MANAGEMENT
from reviews.models import Award
from reviews.services.assignments import review_assign
from reviews.services.payments import payment_record
from tests import factories
from tests.e2e.journey import JOURNEY, log_in
from tests.reviews.test_views_office import awarded_with_award

pytestmark = JOURNEY

COMPANY = "前海明镜视觉科技有限公司"
# Every chart with figures to draw; no computing platform holds an award here, so its chart
# is left out and its table says so.
CHARTS = ["funnel", "quota", "amounts", "stages", "reviewers", "objections"]


def test_management_reads_the_dashboard_and_downloads_an_xlsx_export(catalogue, new_page,
                                                                     tmp_path):
    call = factories.open_call("demo-project")
    officer = factories.staff_user()
    awarded = awarded_with_award(call, officer, company=factories.CompanyFactory(
        name=COMPANY, name_en="Qianhai Mingjing Vision Technology Co., Ltd."))
    payment_record(by=officer, award=Award.objects.get(application=awarded), amount="500000",
                   paid_on=timezone.localdate(), reference="QH-2026-0042")
    factories.application_in(Status.SUBMITTED, call=call)
    review_assign(by=officer, application=factories.application_in(Status.ACCEPTED, call=call),
                  reviewer=factories.reviewer_user(name="張志明"))
    director = factories.UserFactory(username="director@qianhai.example", roles=[MANAGEMENT])

    page = new_page(locale="zh-HK")
    log_in(page, director.username)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hant")

    # The dashboard, under the site's Content Security Policy.
    with page.expect_response(lambda r: r.url.endswith("/reports/")) as answered:
        page.locator("header").get_by_role("link", name="報表").click()
    policy = answered.value.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    expect(page.get_by_role("heading", name="報表", exact=True)).to_be_visible()
    expect(page.locator("body")).to_have_class("charts-ready")
    drawn = page.eval_on_selector_all("canvas[data-drawn]",
                                      "cs => cs.map(c => [c.dataset.chart, c.width])")
    assert sorted(name for name, _width in drawn) == sorted(CHARTS)
    assert all(width > 0 for _name, width in drawn)
    expect(page.locator("figure.chart.empty canvas[data-chart=platforms]")).to_be_hidden()
    awards = page.locator("section#awards")
    expect(awards.locator("canvas[data-chart=quota]")).to_be_visible()
    row = awards.get_by_role("table").get_by_role("row").filter(
        has_text="人工智能應用示範項目資金支持 · 2026")
    expect(row).to_contain_text("1,500,000.00")
    expect(row).to_contain_text("500,000.00")
    expect(page.locator("dl.report-totals")).to_contain_text("1,500,000.00")
    assert page.console_errors == []  # no CSP violation, no script error

    # The exports page: the awards as XLSX, downloaded at once.
    page.locator("#export-buttons").get_by_role("link", name="我的匯出").click()
    expect(page.get_by_role("heading", name="匯出", exact=True)).to_be_visible()
    page.get_by_label("匯出", exact=True).select_option(label="資助")
    page.get_by_label("XLSX (Excel)").check()
    with page.expect_download() as downloaded:
        page.locator("form.export-form").get_by_role("button", name="匯出").click()
    download = downloaded.value
    assert download.suggested_filename.endswith(".xlsx")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    sheet = openpyxl.load_workbook(saved).active
    rows = list(sheet.iter_rows(values_only=True))
    headers = rows[0]
    assert {"資助編號", "法定名稱（中文）", "金額", "已撥付", "待撥付"} <= set(headers)
    mine = [dict(zip(headers, values, strict=True)) for values in rows[1:]
            if COMPANY in values]
    assert len(mine) == 1
    assert mine[0]["金額"] == 1500000 and mine[0]["已撥付"] == 500000
    assert mine[0]["待撥付"] == 1000000
    assert mine[0]["狀態"] == "已獲資助"
    assert page.console_errors == []
