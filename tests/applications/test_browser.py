"""A company's first application in a real browser (Debian's chromium driven by Playwright), in
Traditional Chinese: sign up, register the company, fill a demo-project application, attach its
documents, submit. A failure leaves a screenshot in var/browser/."""


import pytest

from applications.models import Application, Status
from tests import factories
from tests.browser import ARTIFACTS, chromium, needs_chromium

SCREENSHOTS = ARTIFACTS / "browser"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


@pytest.fixture
def page(live_server, settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    with chromium() as browser:
        context = browser.new_context(locale="zh-TW", base_url=live_server.url)
        page = context.new_page()
        page.set_default_timeout(15_000)
        yield page


@pytest.fixture
def screenshot_on_failure(request, page):
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)


def test_company_signs_up_and_submits_a_demo_project_in_traditional_chinese(
        catalogue, page, screenshot_on_failure):
    call = factories.open_call("demo-project")

    page.goto("/accounts/signup/")
    assert page.locator("html").get_attribute("lang") == "zh-hant"
    page.fill("#id_email", "founder@qianhai-robotics.example")
    page.fill("#id_password", "Harbour-Lights-2026")
    page.fill("#id_password_again", "Harbour-Lights-2026")
    page.select_option("#id_preferred_language", "zh-hant")
    page.locator("form.form button[type=submit]").click()
    page.wait_for_load_state()

    page.goto("/companies/new/")
    page.fill("#id_name", "前海機器人科技有限公司")
    page.fill("#id_name_en", "Qianhai Robotics Technology Co., Ltd.")
    page.check("input[name=registration_type][value=mainland]")
    page.fill("#id_registration_number", factories.uscc(4242))
    page.check("#id_in_qianhai")
    page.fill("#id_contact_name", "陳經理")
    page.locator("form.form button[type=submit]").click()
    page.wait_for_load_state()

    page.goto(f"/applications/new/?call={call.pk}")
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url("**/applications/*/edit/")
    page.fill("#id_project_name", "前海港口智能調度示範")
    page.select_option("#id_scene", "port")
    page.fill("#id_actual_investment", "15000000")
    page.fill("#id_completion_date", "2025-12-31")
    page.locator("button[name=save]:not(.default-submit)").click()
    page.wait_for_load_state()

    application = Application.objects.get(company__name="前海機器人科技有限公司")
    page.goto(f"/applications/{application.pk}/")
    for document in application.measure_version.documents:
        page.select_option("#id_kind", document["kind"])
        page.set_input_files("#id_file", files=[{
            "name": f"{document['kind']}.pdf", "mimeType": "application/pdf",
            "buffer": factories.tiny_pdf()}])
        page.locator("form.upload button[type=submit]").click()
        page.wait_for_load_state()

    page.locator(f"form[action='/applications/{application.pk}/submit/'] button").click()
    page.wait_for_load_state()

    application.refresh_from_db()
    assert application.status == Status.SUBMITTED
    assert application.attachments.count() == len(application.measure_version.documents)
    assert application.estimate == 1500000
    assert page.locator("html").get_attribute("lang") == "zh-hant"
    assert "人工智能應用示範項目" in page.content()
