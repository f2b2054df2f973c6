"""The reviewing API, staff's side: the reviewer pool, an application's assignments and
candidates, a call's automatic assignment and scorecard. Who may knock on each door, and what
they find. (A reviewer's own reviews: test_api_reviewing_reviews.py; the whole way through the
API and any body: test_api_reviewing_flow.py.)"""

import json
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from applications.models import Status
from qianhai_grants.roles import MANAGEMENT, REVIEWER
from reviews.models import Affiliation, AuditEntry, Review, ReviewerProfile, ReviewState, Scorecard
from reviews.services.assignments import review_assign
from reviews.services.scoring import DEFAULT_CRITERIA, review_submit
from tests.factories import UserFactory, application_in, reviewer_user
from tests.reviews.test_api_decisions import ERROR_CODES, assert_error, client_as, get, post

EIGHTS = {"innovation": 8, "feasibility": 8, "industry_impact": 8, "team": 8, "budget": 8}
CODES = list(EIGHTS)
PEOPLE = ("anonymous", "owner", "assigned", "unassigned", "conflicted", "staff", "management")


def put(user, path, body):
    return client_as(user).put(path, json.dumps(body), content_type="application/json")


def names(body, field) -> bool:
    """The error names the field (or one of its items: `affiliations.0`)."""
    return any(key == field or key.startswith(f"{field}.") for key in body["fields"])


def expect(response, status):
    """The status, and for an error the error shape with its code."""
    if status >= 400:
        return assert_error(response, status, ERROR_CODES.get(status))
    assert response.status_code == status, response.content[:500]
    return response.json()


def conflicted_reviewer(application, staff, name="乙评审"):
    """A reviewer given the application whose relation to the company came to light later (the
    affiliation recorded directly, so the review is not yet recused): the application is hidden
    from them at once."""
    user = reviewer_user(name=name)
    review = review_assign(by=staff, application=application, reviewer=user)
    Affiliation.objects.create(reviewer=user.reviewer_profile,
                               registration_number=application.company.registration_number)
    return user, review


def make_scene(demo_call, staff) -> SimpleNamespace:
    """An application in review with an assigned reviewer and a conflicted one, and everyone
    else who may ask about it."""
    application = application_in("accepted", call=demo_call)
    assigned = reviewer_user(name="甲评审")
    review = review_assign(by=staff, application=application, reviewer=assigned)
    conflicted, conflicted_review = conflicted_reviewer(application, staff)
    people = {"anonymous": None, "owner": application.company.created_by, "assigned": assigned,
              "unassigned": reviewer_user(name="丙评审"), "conflicted": conflicted,
              "staff": staff, "management": UserFactory(roles=[MANAGEMENT])}
    return SimpleNamespace(application=application, call=demo_call, review=review,
                           conflicted_review=conflicted_review, people=people)


@pytest.fixture
def scene(demo_call, staff):
    return make_scene(demo_call, staff)


def matrix(**overrides):
    """Expected statuses per person: 403 for every logged-in person unless overridden."""
    return [(who, overrides.get(who, 401 if who == "anonymous" else 403)) for who in PEOPLE]


# ---------------------------------------------------------------- the pool: who

@pytest.mark.parametrize(("who", "expected"), matrix(staff=200, management=200))
def test_the_pool_is_read_by_staff_and_management(scene, who, expected):
    body = expect(get(scene.people[who], "/api/v1/reviewers/"), expected)
    if expected == 200:
        assert {row["name"] for row in body["results"]} == {"甲评审", "乙评审", "丙评审"}


@pytest.mark.parametrize(("who", "expected"), matrix(staff=201))
def test_only_staff_add_reviewers(scene, who, expected):
    body = expect(post(scene.people[who], "/api/v1/reviewers/", {
        "email": "new.expert@example.org", "name": "新专家", "expertise": ["demo-project"]}),
        expected)
    added = ReviewerProfile.objects.filter(name="新专家")
    assert added.exists() == (expected == 201)
    if expected == 201:
        assert body["id"] == added.get().user_id


@pytest.mark.parametrize(("who", "expected"), matrix(staff=200, management=200))
def test_one_reviewer_is_read_by_staff_and_management(scene, who, expected):
    body = expect(get(scene.people[who], f"/api/v1/reviewers/{scene.people['assigned'].pk}/"),
                  expected)
    if expected == 200:
        assert (body["name"], body["open_reviews"]) == ("甲评审", 1)


@pytest.mark.parametrize(("who", "expected"), matrix(staff=201))
def test_only_staff_record_a_reviewers_affiliation(scene, who, expected):
    reviewer = scene.people["assigned"]

    expect(post(scene.people[who], f"/api/v1/reviewers/{reviewer.pk}/affiliations/",
                {"registration_number": scene.application.company.registration_number,
                 "kind": "shareholding"}), expected)

    assert Affiliation.objects.filter(reviewer__user=reviewer).exists() == (expected == 201)


@pytest.mark.parametrize(("who", "expected"), matrix(assigned=200, unassigned=200,
                                                     conflicted=200))
def test_a_reviewer_reads_their_own_entry_at_me(scene, who, expected):
    body = expect(get(scene.people[who], "/api/v1/reviewers/me/"), expected)
    if expected == 200:
        assert body["id"] == scene.people[who].pk
        assert body["email"] == scene.people[who].email


@pytest.mark.parametrize(("who", "expected"), matrix(assigned=201, unassigned=201,
                                                     conflicted=200))
def test_reviewers_declare_their_own_relations_at_me(scene, who, expected):
    """The conflicted reviewer's relation is already recorded: declaring it again is a 200."""
    number = scene.application.company.registration_number

    body = expect(post(scene.people[who], "/api/v1/reviewers/me/affiliations/",
                       {"registration_number": number, "note": "曾任顾问"}), expected)

    if expected < 400:
        assert number in [a["registration_number"] for a in body["affiliations"]]
    assert Affiliation.objects.filter(registration_number=number).count() == (
        2 if who in ("assigned", "unassigned") else 1)


# ---------------------------------------------------------------- the pool: what

def test_staff_add_a_reviewer_who_logs_in_with_the_password_given(db, staff, catalogue):
    body = expect(post(staff, "/api/v1/reviewers/", {
        "email": " Li.Ping@Example.org ", "name": "李平", "expertise": ["demo-project",
                                                                      "application_demo"],
        "affiliations": ["91440300 0000000001"], "password": "a long pass phrase 42"}), 201)

    assert body == {"id": body["id"], "email": "li.ping@example.org", "name": "李平",
                    "expertise": ["demo-project", "application_demo"],
                    "affiliations": [{"registration_number": "914403000000000001",
                                      "kind": "employment", "note": ""}],
                    "active": True, "open_reviews": 0}
    user = get_user_model().objects.get(pk=body["id"])
    assert user.groups.filter(name=REVIEWER).exists()
    token = client_as(None).post("/api/v1/auth/token/", {
        "username": "li.ping@example.org", "password": "a long pass phrase 42"}, format="json")
    assert token.status_code == 200 and token.json()["token"]


def test_without_a_password_the_reviewer_cannot_log_in_until_they_set_one(db, staff, catalogue):
    body = expect(post(staff, "/api/v1/reviewers/", {"email": "wang@example.org",
                                                     "name": "王五"}), 201)
    assert not get_user_model().objects.get(pk=body["id"]).has_usable_password()
    assert body["expertise"] == [] and body["affiliations"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"email": "not-an-email", "name": "甲"}, "email"),
    ({"email": "a@example.org", "name": ""}, "name"),
    ({"email": "a@example.org", "name": "甲", "expertise": ["astrology"]}, "expertise"),
    ({"email": "a@example.org", "name": "甲", "expertise": "demo-project"}, "expertise"),
    ({"email": "a@example.org", "name": "甲", "affiliations": [["x"]]}, "affiliations"),
    ({"email": "a@example.org", "name": "甲", "affiliations": ["9" * 40]}, "affiliations"),
    ({"email": "a@example.org", "name": "甲", "password": "123"}, "password"),
    ({"email": 5, "name": ["甲"]}, "name"),
])
def test_a_bad_reviewer_is_a_400_naming_the_field(db, staff, catalogue, body, field):
    response = assert_error(post(staff, "/api/v1/reviewers/", body), 400, "invalid")
    assert names(response, field), response
    assert not ReviewerProfile.objects.exists()


def test_an_email_already_in_use_is_named(scene, staff):
    body = assert_error(post(staff, "/api/v1/reviewers/", {
        "email": scene.people["assigned"].email.upper(), "name": "重复"}), 400, "invalid")
    assert "email" in body["fields"]


@pytest.mark.parametrize("body", [[], "x", 5, None])
def test_a_body_that_is_not_an_object_is_a_400(db, staff, body):
    response = client_as(staff).post("/api/v1/reviewers/", json.dumps(body),
                                     content_type="application/json")
    assert "body" in assert_error(response, 400, "invalid")["fields"]


def test_the_pool_shows_affiliations_and_open_reviews(scene, staff):
    rows = {row["name"]: row for row in get(staff, "/api/v1/reviewers/").json()["results"]}

    assert rows["甲评审"]["open_reviews"] == 1 and rows["丙评审"]["open_reviews"] == 0
    assert rows["乙评审"]["affiliations"] == [{
        "registration_number": scene.application.company.registration_number,
        "kind": "employment", "note": ""}]
    assert all(row["active"] for row in rows.values())


def test_the_pool_takes_the_same_queries_for_3_or_30_reviewers(db, staff):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert get(staff, "/api/v1/reviewers/?page_size=100").status_code == 200
        return len(queries)

    for i in range(3):
        reviewer_user(name=f"专家{i}", affiliations=[f"NUMBER{i}"])
    count()  # the first request makes the token
    few = count()
    for i in range(3, 30):
        reviewer_user(name=f"专家{i}", affiliations=[f"NUMBER{i}"])
    assert count() == few


def test_a_reviewer_that_does_not_exist_or_is_not_a_reviewer_is_a_404(scene, staff):
    for path in ("/api/v1/reviewers/999999/", f"/api/v1/reviewers/{staff.pk}/",
                 "/api/v1/reviewers/abc/"):
        assert get(staff, path).status_code == 404, path
    assert_error(post(staff, "/api/v1/reviewers/999999/affiliations/",
                      {"registration_number": "X1"}), 404, "not_found")


def test_a_declared_relation_takes_the_review_away_and_gives_it_to_another(scene):
    assigned, spare = scene.people["assigned"], scene.people["unassigned"]
    number = scene.application.company.registration_number

    body = expect(post(assigned, "/api/v1/reviewers/me/affiliations/",
                       {"registration_number": number.lower(), "note": "持股"}), 201)

    assert body["affiliations"] == [{"registration_number": number, "kind": "declared",
                                     "note": "持股"}]
    assert body["open_reviews"] == 0
    scene.review.refresh_from_db()
    assert scene.review.state == ReviewState.RECUSED
    assert Review.objects.get(application=scene.application, reviewer=spare).state == \
        ReviewState.ASSIGNED
    assert_error(get(assigned, f"/api/v1/applications/{scene.application.pk}/"), 404)


@pytest.mark.parametrize(("body", "field"), [
    ({"registration_number": ""}, "registration_number"),
    ({"registration_number": "X" * 65}, "registration_number"),
    ({"registration_number": "X1", "kind": "friendship"}, "kind"),
    ({"registration_number": "X1", "note": "n" * 201}, "note"),
    ({}, "registration_number"),
])
def test_a_bad_declaration_is_a_400_naming_the_field(scene, body, field):
    response = assert_error(post(scene.people["unassigned"],
                                 "/api/v1/reviewers/me/affiliations/", body), 400, "invalid")
    assert field in response["fields"]


# ---------------------------------------------------------------- an application's assignments

@pytest.mark.parametrize(("who", "expected"), matrix(
    unassigned=404, conflicted=404, staff=200, management=200))
def test_an_applications_reviews_are_read_by_staff_and_management_only(scene, who, expected):
    response = get(scene.people[who], f"/api/v1/applications/{scene.application.pk}/assignments/")
    body = expect(response, expected)
    if expected == 200:
        assert [row["reviewer_name"] for row in body["results"]] == ["甲评审", "乙评审"]
    else:
        assert "甲评审".encode() not in response.content


@pytest.mark.parametrize(("who", "expected"), matrix(unassigned=404, conflicted=404,
                                                     staff=201))
def test_only_staff_assign(scene, who, expected):
    newcomer = reviewer_user(name="丁评审")

    body = expect(post(scene.people[who],
                       f"/api/v1/applications/{scene.application.pk}/assignments/",
                       {"reviewer": newcomer.pk}), expected)

    assert Review.objects.filter(reviewer=newcomer).exists() == (expected == 201)
    if expected == 201:
        review = Review.objects.get(reviewer=newcomer)
        assert body == {"id": review.pk, "application": scene.application.pk,
                        "reviewer": newcomer.pk, "state": "assigned", "due_at": None}


@pytest.mark.parametrize(("who", "expected"), matrix(
    unassigned=404, conflicted=404, staff=200, management=200))
def test_candidates_are_read_by_staff_and_management(scene, who, expected):
    body = expect(get(scene.people[who],
                      f"/api/v1/applications/{scene.application.pk}/reviewer-candidates/"),
                  expected)
    if expected == 200:
        assert [row["name"] for row in body["results"]] == ["丙评审"]


def test_staff_read_every_review_of_an_application_with_scores_and_comments(scene, staff):
    review_submit(by=scene.people["assigned"], review=scene.review,
                  scores={**EIGHTS, "budget": 3}, comment="预算偏高", comments={"budget": "说明"})
    Review.objects.filter(pk=scene.conflicted_review.pk).update(
        state=ReviewState.RECUSED, recusal_reason="持股")

    rows = get(staff, f"/api/v1/applications/{scene.application.pk}/assignments/"
               ).json()["results"]

    assert [(r["reviewer"], r["state"]) for r in rows] == [
        (scene.people["assigned"].pk, "submitted"), (scene.people["conflicted"].pk, "recused")]
    first = rows[0]
    assert first["scores"] == {**dict.fromkeys(CODES, "8"), "budget": "3"}
    assert (first["total"], first["comment"], first["comments"]) == ("75.00", "预算偏高",
                                                                      {"budget": "说明"})
    assert first["reviewer_email"] == scene.people["assigned"].email
    assert first["automatic"] is False and first["submitted_at"]
    assert rows[1]["recusal_reason"] == "持股" and rows[1]["total"] is None


def test_assigning_names_a_due_date_and_starts_the_review(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    reviewer = reviewer_user()
    due = (timezone.now() + timezone.timedelta(days=14)).replace(microsecond=0)

    body = expect(post(staff, f"/api/v1/applications/{application.pk}/assignments/",
                       {"reviewer": reviewer.pk, "due_at": due.isoformat()}), 201)

    review = Review.objects.get(pk=body["id"])
    assert review.due_at == due and review.assigned_by == staff
    application.refresh_from_db()
    assert application.status == Status.IN_REVIEW


def test_the_assignment_refusals_carry_their_codes(scene, staff):
    path = f"/api/v1/applications/{scene.application.pk}/assignments/"
    conflicted = reviewer_user(affiliations=[scene.application.company.registration_number])

    assert_error(post(staff, path, {"reviewer": conflicted.pk}), 409, "reviewer_conflicted")
    assert_error(post(staff, path, {"reviewer": scene.people["assigned"].pk}), 409,
                 "already_assigned")
    submitted = application_in("submitted", call=scene.call)
    assert_error(post(staff, f"/api/v1/applications/{submitted.pk}/assignments/",
                      {"reviewer": scene.people["unassigned"].pk}), 409, "invalid_transition")
    assert not Review.objects.filter(reviewer=conflicted).exists()


@pytest.mark.parametrize(("body", "field"), [
    ({}, "reviewer"), ({"reviewer": "abc"}, "reviewer"), ({"reviewer": 0}, "reviewer"),
    ({"reviewer": 2**70}, "reviewer"), ({"reviewer": None}, "reviewer"),
    ({"reviewer": 999999}, "reviewer"),  # nobody
    ({"reviewer": "<staff>"}, "reviewer"),  # a user, but not a reviewer of the pool
    ({"reviewer": "<unassigned>", "due_at": "tomorrow"}, "due_at"),
    ({"reviewer": "<unassigned>", "due_at": "2020-01-01T10:00:00+08:00"}, "due_at"),  # past
])
def test_a_bad_assignment_is_a_400_naming_the_field(scene, staff, body, field):
    users = {"<staff>": staff, "<unassigned>": scene.people["unassigned"]}
    if body.get("reviewer") in users:
        body = {**body, "reviewer": users[body["reviewer"]].pk}

    response = post(staff, f"/api/v1/applications/{scene.application.pk}/assignments/", body)

    assert field in assert_error(response, 400, "invalid")["fields"]
    assert scene.application.reviews.count() == 2


# ---------------------------------------------------------------- a call

@pytest.mark.parametrize(("who", "expected"), matrix(staff=200))
def test_only_staff_assign_a_call_automatically(scene, who, expected):
    waiting = application_in("accepted", call=scene.call)

    body = expect(post(scene.people[who], f"/api/v1/calls/{scene.call.pk}/auto-assign/"),
                  expected)

    assert waiting.reviews.exists() == (expected == 200)
    if expected == 200:
        # The unassigned reviewer tops the first application up to 3 (the conflicted one still
        # counts until recused); the second takes all three reviewers, none related to it.
        assert body == {"assigned": 4, "short": []}
        assert Review.objects.filter(application=scene.application).count() == 3


def test_auto_assign_reaches_the_number_and_a_second_run_adds_nothing(demo_call, staff):
    reviewers = [reviewer_user(name=f"专家{i}") for i in range(3)]
    applications = [application_in("accepted", call=demo_call) for _ in range(2)]

    first = expect(post(staff, f"/api/v1/calls/{demo_call.pk}/auto-assign/"), 200)
    again = expect(post(staff, f"/api/v1/calls/{demo_call.pk}/auto-assign/"), 200)

    assert first == {"assigned": 6, "short": []} and again == {"assigned": 0, "short": []}
    for application in applications:
        assert set(application.reviews.values_list("reviewer", flat=True)) == {
            r.pk for r in reviewers}
    assert AuditEntry.objects.filter(action="auto_assigned").count() == 2


def test_a_call_that_does_not_exist_is_a_404(db, staff):
    assert_error(post(staff, "/api/v1/calls/999999/auto-assign/"), 404, "not_found")
    assert_error(get(staff, "/api/v1/calls/999999/scorecard/"), 404, "not_found")


@pytest.mark.parametrize(("who", "expected"), matrix(assigned=200, staff=200, management=200))
def test_the_scorecard_is_read_by_the_office_and_the_calls_reviewers(scene, who, expected):
    body = expect(get(scene.people[who], f"/api/v1/calls/{scene.call.pk}/scorecard/"),
                  expected)
    if expected == 200:
        assert [c["code"] for c in body["criteria"]] == CODES
        assert body["scoring_started"] is (None if who == "assigned" else False)
        assert not Scorecard.objects.exists()  # reading makes nothing


NEW_CRITERIA = [
    {"code": "quality", "weight": 2.5, "max_score": 5,
     "labels": {"zh-hans": "质量", "zh-hant": "質量", "en": "Quality"}},
    {"code": "impact", "weight": "7.5", "max_score": 10,
     "labels": {"zh-hans": "影响", "zh-hant": "影響", "en": "Impact"}},
]


@pytest.mark.parametrize(("who", "expected"), matrix(staff=200))
def test_only_staff_set_the_scorecard(scene, who, expected):
    body = expect(put(scene.people[who], f"/api/v1/calls/{scene.call.pk}/scorecard/",
                      {"criteria": NEW_CRITERIA}), expected)

    assert Scorecard.objects.filter(call=scene.call).exists() == (expected == 200)
    if expected == 200:
        assert body["criteria"] == [
            {"code": "quality", "label": "Quality", "weight": "2.5", "max_score": 5,
             "labels": NEW_CRITERIA[0]["labels"]},
            {"code": "impact", "label": "Impact", "weight": "7.5", "max_score": 10,
             "labels": NEW_CRITERIA[1]["labels"]}]
        assert body["updated_at"] and body["scoring_started"] is False


def test_the_scorecard_speaks_the_requests_language(scene, staff):
    response = client_as(scene.people["assigned"], "zh-hant").get(
        f"/api/v1/calls/{scene.call.pk}/scorecard/")
    assert [c["label"] for c in response.json()["criteria"]] == [
        c["labels"]["zh-hant"] for c in DEFAULT_CRITERIA]


def test_the_scorecard_is_frozen_once_a_review_is_submitted(scene, staff):
    review_submit(by=scene.people["assigned"], review=scene.review, scores=EIGHTS)

    assert_error(put(staff, f"/api/v1/calls/{scene.call.pk}/scorecard/",
                     {"criteria": NEW_CRITERIA}), 409, "scoring_started")
    assert get(staff, f"/api/v1/calls/{scene.call.pk}/scorecard/").json()[
        "scoring_started"] is True


@pytest.mark.parametrize(("criteria", "field"), [
    ([], "criteria"), ("quality", "criteria"), (None, "criteria"),
    ([{**NEW_CRITERIA[0], "weight": 0}], "criteria.0.weight"),
    ([NEW_CRITERIA[0], {**NEW_CRITERIA[1], "max_score": 1.5}], "criteria.1.max_score"),
    ([{**NEW_CRITERIA[0], "labels": {"en": "Quality"}}], "criteria.0.labels"),
    ([NEW_CRITERIA[0], NEW_CRITERIA[0]], "criteria.1.code"),
    (["quality"], "criteria.0"),
    ([{**NEW_CRITERIA[0], "labels": {**NEW_CRITERIA[0]["labels"], "en": "Q\x00"}}], "criteria"),
])
def test_bad_criteria_are_a_400_naming_the_criterion(scene, staff, criteria, field):
    body = assert_error(put(staff, f"/api/v1/calls/{scene.call.pk}/scorecard/",
                            {"criteria": criteria}), 400, "invalid")
    assert field in body["fields"], body
    assert not Scorecard.objects.exists()

