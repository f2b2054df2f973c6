"""The reviewer pool page for staff (management reads it): the list and the create form."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from measures.models import Measure
from qianhai_grants.roles import MANAGEMENT, REVIEWER
from reviews.models import ReviewerProfile
from reviews.services.assignments import review_assign
from tests.factories import UserFactory, application_in, company_user, reviewer_user, uscc

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
URL = "/office/reviewers/"
NEW = {"email": "Zhang.Expert@Example.org", "name": "张专家",
       "expertise": ["application_demo", "core-algorithm"],
       "affiliations": f"{uscc(9001)}\n\n  {uscc(9002)}  \n"}


@pytest.fixture
def management(db):
    return UserFactory(roles=[MANAGEMENT])


def test_anonymous_visitors_are_sent_to_the_login_page(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_company_users_and_reviewers_may_not_open_the_pool(client, db):
    for user in (company_user(), reviewer_user()):
        client.force_login(user)
        assert client.get(URL).status_code == 403
        assert client.post(URL, NEW).status_code == 403
    assert not get_user_model().objects.filter(email="zhang.expert@example.org").exists()


def test_staff_see_each_reviewer_with_expertise_affiliations_and_load(client, staff, demo_call):
    reviewer = reviewer_user(name="李评审", expertise=("application_demo", "core-algorithm"),
                             affiliations=(uscc(7001),))
    for _ in range(2):
        review_assign(by=staff, reviewer=reviewer,
                      application=application_in("accepted", call=demo_call))
    idle = reviewer_user(name="王评审", expertise=("clustering",))
    ReviewerProfile.objects.filter(user=idle).update(active=False)
    client.force_login(staff)

    html = client.get(URL, **EN).content.decode()

    row = html.split("李评审", 1)[1].split("</tr>", 1)[0]
    assert reviewer.email in row
    assert "Application demonstration" in row  # the pillar, by its name
    assert Measure.objects.get(code="core-algorithm").name_en in row  # a measure, by its name
    assert uscc(7001) in row
    assert '<td class="num">2</td>' in row and "Yes" in row
    idle_row = html.split("王评审", 1)[1].split("</tr>", 1)[0]
    assert "Industrial clustering" in idle_row and '<td class="num">0</td>' in idle_row
    assert ">No<" in idle_row
    assert 'name="email"' in html and 'name="csrfmiddlewaretoken"' in html


def test_expertise_is_shown_in_the_readers_language(client, staff, catalogue):
    reviewer_user(name="李评审", expertise=("demo-project",))
    client.force_login(staff)
    html = client.get(URL, HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    assert "人工智能應用示範項目資金支持" in html.split("李评审", 1)[1].split("</tr>", 1)[0]


def test_management_reads_the_pool_without_the_form(client, management, catalogue):
    reviewer_user(name="李评审")
    client.force_login(management)
    response = client.get(URL, **EN)
    assert response.status_code == 200
    assert "李评审" in response.content.decode()
    assert 'name="email"' not in response.content.decode()
    assert client.post(URL, NEW).status_code == 403
    assert not ReviewerProfile.objects.filter(name="张专家").exists()


def test_the_create_form_shows_the_services_errors_beside_the_fields(client, staff, catalogue):
    client.force_login(staff)
    response = client.post(URL, {"email": "not-an-email", "name": " ",
                                 "affiliations": "x" * 40}, **EN)

    assert response.status_code == 400
    html = response.content.decode()
    email = html.split('name="email"', 1)[1].split("</div>", 1)[0]
    name = html.split('name="name"', 1)[1].split("</div>", 1)[0]
    affiliations = html.split('name="affiliations"', 1)[1].split("</div>", 1)[0]
    assert "Enter a valid email address." in email
    assert "Enter the reviewer&#x27;s name." in name
    assert "Give a list of registration numbers" in affiliations
    assert 'value="not-an-email"' in html  # what was typed is kept
    assert not ReviewerProfile.objects.exists()


def test_a_taken_email_is_refused_beside_the_email(client, staff, catalogue):
    existing = reviewer_user(name="李评审")
    client.force_login(staff)
    response = client.post(URL, {**NEW, "email": existing.email.upper()}, **EN)
    assert response.status_code == 400
    assert "An account with this email already exists." in \
        response.content.decode().split('name="email"', 1)[1].split("</div>", 1)[0]
    assert ReviewerProfile.objects.count() == 1


def test_staff_add_a_reviewer_to_the_pool(client, staff, catalogue):
    client.force_login(staff)
    response = client.post(URL, NEW, **EN)

    assert response.status_code == 302 and response["Location"] == URL
    profile = ReviewerProfile.objects.get(name="张专家")
    assert profile.user.email == "zhang.expert@example.org"
    assert profile.user.groups.filter(name=REVIEWER).exists()
    assert not profile.user.has_usable_password()
    assert profile.expertise == ["application_demo", "core-algorithm"]
    assert sorted(profile.affiliations.values_list("registration_number", flat=True)) == [
        uscc(9001), uscc(9002)]
    html = client.get(URL, **EN).content.decode()
    assert "张专家 is in the pool." in html
    assert "zhang.expert@example.org" in html


def test_the_list_takes_the_same_number_of_queries_for_any_number_of_reviewers(client, staff,
                                                                              catalogue):
    client.force_login(staff)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    reviewer_user(affiliations=(uscc(1),))
    few = queries()
    for n in range(2, 7):
        reviewer_user(affiliations=(uscc(n), uscc(n + 100)), expertise=("demo-project",))
    assert queries() == few
