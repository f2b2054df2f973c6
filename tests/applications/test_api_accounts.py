"""Accounts: POST /api/v1/auth/register/ and GET/PATCH /api/v1/me/."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from rest_framework.test import APIClient

from applications.models import Invitation, Membership
from tests.applications import assert_error
from tests.factories import CompanyFactory, company_user, staff_user

REGISTER = "/api/v1/auth/register/"
ME = "/api/v1/me/"
PASSWORD = "Qianhai-grants-2026!"


def register(client, language=None, **body):
    headers = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
    return client.post(REGISTER, {"email": "ceo@example.cn", "password": PASSWORD,
                                  "preferred_language": "en", **body}, format="json", **headers)


def test_register_creates_a_company_user_and_mails_a_confirmation_link(anon, db):
    response = register(anon, email="  CEO@Example.cn ")

    assert response.status_code == 201, response.content
    body = response.json()
    user = get_user_model().objects.get(pk=body["id"])
    assert body == {"id": user.pk, "email": "ceo@example.cn", "preferred_language": "en"}
    assert user.username == "ceo@example.cn"
    assert user.groups.filter(name="company").exists()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ceo@example.cn"]
    link = re.search(r"http://testserver/accounts/confirm/([^/]+)/([^/]+)/", message.body)
    assert link, message.body
    assert force_str(urlsafe_base64_decode(link.group(1))) == str(user.pk)
    assert default_token_generator.check_token(user, link.group(2))


@pytest.mark.parametrize(("preferred", "request_language", "signature"), [
    ("zh-hant", "en", "前海管理局"),
    ("en", "zh-hans", "Qianhai Authority"),
])
def test_the_confirmation_mail_is_in_the_users_language_not_the_requests(
        anon, db, preferred, request_language, signature):
    register(anon, request_language, preferred_language=preferred)

    assert signature in mail.outbox[0].body


def test_register_defaults_the_language_to_the_requests(anon, db):
    response = anon.post(REGISTER, {"email": "a@example.cn", "password": PASSWORD},
                         format="json", HTTP_ACCEPT_LANGUAGE="zh-hant")

    assert response.status_code == 201, response.content
    assert response.json()["preferred_language"] == "zh-hant"


def test_a_failing_mail_server_does_not_lose_the_account(anon, db, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("applications.api.send_mail", down)

    response = register(anon)

    assert response.status_code == 201
    assert get_user_model().objects.filter(username="ceo@example.cn").exists()


def test_a_registered_user_gets_a_token_and_reads_me(anon, db):
    register(anon)
    token = anon.post("/api/v1/auth/token/", {"username": "ceo@example.cn",
                                              "password": PASSWORD}, format="json")
    assert token.status_code == 200, token.content

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    response = client.get(ME)

    assert response.status_code == 200
    me = response.json()
    assert me["email"] == "ceo@example.cn"
    assert me["preferred_language"] == "en"
    assert me["email_confirmed"] is False
    assert me["roles"] == ["company"]


def test_an_invitation_becomes_a_membership_when_the_email_is_confirmed(anon, db):
    from django.contrib.auth import get_user_model

    from applications import services

    company = CompanyFactory()
    Invitation.objects.create(company=company, email="ceo@example.cn", role="viewer",
                              invited_by=company.created_by)

    register(anon)
    assert not Membership.objects.filter(company=company).exclude(role="owner").exists()
    services.email_confirm(user=get_user_model().objects.get(username="ceo@example.cn"))

    assert Membership.objects.get(company=company, user__username="ceo@example.cn").role == \
        "viewer"


def test_register_needs_no_csrf_token_even_with_a_session_cookie(db):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(company_user())

    assert register(client).status_code == 201


@pytest.mark.parametrize(("body", "field"), [
    ({"email": "not-an-email"}, "email"),
    ({"email": "a" * 140 + "@example.cn"}, "email"),
    ({"password": "123"}, "password"),
    ({"password": "ceo@example.cn"}, "password"),
    ({"preferred_language": "fr"}, "preferred_language"),
    ({"email": {"x": 1}}, "email"),
    ({"password": None}, "password"),
])
def test_register_refuses_bad_input_naming_the_field(anon, db, body, field):
    assert_error(register(anon, **body), 400, fields=[field])
    assert not mail.outbox


def test_register_refuses_a_taken_email_in_any_case(anon, db):
    company_user(username="ceo@example.cn")

    assert_error(register(anon, email="CEO@example.cn"), 400, "invalid", ["email"])


@pytest.mark.parametrize("raw", ["[]", '"text"', "null", "12", "{", "[" * 100000])
def test_register_refuses_a_body_that_is_not_an_object(anon, db, raw):
    response = anon.generic("POST", REGISTER, raw, content_type="application/json")

    assert_error(response, 400, fields=["body"])


def test_register_is_throttled(anon, db, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES",
                        {"anon": "2/minute", "user": "1000/minute", "quote": "1000/minute"})
    register(anon, email="a@example.cn")
    register(anon, email="b@example.cn")

    assert_error(register(anon, email="c@example.cn"), 429, "throttled")


def test_me_needs_login(anon, db):
    assert_error(anon.get(ME), 401, "not_authenticated")
    assert_error(anon.patch(ME, {"preferred_language": "en"}, format="json"), 401)


def test_me_changes_the_preferred_language(client_for, db):
    user = company_user()
    client = client_for(user)

    response = client.patch(ME, {"preferred_language": "zh-hant"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["preferred_language"] == "zh-hant"
    assert client.get(ME).json()["preferred_language"] == "zh-hant"


def test_me_refuses_an_unknown_language(client_for, db):
    response = client_for(company_user()).patch(ME, {"preferred_language": "de"}, format="json")

    assert_error(response, 400, "invalid", ["preferred_language"])


def test_me_shows_staff_roles(client_for, db):
    assert client_for(staff_user()).get(ME).json()["roles"] == ["staff"]


def test_messages_follow_accept_language(anon, db):
    response = register(anon, "zh-hant", email="nope")

    assert_error(response, 400)
    assert response.json()["message"] == "輸入內容無效。"
