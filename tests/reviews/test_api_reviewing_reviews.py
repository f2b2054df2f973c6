"""The reviewing API, a reviewer's side: their own reviews, scoring, recusal; blind scoring (no
answer a reviewer can get holds another reviewer's work) and conflicts of interest (a reviewer
related to the applicant finds nothing)."""

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from applications import uploads
from applications.models import Application, Attachment, Status
from reviews.models import Assessment, Review, ReviewState
from reviews.services.assignments import review_assign
from reviews.services.scoring import review_submit
from tests.factories import application_in, open_call, reviewer_user, tiny_pdf
from tests.reviews.test_api_decisions import assert_error, client_as, get, post
from tests.reviews.test_api_reviewing import (
    CODES,
    EIGHTS,
    conflicted_reviewer,
    expect,
    make_scene,
    matrix,
)

ICV_INPUTS = {"pilot_name": "前海自动驾驶接驳试点", "pilot_scope": "前海片区 Robotaxi 接驳",
              "vehicle_count": 20, "requested_amount": "8000000.00"}


@pytest.fixture
def scene(demo_call, staff):
    return make_scene(demo_call, staff)


def attach(application) -> Attachment:
    name = uploads.private_storage().save("evidence.pdf", ContentFile(tiny_pdf()))
    return Attachment.objects.create(
        application=application, kind="investment_evidence", original_name="投资证明.pdf",
        stored_name=name, content_type="application/pdf", size=len(tiny_pdf()),
        sha256="0" * 64, uploaded_by=application.company.created_by)


def target(scene, who):
    """The review a person asks about: the conflicted reviewer their own, anyone else the
    assigned reviewer's."""
    return scene.conflicted_review if who == "conflicted" else scene.review


def state_of(review) -> str:
    return Review.objects.get(pk=review.pk).state


# ---------------------------------------------------------------- who

@pytest.mark.parametrize(("who", "expected"), matrix(assigned=200, unassigned=200,
                                                     conflicted=200))
def test_reviewers_list_only_their_own_reviews(scene, who, expected):
    body = expect(get(scene.people[who], "/api/v1/reviews/"), expected)
    if expected == 200:
        mine = [scene.review.pk] if who == "assigned" else []
        # The conflicted reviewer's review is hidden like its application until recused.
        assert [row["id"] for row in body["results"]] == mine


@pytest.mark.parametrize(("who", "expected"), matrix(assigned=200, unassigned=404,
                                                     conflicted=404))
def test_a_review_is_read_by_its_reviewer_only(scene, who, expected):
    review = target(scene, who)
    body = expect(get(scene.people[who], f"/api/v1/reviews/{review.pk}/"), expected)
    if expected == 200:
        assert (body["id"], body["application"], body["state"]) == (
            review.pk, scene.application.pk, "assigned")


@pytest.mark.parametrize(("who", "expected"), matrix(assigned=200, unassigned=404,
                                                     conflicted=404))
def test_a_review_is_scored_by_its_reviewer_only(scene, who, expected):
    review = target(scene, who)

    body = expect(post(scene.people[who], f"/api/v1/reviews/{review.pk}/submit/",
                       {"scores": EIGHTS}), expected)

    assert state_of(review) == ("submitted" if expected == 200 else "assigned")
    if expected == 200:
        assert (body["state"], body["total"]) == ("submitted", "80.00")


@pytest.mark.parametrize(("who", "expected"), matrix(assigned=200, unassigned=404,
                                                     conflicted=404))
def test_a_review_is_recused_by_its_reviewer_only(scene, who, expected):
    review = target(scene, who)

    body = expect(post(scene.people[who], f"/api/v1/reviews/{review.pk}/recuse/",
                       {"reason": "与申请人有合作"}), expected)

    assert state_of(review) == ("recused" if expected == 200 else "assigned")
    if expected == 200:
        assert (body["id"], body["state"]) == (review.pk, "recused")


def test_a_review_that_does_not_exist_is_a_404(scene):
    reviewer = scene.people["assigned"]
    assert_error(get(reviewer, "/api/v1/reviews/999999/"), 404, "not_found")
    assert_error(post(reviewer, "/api/v1/reviews/999999/submit/", {"scores": EIGHTS}), 404,
                 "not_found")
    assert get(reviewer, "/api/v1/reviews/abc/").status_code == 404


# ---------------------------------------------------------------- what a reviewer reads

def test_the_list_carries_the_call_the_company_and_the_criteria_in_the_readers_language(
        scene):
    response = client_as(scene.people["assigned"], "zh-hant").get("/api/v1/reviews/")

    row = response.json()["results"][0]
    company = scene.application.company
    assert row["call"] == scene.call.pk and row["measure"]["code"] == "demo-project"
    assert row["company"] == {"id": company.pk, "name": company.name}
    assert row["project"] == "前海港口智能调度示范"
    assert (row["state"], row["status"], row["scores"], row["total"]) == (
        "assigned", "assigned", {}, None)
    assert [c["code"] for c in row["criteria"]] == CODES
    assert row["criteria"][0] == {"code": "innovation", "label": "創新性", "weight": "30",
                                  "max_score": 10}


def test_the_list_filters_by_state_and_keeps_recused_reviews(demo_call, staff):
    reviewer = reviewer_user()
    first, second, third = (review_assign(by=staff, reviewer=reviewer,
                                          application=application_in("accepted", call=demo_call))
                            for _ in range(3))
    review_submit(by=reviewer, review=first, scores=EIGHTS)
    post(reviewer, f"/api/v1/reviews/{second.pk}/recuse/", {"reason": "出差"})

    def ids(query=""):
        return [row["id"] for row in get(reviewer, f"/api/v1/reviews/{query}").json()["results"]]

    assert sorted(ids()) == sorted([first.pk, second.pk, third.pk])
    assert ids("?state=submitted") == [first.pk]
    assert ids("?state=recused") == [second.pk]
    assert ids("?state=assigned") == [third.pk]
    assert ids(f"?application={third.application_id}") == [third.pk]
    assert "state" in assert_error(get(reviewer, "/api/v1/reviews/?state=lost"), 400,
                                   "invalid")["fields"]
    # A recused review is listed, but its application is no longer the reviewer's to read.
    assert_error(get(reviewer, f"/api/v1/reviews/{second.pk}/"), 404, "not_found")


def test_the_list_takes_the_same_queries_for_1_or_8_reviews(demo_call, staff):
    reviewer = reviewer_user()
    other_call = open_call("demo-project", funding_year=2027)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert get(reviewer, "/api/v1/reviews/").status_code == 200
        return len(queries)

    review_assign(by=staff, reviewer=reviewer,
                  application=application_in("accepted", call=demo_call))
    count()  # the first request makes the token
    few = count()
    for call in (demo_call, other_call) * 4:
        review_assign(by=staff, reviewer=reviewer,
                      application=application_in("accepted", call=call))
    assert count() == few


def test_a_review_shows_the_inputs_as_labelled_values_and_the_documents(scene):
    attach(scene.application)

    body = get(scene.people["assigned"], f"/api/v1/reviews/{scene.review.pk}/").json()

    inputs = {row["name"]: row for row in body["inputs"]}
    assert inputs["scene"] == {"name": "scene", "label": "Application scene", "type": "choice",
                               "value": "port", "display": "Port"}
    assert inputs["actual_investment"]["value"] == "15000000.00"
    assert inputs["actual_investment"]["label"] == "Actual project investment"
    evidence, report = body["documents"]
    assert (evidence["kind"], evidence["label"]) == ("investment_evidence",
                                                     "Evidence of actual investment")
    assert [f["name"] for f in evidence["files"]] == ["投资证明.pdf"] and report["files"] == []
    download = client_as(scene.people["assigned"]).get(evidence["files"][0]["download_url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == tiny_pdf()
    assert body["recommended_amount_allowed"] is False


# ---------------------------------------------------------------- scoring

def test_a_low_score_without_a_comment_is_named_and_with_one_accepted(scene):
    reviewer, path = scene.people["assigned"], f"/api/v1/reviews/{scene.review.pk}/submit/"

    refused = assert_error(post(reviewer, path, {"scores": {**EIGHTS, "team": 4}}), 400,
                           "invalid")
    assert list(refused["fields"]) == ["comments.team"]
    assert state_of(scene.review) == "assigned"

    body = expect(post(reviewer, path, {"scores": {**EIGHTS, "team": "4.5"},
                                        "comments": {"team": "团队经验不足"},
                                        "comment": "总体良好"}), 200)
    assert body["scores"] == {**dict.fromkeys(CODES, "8"), "team": "4.5"}
    assert body["comments"] == {"team": "团队经验不足"} and body["comment"] == "总体良好"
    assert body["total"] == "74.75" and body["submitted_at"]


@pytest.mark.parametrize(("body", "fields"), [
    ({"scores": {**EIGHTS, "budget": 11}}, ["scores.budget"]),
    ({"scores": {**EIGHTS, "budget": "8.125"}}, ["scores.budget"]),
    ({"scores": {**EIGHTS, "budget": True}}, ["scores.budget"]),
    ({"scores": {k: v for k, v in EIGHTS.items() if k != "team"}}, ["scores.team"]),
    ({"scores": {**EIGHTS, "charisma": 9}}, ["scores"]),
    ({"scores": [8, 8, 8, 8, 8]}, ["scores"]),
    ({}, ["scores"]),
    ({"scores": EIGHTS, "comments": {"team": ["x"]}}, ["comments.team"]),
    ({"scores": EIGHTS, "comments": "好"}, ["comments"]),
    ({"scores": EIGHTS, "comment": 5.5, "recommended_amount": "abc"}, ["recommended_amount"]),
    ({"scores": EIGHTS, "comment": None}, ["comment"]),
    ({"scores": EIGHTS, "recommended_amount": "1000000.00"}, ["recommended_amount"]),
])
def test_bad_scores_are_a_400_naming_the_field(scene, body, fields):
    response = post(scene.people["assigned"], f"/api/v1/reviews/{scene.review.pk}/submit/",
                    body)

    assert sorted(assert_error(response, 400, "invalid")["fields"]) == fields
    assert state_of(scene.review) == "assigned"


def test_a_review_is_submitted_once(scene):
    path = f"/api/v1/reviews/{scene.review.pk}/submit/"
    expect(post(scene.people["assigned"], path, {"scores": EIGHTS}), 200)

    assert_error(post(scene.people["assigned"], path, {"scores": {**EIGHTS, "team": 10}}), 409,
                 "invalid_transition")
    assert_error(post(scene.people["assigned"], f"/api/v1/reviews/{scene.review.pk}/recuse/",
                      {"reason": "太晚了"}), 409, "invalid_transition")
    assert Review.objects.get(pk=scene.review.pk).scores["team"] == "8"


def test_a_reviewer_recommends_an_amount_for_a_measure_awarded_up_to_a_cap(catalogue, staff):
    application = application_in("accepted", call=open_call("icv-pilot"), inputs=ICV_INPUTS)
    reviewer = reviewer_user()
    review = review_assign(by=staff, application=application, reviewer=reviewer)

    detail = get(reviewer, f"/api/v1/reviews/{review.pk}/").json()
    body = expect(post(reviewer, f"/api/v1/reviews/{review.pk}/submit/",
                       {"scores": EIGHTS, "recommended_amount": "3,000,000"}), 200)

    assert detail["recommended_amount_allowed"] is True
    assert body["recommended_amount"] == "3000000.00"


def test_recusal_needs_a_reason_and_gives_the_application_to_another(scene, staff):
    reviewer, spare = scene.people["assigned"], scene.people["unassigned"]
    path = f"/api/v1/reviews/{scene.review.pk}/recuse/"

    for body in ({}, {"reason": "  "}, {"reason": ["x"]}):
        assert "reason" in assert_error(post(reviewer, path, body), 400, "invalid")["fields"]
    expect(post(reviewer, path, {"reason": "近期与申请人洽谈合作"}), 200)

    review = Review.objects.get(pk=scene.review.pk)
    assert (review.state, review.recusal_reason) == (ReviewState.RECUSED, "近期与申请人洽谈合作")
    replacement = Review.objects.get(application=scene.application, reviewer=spare)
    assert (replacement.state, replacement.assigned_by) == (ReviewState.ASSIGNED, None)
    assert [row["id"] for row in get(spare, "/api/v1/reviews/").json()["results"]] == [
        replacement.pk]
    assert_error(get(reviewer, f"/api/v1/applications/{scene.application.pk}/"), 404)


# ---------------------------------------------------------------- conflicts of interest

def test_a_conflicted_reviewer_finds_neither_the_application_nor_its_documents(demo_call,
                                                                              staff):
    application = application_in("accepted", call=demo_call)
    attachment = attach(application)
    reviewer, review = conflicted_reviewer(application, staff)
    base = f"/api/v1/applications/{application.pk}"

    for path in (f"{base}/", f"{base}/attachments/{attachment.pk}/download/",
                 f"{base}/history/", f"{base}/assignments/", f"/api/v1/reviews/{review.pk}/"):
        response = get(reviewer, path)
        assert response.status_code == 404, path
        assert application.company.name.encode() not in response.content
    for path, body in ((f"/api/v1/reviews/{review.pk}/submit/", {"scores": EIGHTS}),
                       (f"/api/v1/reviews/{review.pk}/recuse/", {"reason": "x"})):
        assert_error(post(reviewer, path, body), 404, "not_found")
    assert get(reviewer, "/api/v1/reviews/").json()["results"] == []
    assert state_of(review) == "assigned"


def test_a_reviewer_related_through_the_companys_account_is_conflicted_too(demo_call, staff):
    """A member of the applicant's account on this site (not only an affiliation)."""
    from applications.models import Membership

    application = application_in("accepted", call=demo_call)
    reviewer = reviewer_user()
    review = review_assign(by=staff, application=application, reviewer=reviewer)
    Membership.objects.create(company=application.company, user=reviewer, role="viewer")

    assert_error(get(reviewer, f"/api/v1/reviews/{review.pk}/"), 404, "not_found")
    assert_error(post(reviewer, f"/api/v1/reviews/{review.pk}/submit/", {"scores": EIGHTS}),
                 404, "not_found")
    assert get(reviewer, "/api/v1/reviews/").json()["results"] == []


def test_a_reviewer_with_an_affiliation_is_never_offered_the_application(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    related = reviewer_user(affiliations=[application.company.registration_number])
    free = reviewer_user()

    rows = get(staff, f"/api/v1/applications/{application.pk}/reviewer-candidates/"
               ).json()["results"]
    outcome = post(staff, f"/api/v1/calls/{demo_call.pk}/auto-assign/").json()

    assert [row["id"] for row in rows] == [free.pk]
    assert outcome == {"assigned": 1, "short": [application.pk]}
    assert not Review.objects.filter(reviewer=related).exists()


# ---------------------------------------------------------------- blind

def test_no_answer_to_reviewer_b_holds_reviewer_as_work(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    attach(application)
    a = reviewer_user(name="评审甲乙丙", email="first.reviewer@example.org",
                      username="first.reviewer@example.org")
    b = reviewer_user(name="评审丁")
    c = reviewer_user(name="评审戊")
    review_a, review_b, review_c = (review_assign(by=staff, application=application, reviewer=r)
                                    for r in (a, b, c))
    secret, secret_per_criterion = "甲的独家评语：市场前景存疑", "甲对团队的单独意见"
    expect(post(a, f"/api/v1/reviews/{review_a.pk}/submit/", {
        "scores": dict.fromkeys(CODES, "7.35"), "comment": secret,
        "comments": {"team": secret_per_criterion}, "recommended_amount": None}), 200)
    assert Review.objects.get(pk=review_a.pk).total == 73.5
    expect(post(c, f"/api/v1/reviews/{review_c.pk}/submit/",
                {"scores": dict.fromkeys(CODES, "6.1")}), 200)
    aggregates = [f"{Assessment.objects.get(application=application).score:f}"]  # 67.25

    answers = [
        get(b, "/api/v1/reviews/"), get(b, f"/api/v1/reviews/{review_b.pk}/"),
        get(b, f"/api/v1/calls/{demo_call.pk}/scorecard/"), get(b, "/api/v1/reviewers/me/"),
        get(b, f"/api/v1/applications/{application.pk}/"), get(b, "/api/v1/applications/"),
        get(b, f"/api/v1/applications/{application.pk}/history/"),
        # What a reviewer may not open answers without a word of it either.
        get(b, f"/api/v1/applications/{application.pk}/assignments/"),
        get(b, f"/api/v1/reviews/{review_a.pk}/"),
        get(b, f"/api/v1/calls/{demo_call.pk}/ranking/"), get(b, "/api/v1/reviewers/"),
        get(b, f"/api/v1/reviewers/{a.pk}/"),
        post(b, f"/api/v1/reviews/{review_a.pk}/submit/", {"scores": EIGHTS}),
        post(b, f"/api/v1/reviews/{review_b.pk}/submit/", {"scores": EIGHTS}),
        get(b, f"/api/v1/reviews/{review_b.pk}/"), get(b, "/api/v1/reviews/?state=submitted"),
    ]

    assert [r.status_code for r in answers] == [200] * 7 + [403, 404, 403, 403, 403, 404, 200,
                                                            200, 200]
    aggregates.append(f"{Assessment.objects.get(application=application).score:f}")  # 71.50
    # Numbers as JSON strings (quoted): a bare "7.35" could be part of a timestamp.
    numbers = [f'"{n}"' for n in ("73.50", "7.35", "61.00", "6.1", *aggregates)]
    forbidden = [secret, secret_per_criterion, "评审甲乙丙", "评审戊", "first.reviewer",
                 *numbers]
    for response in answers:
        for text in forbidden:
            assert text.encode() not in response.content, (response.request["PATH_INFO"], text)
    # The same words, as they are written, are what staff read.
    staff_view = get(staff, f"/api/v1/applications/{application.pk}/assignments/").content
    assert all(text.encode() in staff_view for text in forbidden[:4] + numbers[:4])
    # B's own work is B's to read; the application closes once all three are in.
    assert b"80.00" in answers[-1].content
    assert Application.objects.get(pk=application.pk).status == Status.REVIEWED


def test_a_reviewer_sees_nothing_of_a_review_recused_for_a_relation(scene):
    """After declaring a relation, the review taken away is listed, but none of the
    application's contents are."""
    reviewer = scene.people["assigned"]
    number = scene.application.company.registration_number
    post(reviewer, "/api/v1/reviewers/me/affiliations/", {"registration_number": number})

    row, = get(reviewer, "/api/v1/reviews/").json()["results"]
    assert (row["id"], row["state"]) == (scene.review.pk, "recused")
    assert_error(get(reviewer, f"/api/v1/reviews/{scene.review.pk}/"), 404, "not_found")
