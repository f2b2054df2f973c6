"""`GET /api/v1/reports/summary/` (API.md): staff and management only, the dashboard's figures
with money as decimal strings, filters (400 naming the parameter), the request's language, a
fixed number of queries, and the OpenAPI schema."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from qianhai_grants.roles import MANAGEMENT
from tests.factories import CompanyFactory, UserFactory, reviewer_user
from tests.reports.test_summary import grow, world  # noqa: F401 (the fixture)

URL = "/api/v1/reports/summary/"


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0]}")
    return client


def group(body, code, year):
    return next(g for g in body["groups"]
                if g["measure"]["code"] == code and g["funding_year"] == year)


# ---------------------------------------------------------------- who may read

def test_anonymous_hears_401(db):
    response = APIClient().get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("who", ["company", "reviewer"])
def test_company_members_and_reviewers_hear_403(catalogue, who):
    user = CompanyFactory().created_by if who == "company" else reviewer_user()

    response = client_of(user).get(URL)

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_staff_and_management_read_the_same_figures(world):  # noqa: F811
    as_staff = client_of(world.staff).get(URL)
    as_management = client_of(world.management).get(URL)

    assert as_staff.status_code == as_management.status_code == 200
    assert as_staff.json() == as_management.json()


def test_the_browser_session_works_too(client, world):  # noqa: F811
    client.force_login(world.management)

    assert client.get(URL).status_code == 200


# ---------------------------------------------------------------- figures

def test_the_figures_with_money_as_strings_of_two_places(world):  # noqa: F811
    body = client_of(world.staff).get(URL).json()
    demo = group(body, "demo-project", 2026)

    assert body["filter"] == {"funding_year": None, "pillar": "", "measure": ""}
    assert demo["funnel"] == {"submitted": 8, "accepted": 6, "reviewed": 4, "proposed": 3,
                              "awarded": 1}
    assert demo["statuses"]["reserve"] == demo["reserve"] == 1
    assert demo["awards"] == {"count": 2, "amount": "3500000.00", "final_count": 1,
                              "final_amount": "1500000.00", "paid": "500000.00",
                              "largest": "2000000.00", "capped": 1, "released": 1}
    assert demo["quota"] == {"quota": 10, "used": 2, "left": 8}
    assert demo["caps"] == {"per_award_cap": "2000000.00", "cumulative_cap": None,
                            "annual_ceiling": "20000000.00"}
    assert demo["objections"] == {"total": 3, "open": 1, "upheld": 1, "dismissed": 1}
    assert body["totals"]["awards"]["amount"] == "10500000.00"
    assert body["platforms"]["committed"] == "38000000.00"
    assert body["platforms"]["rows"][0]["percent"] == "100.0"
    assert body["platforms"]["rows"][1]["left"] == "2000000.00"
    stages = {row["status"]: row["median_days"] for row in body["stages"]}
    assert stages["submitted"] == "1.5" and stages["reserve"] is None
    assert [(r["reviewer"]["name"], r["median_turnaround_days"]) for r in body["reviewers"]] == [
        ("评审专家甲", "2.0"), ("评审专家乙", "3.5")]


@pytest.mark.parametrize(("language", "field"), [
    ("zh-hans", "name_zh_hans"), ("zh-hant", "name_zh_hant"), ("en", "name_en")])
def test_names_follow_the_requests_language(world, language, field):  # noqa: F811
    body = client_of(world.staff).get(URL, HTTP_ACCEPT_LANGUAGE=language).json()

    name = group(body, "demo-project", 2026)["measure"]["name"]
    assert name == getattr(world.demo_2026.measure, field)


# ---------------------------------------------------------------- filters

@pytest.mark.parametrize("query", ["funding_year=2025", "year=2025"])
def test_the_funding_year_narrows_the_figures(world, query):  # noqa: F811
    body = client_of(world.staff).get(f"{URL}?{query}").json()

    assert body["filter"]["funding_year"] == 2025
    assert [(g["funding_year"], g["measure"]["code"]) for g in body["groups"]] == [
        (2025, "demo-project")]
    assert body["totals"]["awards"]["amount"] == "1000000.00"


def test_the_pillar_and_the_measure_narrow_the_figures(world):  # noqa: F811
    client = client_of(world.staff)

    by_pillar = client.get(f"{URL}?pillar=factor_supply").json()
    by_measure = client.get(f"{URL}?measure=compute-platform").json()

    assert {g["measure"]["code"] for g in by_pillar["groups"]} == {"compute-platform",
                                                                   "core-algorithm"}
    assert [g["measure"]["code"] for g in by_measure["groups"]] == ["compute-platform"]
    assert by_measure["totals"]["funnel"]["submitted"] == 1


@pytest.mark.parametrize(("query", "field"), [
    ("funding_year=soon", "funding_year"), ("year=soon", "year"),
    ("funding_year=1999", "funding_year"), ("pillar=moon", "pillar"),
    ("measure=no-such-measure", "measure"), ("measure=not%20a%20slug", "measure")])
def test_an_invalid_filter_is_a_400_naming_the_parameter(world, query, field):  # noqa: F811
    response = client_of(world.staff).get(f"{URL}?{query}", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == [field]
    assert body["fields"][field][0]


# ---------------------------------------------------------------- queries, schema

@pytest.mark.parametrize("n", [10, 1000])
def test_the_same_number_of_queries_at_10_and_at_1000_applications(
        catalogue, django_assert_num_queries, n):
    grow(n)
    client = client_of(UserFactory(roles=[MANAGEMENT]))

    # The token and its user, the user's roles, then the summary's 11.
    with django_assert_num_queries(13):
        response = client.get(URL)

    assert response.status_code == 200
    assert response.json()["totals"]["applications"] == n + 3


def test_the_schema_documents_the_summary(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"][URL]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"funding_year", "year", "pillar",
                                                            "measure"}
    assert set(operation["responses"]) == {"200", "400", "401", "403", "429"}
    summary = schema["components"]["schemas"]["ReportSummary"]
    assert set(summary["properties"]) == {"filter", "groups", "totals", "platforms", "stages",
                                          "reviewers"}
