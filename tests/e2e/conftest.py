"""What the end-to-end journeys share: Debian's chromium driven by Playwright's sync API against
the live server (pytest-django's `live_server`, a thread of this process: the same database,
settings, eager Celery and `mail.outbox`), a page per person in their own browser context, and a
full-page screenshot of every open page when a journey fails.

Never a downloaded browser: Playwright launches /usr/bin/chromium (`.ci/run` installs it)."""

import re

import pytest

from tests.browser import ARTIFACTS as ALL_ARTIFACTS
from tests.browser import chromium

ARTIFACTS = ALL_ARTIFACTS / "e2e"
TIMEOUT_MS = 15_000


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path):
    """Uploaded documents go to a temporary folder, never into the repository."""
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"


@pytest.fixture
def browser(live_server):
    """One headless chromium per journey (tests/browser.py). The live server's threads run no
    event loop and keep Django's async-safety guard."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    with chromium() as launched:
        yield launched


@pytest.fixture
def new_page(browser, live_server, request):
    """`new_page(locale=..., name=...)`: a page in a fresh browser context (its own cookies:
    one person), whose Accept-Language follows `locale`. Each page keeps the console and script
    errors it saw (`page.console_errors`; a CSP violation is one) and is screenshotted if the
    journey fails."""
    pages = []
    request.node.e2e_pages = pages

    def make(*, locale="en-US", name=""):
        context = browser.new_context(locale=locale, base_url=live_server.url,
                                      accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.console_errors = []
        page.on("console", lambda message: _console_error(page, message))
        page.on("pageerror", lambda error: page.console_errors.append(str(error)))
        pages.append((name, page))
        return page

    return make


def _console_error(page, message) -> None:
    """Keep the console's errors (a CSP violation, a script error, a failed load), but for the
    favicon the browser asks for by itself (the site has none)."""
    if message.type == "error" and not message.location.get("url", "").endswith(
            "/favicon.ico"):
        page.console_errors.append(message.text)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed journey leaves a full-page screenshot of each of its pages in
    test-artifacts/e2e/<test name>[-<page name>].png, and says where in its report."""
    report = yield
    if report.when == "call" and report.failed:
        saved = []
        for name, page in getattr(item, "e2e_pages", []):
            path = ARTIFACTS / f"{_safe(item.name)}{'-' + _safe(name) if name else ''}.png"
            try:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(path), full_page=True)
            except Exception as exc:  # a closed page or browser: say so, keep the report
                saved.append(f"no screenshot of {name or 'the page'}: {exc}")
            else:
                saved.append(f"screenshot: {path} ({page.url})")
        if saved:
            report.sections.append(("e2e screenshots", "\n".join(saved)))
    return report
