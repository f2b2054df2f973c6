"""The back office in a real browser (Debian's chromium driven by Playwright), in Traditional
Chinese: staff check applications in the list and accept them together, then give one to a
reviewer; htmx swaps the reviews section in without reloading the page, under the site's
Content Security Policy (no inline script). A failure leaves a screenshot in var/browser/."""


import pytest

from applications.models import Application, Status
from reviews.models import Review
from tests.browser import ARTIFACTS, chromium, needs_chromium
from tests.factories import application_in, reviewer_user, staff_user

SCREENSHOTS = ARTIFACTS / "browser"
PASSWORD = "correct horse battery staple"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


@pytest.fixture
def browser_page(live_server, request):
    with chromium() as browser:
        context = browser.new_context(locale="zh-TW", base_url=live_server.url)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.console_errors = []
        page.on("console", lambda message: message.type == "error"
                and page.console_errors.append(message.text))
        yield page
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)


def test_staff_accept_in_bulk_and_assign_with_htmx(catalogue, browser_page):
    from tests.factories import open_call

    page = browser_page
    call = open_call("demo-project")
    submitted = [application_in(Status.SUBMITTED, call=call) for _ in range(2)]
    expert = reviewer_user(name="張專家")
    staff = staff_user(username="officer@qianhai.example")

    page.goto("/accounts/login/")
    page.fill("#id_username", staff.username)
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/")

    page.goto("/office/applications/")
    assert page.locator("html").get_attribute("lang") == "zh-hant"
    page.check("[data-check-all]")  # static/js/office.js checks every row
    assert page.locator("input[name=ids]:checked").count() == 2
    page.locator("#bulk button[type=submit]").click()
    page.wait_for_url("**/office/applications/")
    assert {a.status for a in Application.objects.filter(pk__in=[a.pk for a in submitted])} \
        == {Status.ACCEPTED}

    page.goto(f"/office/applications/{submitted[0].pk}/")
    page.evaluate("window.notReloaded = true")
    page.select_option("#id_assign_reviewer", str(expert.pk))
    page.locator("#reviews form button[type=submit]").click()
    page.locator("#reviews .messages").wait_for()

    assert "張專家" in page.locator("#reviews table").inner_text()
    assert page.evaluate("window.notReloaded") is True  # swapped in, not reloaded
    assert Review.objects.filter(application=submitted[0], reviewer=expert).exists()
    assert not [e for e in page.console_errors if "Content Security Policy" in e]
