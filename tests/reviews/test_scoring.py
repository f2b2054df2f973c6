"""Expert scoring: scorecards, a reviewer's scores, the aggregate, and blind scoring."""

import math
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser

from applications.models import Application, Status, StatusEvent
from qianhai_grants.errors import DomainError
from qianhai_grants.roles import MANAGEMENT
from reviews import selectors
from reviews.models import Assessment, AuditEntry, Review, ReviewState, Scorecard
from reviews.services.assignments import review_assign
from reviews.services.scoring import (
    DEFAULT_CRITERIA,
    assessment_compute,
    review_submit,
    scorecard_for,
    scorecard_set,
)
from tests.factories import UserFactory, application_in, company_user, open_call, reviewer_user

CODES = ["innovation", "feasibility", "industry_impact", "team", "budget"]
CORE_ALGORITHM_INPUTS = {"project_title": "多模态大模型推理加速算法",
                         "challenge_ref": "QH-2026-AI-03",
                         "requested_amount": "4000000.00", "total_budget": "15000000.00"}


def refused(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def every(score) -> dict:
    return dict.fromkeys(CODES, score)


def under_review(call, staff, reviewers=1, **kwargs):
    """An application of the call in review, with `reviewers` reviews assigned by staff."""
    application = application_in("accepted", call=call, **kwargs)
    reviews = [review_assign(by=staff, application=application, reviewer=reviewer_user())
               for _ in range(reviewers)]
    application.refresh_from_db()
    return application, reviews


def submit(review, scores, **kwargs) -> Review:
    return review_submit(by=review.reviewer, review=review, scores=scores, **kwargs)


def criterion(code="quality", weight=1, max_score=10, **overrides) -> dict:
    return {"code": code, "weight": weight, "max_score": max_score,
            "labels": {"zh-hans": "质量", "zh-hant": "質量", "en": "Quality"}, **overrides}


# ---------------------------------------------------------------- the scorecard

def test_a_call_scores_on_the_default_criteria(demo_call):
    scorecard = scorecard_for(call=demo_call)
    assert [(c["code"], c["weight"], c["max_score"]) for c in scorecard.criteria] == [
        ("innovation", 30, 10), ("feasibility", 25, 10), ("industry_impact", 20, 10),
        ("team", 15, 10), ("budget", 10, 10)]
    assert scorecard.criteria[0]["labels"] == {"zh-hans": "创新性", "zh-hant": "創新性",
                                               "en": "Innovation"}
    assert scorecard.criteria[4]["labels"]["en"] == "Budget soundness"
    assert scorecard_for(call=demo_call).pk == scorecard.pk
    assert Scorecard.objects.count() == 1


def test_staff_set_a_calls_criteria(demo_call, staff):
    scorecard = scorecard_set(by=staff, call=demo_call, criteria=[
        criterion("novelty", weight=2, max_score=5),
        criterion("delivery", weight="1.5", max_score=100),
        criterion("reach", weight=0.5, max_score=1)])
    assert scorecard_for(call=demo_call).criteria == scorecard.criteria
    assert [(c["code"], c["weight"], c["max_score"]) for c in scorecard.criteria] == [
        ("novelty", 2, 5), ("delivery", "1.5", 100), ("reach", "0.5", 1)]  # never a float
    entry = AuditEntry.objects.get(action="scorecard_set")
    assert (entry.by, entry.call, entry.data) == (
        staff, demo_call, {"criteria": ["novelty", "delivery", "reach"]})


@pytest.mark.parametrize("make_user", [company_user, lambda: reviewer_user(),
                                       lambda: UserFactory(roles=[MANAGEMENT])])
def test_only_staff_set_criteria(demo_call, make_user):
    error = refused(lambda: scorecard_set(by=make_user(), call=demo_call,
                                          criteria=[criterion()]))
    assert (error.status, error.code) == (403, "forbidden")
    assert scorecard_for(call=demo_call).criteria == DEFAULT_CRITERIA


@pytest.mark.parametrize(("criteria", "field"), [
    ([], "criteria"),
    (None, "criteria"),
    ({"code": "x"}, "criteria"),
    (["quality"], "criteria.0"),
    ([criterion(code="has space")], "criteria.0.code"),
    ([criterion(code="a.b")], "criteria.0.code"),
    ([criterion(code="")], "criteria.0.code"),
    ([criterion(code=None)], "criteria.0.code"),
    ([criterion(), criterion()], "criteria.1.code"),
    ([criterion(labels={"zh-hans": "质量", "en": "Quality"})], "criteria.0.labels"),
    ([criterion(labels={"zh-hans": "质量", "zh-hant": " ", "en": "Quality"})],
     "criteria.0.labels"),
    ([criterion(labels="Quality")], "criteria.0.labels"),
    ([criterion(weight=0)], "criteria.0.weight"),
    ([criterion(weight=-1)], "criteria.0.weight"),
    ([criterion(weight=True)], "criteria.0.weight"),
    ([criterion(weight="heavy")], "criteria.0.weight"),
    ([criterion(weight=math.nan)], "criteria.0.weight"),
    ([criterion(weight=None)], "criteria.0.weight"),
    ([criterion(max_score=0)], "criteria.0.max_score"),
    ([criterion(max_score=101)], "criteria.0.max_score"),
    ([criterion(max_score=10.0)], "criteria.0.max_score"),
    ([criterion(max_score="10")], "criteria.0.max_score"),
    ([criterion(max_score=True)], "criteria.0.max_score"),
])
def test_bad_criteria_are_refused_naming_the_field(demo_call, staff, criteria, field):
    error = refused(lambda: scorecard_set(by=staff, call=demo_call, criteria=criteria))
    assert (error.status, error.code) == (400, "invalid")
    assert field in error.fields
    assert scorecard_for(call=demo_call).criteria == DEFAULT_CRITERIA


def test_criteria_are_fixed_once_scoring_started(catalogue, staff):
    call = open_call("demo-project", funding_year=2026)
    other = open_call("demo-project", funding_year=2027)
    _application, (review,) = under_review(call, staff)
    scorecard_set(by=staff, call=call, criteria=[criterion()])  # assigned only: still open
    submit(review, {"quality": 9})
    error = refused(lambda: scorecard_set(by=staff, call=call, criteria=DEFAULT_CRITERIA))
    assert (error.status, error.code) == (409, "scoring_started")
    assert [c["code"] for c in scorecard_for(call=call).criteria] == ["quality"]
    assert scorecard_set(by=staff, call=other, criteria=[criterion()]).pk


# ---------------------------------------------------------------- review_submit

def test_a_worked_example_with_the_default_weights(demo_call, staff):
    """(30×8 + 25×7 + 20×6 + 15×9 + 10×5) / 10 / (30+25+20+15+10) × 100 = 72.00"""
    _application, (review,) = under_review(demo_call, staff)
    scores = {"innovation": 8, "feasibility": "7", "industry_impact": Decimal("6"),
              "team": 9, "budget": 5}  # 5 is half of 10, not below: no comment needed
    submitted = submit(review, scores)
    assert submitted.total == Decimal("72.00")
    assert submitted.state == ReviewState.SUBMITTED
    assert submitted.submitted_at is not None
    review.refresh_from_db()
    assert review.scores == {"innovation": "8", "feasibility": "7", "industry_impact": "6",
                             "team": "9", "budget": "5"}
    assert review.total == Decimal("72.00")
    entry = AuditEntry.objects.get(action="review_submitted")
    assert (entry.by, entry.data["review"], entry.data["total"]) == (
        review.reviewer, review.pk, "72.00")


def test_weights_are_relative_and_the_total_rounds_once_half_up(demo_call, staff):
    scorecard_set(by=staff, call=demo_call, criteria=[
        criterion("a", weight=1, max_score=10), criterion("b", weight=2, max_score=10)])
    _application, (review,) = under_review(demo_call, staff)
    # (1×10/10 + 2×5/10) / 3 × 100 = 66.666… → 66.67
    assert submit(review, {"a": 10, "b": 5}).total == Decimal("66.67")


def test_a_total_exactly_halfway_rounds_up(catalogue, staff):
    call = open_call("demo-project")
    scorecard_set(by=staff, call=call, criteria=[criterion("a", weight=1, max_score=8)])
    _application, (review,) = under_review(call, staff)
    # 0.01 / 8 × 100 = 0.125: half-up gives 0.13 (banker's rounding would give 0.12).
    assert submit(review, {"a": "0.01"}, comment="几乎没有可取之处").total == Decimal("0.13")


@pytest.mark.parametrize(("given", "stored"), [
    (7, "7"), ("7.5", "7.5"), (Decimal("7.25"), "7.25"), (7.5, "7.5"), (7.1, "7.1"),
    (" 10 ", "10"), ("10.00", "10"), ("7.50", "7.5"), ("-0", "0"),
])
def test_a_score_is_any_number_up_to_two_decimal_places(demo_call, staff, given, stored):
    _application, (review,) = under_review(demo_call, staff)
    submit(review, every(9) | {"innovation": given}, comment="说明")
    review.refresh_from_db()
    assert review.scores["innovation"] == stored


@pytest.mark.parametrize("bad", [
    True, False, math.nan, math.inf, -math.inf, Decimal("NaN"), Decimal("Infinity"), "abc",
    "", "NaN", None, 11, "10.01", -1, "-0.5", "7.555", 7.555, "1e1", "7,5", [7], {"v": 7},
])
def test_a_bad_score_is_refused_naming_the_criterion(demo_call, staff, bad):
    _application, (review,) = under_review(demo_call, staff)
    error = refused(lambda: submit(review, every(9) | {"innovation": bad}, comment="说明"))
    assert (error.status, error.code) == (400, "invalid")
    assert list(error.fields) == ["scores.innovation"]
    review.refresh_from_db()
    assert (review.state, review.scores) == (ReviewState.ASSIGNED, {})


def test_every_criterion_is_scored_and_nothing_else(demo_call, staff):
    _application, (review,) = under_review(demo_call, staff)
    scores = every(8)
    del scores["team"], scores["budget"]
    error = refused(lambda: submit(review, scores | {"charisma": 10}))
    assert error.status == 400
    assert set(error.fields) == {"scores.team", "scores.budget", "scores"}
    assert "charisma" in error.fields["scores"][0]
    for bad in (None, [8, 8, 8, 8, 8], "8"):
        error = refused(lambda bad=bad: submit(review, bad))
        assert list(error.fields) == ["scores"]


def test_a_score_below_half_needs_a_comment(demo_call, staff):
    _application, (review,) = under_review(demo_call, staff)
    low = every(8) | {"budget": "4.99", "team": 2}
    error = refused(lambda: submit(review, low))
    assert (error.status, set(error.fields)) == (400, {"comments.budget", "comments.team"})
    error = refused(lambda: submit(review, low, comments={"budget": "预算偏高", "team": "  "}))
    assert set(error.fields) == {"comments.team"}
    submitted = submit(review, low, comments={"budget": "预算偏高", "team": " 团队经验不足 "})
    assert submitted.comments == {"budget": "预算偏高", "team": "团队经验不足"}


def test_a_general_comment_explains_every_low_score(demo_call, staff):
    _application, (review,) = under_review(demo_call, staff)
    submitted = submit(review, every(1), comment="  整体不成熟  ")
    assert submitted.comment == "整体不成熟"
    assert submitted.total == Decimal("10.00")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"comments": ["太低"]}, "comments"),
    ({"comments": {"innovation": 3}}, "comments"),
    ({"comments": {"charisma": "无"}}, "comments"),
    ({"comment": 42}, "comment"),
    ({"comment": None}, "comment"),
])
def test_comments_must_be_text_for_known_criteria(demo_call, staff, kwargs, field):
    _application, (review,) = under_review(demo_call, staff)
    error = refused(lambda: submit(review, every(8), **kwargs))
    assert (error.status, list(error.fields)) == (400, [field])


@pytest.mark.parametrize("who", ["other_reviewer", "staff", "company", "anonymous"])
def test_only_the_assigned_reviewer_submits(demo_call, staff, who):
    application, (review, other) = under_review(demo_call, staff, reviewers=2)
    by = {"other_reviewer": other.reviewer, "staff": staff,
          "company": application.company.created_by, "anonymous": AnonymousUser()}[who]
    error = refused(lambda: review_submit(by=by, review=review, scores=every(8)))
    assert (error.status, error.code) == (404, "not_found")
    review.refresh_from_db()
    assert review.state == ReviewState.ASSIGNED


def test_a_review_is_submitted_once(demo_call, staff):
    _application, (review, _other) = under_review(demo_call, staff, reviewers=2)
    submit(review, every(8))
    error = refused(lambda: submit(review, every(3), comment="改主意了"))
    assert (error.status, error.code) == (409, "invalid_transition")
    review.refresh_from_db()
    assert review.total == Decimal("80.00")


def test_no_scores_once_the_application_left_review(demo_call, staff):
    application, (review,) = under_review(demo_call, staff)
    Application.objects.filter(pk=application.pk).update(status=Status.WITHDRAWN)
    error = refused(lambda: submit(review, every(8)))
    assert (error.status, error.code) == (409, "invalid_transition")


def test_the_last_review_in_closes_the_expert_review(demo_call, staff):
    application, reviews = under_review(demo_call, staff, reviewers=3)
    submit(reviews[0], every(8))
    submit(reviews[1], every(7))
    application.refresh_from_db()
    assert application.status == Status.IN_REVIEW
    assert application.assessment.reviews_count == 2  # kept up to date as reviews come in
    submit(reviews[2], every(6))
    application.refresh_from_db()
    assert application.status == Status.REVIEWED
    assert application.assessment.score == Decimal("70.00")
    event = StatusEvent.objects.filter(application=application).last()
    # Nobody is named: the company reads this history, and reviewers stay anonymous.
    assert (event.from_status, event.to_status, event.by) == (
        Status.IN_REVIEW, Status.REVIEWED, None)


# ---------------------------------------------------------------- recommended amounts

def test_a_recommended_amount_is_refused_for_a_percentage_measure(demo_call, staff):
    _application, (review,) = under_review(demo_call, staff)
    error = refused(lambda: submit(review, every(8), recommended_amount="1000000.00"))
    assert (error.status, list(error.fields)) == (400, ["recommended_amount"])
    assert submit(review, every(8), recommended_amount=None).recommended_amount is None


@pytest.fixture
def core_call(catalogue):
    return open_call("core-algorithm")


@pytest.mark.parametrize(("given", "kept"), [
    ("5000000.00", Decimal("5000000.00")), ("1,500,000.00", Decimal("1500000.00")),
    (3000000, Decimal("3000000.00")), ("", None),
])
def test_a_recommended_amount_up_to_the_cap_is_kept(core_call, staff, given, kept):
    _application, (review,) = under_review(core_call, staff, inputs=CORE_ALGORITHM_INPUTS)
    submitted = submit(review, every(8), recommended_amount=given)
    review.refresh_from_db()
    assert submitted.recommended_amount == review.recommended_amount == kept


@pytest.mark.parametrize("given", ["5000000.01", "0", "0.00", "-1", "abc", "1.005", True,
                                   math.nan, [1]])
def test_a_recommended_amount_above_the_cap_or_not_money_is_refused(core_call, staff, given):
    _application, (review,) = under_review(core_call, staff, inputs=CORE_ALGORITHM_INPUTS)
    error = refused(lambda: submit(review, every(8), recommended_amount=given))
    assert (error.status, list(error.fields)) == (400, ["recommended_amount"])
    review.refresh_from_db()
    assert review.state == ReviewState.ASSIGNED


def test_the_recommended_amount_is_the_mean_of_those_given(core_call, staff):
    application, reviews = under_review(core_call, staff, reviewers=3,
                                        inputs=CORE_ALGORITHM_INPUTS)
    submit(reviews[0], every(8), recommended_amount="1000000.00")
    submit(reviews[1], every(8), recommended_amount="1000000.01")
    submit(reviews[2], every(8))  # no recommendation: not counted as zero
    application.refresh_from_db()
    # (1000000.00 + 1000000.01) / 2 = 1000000.005 → half-up 1000000.01
    assert application.assessment.recommended_amount == Decimal("1000000.01")


# ---------------------------------------------------------------- the aggregate

def test_the_aggregate_is_the_mean_of_the_totals(demo_call, staff):
    application, reviews = under_review(demo_call, staff, reviewers=3)
    for review, score in zip(reviews, (8, 7, "6.5"), strict=True):
        submit(review, every(score))
    assessment = Assessment.objects.get(application=application)
    # (80 + 70 + 65) / 3 = 71.666… → 71.67
    assert (assessment.score, assessment.reviews_count, assessment.trimmed) == (
        Decimal("71.67"), 3, False)
    assert assessment.recommended_amount is None


def five_scores(call, staff, scores):
    application, reviews = under_review(call, staff, reviewers=len(scores))
    for review, score in zip(reviews, scores, strict=True):
        submit(review, every(score), comment="评审意见")
    return Assessment.objects.get(application=application)


def test_a_trimmed_mean_drops_the_highest_and_lowest_of_five(catalogue, staff):
    call = open_call("demo-project", trimmed_mean=True)
    assessment = five_scores(call, staff, [9, 8, 7, 6, 2])
    # (80 + 70 + 60) / 3 = 70.00 (the plain mean would be 64.00)
    assert (assessment.score, assessment.reviews_count, assessment.trimmed) == (
        Decimal("70.00"), 5, True)


def test_with_four_reviews_nothing_is_dropped_even_when_the_call_trims(catalogue, staff):
    call = open_call("demo-project", trimmed_mean=True)
    assessment = five_scores(call, staff, [9, 8, 7, 2])
    assert (assessment.score, assessment.trimmed) == (Decimal("65.00"), False)


def test_without_trimming_five_reviews_give_the_plain_mean(demo_call, staff):
    assessment = five_scores(demo_call, staff, [9, 8, 7, 6, 2])
    assert (assessment.score, assessment.trimmed) == (Decimal("64.00"), False)


def test_no_aggregate_before_any_review_is_in(demo_call, staff):
    application, _reviews = under_review(demo_call, staff)
    Assessment.objects.create(application=application, score=50, reviews_count=1)  # stale
    assert assessment_compute(application=application) is None
    assert not Assessment.objects.filter(application=application).exists()


# ---------------------------------------------------------------- blind scoring

def test_a_reviewer_sees_only_their_own_reviews(demo_call, staff):
    application, (mine, theirs) = under_review(demo_call, staff, reviewers=2)
    submit(theirs, every(3), comment="不看好")
    me = mine.reviewer
    assert list(selectors.reviews_of(me)) == [mine]
    assert selectors.review_visible_to(me, mine.pk) == mine
    assert selectors.review_visible_to(me, theirs.pk) is None
    assert selectors.review_visible_to(me, "not an id") is None
    assert selectors.review_visible_to(AnonymousUser(), mine.pk) is None
    assert not selectors.reviews_of(AnonymousUser()).exists()
    # Staff read every review of the application, with its scores.
    assert selectors.review_visible_to(staff, theirs.pk).scores == every("3")
    assert list(selectors.application_reviews_for_staff(application)) == [mine, theirs]
