"""Request-level tests of sign-up, email confirmation, profile language and password reset."""

import re

import pytest
from django.conf import settings
from django.core import mail

from applications.models import Profile
from tests.factories import UserFactory

PASSWORD = "a long and unusual passphrase 42"


@pytest.fixture(autouse=True)
def _private_root(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = str(tmp_path / "private")


def link_in(message, prefix) -> str:
    return re.search(rf"https?://[^/\s]+({re.escape(prefix)}\S+)", message.body).group(1)


def signup(client, email="new@example.org", language="zh-hant", **extra):
    return client.post("/accounts/signup/", {
        "email": email, "password": PASSWORD, "password_again": PASSWORD,
        "preferred_language": language, **extra})


def test_signup_logs_in_sends_a_confirmation_link_that_works(client, db):
    response = signup(client)

    assert response.status_code == 302
    assert response["Location"] == "/applications/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hant"
    profile = Profile.objects.get(user__username="new@example.org")
    assert profile.preferred_language == "zh-hant"
    assert profile.email_confirmed_at is None
    assert client.session["_auth_user_id"] == str(profile.user_id)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.org"]

    page = client.get(link_in(mail.outbox[0], "/accounts/confirm/"))

    assert page.status_code == 200
    profile.refresh_from_db()
    assert profile.email_confirmed_at is not None


def test_the_confirm_link_works_without_being_logged_in(client, db):
    signup(client)
    client.logout()

    response = client.get(link_in(mail.outbox[0], "/accounts/confirm/"))

    assert response.status_code == 200
    assert Profile.objects.get().email_confirmed_at is not None


def test_a_forged_confirm_link_confirms_nothing(client, db):
    signup(client)
    link = link_in(mail.outbox[0], "/accounts/confirm/")
    forged = link.rsplit("/", 2)[0] + "/abc-123/"

    assert client.get(forged).status_code == 400
    assert client.get("/accounts/confirm/zzz/abc-123/").status_code == 400
    assert Profile.objects.get().email_confirmed_at is None


def test_signup_errors_are_shown_on_the_fields_and_the_values_kept(client, db):
    UserFactory(username="taken@example.org")

    response = client.post("/accounts/signup/", {
        "email": "taken@example.org", "password": "123", "password_again": "123",
        "preferred_language": "en"}, HTTP_ACCEPT_LANGUAGE="en")

    page = response.content.decode()
    assert response.status_code == 400
    assert "An account with this email already exists." in page
    assert 'value="taken@example.org"' in page
    password = page.split('name="password"', 1)[1].split("</div>", 1)[0]
    assert 'class="error"' in password
    assert "_auth_user_id" not in client.session
    assert mail.outbox == []


def test_different_passwords_are_refused(client, db):
    response = signup(client, password_again="something else entirely")

    assert response.status_code == 400
    assert not Profile.objects.exists()


def test_the_profile_changes_the_language_and_sets_the_cookie(client, db):
    signup(client, language="zh-hans")

    assert client.get("/accounts/profile/").status_code == 200
    response = client.post("/accounts/profile/", {"preferred_language": "en"})

    assert response.status_code == 302
    assert Profile.objects.get().preferred_language == "en"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    page = client.get("/accounts/profile/").content.decode()
    assert '<html lang="en">' in page


def test_login_switches_to_the_preferred_language(client, db):
    signup(client, email="lang@example.org", language="zh-hant")
    client.logout()
    client.cookies.clear()

    response = client.post("/accounts/login/", {"username": "lang@example.org",
                                                "password": PASSWORD})

    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hant"
    assert '<html lang="zh-hant">' in client.get("/applications/").content.decode()


def test_login_without_a_profile_keeps_the_chosen_language(client, db):
    UserFactory(username="staff@example.org", password=PASSWORD)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.post("/accounts/login/", {"username": "staff@example.org",
                                                "password": PASSWORD})

    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"


def test_portal_account_pages_need_login(client, db):
    for url in ("/accounts/profile/",):
        assert client.get(url)["Location"].startswith("/accounts/login/")
    assert client.post("/accounts/confirm/resend/")["Location"].startswith("/accounts/login/")
    assert client.get("/accounts/signup/").status_code == 200


def test_a_new_confirmation_link_can_be_asked_for(client, db):
    signup(client)

    response = client.post("/accounts/confirm/resend/")

    assert response.status_code == 302
    assert len(mail.outbox) == 2
    client.get(link_in(mail.outbox[1], "/accounts/confirm/"))
    assert Profile.objects.get().email_confirmed_at is not None


def test_password_reset_by_email(client, db):
    UserFactory(username="forgot@example.org", password="the old password 1")

    assert client.get("/accounts/password-reset/").status_code == 200
    response = client.post("/accounts/password-reset/", {"email": "forgot@example.org"})
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert client.get(response["Location"]).status_code == 200
    link = link_in(mail.outbox[0], "/accounts/password-reset/")
    form_url = client.get(link)["Location"]  # Django moves the token into the session
    assert client.get(form_url).status_code == 200
    response = client.post(form_url, {"new_password1": "a brand new passphrase 7",
                                      "new_password2": "a brand new passphrase 7"})

    assert response["Location"] == "/accounts/password-reset/complete/"
    assert client.get(response["Location"]).status_code == 200
    client.logout()
    response = client.post("/accounts/login/", {"username": "forgot@example.org",
                                                "password": "a brand new passphrase 7"})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_a_used_reset_link_is_refused(client, db):
    page = client.get("/accounts/password-reset/x/set-password/").content.decode()

    assert 'name="new_password1"' not in page
