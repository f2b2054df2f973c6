"""Who scores what: assignments by staff and automatically, recusals and their replacements."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from applications.models import Status, StatusEvent
from qianhai_grants.errors import DomainError
from qianhai_grants.roles import MANAGEMENT, REVIEWER
from reviews import selectors
from reviews.models import Assessment, AuditEntry, Review, ReviewerProfile, ReviewState
from reviews.services.assignments import call_auto_assign, review_assign, review_recuse
from reviews.services.scoring import review_submit
from tests.factories import (
    UserFactory,
    application_in,
    company_user,
    open_call,
    reviewer_user,
    staff_user,
)

EIGHTS = {"innovation": 8, "feasibility": 8, "industry_impact": 8, "team": 8, "budget": 8}


def refused(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def status_of(application) -> str:
    application.refresh_from_db()
    return application.status


def active_reviewers(application) -> set[int]:
    return set(application.reviews.filter(
        state__in=(ReviewState.ASSIGNED, ReviewState.SUBMITTED)).values_list(
        "reviewer_id", flat=True))


# ---------------------------------------------------------------- review_assign

def test_the_first_assignment_starts_the_expert_review(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    first, second = reviewer_user(), reviewer_user()
    review = review_assign(by=staff, application=application, reviewer=first)
    assert (review.state, review.assigned_by, review.reviewer) == (
        ReviewState.ASSIGNED, staff, first)
    assert status_of(application) == Status.IN_REVIEW
    review_assign(by=staff, application=application, reviewer=second)
    assert list(StatusEvent.objects.filter(application=application).values_list(
        "from_status", "to_status", "by")) == [(Status.ACCEPTED, Status.IN_REVIEW, staff.pk)]
    assert list(AuditEntry.objects.filter(action="review_assigned").values_list(
        "by", "application", "call", "data__reviewer")) == [
        (staff.pk, application.pk, demo_call.pk, first.pk),
        (staff.pk, application.pk, demo_call.pk, second.pk)]


def test_a_reviewer_is_named_by_user_or_by_id(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    reviewer = reviewer_user()
    review = review_assign(by=staff, application=application, reviewer=reviewer.pk)
    assert review.reviewer == reviewer


def test_staff_may_assign_beyond_the_reviewers_expertise(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    reviewer = reviewer_user(expertise=["core-algorithm"])
    assert review_assign(by=staff, application=application, reviewer=reviewer).pk


def test_a_due_date_is_kept_when_in_the_future(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    due = timezone.now() + timedelta(days=14)
    review = review_assign(by=staff, application=application, reviewer=reviewer_user(),
                           due_at=due)
    review.refresh_from_db()
    assert review.due_at == due


@pytest.mark.parametrize("due_at", [
    timezone.now() - timedelta(days=1),
    timezone.now().replace(tzinfo=None) + timedelta(days=3),  # no time zone: ambiguous
    "2030-01-01",
])
def test_a_due_date_in_the_past_or_not_a_datetime_is_refused(demo_call, staff, due_at):
    application = application_in("accepted", call=demo_call)
    error = refused(lambda: review_assign(by=staff, application=application,
                                          reviewer=reviewer_user(), due_at=due_at))
    assert (error.status, error.code, list(error.fields)) == (400, "invalid", ["due_at"])
    assert not Review.objects.exists()


@pytest.mark.parametrize("make_user", [
    company_user, lambda: reviewer_user(), lambda: UserFactory(roles=[MANAGEMENT]),
    lambda: UserFactory(is_staff=True),
])
def test_only_staff_assign(demo_call, make_user):
    application = application_in("accepted", call=demo_call)
    error = refused(lambda: review_assign(by=make_user(), application=application,
                                          reviewer=reviewer_user()))
    assert (error.status, error.code) == (403, "forbidden")
    assert status_of(application) == Status.ACCEPTED
    assert not Review.objects.exists()


def _inactive_profile():
    user = reviewer_user()
    ReviewerProfile.objects.filter(user=user).update(active=False)
    return user


def _inactive_account():
    user = reviewer_user()
    user.is_active = False
    user.save()
    return user


def _out_of_the_group():
    user = reviewer_user()
    user.groups.clear()
    return user


@pytest.mark.parametrize("make_reviewer", [
    _inactive_profile, _inactive_account, _out_of_the_group,
    lambda: UserFactory(roles=[REVIEWER]),  # no profile: not in the pool
    company_user, lambda: 999_999, lambda: True, lambda: None, lambda: "someone",
])
def test_only_an_active_reviewer_of_the_pool_is_assigned(demo_call, staff, make_reviewer):
    application = application_in("accepted", call=demo_call)
    error = refused(lambda: review_assign(by=staff, application=application,
                                          reviewer=make_reviewer()))
    assert (error.status, error.code, list(error.fields)) == (400, "invalid", ["reviewer"])
    assert not Review.objects.exists()


@pytest.mark.parametrize("status", [Status.DRAFT, Status.SUBMITTED, Status.RETURNED,
                                    Status.REVIEWED, Status.REJECTED, Status.WITHDRAWN,
                                    Status.PROPOSED])
def test_only_accepted_or_in_review_applications_take_reviewers(demo_call, staff, status):
    application = application_in(status, call=demo_call)
    error = refused(lambda: review_assign(by=staff, application=application,
                                          reviewer=reviewer_user()))
    assert (error.status, error.code) == (409, "invalid_transition")
    assert status_of(application) == status
    assert not Review.objects.exists()


def test_a_reviewer_is_never_given_the_same_application_twice(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    reviewer = reviewer_user()
    review = review_assign(by=staff, application=application, reviewer=reviewer)
    error = refused(lambda: review_assign(by=staff, application=application, reviewer=reviewer))
    assert (error.status, error.code) == (409, "already_assigned")
    review_recuse(by=reviewer, review=review, reason="与申请人有合作")
    # A recusal is final: not even staff give it back.
    error = refused(lambda: review_assign(by=staff, application=application, reviewer=reviewer))
    assert (error.status, error.code) == (409, "already_assigned")
    assert application.reviews.filter(reviewer=reviewer).count() == 1


# ---------------------------------------------------------------- call_auto_assign

def test_auto_assign_spreads_the_load_evenly(demo_call, staff):
    applications = [application_in("accepted", call=demo_call) for _ in range(6)]
    reviewers = [reviewer_user() for _ in range(4)]
    outcome = call_auto_assign(by=staff, call=demo_call)
    assert outcome == {"assigned": 18, "short": []}
    loads = Counter(Review.objects.values_list("reviewer_id", flat=True))
    assert set(loads) == {r.pk for r in reviewers}
    assert max(loads.values()) - min(loads.values()) <= 1
    for application in applications:
        assert len(active_reviewers(application)) == 3
        assert status_of(application) == Status.IN_REVIEW
    entry = AuditEntry.objects.get(action="auto_assigned")
    assert (entry.by, entry.call, entry.data) == (staff, demo_call, outcome)


def test_auto_assign_twice_adds_nothing_the_second_time(demo_call, staff):
    for _ in range(3):
        application_in("accepted", call=demo_call)
    for _ in range(4):
        reviewer_user()
    assert call_auto_assign(by=staff, call=demo_call)["assigned"] == 9
    assert call_auto_assign(by=staff, call=demo_call) == {"assigned": 0, "short": []}
    assert Review.objects.count() == 9


def test_auto_assign_respects_expertise(demo_call, staff):
    """demo-project is a measure of the application_demo pillar."""
    application = application_in("accepted", call=demo_call)
    by_code = reviewer_user(expertise=["demo-project"])
    by_pillar = reviewer_user(expertise=["application_demo"])
    reviewer_user(expertise=["core-algorithm"])  # another measure
    reviewer_user(expertise=["factor_supply"])  # another pillar
    reviewer_user(expertise=[])
    outcome = call_auto_assign(by=staff, call=demo_call)
    assert outcome == {"assigned": 2, "short": [application.pk]}
    assert active_reviewers(application) == {by_code.pk, by_pillar.pk}


def test_auto_assign_skips_reviewers_out_of_the_pool(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    _inactive_profile(), _inactive_account(), _out_of_the_group()
    active = reviewer_user()
    assert call_auto_assign(by=staff, call=demo_call) == {"assigned": 1,
                                                          "short": [application.pk]}
    assert active_reviewers(application) == {active.pk}


def test_auto_assign_tops_up_what_staff_assigned(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    chosen = reviewer_user()
    review_assign(by=staff, application=application, reviewer=chosen)
    others = [reviewer_user() for _ in range(3)]
    assert call_auto_assign(by=staff, call=demo_call)["assigned"] == 2
    assert chosen.pk in active_reviewers(application)
    assert len(active_reviewers(application) & {r.pk for r in others}) == 2


def test_auto_assign_prefers_reviewers_with_less_to_score_in_any_call(catalogue, staff):
    busy = reviewer_user()
    other_call = open_call("demo-project", funding_year=2027)
    for _ in range(2):
        review_assign(by=staff, application=application_in("accepted", call=other_call),
                      reviewer=busy)
    free = [reviewer_user() for _ in range(3)]
    call = open_call("demo-project", funding_year=2026)
    application = application_in("accepted", call=call)
    call_auto_assign(by=staff, call=call)
    assert active_reviewers(application) == {r.pk for r in free}


def test_auto_assign_follows_the_calls_number_of_reviewers(catalogue, staff):
    call = open_call("demo-project", reviewers_per_application=5)
    application = application_in("accepted", call=call)
    for _ in range(6):
        reviewer_user()
    assert call_auto_assign(by=staff, call=call) == {"assigned": 5, "short": []}
    assert len(active_reviewers(application)) == 5


def test_auto_assign_reports_the_applications_left_short(demo_call, staff):
    applications = [application_in("accepted", call=demo_call) for _ in range(2)]
    reviewer_user(), reviewer_user()
    outcome = call_auto_assign(by=staff, call=demo_call)
    assert outcome == {"assigned": 4, "short": [a.pk for a in applications]}


def test_auto_assign_touches_only_the_calls_accepted_and_in_review_applications(
        catalogue, staff):
    call = open_call("demo-project", funding_year=2026)
    submitted = application_in("submitted", call=call)
    reviewed = application_in("reviewed", call=call)
    elsewhere = application_in("accepted", call=open_call("demo-project", funding_year=2027))
    in_review = application_in("in_review", call=call)
    for _ in range(3):
        reviewer_user()
    assert call_auto_assign(by=staff, call=call) == {"assigned": 3, "short": []}
    assert len(active_reviewers(in_review)) == 3
    for untouched in (submitted, reviewed, elsewhere):
        assert not untouched.reviews.exists()


@pytest.mark.parametrize("make_user", [company_user, lambda: reviewer_user(),
                                       lambda: UserFactory(roles=[MANAGEMENT])])
def test_only_staff_auto_assign(demo_call, make_user):
    application_in("accepted", call=demo_call)
    reviewer_user()
    error = refused(lambda: call_auto_assign(by=make_user(), call=demo_call))
    assert (error.status, error.code) == (403, "forbidden")
    assert not Review.objects.exists()


def test_candidates_are_the_least_loaded_eligible_reviewers_first(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    loaded, idle_late, idle_early = reviewer_user(), reviewer_user(), reviewer_user()
    # idle_early has the lower id only if made first: compare by id, as the rule does.
    idle = sorted([idle_late, idle_early], key=lambda u: u.pk)
    review_assign(by=staff, application=application_in("accepted", call=demo_call),
                  reviewer=loaded)
    already = reviewer_user()
    review_assign(by=staff, application=application, reviewer=already)
    reviewer_user(expertise=["core-algorithm"])
    assert selectors.reviewer_candidates(application=application) == [*idle, loaded]


# ---------------------------------------------------------------- review_recuse

@pytest.fixture
def reviewed_by_three(demo_call, staff):
    """An application auto-assigned to three reviewers, with a fourth eligible one idle."""
    application = application_in("accepted", call=demo_call)
    reviewers = [reviewer_user() for _ in range(3)]
    call_auto_assign(by=staff, call=demo_call)
    spare = reviewer_user()
    return application, reviewers, spare


def test_a_recusal_is_replaced_by_another_eligible_reviewer(reviewed_by_three):
    application, reviewers, spare = reviewed_by_three
    review = application.reviews.get(reviewer=reviewers[0])
    recused = review_recuse(by=reviewers[0], review=review, reason="  曾为申请人提供咨询  ")
    assert recused.state == ReviewState.RECUSED
    assert recused.recusal_reason == "曾为申请人提供咨询"
    assert recused.recused_at is not None
    assert active_reviewers(application) == {reviewers[1].pk, reviewers[2].pk, spare.pk}
    replacement = application.reviews.get(reviewer=spare)
    assert replacement.assigned_by is None  # chosen by the rule, not by a person
    entry = AuditEntry.objects.get(action="review_recused")
    assert (entry.by, entry.reason) == (reviewers[0], "曾为申请人提供咨询")
    assert entry.data == {"review": review.pk, "reviewer": reviewers[0].pk,
                          "replacement": spare.pk, "replacement_review": replacement.pk,
                          "short": False}
    assigned = AuditEntry.objects.filter(action="review_assigned").last()
    assert (assigned.by, assigned.data["reviewer"], assigned.data["replaces"]) == (
        None, spare.pk, review.pk)
    assert status_of(application) == Status.IN_REVIEW


def test_without_a_candidate_the_application_keeps_fewer_reviewers(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    reviewers = [reviewer_user() for _ in range(3)]
    call_auto_assign(by=staff, call=demo_call)
    review_recuse(by=reviewers[0], review=application.reviews.get(reviewer=reviewers[0]),
                  reason="利益冲突")
    assert active_reviewers(application) == {reviewers[1].pk, reviewers[2].pk}
    data = AuditEntry.objects.get(action="review_recused").data
    assert (data["replacement"], data["short"]) == (None, True)
    # And the recused reviewer is never picked again, even when nobody else is left.
    assert call_auto_assign(by=staff, call=demo_call) == {"assigned": 0,
                                                          "short": [application.pk]}
    assert reviewers[0].pk not in active_reviewers(application)


def test_recusing_the_last_outstanding_review_closes_the_expert_review(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    reviewers = [reviewer_user() for _ in range(3)]
    call_auto_assign(by=staff, call=demo_call)
    for reviewer in reviewers[:2]:
        review_submit(by=reviewer, review=application.reviews.get(reviewer=reviewer),
                      scores=EIGHTS)
    assert status_of(application) == Status.IN_REVIEW
    review_recuse(by=reviewers[2], review=application.reviews.get(reviewer=reviewers[2]),
                  reason="出差无法评审")
    assert status_of(application) == Status.REVIEWED
    assessment = Assessment.objects.get(application=application)
    assert (assessment.score, assessment.reviews_count) == (80, 2)
    event = StatusEvent.objects.filter(application=application).last()
    assert (event.from_status, event.to_status, event.by) == (
        Status.IN_REVIEW, Status.REVIEWED, None)


def test_recusing_with_nobody_submitted_leaves_the_application_in_review(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    reviewer = reviewer_user()
    review = review_assign(by=staff, application=application, reviewer=reviewer)
    review_recuse(by=reviewer, review=review, reason="回避")
    assert status_of(application) == Status.IN_REVIEW
    assert not Assessment.objects.filter(application=application).exists()


@pytest.mark.parametrize("who", ["other_reviewer", "staff", "company", "anonymous"])
def test_only_the_assigned_reviewer_recuses(reviewed_by_three, staff, who):
    application, reviewers, _spare = reviewed_by_three
    review = application.reviews.get(reviewer=reviewers[0])
    by = {"other_reviewer": reviewers[1], "staff": staff, "company": application.company
          .created_by, "anonymous": None}[who]
    error = refused(lambda: review_recuse(by=by, review=review, reason="x"))
    assert (error.status, error.code) == (404, "not_found")
    review.refresh_from_db()
    assert review.state == ReviewState.ASSIGNED


@pytest.mark.parametrize("reason", ["", "   ", None, 42])
def test_a_recusal_needs_a_reason(reviewed_by_three, reason):
    application, reviewers, _spare = reviewed_by_three
    review = application.reviews.get(reviewer=reviewers[0])
    error = refused(lambda: review_recuse(by=reviewers[0], review=review, reason=reason))
    assert (error.status, error.code, list(error.fields)) == (400, "invalid", ["reason"])
    review.refresh_from_db()
    assert review.state == ReviewState.ASSIGNED


def test_a_submitted_or_recused_review_cannot_be_recused(reviewed_by_three):
    application, reviewers, _spare = reviewed_by_three
    submitted = review_submit(by=reviewers[0], review=application.reviews.get(
        reviewer=reviewers[0]), scores=EIGHTS)
    error = refused(lambda: review_recuse(by=reviewers[0], review=submitted, reason="晚了"))
    assert (error.status, error.code) == (409, "invalid_transition")
    recused = review_recuse(by=reviewers[1], review=application.reviews.get(
        reviewer=reviewers[1]), reason="回避")
    error = refused(lambda: review_recuse(by=reviewers[1], review=recused, reason="再次"))
    assert (error.status, error.code) == (409, "invalid_transition")
    assert AuditEntry.objects.filter(action="review_recused").count() == 1


# ---------------------------------------------------------------- concurrency (PostgreSQL)

@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_auto_assigns_at_once_never_exceed_the_number_of_reviewers(catalogue):
    """Each application is topped up under its row lock: two runs started together give it
    exactly the call's number of reviewers, never more."""
    staff = staff_user()
    call = open_call("demo-project")
    applications = [application_in("accepted", call=call) for _ in range(5)]
    for _ in range(6):
        reviewer_user()
    barrier = threading.Barrier(2)
    outcomes: list = [None, None]

    def run(i):
        try:
            barrier.wait(timeout=30)
            outcomes[i] = call_auto_assign(by=staff, call=call)
        except Exception as exc:  # every outcome is shown by the assertion below
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(outcome, dict) for outcome in outcomes), outcomes
    assert sum(outcome["assigned"] for outcome in outcomes) == 15
    for application in applications:
        assert len(active_reviewers(application)) == 3
