"""Request-level tests of the public list of calls."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import CompanyFactory, company_user, open_call


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = str(tmp_path / "private")


@pytest.fixture
def calls(catalogue):
    now = timezone.now()
    return {
        "open": open_call("demo-project"),
        "closed": open_call("industry-llm", opens_at=now - timedelta(days=60),
                            closes_at=now - timedelta(days=1)),
    }


def test_anyone_sees_the_calls_in_their_language(client, calls):
    page = client.get("/calls/", HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()

    assert '<html lang="zh-hant">' in page
    assert "人工智能應用示範項目資金支持" in page
    assert "人工智能行業大模型獎勵" in page
    assert "call-open" in page and "call-closed" in page
    assert "/applications/new/" not in page  # anonymous: log in first


def test_company_members_get_an_apply_button_on_open_calls_only(client, calls):
    client.force_login(CompanyFactory().created_by)

    page = client.get("/calls/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert f"/applications/new/?call={calls['open'].pk}" in page
    assert f"/applications/new/?call={calls['closed'].pk}" not in page
    assert "AI application demonstration projects" in page
    assert "10%" in page  # the measure's rules


def test_a_user_without_a_company_is_asked_to_register_one(client, calls):
    client.force_login(company_user())

    page = client.get("/calls/").content.decode()

    assert "/applications/new/" not in page
    assert "/companies/new/" in page
