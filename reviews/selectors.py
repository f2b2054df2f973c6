"""Reads of the back office with rules: every query scoped to who asks (DESIGN rule 6)."""

from django.db.models import Count, QuerySet

from applications.models import Application, Membership, Status
from applications.registration import normalize
from applications.selectors import reads_everything
from qianhai_grants.roles import REVIEWER
from reviews.models import Affiliation, Review, ReviewerProfile, ReviewState

# The statuses an application has once its reviews are in: the ranking shows them all, so staff
# see the decided ones beside those still waiting.
RANKED_STATUSES = (Status.REVIEWED, Status.PROPOSED, Status.IN_PUBLICITY, Status.AWARDED,
                   Status.RESERVE, Status.DECLINED)


def call_ranking(*, call, statuses=RANKED_STATUSES) -> QuerySet[Application]:
    """A call's reviewed applications by aggregate score, best first; ties go to the earlier
    submission."""
    return (Application.objects.filter(call=call, status__in=statuses, assessment__isnull=False)
            .select_related("assessment", "company", "call__measure", "measure_version")
            .order_by("-assessment__score", "submitted_at", "pk"))


# --- the reviewer pool, conflicts and assignments ---------------------------------------------

# A review that still counts towards an application's reviewers (a recused one does not).
ACTIVE_REVIEW_STATES = (ReviewState.ASSIGNED, ReviewState.SUBMITTED)


def is_conflicted(*, reviewer, company) -> bool:
    """A conflict of interest: the reviewer (a user) works for, holds shares in or declared a
    relation to the company, matched by registration number (of any kind), or is a member of
    its account on this site."""
    if reviewer is None or not getattr(reviewer, "pk", None):
        return False
    return Affiliation.objects.filter(
        reviewer__user=reviewer, registration_number=normalize(company.registration_number),
    ).exists() or Membership.objects.filter(user=reviewer, company=company).exists()


def active_reviewer_profiles() -> QuerySet[ReviewerProfile]:
    """Reviewers who may be assigned: in the pool (active), able to log in, in the reviewer
    group (without it they could not open what they are given)."""
    return ReviewerProfile.objects.filter(
        active=True, user__is_active=True, user__groups__name=REVIEWER)


def is_active_reviewer(user) -> bool:
    return user is not None and getattr(user, "pk", None) is not None and \
        active_reviewer_profiles().filter(user=user).exists()


def reviewer_loads(user_ids=None) -> dict[int, int]:
    """How many reviews each reviewer has still to score, over all calls (an application that
    left review, e.g. withdrawn, no longer weighs on its reviewers)."""
    rows = Review.objects.filter(state=ReviewState.ASSIGNED, application__status=Status.IN_REVIEW)
    if user_ids is not None:
        rows = rows.filter(reviewer_id__in=list(user_ids))
    return dict(rows.values("reviewer_id").annotate(n=Count("pk")).values_list("reviewer_id", "n"))


def expertise_matches(expertise, measure) -> bool:
    """A reviewer's tags cover a measure by its code or by its pillar."""
    tags = expertise if isinstance(expertise, list) else []
    return measure.code in tags or measure.pillar in tags


def reviewer_candidates(*, application) -> list:
    """Who may be given the application next, best first: active reviewers whose expertise
    covers the call's measure (its code or its pillar), not conflicted with the applicant and
    never assigned to this application before (a recusal counts), the least loaded first (reviews
    still to score, over all calls), ties by user id."""
    measure = application.call.measure
    profiles = (active_reviewer_profiles()
                .exclude(user__reviews__application=application)
                .exclude(affiliations__registration_number=normalize(
                    application.company.registration_number))
                .exclude(user__memberships__company=application.company_id)
                .select_related("user"))
    eligible = [p.user for p in profiles if expertise_matches(p.expertise, measure)]
    loads = reviewer_loads(u.pk for u in eligible)
    return sorted(eligible, key=lambda u: (loads.get(u.pk, 0), u.pk))


def reviews_of(user) -> QuerySet[Review]:
    """A reviewer's own reviews (never another reviewer's: scoring is blind)."""
    if user is None or not user.is_authenticated:
        return Review.objects.none()
    return (Review.objects.filter(reviewer=user)
            .select_related("application__call__measure", "application__company"))


def review_visible_to(user, review_id) -> Review | None:
    """One review, for whoever may read it: its own reviewer (unless conflicted with the applicant,
    when it is hidden like the application), or staff and management. None otherwise, so the
    caller answers 404."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    try:
        review_id = int(review_id)
    except (TypeError, ValueError):
        return None
    if reads_everything(user):
        return (Review.objects.select_related(
            "application__call__measure", "application__company", "reviewer")
            .filter(pk=review_id).first())
    review = reviews_of(user).filter(pk=review_id).first()
    if review is None:
        return None
    if review.state != ReviewState.RECUSED and is_conflicted(
            reviewer=user, company=review.application.company):
        return None
    return review


def application_reviews_for_staff(application) -> QuerySet[Review]:
    """Every review of an application, recused ones included, with its reviewer (the back
    office's page; never shown to a reviewer)."""
    return (Review.objects.filter(application=application)
            .select_related("reviewer__reviewer_profile")
            .order_by("assigned_at", "pk"))


def reviewer_pool() -> QuerySet[ReviewerProfile]:
    """The reviewer pool with each reviewer's affiliations (staff's list)."""
    return (ReviewerProfile.objects.select_related("user")
            .prefetch_related("affiliations").order_by("name", "pk"))
