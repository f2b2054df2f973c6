"""Calls: GET /api/v1/calls/ (anyone), GET /{id}/, POST (staff)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from applications.models import Call
from tests.applications import assert_error
from tests.factories import company_user, open_call, staff_user

LIST = "/api/v1/calls/"


def new_call(**overrides):
    now = timezone.now()
    return {"measure": "demo-project", "funding_year": 2026,
            "opens_at": now.isoformat(), "closes_at": (now + timedelta(days=30)).isoformat(),
            "reviewers_per_application": 3, **overrides}


@pytest.fixture
def calls(catalogue):
    now = timezone.now()
    return {
        "open": open_call("demo-project"),
        "scheduled": open_call("industry-llm", opens_at=now + timedelta(days=5),
                               closes_at=now + timedelta(days=40)),
        "closed": open_call("compute-platform", funding_year=2025,
                            opens_at=now - timedelta(days=60), closes_at=now - timedelta(days=1)),
    }


def test_anyone_lists_calls_with_their_status(anon, calls):
    response = anon.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    by_measure = {c["measure"]: c for c in body["results"]}
    assert {m: c["status"] for m, c in by_measure.items()} == {
        "demo-project": "open", "industry-llm": "scheduled", "compute-platform": "closed"}
    demo = by_measure["demo-project"]
    assert set(demo) >= {"id", "measure", "measure_name", "funding_year", "opens_at",
                         "closes_at", "status", "reviewers_per_application"}
    assert demo["funding_year"] == 2026
    assert demo["reviewers_per_application"] == 3


@pytest.mark.parametrize(("language", "name"), [
    ("zh-hans", "人工智能应用示范项目资金支持"),
    ("zh-hant", "人工智能應用示範項目資金支持"),
    ("en", "AI application demonstration projects"),
])
def test_measure_names_follow_accept_language(anon, calls, language, name):
    response = anon.get(LIST, {"measure": "demo-project"}, HTTP_ACCEPT_LANGUAGE=language)

    assert [c["measure_name"] for c in response.json()["results"]] == [name]


@pytest.mark.parametrize(("query", "expected"), [
    ({"status": "open"}, {"demo-project"}),
    ({"status": "scheduled"}, {"industry-llm"}),
    ({"status": "closed"}, {"compute-platform"}),
    ({"measure": "industry-llm"}, {"industry-llm"}),
    ({"funding_year": "2025"}, {"compute-platform"}),
    ({"funding_year": "2026", "status": "open"}, {"demo-project"}),
    ({"measure": "no-such-measure"}, set()),
])
def test_calls_are_filtered(anon, calls, query, expected):
    response = anon.get(LIST, query)

    assert response.status_code == 200
    assert {c["measure"] for c in response.json()["results"]} == expected


@pytest.mark.parametrize(("query", "field"), [
    ({"status": "ajar"}, "status"),
    ({"funding_year": "next"}, "funding_year"),
    ({"funding_year": "9" * 40}, "funding_year"),
])
def test_malformed_filters_are_400_naming_them(anon, calls, query, field):
    assert_error(anon.get(LIST, query), 400, "invalid", [field])


def test_the_list_takes_the_same_queries_for_one_call_or_many(anon, catalogue):
    open_call("demo-project")
    with CaptureQueriesContext(connection) as one:
        anon.get(LIST)
    for year in range(2027, 2032):
        open_call("demo-project", funding_year=year)
    with CaptureQueriesContext(connection) as six:
        assert anon.get(LIST).json()["count"] == 6

    assert len(six) == len(one) <= 2


def test_anyone_reads_one_call(anon, calls):
    response = anon.get(f"{LIST}{calls['open'].pk}/")

    assert response.status_code == 200
    assert response.json()["measure"] == "demo-project"
    assert_error(anon.get(f"{LIST}999999/"), 404, "not_found")


def test_staff_open_a_call(client_for, catalogue):
    staff = staff_user()

    response = client_for(staff).post(LIST, new_call(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["measure"] == "demo-project"
    assert body["status"] == "open"
    call = Call.objects.get(pk=body["id"])
    assert call.created_by == staff


def test_opening_a_call_needs_login(anon, catalogue):
    assert_error(anon.post(LIST, new_call(), format="json"), 401, "not_authenticated")


def test_company_users_cannot_open_calls(client_for, catalogue):
    response = client_for(company_user()).post(LIST, new_call(), format="json")

    assert_error(response, 403)
    assert not Call.objects.exists()


@pytest.mark.parametrize(("overrides", "field"), [
    ({"measure": "no-such-measure"}, "measure"),
    ({"measure": "cluster-rent"}, "measure"),  # parameters not configured by staff yet
    ({"measure": ["demo-project"]}, "measure"),
    ({"funding_year": 2023}, "funding_year"),
    ({"funding_year": "twenty"}, "funding_year"),
    ({"funding_year": 10**30}, "funding_year"),
    ({"reviewers_per_application": 0}, "reviewers_per_application"),
    ({"opens_at": "yesterday"}, "opens_at"),
    ({"closes_at": "0001-01-01T00:00:00+14:00"}, "closes_at"),
    ({"closes_at": timezone.now().replace(year=2020).isoformat()}, "closes_at"),
])
def test_invalid_call_is_400_naming_the_field(client_for, catalogue, overrides, field):
    response = client_for(staff_user()).post(LIST, new_call(**overrides), format="json")

    assert_error(response, 400, "invalid", [field])
