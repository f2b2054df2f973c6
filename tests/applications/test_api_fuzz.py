"""Hypothesis against the portal's writes: any JSON body gets an answer in the error shape,
never a 500 (API.md, conventions)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import staff_user

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", " ", "0", "-1", "1e5", "15,000,000.00", "2026-01-01",
                       "2026-01-01T00:00:00+08:00", "0001-01-01T00:00:00+14:00", "owner",
                       "viewer", "demo-project", "mainland", "port", "\x00", "٣"])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def body_of(*names):
    """Objects with the endpoint's own field names (so the fuzz gets past the first check),
    sometimes something that is not an object at all."""
    known = st.fixed_dictionaries({}, optional=dict.fromkeys(names, json_values))
    return known | json_values


def demo_inputs():
    fields = ["project_name", "scene", "actual_investment", "completion_date"]
    return st.fixed_dictionaries({}, optional=dict.fromkeys(fields, json_values)) | json_values


def client_of(user):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0]}")
    return client


def check(response, allowed):
    assert response.status_code in allowed, (response.status_code, response.content[:400])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"code", "message", "fields"}, body
        if response.status_code == 400:
            assert body["fields"], body


def send(client, method, path, body):
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


@pytest.fixture
def owner_client(owner):
    return client_of(owner)


@FUZZ
@given(body=body_of("call", "company", "inputs"), real_ids=st.booleans())
def test_creating_applications(owner_client, call, company, body, real_ids):
    if real_ids and isinstance(body, dict):
        body = {**body, "call": call.pk, "company": company.pk}
    response = send(owner_client, "post", "/api/v1/applications/", body)
    check(response, (201, 400, 409))
    if response.status_code == 201:  # make room for the next example
        owner_client.post(f"/api/v1/applications/{response.json()['id']}/withdraw/")


@FUZZ
@given(inputs=demo_inputs())
def test_creating_with_any_inputs(owner_client, call, company, inputs):
    response = send(owner_client, "post", "/api/v1/applications/",
                    {"call": call.pk, "company": company.pk, "inputs": inputs})
    check(response, (201, 400, 409))
    if response.status_code == 201:  # make room for the next example
        owner_client.post(f"/api/v1/applications/{response.json()['id']}/withdraw/")


@FUZZ
@given(body=body_of("inputs"))
def test_editing_a_draft(owner_client, draft, body):
    check(send(owner_client, "patch", f"/api/v1/applications/{draft['id']}/", body),
          (200, 400))


@FUZZ
@given(body=body_of("name", "name_en", "registration_type", "registration_number",
                    "in_qianhai", "contact_name", "contact_phone", "contact_email"))
def test_creating_companies(owner_client, body):
    check(send(owner_client, "post", "/api/v1/companies/", body), (201, 400))


@FUZZ
@given(body=body_of("email", "role"))
def test_inviting(owner_client, company, body):
    check(send(owner_client, "post", f"/api/v1/companies/{company.pk}/members/", body),
          (201, 400))


@FUZZ
@given(body=body_of("measure", "funding_year", "opens_at", "closes_at",
                    "reviewers_per_application", "trimmed_mean"))
def test_opening_calls(catalogue, body):
    check(send(client_of(staff_user()), "post", "/api/v1/calls/", body), (201, 400))


@FUZZ
@given(body=body_of("email", "password", "preferred_language"))
def test_registering(db, body):
    check(send(APIClient(raise_request_exception=False), "post", "/api/v1/auth/register/",
               body), (201, 400))


@FUZZ
@given(body=body_of("reason"))
def test_screening_reasons(submitted, body):
    response = send(client_of(staff_user()), "post",
                    f"/api/v1/applications/{submitted['id']}/return/", body)
    check(response, (200, 400, 409))


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["status", "call", "company", "measure",
                                              "funding_year", "page", "page_size"]),
                             st.text(max_size=25), max_size=4))
def test_list_filters(owner_client, draft, query):
    for path in ("/api/v1/applications/", "/api/v1/calls/", "/api/v1/companies/"):
        check(owner_client.get(path, query), (200, 400, 404))
