"""What the journey modules import: their marks and how a person logs in."""

import pytest

from tests.browser import needs_chromium

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's

# Each journey module: pytestmark = JOURNEY
JOURNEY = [
    # Skipped, with this reason shown, on SQLite (tests/conftest.py); CI runs them.
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),  # the live server reads what the test writes
    needs_chromium,
]


def log_in(page, username: str, password: str = PASSWORD) -> None:
    """Log in through the login page, as a person does."""
    page.goto("/accounts/login/")
    page.locator("main input[name=username]").fill(username)
    page.locator("main input[name=password]").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
