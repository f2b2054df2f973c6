"""Debian's chromium driven by Playwright's sync API, for the tests that use a real browser.

Never a downloaded browser: Playwright launches /usr/bin/chromium (`.ci/run` installs it)."""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# Screenshots of failed browser tests (ignored by git).
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="needs Debian's chromium (apt-get install chromium; .ci/run does)")


@contextmanager
def chromium():
    """A headless chromium for one test.

    Playwright's sync API keeps an asyncio event loop running in this thread (suspended while
    the test's code runs), and Django then refuses ORM calls here (SynchronousOnlyOperation).
    The tests' own ORM calls are plain synchronous set-up and checks between the browser's
    steps, never made from inside that loop, so the guard is lifted meanwhile (and restored).
    While that loop runs, Django keeps this thread's connections in a context variable
    (asgiref's Local) instead of the thread-local storage the test database fixtures close:
    they are closed here, or each test leaves a session open and dropping the test database
    waits for it, then fails."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=ARGS)
            try:
                yield browser
            finally:
                browser.close()
                connections.close_all()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
