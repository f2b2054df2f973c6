"""The notification centre page and the unread badge's template tag."""

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.utils import timezone

from notices import services
from notices.events import Event
from notices.models import Channel, Notice
from tests.notices.conftest import person


def tell(user, n, url="/applications/1/", event=Event.ACCEPTED):
    services.notify(event=event, recipients=[user], subject_key=f"application-{n}:e{n}",
                    context={"application_id": n, "measure_names": {"en": f"Measure {n}"}},
                    url=url)
    in_app = Notice.objects.get(recipient=user, channel=Channel.IN_APP,
                                key__contains=f":application-{n}:")
    # Oldest first: notice n was written n hours after the first.
    Notice.objects.filter(pk=in_app.pk).update(
        created_at=timezone.now() - timedelta(hours=10 - n))
    return in_app


@pytest.fixture
def reader(db):
    return person("en")


@pytest.fixture
def browser(reader):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # the reader's language (force_login sets none)
    client.force_login(reader)
    return client


def test_the_page_needs_a_login(db):
    response = Client().get("/notifications/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_page_lists_ones_own_notices_newest_first_with_the_unread_marked(reader, browser):
    tell(reader, 1)
    read = tell(reader, 2)
    tell(reader, 3)
    services.notice_mark_read(user=reader, notice_id=read.pk)
    tell(person("en"), 4)  # someone else's
    page = browser.get("/notifications/").content.decode()
    assert page.index("#3") < page.index("#2") < page.index("#1")
    assert "#4" not in page
    assert page.count('class="notification unread"') == 2
    assert "Mark all as read" in page


def test_opening_a_notice_marks_it_read_and_follows_its_link(reader, browser):
    notice = tell(reader, 1, url="/applications/1/")
    response = browser.get(f"/notifications/{notice.pk}/")
    assert response.status_code == 302
    assert response["Location"] == "/applications/1/"
    notice.refresh_from_db()
    assert notice.read_at is not None


def test_a_link_elsewhere_is_never_followed(reader, browser):
    notice = tell(reader, 1, url="https://evil.example/phish")
    response = browser.get(f"/notifications/{notice.pk}/")
    assert response["Location"] == "/notifications/"


def test_someone_elses_notice_is_not_found(reader, browser):
    theirs = tell(person("en"), 1)
    assert browser.get(f"/notifications/{theirs.pk}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_mark_all_as_read_is_a_post_with_csrf(reader):
    for n in (1, 2):
        tell(reader, n)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(reader)
    assert strict.post("/notifications/read-all/").status_code == 403  # no token
    assert strict.get("/notifications/read-all/").status_code == 405
    page = strict.get("/notifications/")
    token = page.cookies["csrftoken"].value
    response = strict.post("/notifications/read-all/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert not Notice.objects.filter(recipient=reader, read_at__isnull=True,
                                     channel=Channel.IN_APP).exists()
    assert "0 unread" in strict.get("/notifications/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_unread_count_tag_is_one_query(reader, django_assert_num_queries):
    for n in (1, 2, 3):
        tell(reader, n)
    services.notices_mark_all_read(user=reader)
    tell(reader, 4)
    tell(person("en"), 5)
    request = RequestFactory().get("/")
    request.user = reader
    template = Template("{% load notices %}{% unread_count as n %}[{{ n }}]")
    with django_assert_num_queries(1):
        assert template.render(Context({"request": request})) == "[1]"


def test_the_unread_count_tag_is_zero_for_an_anonymous_visitor(db, django_assert_num_queries):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    template = Template("{% load notices %}{% unread_count as n %}[{{ n }}]")
    with django_assert_num_queries(0):
        assert template.render(Context({"request": request})) == "[0]"
