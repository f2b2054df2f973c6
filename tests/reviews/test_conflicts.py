"""Conflicts of interest never leak: a reviewer affiliated with an applicant is never assigned,
never picked, and never sees the application, however the affiliation came to be known."""

import pytest

from applications.selectors import applications_visible_to
from reviews import selectors
from reviews.models import Affiliation, AuditEntry, ReviewState
from reviews.services.assignments import call_auto_assign, review_assign, review_recuse
from reviews.services.pool import affiliation_declare, reviewer_create
from reviews.services.scoring import review_submit
from tests.factories import CompanyFactory, application_in, reviewer_user, uscc

EIGHTS = dict.fromkeys(["innovation", "feasibility", "industry_impact", "team", "budget"], 8)


def refused(call):
    from qianhai_grants.errors import DomainError

    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def visible(user) -> set[int]:
    return set(applications_visible_to(user).values_list("pk", flat=True))


@pytest.fixture
def company(db):
    return CompanyFactory(registration_number=uscc(500))


def test_the_conflict_rule_matches_the_registration_number(demo_call, company):
    conflicted = reviewer_user(affiliations=[uscc(500)])
    free = reviewer_user(affiliations=[uscc(501)])
    assert selectors.is_conflicted(reviewer=conflicted, company=company)
    assert not selectors.is_conflicted(reviewer=free, company=company)
    # Any kind of relation counts, and the type of registration does not matter.
    other_type = CompanyFactory(registration_type="other", registration_number=uscc(500))
    assert selectors.is_conflicted(reviewer=conflicted, company=other_type)


def test_a_conflicted_reviewer_is_refused_by_staff(demo_call, staff, company):
    application = application_in("accepted", call=demo_call, company=company)
    conflicted = reviewer_user(affiliations=[uscc(500)])
    error = refused(lambda: review_assign(by=staff, application=application,
                                          reviewer=conflicted))
    assert (error.status, error.code) == (409, "reviewer_conflicted")
    assert not application.reviews.exists()
    assert application.pk not in visible(conflicted)


def test_an_affiliation_declared_before_the_company_registered_still_holds(demo_call, staff):
    reviewer = reviewer_create(by=staff, email="li@example.org", name="李专家",
                               expertise=["demo-project"],
                               affiliations=[f"{uscc(502).lower()} "]).user
    company = CompanyFactory(registration_number=uscc(502))  # registers afterwards
    application = application_in("accepted", call=demo_call, company=company)
    error = refused(lambda: review_assign(by=staff, application=application, reviewer=reviewer))
    assert error.code == "reviewer_conflicted"


def test_auto_assign_never_picks_a_conflicted_reviewer(demo_call, staff, company):
    application = application_in("accepted", call=demo_call, company=company)
    other = application_in("accepted", call=demo_call)
    # The least loaded of all, and its expertise fits: still never picked for that company.
    conflicted = reviewer_user(expertise=["demo-project"], affiliations=[uscc(500)])
    free = [reviewer_user() for _ in range(3)]
    outcome = call_auto_assign(by=staff, call=demo_call)
    assert outcome == {"assigned": 6, "short": []}
    assert not application.reviews.filter(reviewer=conflicted).exists()
    assert set(application.reviews.values_list("reviewer_id", flat=True)) == {
        r.pk for r in free}
    assert other.reviews.filter(reviewer=conflicted).exists()  # other applicants: fine
    assert conflicted not in selectors.reviewer_candidates(application=application)


def test_a_recusal_is_never_replaced_by_a_conflicted_reviewer(demo_call, staff, company):
    application = application_in("accepted", call=demo_call, company=company)
    first = reviewer_user()
    review = review_assign(by=staff, application=application, reviewer=first)
    conflicted = reviewer_user(affiliations=[uscc(500)])
    review_recuse(by=first, review=review, reason="回避")
    assert not application.reviews.filter(reviewer=conflicted).exists()
    assert AuditEntry.objects.get(action="review_recused").data["replacement"] is None


def test_a_reviewer_sees_what_they_were_given_and_nothing_else(demo_call, staff):
    given = application_in("accepted", call=demo_call)
    not_given = application_in("accepted", call=demo_call)
    reviewer = reviewer_user()
    assert visible(reviewer) == set()
    review = review_assign(by=staff, application=given, reviewer=reviewer)
    assert visible(reviewer) == {given.pk}
    review_submit(by=reviewer, review=review, scores=EIGHTS)
    assert visible(reviewer) == {given.pk}  # still, once scored
    assert not_given.pk not in visible(reviewer)


def test_a_recused_reviewer_sees_nothing_more(demo_call, staff):
    application = application_in("accepted", call=demo_call)
    reviewer = reviewer_user()
    review = review_assign(by=staff, application=application, reviewer=reviewer)
    review_recuse(by=reviewer, review=review, reason="回避")
    assert visible(reviewer) == set()


def test_an_affiliation_found_later_hides_the_application_at_once(demo_call, staff, company):
    """Even a review row left assigned (an affiliation written outside the service, say by an
    administrator) does not open the application, nor let its reviewer score it."""
    application = application_in("accepted", call=demo_call, company=company)
    reviewer = reviewer_user()
    review = review_assign(by=staff, application=application, reviewer=reviewer)
    assert visible(reviewer) == {application.pk}
    Affiliation.objects.create(reviewer=reviewer.reviewer_profile,
                               registration_number=uscc(500))
    review.refresh_from_db()
    assert review.state == ReviewState.ASSIGNED
    assert visible(reviewer) == set()
    assert selectors.review_visible_to(reviewer, review.pk) is None
    error = refused(lambda: review_submit(by=reviewer, review=review, scores=EIGHTS))
    assert (error.status, error.code) == (404, "not_found")


def test_declaring_an_affiliation_recuses_and_replaces(demo_call, staff, company):
    application = application_in("accepted", call=demo_call, company=company)
    unrelated = application_in("accepted", call=demo_call)
    reviewers = [reviewer_user() for _ in range(3)]
    call_auto_assign(by=staff, call=demo_call)
    spare = reviewer_user()
    declarer = reviewers[0]
    affiliation_declare(by=declarer, reviewer=declarer.reviewer_profile,
                        registration_number=uscc(500), note="配偶任职于该公司")
    review = application.reviews.get(reviewer=declarer)
    assert review.state == ReviewState.RECUSED
    assert uscc(500) in review.recusal_reason and "配偶任职于该公司" in review.recusal_reason
    assert application.reviews.get(reviewer=spare).state == ReviewState.ASSIGNED
    # Their review of another company's application is untouched.
    assert unrelated.reviews.get(reviewer=declarer).state == ReviewState.ASSIGNED
    assert visible(declarer) == {unrelated.pk}
    actions = list(AuditEntry.objects.filter(application=application).values_list(
        "action", "by"))
    assert actions[-2:] == [("review_recused", declarer.pk), ("review_assigned", None)]
    declared = AuditEntry.objects.get(action="affiliation_declared")
    assert (declared.by, declared.data["registration_number"]) == (declarer, uscc(500))


def test_staff_declaring_for_a_reviewer_has_the_same_effect(demo_call, staff, company):
    application = application_in("accepted", call=demo_call, company=company)
    reviewer = reviewer_user()
    review = review_assign(by=staff, application=application, reviewer=reviewer)
    affiliation_declare(by=staff, reviewer=reviewer.reviewer_profile,
                        registration_number=uscc(500))
    review.refresh_from_db()
    assert review.state == ReviewState.RECUSED
    recusal = AuditEntry.objects.get(action="review_recused")
    assert (recusal.by, recusal.data["review"]) == (staff, review.pk)


def test_declaring_again_repairs_a_review_left_assigned(demo_call, staff, company):
    """An affiliation already on file (written outside the service) is declared again: the
    review it should have recused is recused now."""
    application = application_in("accepted", call=demo_call, company=company)
    reviewer = reviewer_user()
    review = review_assign(by=staff, application=application, reviewer=reviewer)
    Affiliation.objects.create(reviewer=reviewer.reviewer_profile,
                               registration_number=uscc(500))
    affiliation_declare(by=reviewer, reviewer=reviewer.reviewer_profile,
                        registration_number=uscc(500))
    review.refresh_from_db()
    assert review.state == ReviewState.RECUSED
    assert Affiliation.objects.filter(reviewer=reviewer.reviewer_profile).count() == 1


def test_a_conflicted_reviewer_gets_404_from_the_api(demo_call, staff, company, client_for):
    application = application_in("accepted", call=demo_call, company=company)
    reviewer = reviewer_user()
    review_assign(by=staff, application=application, reviewer=reviewer)
    client = client_for(reviewer)
    assert client.get(f"/api/v1/applications/{application.pk}/").status_code == 200
    affiliation_declare(by=reviewer, reviewer=reviewer.reviewer_profile,
                        registration_number=uscc(500))
    assert client.get(f"/api/v1/applications/{application.pk}/").status_code == 404
    assert client.get("/api/v1/applications/").json()["count"] == 0


def test_a_reviewer_who_is_a_member_of_the_applicant_is_conflicted(catalogue, staff):
    from applications.models import Membership
    from qianhai_grants.errors import DomainError
    from tests.factories import open_call

    reviewer = reviewer_user(expertise=("application_demo",))
    application = application_in("accepted", call=open_call("demo-project"))
    Membership.objects.create(company=application.company, user=reviewer, role="viewer")

    assert selectors.is_conflicted(reviewer=reviewer, company=application.company)
    assert reviewer not in selectors.reviewer_candidates(application=application)
    with pytest.raises(DomainError) as caught:
        review_assign(by=staff, application=application, reviewer=reviewer)
    assert caught.value.code == "reviewer_conflicted"
