"""Hypothesis against the public calculator: any JSON gets 200, 400 or 404, never a 500."""

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# Text as a browser or script would send it (Hypothesis leaves out lone surrogates by default;
# tests/measures/test_api.py has the explicit surrogate case).
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=-1e308, max_value=1e308, allow_nan=False)
    | st.text(max_size=40)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
    | st.sampled_from(["", " ", "0", "-0", "1e5", "15,000,000.00", "true", "yes", "0.005",
                       "99999999999999.99", "100000000000000", "+1", "1.", ".5", "٣", "²"])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=20,
)

FIELDS = {
    "compute-platform": ["platform_name", "platform_kind", "authority_consent_ref",
                         "total_investment", "prior_year_actual_investment"],
    "industry-llm": ["model_name", "self_developed", "publicly_released", "release_date",
                     "release_url", "market_cases"],
    "demo-project": ["project_name", "scene", "actual_investment", "completion_date"],
    "icv-pilot": ["pilot_name", "pilot_scope", "vehicle_count", "requested_amount"],
    "innovation-center": ["center_name", "lead_type", "requested_amount"],
    "income-tax": ["project_name", "summary"],
}
market_case = st.fixed_dictionaries({
    "client_name": st.text(max_size=20) | json_values,
    "sector": st.sampled_from(["manufacturing", "finance", "other", "bogus"]) | json_values,
    "contract_date": st.sampled_from(["2024-05-01", "2024-13-01", ""]) | json_values,
    "summary": st.text(max_size=30) | json_values,
})


@pytest.fixture
def api():
    # Answer 500 instead of raising, so a failure reads as the status a client would see.
    return APIClient(raise_request_exception=False)


def check_answer(response, allowed=(200, 400)):
    assert response.status_code in allowed, (response.status_code, response.content[:500])
    body = response.json()
    if response.status_code == 200:
        assert body["amount"].count(".") == 1 and len(body["amount"].split(".")[1]) == 2
        assert isinstance(body["eligible"], bool)
        assert isinstance(body["reasons"], list)
        assert all(isinstance(step, str) for step in body["trace"])
        if not body["eligible"]:
            assert body["amount"] == "0.00" and body["reasons"]
    else:
        assert set(body) == {"code", "message", "fields"}
        assert body["message"]
        if response.status_code == 400:
            assert body["fields"], body
            assert all(isinstance(v, list) and v for v in body["fields"].values())
    return body


def post(api, code, raw: str):
    return api.post(f"/api/v1/measures/{code}/quote/", raw, content_type="application/json")


@FUZZ
@given(body=json_values)
def test_any_json_body(api, catalogue, body):
    check_answer(post(api, "demo-project", json.dumps(body)))


@FUZZ
@given(inputs=json_values, awarded=json_values)
def test_any_inputs_and_awarded_to_date(api, catalogue, inputs, awarded):
    check_answer(post(api, "compute-platform",
                      json.dumps({"inputs": inputs, "awarded_to_date": awarded})))


@pytest.mark.parametrize("code", sorted(FIELDS))
def test_any_value_for_each_field(api, catalogue, code):
    @FUZZ
    @given(data=st.data())
    def run(data):
        names = data.draw(st.lists(st.sampled_from(FIELDS[code]), unique=True, max_size=4))
        inputs = {}
        for name in names:
            if name == "market_cases":
                inputs[name] = data.draw(st.lists(market_case, max_size=12) | json_values)
            else:
                inputs[name] = data.draw(json_values)
        awarded = data.draw(st.none() | json_values)
        body = {"inputs": inputs}
        if awarded is not None:
            body["awarded_to_date"] = awarded
        answer = check_answer(post(api, code, json.dumps(body)))
        if "fields" in answer:
            assert set(answer["fields"]) <= {*names, "awarded_to_date"}, answer

    run()


@FUZZ
@given(data=st.data())
def test_well_formed_money_is_always_a_200(api, catalogue, data):
    amount = data.draw(st.decimals(min_value=0, max_value=10**13, places=2))
    code = data.draw(st.sampled_from(["demo-project", "core-algorithm", "icv-pilot"]))
    field = "actual_investment" if code == "demo-project" else "requested_amount"
    body = check_answer(post(api, code, json.dumps({"inputs": {field: str(amount)}})))
    assert body["measure"] == code


@FUZZ
@given(code=st.text(min_size=1, max_size=40))
def test_any_measure_code_in_the_path(api, catalogue, code):
    response = post(api, quote(code, safe=""), json.dumps({"inputs": {}}))

    assert response.status_code in (200, 404), (code, response.status_code)
    if response.status_code == 404 and response["Content-Type"].startswith("application/json"):
        assert set(response.json()) == {"code", "message", "fields"}
    detail = api.get(f"/api/v1/measures/{quote(code, safe='')}/")
    assert detail.status_code in (200, 404), (code, detail.status_code)


def test_unknown_codes_answer_404_in_the_error_shape(api, catalogue):
    for code in ["nope", "DEMO-PROJECT", "demo_project", "%E4%B8%AD", "a.b", "x" * 200]:
        response = post(api, code, "{}")
        assert response.status_code == 404, code
        assert response.json()["code"] == "not_found", code
