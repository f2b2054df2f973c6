"""Fixtures of the back office's tests."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import open_call, staff_user


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    """Uploaded documents go to a temporary folder, never into the repository."""
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    return settings.PRIVATE_STORAGE_ROOT


@pytest.fixture
def staff(db):
    return staff_user()


@pytest.fixture
def demo_call(catalogue):
    return open_call("demo-project", funding_year=2026)


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def client_for():
    """An API client authenticated with the user's token, as outside clients are."""

    def make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0]}")
        return client

    return make
