"""The notifications API (one's own only) and staff's failed-notice API and admin action."""

import pytest
from django.core import mail
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from notices import services
from notices.events import Event
from notices.models import Channel, Notice, State
from tests.factories import company_user, staff_user
from tests.notices.conftest import person


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0]}")
    return client


def tell(user, n):
    services.notify(event=Event.REJECTED, recipients=[user], subject_key=f"application-{n}:e1",
                    context={"application_id": n, "reason": f"reason {n}"},
                    url=f"/applications/{n}/")
    return Notice.objects.get(recipient=user, channel=Channel.IN_APP,
                              key__contains=f":application-{n}:")


@pytest.fixture
def reader(db):
    return person("en")


@pytest.fixture
def api(reader):
    return client_for(reader)


def test_anonymous_callers_are_refused(db):
    anon = APIClient()
    for method, path in (("get", "/api/v1/notifications/"),
                         ("get", "/api/v1/notifications/unread-count/"),
                         ("post", "/api/v1/notifications/read-all/"),
                         ("post", "/api/v1/notifications/1/read/"),
                         ("get", "/api/v1/notices/failed/")):
        assert getattr(anon, method)(path).status_code == 401, path


def test_the_list_is_ones_own_in_app_notices_newest_first(reader, api):
    first, second = tell(reader, 1), tell(reader, 2)
    tell(person("en"), 3)
    body = api.get("/api/v1/notifications/").json()
    assert body["count"] == 2
    assert [row["id"] for row in body["results"]] == [second.pk, first.pk]
    row = body["results"][0]
    assert set(row) == {"id", "event", "subject", "body", "url", "created_at", "read_at"}
    assert (row["event"], row["read_at"]) == ("rejected", None)
    assert "reason 2" in row["body"]
    assert row["url"] == "http://127.0.0.1:8000/applications/2/"


def test_reading_one_and_all_and_the_unread_count(reader, api):
    first, _second = tell(reader, 1), tell(reader, 2)
    assert api.get("/api/v1/notifications/unread-count/").json() == {"unread": 2}
    read = api.post(f"/api/v1/notifications/{first.pk}/read/")
    assert read.status_code == 200
    assert read.json()["read_at"] is not None
    assert api.get("/api/v1/notifications/unread-count/").json() == {"unread": 1}
    assert api.post("/api/v1/notifications/read-all/").json() == {"marked": 1}
    assert api.get("/api/v1/notifications/unread-count/").json() == {"unread": 0}


def test_someone_elses_notice_is_not_found(reader, api):
    theirs = tell(person("en"), 1)
    tell(reader, 2)
    own_email = Notice.objects.get(recipient=reader, channel=Channel.EMAIL)
    response = api.post(f"/api/v1/notifications/{theirs.pk}/read/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert api.post(f"/api/v1/notifications/{own_email.pk}/read/").status_code == 404
    assert api.post("/api/v1/notifications/99999999999/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.fixture
def failed(db):
    user = person("en")
    tell(user, 1)
    notice = Notice.objects.get(recipient=user, channel=Channel.EMAIL)
    Notice.objects.filter(pk=notice.pk).update(state=State.FAILED, attempts=6,
                                               last_error="SMTPRecipientsRefused: 550")
    return notice


def test_staff_list_failed_notices_and_others_may_not(failed):
    assert client_for(company_user()).get("/api/v1/notices/failed/").status_code == 403
    body = client_for(staff_user()).get("/api/v1/notices/failed/").json()
    assert [row["id"] for row in body["results"]] == [failed.pk]
    assert body["results"][0]["last_error"] == "SMTPRecipientsRefused: 550"
    assert body["results"][0]["attempts"] == 6


def test_staff_retry_a_failed_notice(failed, django_capture_on_commit_callbacks):
    assert client_for(company_user()).post(
        f"/api/v1/notices/{failed.pk}/retry/").status_code == 403
    staff = client_for(staff_user())
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(f"/api/v1/notices/{failed.pk}/retry/")
    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.state == State.SENT
    assert len(mail.outbox) == 1
    again = staff.post(f"/api/v1/notices/{failed.pk}/retry/")
    assert (again.status_code, again.json()["code"]) == (409, "notice_not_retryable")
    in_app = Notice.objects.get(channel=Channel.IN_APP)
    assert staff.post(f"/api/v1/notices/{in_app.pk}/retry/").status_code == 404


def test_the_admin_retry_action_sends_failed_notices(failed, django_capture_on_commit_callbacks):
    browser = Client()
    browser.force_login(staff_user())
    listing = browser.get("/admin/notices/notice/", {"state__exact": "failed"})
    assert listing.status_code == 200
    assert failed.key in listing.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/admin/notices/notice/", {
            "action": "retry", "_selected_action": [failed.pk]})
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.state == State.SENT
    assert len(mail.outbox) == 1


def test_the_admin_is_closed_to_company_users(failed):
    browser = Client()
    browser.force_login(company_user(is_staff=True))
    assert browser.get("/admin/notices/notice/").status_code == 403


def test_the_schema_documents_the_endpoints(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/v1/notifications/", "/api/v1/notifications/{id}/read/",
                 "/api/v1/notifications/read-all/", "/api/v1/notifications/unread-count/",
                 "/api/v1/notices/failed/", "/api/v1/notices/{id}/retry/"):
        assert path in schema["paths"], path
