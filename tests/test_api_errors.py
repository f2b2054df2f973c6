"""The API's shared error handling (qianhai_grants.api)."""

import pytest


@pytest.mark.parametrize("path", ["/api/v1/measures/demo-project/quote/", "/api/v1/auth/token/"])
def test_json_nested_too_deep_is_400_naming_body_not_500(client, catalogue, path):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "body" in response.json()["fields"]


def test_unknown_api_path_is_404_in_the_error_shape(client, db):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_anonymous_request_to_a_private_endpoint_is_401(client, db):
    response = client.get("/api/v1/applications/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
