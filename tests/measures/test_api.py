"""Request-level tests of the public catalogue and calculator API (MEASURES.md, API.md)."""

import json
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from measures.reasons import REASON_MESSAGES
from tests.factories import UserFactory

LIST_URL = "/api/v1/measures/"
ALL_CODES = {
    "compute-platform", "core-algorithm", "industry-llm", "demo-project", "icv-pilot",
    "low-altitude-pilot", "innovation-center", "cluster-rent", "income-tax", "growth-reward",
    "investment-support", "cross-border-data", "tech-platform", "industry-organization",
}
NAMES = {
    "zh-hans": "人工智能应用示范项目资金支持",
    "zh-hant": "人工智能應用示範項目資金支持",
    "en": "AI application demonstration projects",
}
LANGUAGES = ("zh-hans", "zh-hant", "en")


def quote_url(code: str) -> str:
    return f"/api/v1/measures/{code}/quote/"


@pytest.fixture
def api():
    return APIClient()


def post_quote(api, code, body, **extra):
    return api.post(quote_url(code), json.dumps(body), content_type="application/json", **extra)


def assert_error_shape(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["fields"], dict)
    for name, messages in body["fields"].items():
        assert isinstance(name, str)
        assert isinstance(messages, list) and messages
        assert all(isinstance(m, str) and m for m in messages)
    if code is not None:
        assert body["code"] == code
    return body


def by_code(results):
    return {item["code"]: item for item in results}


# ---------------------------------------------------------------- the catalogue

def test_list_has_all_fourteen_measures_in_the_paginated_shape(api, catalogue):
    response = api.get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 14
    assert body["next"] is None
    assert body["previous"] is None
    assert {item["code"] for item in body["results"]} == ALL_CODES


def test_list_entry_carries_the_contract_fields(api, catalogue):
    items = by_code(api.get(LIST_URL).json()["results"])

    demo = items["demo-project"]
    assert demo["clause"] == "3.2"
    assert demo["pillar"] == "application_demo"
    assert demo["name_zh_hans"] == NAMES["zh-hans"]
    assert demo["name_zh_hant"] == NAMES["zh-hant"]
    assert demo["name_en"] == NAMES["en"]
    assert demo["award_kind"] == "percent_of_base"
    assert demo["annual_quota"] == 10
    assert demo["parameters"]["per_award_cap"] == "2000000.00"
    assert demo["parameters"]["base_field"] == "actual_investment"
    assert [f["name"] for f in demo["fields"]] == [
        "project_name", "scene", "actual_investment", "completion_date"]
    money = next(f for f in demo["fields"] if f["name"] == "actual_investment")
    assert money["type"] == "money"
    assert set(money["labels"]) == set(LANGUAGES)

    compute = items["compute-platform"]
    assert compute["parameters"]["cumulative_cap"] == "20000000.00"
    assert compute["parameters"]["rate"] == "0.05"
    assert compute["annual_quota"] is None
    assert items["industry-llm"]["parameters"]["fixed_amount"] == "1000000.00"
    assert items["icv-pilot"]["parameters"]["per_award_cap"] == "10000000.00"
    # A measure without a clause in the source has clause null, not "".
    assert items["income-tax"]["clause"] is None
    assert items["income-tax"]["award_kind"] == "configured"


def test_money_parameters_are_strings_never_numbers(api, catalogue):
    for item in api.get(LIST_URL).json()["results"]:
        for key in ("per_award_cap", "cumulative_cap", "fixed_amount", "rate"):
            value = item["parameters"][key]
            assert value is None or isinstance(value, str), (item["code"], key, value)
        for key in ("per_award_cap", "cumulative_cap", "fixed_amount"):
            value = item["parameters"][key]
            if value is not None:
                assert value.count(".") == 1 and len(value.split(".")[1]) == 2, value


@pytest.mark.parametrize("language", LANGUAGES)
def test_name_follows_accept_language(api, catalogue, language):
    response = api.get(LIST_URL, HTTP_ACCEPT_LANGUAGE=language)

    demo = by_code(response.json()["results"])["demo-project"]
    assert demo["name"] == NAMES[language]
    detail = api.get(f"{LIST_URL}demo-project/", HTTP_ACCEPT_LANGUAGE=language).json()
    assert detail["name"] == NAMES[language]
    label = next(f for f in detail["fields"] if f["name"] == "actual_investment")["label"]
    assert label == {"zh-hans": "项目实际投资额", "zh-hant": "項目實際投資額",
                     "en": "Actual project investment"}[language]


def test_detail_answers_one_measure(api, catalogue):
    response = api.get(f"{LIST_URL}compute-platform/")

    assert response.status_code == 200
    body = response.json()
    assert body["code"] == "compute-platform"
    assert body["clause"] == "2.1"
    assert body["pillar"] == "factor_supply"
    assert body["parameters"]["cumulative_cap"] == "20000000.00"
    assert {f["name"] for f in body["fields"]} == {
        "platform_name", "platform_kind", "authority_consent_ref", "total_investment",
        "prior_year_actual_investment"}
    assert body["version"]["number"] == 1


@pytest.mark.parametrize("code", ["no-such-measure", "demo-project-2", "x"])
def test_detail_of_an_unknown_code_is_404_in_the_error_shape(api, catalogue, code):
    body = assert_error_shape(api.get(f"{LIST_URL}{code}/"), 404, "not_found")
    assert body["fields"] == {}


def test_404_message_follows_the_request_language(api, catalogue):
    english = api.get(f"{LIST_URL}nope/", HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    chinese = api.get(f"{LIST_URL}nope/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()["message"]

    assert english == "Not found."
    assert chinese != english  # DRF ships the Simplified Chinese text of this one


def test_versions_lists_the_history(api, catalogue):
    response = api.get(f"{LIST_URL}demo-project/versions/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"][0]["number"] == 1
    assert body["results"][0]["parameters"]["per_award_cap"] == "2000000.00"
    assert_error_shape(api.get(f"{LIST_URL}nope/versions/"), 404, "not_found")


# ---------------------------------------------------------------- the calculator

def test_quote_the_example_of_measures_md(api, catalogue):
    response = post_quote(api, "demo-project",
                          {"inputs": {"actual_investment": "15000000"}, "awarded_to_date": "0"})

    assert response.status_code == 200
    body = response.json()
    assert body["measure"] == "demo-project"
    assert body["eligible"] is True
    assert body["amount"] == "1500000.00"
    assert body["currency"] == "CNY"
    assert body["capped_by"] is None
    assert body["reasons"] == []
    assert isinstance(body["trace"], list) and body["trace"]
    assert all(isinstance(step, str) for step in body["trace"])
    assert body["trace"][0].startswith("10% x 15000000.00 = 1500000.00")


def test_quote_above_the_cap_is_capped(api, catalogue):
    body = post_quote(api, "demo-project",
                      {"inputs": {"actual_investment": "25000000.00"}}).json()

    assert body["eligible"] is True
    assert body["amount"] == "2000000.00"
    assert body["capped_by"] == "cap"


def test_quote_without_awarded_to_date_defaults_to_zero(api, catalogue):
    body = post_quote(api, "compute-platform", {"inputs": {
        "authority_consent_ref": "QH-2024-001", "total_investment": "100000000.00",
        "prior_year_actual_investment": "30000000"}}).json()

    assert body["eligible"] is True
    assert body["amount"] == "1500000.00"


def test_ineligible_quote_lists_every_failing_reason(api, catalogue):
    response = post_quote(api, "industry-llm", {
        "inputs": {"model_name": "QianhaiGPT", "self_developed": False,
                   "publicly_released": False, "market_cases": []},
        "awarded_to_date": "1000000.00"})

    assert response.status_code == 200
    body = response.json()
    assert body["eligible"] is False
    assert body["amount"] == "0.00"
    assert body["capped_by"] is None
    assert sorted(body["reasons"]) == sorted([
        "not_self_developed", "not_publicly_released", "too_few_market_cases",
        "already_awarded_once"])


def test_ineligible_compute_platform_lists_every_failing_reason(api, catalogue):
    body = post_quote(api, "compute-platform", {
        "inputs": {"platform_name": "P1", "total_investment": "99999999.99",
                   "prior_year_actual_investment": "1000000"},
        "awarded_to_date": "20000000"}).json()

    assert body["eligible"] is False
    assert body["amount"] == "0.00"
    assert sorted(body["reasons"]) == sorted([
        "consent_missing", "below_min_total_investment", "cumulative_cap_reached"])


def test_missing_required_input_is_a_reason_not_an_error(api, catalogue):
    response = post_quote(api, "demo-project", {"inputs": {"project_name": "Port AI"}})

    assert response.status_code == 200
    body = response.json()
    assert body["eligible"] is False
    assert body["amount"] == "0.00"
    assert body["reasons"] == ["missing_input"]
    assert body["missing_fields"] == ["actual_investment"]


def test_empty_body_is_a_quote_with_missing_input(api, catalogue):
    response = api.post(quote_url("demo-project"))

    assert response.status_code == 200
    assert response.json()["reasons"] == ["missing_input"]


@pytest.mark.parametrize(("raw", "field"), [
    ("[]", "body"),
    ('[{"inputs": {}}]', "body"),
    ('"a string"', "body"),
    ("42", "body"),
    ("null", "body"),
])
def test_body_that_is_not_an_object_is_400_naming_body(api, catalogue, raw, field):
    response = api.post(quote_url("demo-project"), raw, content_type="application/json")

    body = assert_error_shape(response, 400)
    assert field in body["fields"]


def test_invalid_json_is_400_naming_body(api, catalogue):
    # MEASURES.md: "A body that is not a JSON object ... answers 400 with the offending field
    # named". Text that is not JSON at all is such a body.
    response = api.post(quote_url("demo-project"), '{"inputs": {', content_type="application/json")

    body = assert_error_shape(response, 400)
    assert "body" in body["fields"], body


@pytest.mark.parametrize("inputs", [[], ["actual_investment"], "15000000", 15000000, True])
def test_inputs_not_an_object_is_400_naming_inputs(api, catalogue, inputs):
    body = assert_error_shape(post_quote(api, "demo-project", {"inputs": inputs}), 400)

    assert "inputs" in body["fields"]


@pytest.mark.parametrize("value", ["abc", "-5", "1.234", True, False, "1e5", [], {"a": 1},
                                   "12 345", "NaN", "Infinity", "0x10", "1" * 30])
def test_malformed_money_is_400_naming_the_field(api, catalogue, value):
    body = assert_error_shape(
        post_quote(api, "demo-project", {"inputs": {"actual_investment": value}}), 400)

    assert list(body["fields"]) == ["actual_investment"]


@pytest.mark.parametrize("value", ["15,000,000.00", "15000000.5", 15000000, 15000000.5, " 42 "])
def test_well_formed_money_is_accepted(api, catalogue, value):
    response = post_quote(api, "demo-project", {"inputs": {"actual_investment": value}})

    assert response.status_code == 200
    assert response.json()["eligible"] is True


@pytest.mark.parametrize("value", ["abc", "-1", "0.001", True])
def test_malformed_awarded_to_date_is_400_naming_it(api, catalogue, value):
    body = assert_error_shape(post_quote(api, "compute-platform", {
        "inputs": {}, "awarded_to_date": value}), 400)

    assert "awarded_to_date" in body["fields"]


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "no", [True]])
def test_boolean_that_is_not_a_boolean_is_400(api, catalogue, value):
    body = assert_error_shape(
        post_quote(api, "industry-llm", {"inputs": {"self_developed": value}}), 400)

    assert list(body["fields"]) == ["self_developed"]


@pytest.mark.parametrize("value", ["many", 12, {"client_name": "A"}, True])
def test_list_that_is_not_a_list_is_400(api, catalogue, value):
    body = assert_error_shape(
        post_quote(api, "industry-llm", {"inputs": {"market_cases": value}}), 400)

    assert list(body["fields"]) == ["market_cases"]


def test_every_malformed_field_is_named_at_once(api, catalogue):
    body = assert_error_shape(post_quote(api, "industry-llm", {"inputs": {
        "self_developed": "yes", "publicly_released": "no", "market_cases": "many"}}), 400)

    assert set(body["fields"]) == {"self_developed", "publicly_released", "market_cases"}


def test_integer_field_with_a_unicode_digit_gets_the_normal_message(api, catalogue):
    # "²".isdigit() is True but int("²") fails: the user must get the field's own message, not
    # Python's "invalid literal for int()".
    body = assert_error_shape(
        post_quote(api, "icv-pilot", {"inputs": {"vehicle_count": "²"}}), 400)

    assert list(body["fields"]) == ["vehicle_count"]
    assert "invalid literal" not in body["fields"]["vehicle_count"][0]


def test_text_input_with_a_lone_surrogate_is_never_a_500(catalogue):
    # JSON allows "\ud800"; the text is echoed into the trace, which must still render.
    raw = json.dumps({"inputs": {"authority_consent_ref": "\ud800",
                                 "total_investment": "100000000",
                                 "prior_year_actual_investment": "1"}})
    api = APIClient(raise_request_exception=False)
    response = api.post(quote_url("compute-platform"), raw, content_type="application/json")

    assert response.status_code in (200, 400)


def test_quote_of_an_unknown_code_is_404(api, catalogue):
    assert_error_shape(post_quote(api, "no-such-measure", {"inputs": {}}), 404, "not_found")


def test_quote_of_an_unconfigured_measure_says_so(api, catalogue):
    response = post_quote(api, "income-tax", {"inputs": {"project_name": "X"}})

    assert response.status_code == 200
    body = response.json()
    assert body["eligible"] is False
    assert body["amount"] == "0.00"
    assert body["reasons"] == ["measure_not_configured"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_reason_messages_are_in_the_request_language(api, catalogue, language):
    body = post_quote(api, "compute-platform", {"inputs": {}},
                      HTTP_ACCEPT_LANGUAGE=language).json()

    assert body["reasons"] == ["missing_input", "consent_missing"]
    assert [m["code"] for m in body["messages"]] == body["reasons"]
    with translation.override(language):
        expected = [str(REASON_MESSAGES[code]) for code in body["reasons"]]
    assert [m["message"] for m in body["messages"]] == expected
    assert all(m["message"] for m in body["messages"])


@pytest.mark.parametrize("language_dir", ["zh_Hans", "zh_Hant", "en"])
def test_compiled_translation_catalogues_exist(language_dir):
    # DESIGN rule 8: zh-hans, zh-hant and en catalogues are compiled (`make messages`).
    path = Path(settings.BASE_DIR) / "locale" / language_dir / "LC_MESSAGES" / "django.mo"
    assert path.exists(), f"{path} is missing: run `make messages`"


@pytest.mark.parametrize("chinese", ["zh-hans", "zh-hant"])
def test_reason_messages_differ_between_chinese_and_english(api, catalogue, chinese):
    zh = post_quote(api, "compute-platform", {"inputs": {}},
                    HTTP_ACCEPT_LANGUAGE=chinese).json()["messages"]
    en = post_quote(api, "compute-platform", {"inputs": {}},
                    HTTP_ACCEPT_LANGUAGE="en").json()["messages"]

    assert [m["code"] for m in zh] == [m["code"] for m in en] == [
        "missing_input", "consent_missing"]
    for zh_message, en_message in zip(zh, en, strict=True):
        assert zh_message["message"] != en_message["message"]
    assert en[0]["message"] == "A required input is missing."


def test_error_message_is_in_the_request_language(api, catalogue):
    bad = {"inputs": {"actual_investment": "abc"}}
    zh = post_quote(api, "demo-project", bad, HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    en = post_quote(api, "demo-project", bad, HTTP_ACCEPT_LANGUAGE="en").json()

    assert zh["code"] == en["code"] == "invalid"
    assert en["message"] == "The input is not valid."
    assert zh["message"] != en["message"]
    assert zh["fields"]["actual_investment"] != en["fields"]["actual_investment"]


def test_anonymous_quote_needs_no_csrf_token(catalogue):
    api = APIClient(enforce_csrf_checks=True)

    response = api.post(quote_url("demo-project"),
                        {"inputs": {"actual_investment": "15000000"}}, format="json")

    assert response.status_code == 200
    assert response.json()["amount"] == "1500000.00"


def test_logged_in_browser_quote_needs_no_csrf_token_either(catalogue):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(UserFactory())

    response = api.post(quote_url("demo-project"),
                        {"inputs": {"actual_investment": "15000000"}}, format="json")

    assert response.status_code == 200


@pytest.fixture
def low_quote_rate(settings, monkeypatch):
    """Three quotes a minute. DRF reads rates into a class attribute at import time."""
    from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

    rates = {"anon": "1000/minute", "user": "1000/minute", "quote": "3/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates, raising=False)
    from django.core.cache import cache

    cache.clear()
    return rates


def test_quotes_are_throttled_with_429_in_the_error_shape(api, catalogue, low_quote_rate):
    body = {"inputs": {"actual_investment": "15000000"}}
    for _ in range(3):
        assert post_quote(api, "demo-project", body).status_code == 200

    response = post_quote(api, "demo-project", body)

    error = assert_error_shape(response, 429, "throttled")
    assert error["fields"] == {}
    assert int(response["Retry-After"]) > 0


def test_throttle_counts_per_client_address(api, catalogue, low_quote_rate):
    body = {"inputs": {"actual_investment": "15000000"}}
    for _ in range(4):
        post_quote(api, "demo-project", body, REMOTE_ADDR="10.0.0.1")

    assert post_quote(api, "demo-project", body, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_catalogue_reads_are_not_counted_against_the_quote_rate(api, catalogue, low_quote_rate):
    for _ in range(5):
        assert api.get(LIST_URL).status_code == 200

    assert post_quote(api, "demo-project", {"inputs": {}}).status_code == 200


# ---------------------------------------------------------------- tokens and schema

def test_token_for_a_valid_user(api, db):
    user = UserFactory(username="company@example.org")

    response = api.post("/api/v1/auth/token/",
                        {"username": "company@example.org",
                         "password": "correct horse battery staple"}, format="json")

    assert response.status_code == 200
    assert set(response.json()) == {"token"}
    assert response.json()["token"] == Token.objects.get(user=user).key


def test_token_with_a_wrong_password_is_400_in_the_error_shape(api, db):
    UserFactory(username="company@example.org")

    response = api.post("/api/v1/auth/token/",
                        {"username": "company@example.org", "password": "wrong"}, format="json")

    body = assert_error_shape(response, 400, "invalid")
    assert body["fields"]
    assert "token" not in body


def test_token_without_fields_names_them(api, db):
    body = assert_error_shape(api.post("/api/v1/auth/token/", {}, format="json"), 400)

    assert {"username", "password"} <= set(body["fields"])


def test_schema_documents_the_measures_paths(api, db):
    response = api.get("/api/schema/")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert "get" in paths["/api/v1/measures/"]
    assert "get" in paths["/api/v1/measures/{code}/"]
    assert "post" in paths["/api/v1/measures/{code}/quote/"]
    assert "post" in paths["/api/v1/auth/token/"]


def test_docs_page_loads_its_scripts_from_our_own_static_files(api, db):
    import re

    response = api.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    sources = re.findall(r"<script\b[^>]*\bsrc=\"([^\"]*)\"", html)
    assert sources
    for src in sources:
        assert not re.match(r"^(https?:)?//", src), src
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert re.search(r"<script\b(?![^>]*\bsrc=)[^>]*>", html) is None  # no inline script
    for src in sources:
        assert api.get(src).status_code == 200, src
