"""Tests of the applications app. Helpers shared by its API tests live here."""


def assert_error(response, status: int, code: str | None = None, fields=()) -> dict:
    """The response is an error in the API's one shape, naming `fields` (API.md)."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    assert isinstance(body["message"], str) and body["message"]
    for name, messages in body["fields"].items():
        assert isinstance(name, str) and messages, body
        assert all(isinstance(m, str) and m for m in messages), body
    if code is not None:
        assert body["code"] == code, body
    for name in fields:
        assert name in body["fields"], body
    return body
