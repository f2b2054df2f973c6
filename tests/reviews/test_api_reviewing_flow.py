"""The reviewing API end to end: from an empty pool to ranked applications through the API
alone, with a recusal on the way; and any body on the write endpoints is answered in the error
shape, never with a 500."""

from django.contrib.auth import get_user_model
from hypothesis import given
from hypothesis import strategies as st

from applications.models import Application, Status
from reviews.models import Review
from reviews.services.assignments import review_assign
from tests.factories import application_in, reviewer_user
from tests.reviews.test_api_decisions import (
    FUZZ,
    assert_error,
    bodies,
    check_answer,
    get,
    json_values,
    post,
)
from tests.reviews.test_api_reviewing import CODES, EIGHTS, expect, put


def results(user, path) -> list[dict]:
    response = get(user, path)
    assert response.status_code == 200, response.content[:300]
    return response.json()["results"]


def test_from_an_empty_pool_to_the_ranking_through_the_api(demo_call, staff):
    # Staff build the pool.
    User = get_user_model()
    reviewers = []
    for i, name in enumerate(["赵专家", "钱专家", "孙专家", "李专家"]):
        body = expect(post(staff, "/api/v1/reviewers/", {
            "email": f"expert{i}@example.org", "name": name,
            "expertise": ["demo-project"]}), 201)
        reviewers.append(User.objects.get(pk=body["id"]))
    assert [row["name"] for row in results(staff, "/api/v1/reviewers/")] == sorted(
        ["赵专家", "钱专家", "孙专家", "李专家"])

    # Two accepted applications are given 3 reviewers each, the least loaded first.
    first, second = (application_in("accepted", call=demo_call) for _ in range(2))
    outcome = expect(post(staff, f"/api/v1/calls/{demo_call.pk}/auto-assign/"), 200)
    assert outcome == {"assigned": 6, "short": []}
    assert {Application.objects.get(pk=a.pk).status for a in (first, second)} == {
        Status.IN_REVIEW}

    # Each reviewer lists their own reviews, and only theirs.
    mine = {r.pk: results(r, "/api/v1/reviews/") for r in reviewers}
    assert sorted(len(rows) for rows in mine.values()) == [1, 1, 2, 2]
    for reviewer in reviewers:
        assert {row["id"] for row in mine[reviewer.pk]} == set(
            Review.objects.filter(reviewer=reviewer).values_list("pk", flat=True))

    def review_of(reviewer, application):
        rows = [row for row in mine[reviewer.pk] if row["application"] == application.pk]
        return rows[0]["id"] if rows else None

    on_first = [r for r in reviewers if review_of(r, first)]
    on_second = [r for r in reviewers if review_of(r, second)]
    assert len(on_first) == len(on_second) == 3

    # The first application: a low score needs a comment; once all three are in, it is
    # reviewed and ranked.
    low = {**EIGHTS, "feasibility": 4}
    path = f"/api/v1/reviews/{review_of(on_first[0], first)}/submit/"
    refused = assert_error(post(on_first[0], path, {"scores": low}), 400, "invalid")
    assert "comments.feasibility" in refused["fields"]
    expect(post(on_first[0], path, {"scores": low, "comments": {"feasibility": "周期过紧"}}),
           200)
    for reviewer in on_first[1:]:
        expect(post(reviewer, f"/api/v1/reviews/{review_of(reviewer, first)}/submit/",
                    {"scores": EIGHTS}), 200)
    assert Application.objects.get(pk=first.pk).status == Status.REVIEWED
    ranking = expect(get(staff, f"/api/v1/calls/{demo_call.pk}/ranking/"), 200)["results"]
    # (70 + 80 + 80) / 3: the feasibility 4 of 10 weighs 25.
    assert [(row["application"], row["score"]) for row in ranking] == [(first.pk, "76.67")]

    # The second: one reviewer steps back; the reviewer left over takes their place.
    leaving = on_second[0]
    spare, = (r for r in reviewers if r not in on_second)
    expect(post(leaving, f"/api/v1/reviews/{review_of(leaving, second)}/recuse/",
                {"reason": "与申请人存在合作关系"}), 200)
    taken = results(spare, "/api/v1/reviews/?state=assigned")
    assert [row["application"] for row in taken] == [second.pk]
    rows = results(staff, f"/api/v1/applications/{second.pk}/assignments/")
    assert [(row["reviewer"], row["state"], row["automatic"]) for row in rows][-1] == (
        spare.pk, "assigned", True)
    assert ("recused", "与申请人存在合作关系") in [(r["state"], r["recusal_reason"]) for r in rows]
    for reviewer in [*on_second[1:], spare]:
        rows = results(reviewer, f"/api/v1/reviews/?application={second.pk}")
        expect(post(reviewer, f"/api/v1/reviews/{rows[0]['id']}/submit/",
                    {"scores": dict.fromkeys(CODES, 9)}), 200)
    assert Application.objects.get(pk=second.pk).status == Status.REVIEWED
    ranking = get(staff, f"/api/v1/calls/{demo_call.pk}/ranking/").json()["results"]
    assert [(row["application"], row["score"], row["reviews_count"]) for row in ranking] == [
        (second.pk, "90.00", 3), (first.pk, "76.67", 3)]


# ---------------------------------------------------------------- any body, never a 500

score_maps = st.dictionaries(st.sampled_from([*CODES, "charisma", ""]), json_values,
                             max_size=6)
criteria_lists = st.lists(st.fixed_dictionaries({}, optional={
    "code": json_values | st.sampled_from(["quality", "a b", "x" * 70]),
    "labels": json_values | st.fixed_dictionaries(
        {"zh-hans": json_values, "zh-hant": st.just("繁"), "en": st.just("En")}),
    "weight": json_values, "max_score": json_values}) | json_values, max_size=4)


@FUZZ
@given(body=bodies("email", "name", "expertise", "affiliations", "password")
       | st.fixed_dictionaries({"email": st.emails(), "name": st.text(max_size=8)}, optional={
           "expertise": st.lists(st.sampled_from(["demo-project", "application_demo", "x"])
                                 | json_values, max_size=3),
           "affiliations": st.lists(json_values | st.text(max_size=40), max_size=3),
           "password": json_values}))
def test_any_reviewer_body_is_answered_in_the_error_shape(db, catalogue, staff, body):
    check_answer(post(staff, "/api/v1/reviewers/", body), (201, 400))


@FUZZ
@given(body=bodies("registration_number", "kind", "note"),
       where=st.sampled_from(["staff", "me"]))
def test_any_affiliation_body_is_answered_in_the_error_shape(demo_call, staff, body, where):
    reviewer = reviewer_user()
    review_assign(by=staff, reviewer=reviewer,
                  application=application_in("accepted", call=demo_call))
    who, path = ((staff, f"/api/v1/reviewers/{reviewer.pk}/affiliations/") if where == "staff"
                 else (reviewer, "/api/v1/reviewers/me/affiliations/"))
    check_answer(post(who, path, body), (200, 201, 400))


@FUZZ
@given(body=bodies("reviewer", "due_at")
       | st.fixed_dictionaries({"reviewer": st.sampled_from(["<reviewer>", 1, -1, 2**63])},
                               optional={"due_at": json_values
                                         | st.datetimes().map(lambda d: d.isoformat())}))
def test_any_assignment_body_is_answered_in_the_error_shape(demo_call, staff, body):
    application = application_in("accepted", call=demo_call)
    if isinstance(body, dict) and body.get("reviewer") == "<reviewer>":
        body = {**body, "reviewer": reviewer_user().pk}
    check_answer(post(staff, f"/api/v1/applications/{application.pk}/assignments/", body),
                 (201, 400, 409))


@FUZZ
@given(body=bodies("criteria") | st.fixed_dictionaries({"criteria": criteria_lists}))
def test_any_scorecard_body_is_answered_in_the_error_shape(demo_call, staff, body):
    check_answer(put(staff, f"/api/v1/calls/{demo_call.pk}/scorecard/", body), (200, 400))


@FUZZ
@given(body=bodies("scores", "comment", "comments", "recommended_amount")
       | st.fixed_dictionaries({"scores": score_maps}, optional={
           "comment": json_values, "comments": st.dictionaries(
               st.sampled_from(CODES), json_values, max_size=3) | json_values,
           "recommended_amount": json_values}))
def test_any_scores_body_is_answered_in_the_error_shape(demo_call, staff, body):
    reviewer = reviewer_user()
    review = review_assign(by=staff, reviewer=reviewer,
                           application=application_in("accepted", call=demo_call))
    check_answer(post(reviewer, f"/api/v1/reviews/{review.pk}/submit/", body), (200, 400))


@FUZZ
@given(body=bodies("reason"))
def test_any_recusal_body_is_answered_in_the_error_shape(demo_call, staff, body):
    reviewer = reviewer_user()
    review = review_assign(by=staff, reviewer=reviewer,
                           application=application_in("accepted", call=demo_call))
    check_answer(post(reviewer, f"/api/v1/reviews/{review.pk}/recuse/", body), (200, 400))
