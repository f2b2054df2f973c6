"""The reviewing API (API.md): the reviewer pool, assignments, scorecards and blind scoring.

Who may do what (DESIGN rule 6), as in reviews/api/decisions.py:
- the pool (`reviewers/`): staff and management read it, staff add reviewers and their
  affiliations; a reviewer reads their own entry and declares a relation to a company at
  `reviewers/me/` (anyone else there: 403);
- an application's reviews (`applications/{id}/assignments/`) and its eligible reviewers
  (`applications/{id}/reviewer-candidates/`): looked up through the scoped applications first
  (what a user may not see answers 404), then staff and management read them and staff assign
  (anyone else who can see the application, a reviewer given it included: 403);
- a call's automatic assignment: staff; its scorecard: read by staff, management and the
  reviewers given one of its applications, set by staff;
- `reviews/`: reviewers only, and only their own reviews (`selectors.reviews_of`): anyone else
  hears 403 (staff and management read reviews at `applications/{id}/assignments/`; scoring is
  the reviewers' own, as on the pages). A review that is not one's own, one recused, or one of
  an application the reviewer is conflicted with answers 404.

Blind scoring: every answer a reviewer can get is built from their own review, the call's
criteria and the application's inputs; never another reviewer's scores, totals, comments or
name, never the aggregate (`Assessment`). Every write goes through reviews.services, which
check the rules again and answer 409 with their codes.
"""

from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.response import Response

from applications import selectors as portal
from applications.api import _errors, _valid
from applications.models import Application, Call, Membership
from applications.registration import normalize
from qianhai_grants.errors import DomainError
from qianhai_grants.roles import REVIEWER
from reviews import selectors
from reviews.api import serializers_reviewing as rs
from reviews.api.decisions import OfficeViewSet, require_reader, require_staff
from reviews.models import Affiliation, Review, ReviewerProfile, ReviewState, Scorecard
from reviews.services.assignments import call_auto_assign, review_assign, review_recuse
from reviews.services.pool import affiliation_declare, reviewer_create
from reviews.services.scoring import DEFAULT_CRITERIA, review_submit, scorecard_set

REVIEWER_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH,
                               description="The reviewer's user id.")


def require_reviewer(user) -> None:
    """The reviewers' own endpoints: anyone not in the reviewer group hears 403."""
    if REVIEWER not in portal.user_roles(user):
        raise DomainError("forbidden", _("Only reviewers can do this."), status=403)


def criteria_by_call(call_ids) -> dict[int, list[dict]]:
    """Each call's criteria; the defaults until its scorecard is made (a read makes nothing)."""
    call_ids = set(call_ids)
    stored = dict(Scorecard.objects.filter(call_id__in=call_ids)
                  .values_list("call_id", "criteria"))
    return {pk: stored.get(pk, DEFAULT_CRITERIA) for pk in call_ids}


def reviews_seen_by(user) -> QuerySet[Review]:
    """The reviewer's own reviews (`selectors.reviews_of`), without those still held of an
    application the reviewer is conflicted with (`selectors.is_conflicted`: an affiliation with
    the company's registration number, or a membership of its account), which are hidden like
    the application is. Recused ones stay: the reviewer sees they were taken from them."""
    affiliated = Affiliation.objects.filter(reviewer__user=user).values("registration_number")
    member_of = Membership.objects.filter(user=user).values("company_id")
    conflicted = (Q(application__company__registration_number__in=affiliated)
                  | Q(application__company_id__in=member_of))
    return (selectors.reviews_of(user)
            .exclude(conflicted & ~Q(state=ReviewState.RECUSED))
            .select_related("application__measure_version")
            .order_by(F("due_at").asc(nulls_last=True), "assigned_at", "pk"))


def scorecard_readable_by(user, call) -> bool:
    """Staff and management, and the reviewers given one of the call's applications (a review
    still theirs and not conflicted)."""
    if portal.reads_everything(user):
        return True
    return REVIEWER in portal.user_roles(user) and reviews_seen_by(user).filter(
        application__call=call).exclude(state=ReviewState.RECUSED).exists()


# ---------------------------------------------------------------- the pool

POOL_ROW = {200: rs.PoolReviewer}


@extend_schema_view(retrieve=extend_schema(parameters=[REVIEWER_ID]),
                    affiliations=extend_schema(parameters=[REVIEWER_ID]))
class ReviewerViewSet(OfficeViewSet):
    """The reviewer pool. A reviewer is named by their user id, what assignments name."""

    serializer_class = rs.PoolReviewer
    action_serializers = {"create": rs.ReviewerCreate, "affiliations": rs.AffiliationDeclare,
                          "me_affiliations": rs.AffiliationDeclare}
    lookup_field = "user_id"
    lookup_url_kwarg = "pk"

    def get_queryset(self):
        return selectors.reviewer_pool()

    def _rows(self, profiles, *, many=True):
        items = list(profiles) if many else [profiles]
        loads = selectors.reviewer_loads(p.user_id for p in items)
        return rs.PoolReviewer(profiles, many=many, context={"loads": loads}).data

    def _own_profile(self, request) -> ReviewerProfile:
        profile = self.get_queryset().filter(user=request.user).first() \
            if request.user.is_authenticated else None
        if profile is None:
            raise DomainError("forbidden", _("Only reviewers in the pool can do this."),
                              status=403)
        return profile

    def _declare(self, request, profile) -> Response:
        data = _valid(rs.AffiliationDeclare, request)
        existed = profile.affiliations.filter(
            registration_number=normalize(data["registration_number"])).exists()
        affiliation_declare(by=request.user, reviewer=profile, **data)
        profile = self.get_queryset().get(pk=profile.pk)
        return Response(self._rows(profile, many=False), status=200 if existed else 201)

    @extend_schema(responses={200: rs.PoolReviewer(many=True), **_errors(401, 403)})
    def list(self, request):
        """The pool by name, each reviewer with their expertise, affiliations and the reviews
        they still have to score. Staff and management."""
        require_reader(request.user)
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self._rows(page))

    @extend_schema(request=rs.ReviewerCreate,
                   responses={201: rs.PoolReviewer, **_errors(400, 401, 403)})
    def create(self, request):
        """Add a reviewer: an account (the email is the username) in the reviewer group, with
        expertise tags (measure codes or pillars) and the registration numbers of the companies
        they work for. Staff."""
        require_staff(request.user)
        data = _valid(rs.ReviewerCreate, request)
        profile = reviewer_create(by=request.user, **data)
        return Response(self._rows(self.get_queryset().get(pk=profile.pk), many=False),
                        status=201)

    @extend_schema(responses={**POOL_ROW, **_errors(401, 403, 404)})
    def retrieve(self, request, pk=None):
        """One reviewer of the pool. Staff and management."""
        require_reader(request.user)
        return Response(self._rows(self.get_object(), many=False))

    @extend_schema(request=rs.AffiliationDeclare,
                   responses={201: rs.PoolReviewer, **POOL_ROW, **_errors(400, 401, 403, 404)})
    @action(detail=True, methods=["post"])
    def affiliations(self, request, pk=None):
        """Record a reviewer's relation to a company (`kind` employment, shareholding or
        declared): they are never given its applications, and every review of them they still
        have to score is recused and replaced at once. 201, or 200 when it was already
        recorded. Staff."""
        require_staff(request.user)
        return self._declare(request, self.get_object())

    @extend_schema(responses={**POOL_ROW, **_errors(401, 403)})
    @action(detail=False, methods=["get"], url_path="me", url_name="me")
    def me(self, request):
        """The reviewer's own entry of the pool: expertise and declared affiliations."""
        return Response(self._rows(self._own_profile(request), many=False))

    @extend_schema(request=rs.AffiliationDeclare,
                   responses={201: rs.PoolReviewer, **POOL_ROW, **_errors(400, 401, 403)})
    @action(detail=False, methods=["post"], url_path="me/affiliations",
            url_name="me-affiliations")
    def me_affiliations(self, request):
        """A reviewer declares their own relation to a company (by default `kind` declared):
        every review of its applications they still have to score is taken from them and given
        to another reviewer. 201, or 200 when it was already declared."""
        return self._declare(request, self._own_profile(request))


# ---------------------------------------------------------------- an application's reviews

class ApplicationReviewingViewSet(OfficeViewSet):
    """An application's reviewers. Registered under `applications/` beside the portal's
    viewset: it has only detail actions, so only their routes are made."""

    serializer_class = rs.AssignmentRow
    action_serializers = {"assignments_create": rs.AssignmentCreate}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Application.objects.none()
        return portal.applications_visible_to(self.request.user)

    @extend_schema(request=None, responses={200: rs.AssignmentRow(many=True),
                                            **_errors(401, 403, 404)})
    @action(detail=True, methods=["get"])
    def assignments(self, request, pk=None):
        """Every review of the application, recused ones included, in the order they were
        given: reviewer, state, scores, comments, total. Staff and management only (never a
        reviewer: scoring is blind)."""
        application = self.get_object()
        require_reader(request.user)
        page = self.paginate_queryset(selectors.application_reviews_for_staff(application))
        return self.get_paginated_response(rs.AssignmentRow(page, many=True).data)

    @extend_schema(request=rs.AssignmentCreate,
                   responses={201: rs.AssignmentCreated, **_errors(400, 401, 403, 404, 409)})
    @assignments.mapping.post
    def assignments_create(self, request, pk=None):
        """Give an accepted (or in-review) application to a reviewer of the pool, whatever
        their expertise; 409 `reviewer_conflicted`, `already_assigned` (a recusal counts) or
        `invalid_transition`. Staff."""
        application = self.get_object()
        require_staff(request.user)
        data = _valid(rs.AssignmentCreate, request)
        review = review_assign(by=request.user, application=application,
                               reviewer=data["reviewer"], due_at=data.get("due_at"))
        return Response(rs.AssignmentCreated(review).data, status=201)

    @extend_schema(request=None, responses={200: rs.PoolReviewer(many=True),
                                            **_errors(401, 403, 404)})
    @action(detail=True, methods=["get"], url_path="reviewer-candidates",
            url_name="reviewer-candidates")
    def reviewer_candidates(self, request, pk=None):
        """Who the application may be given to next, best first: active reviewers whose
        expertise covers the measure, not conflicted, never given it before, the least loaded
        first. Staff and management."""
        application = self.get_object()
        require_reader(request.user)
        users = selectors.reviewer_candidates(application=application)
        page = self.paginate_queryset(users)
        profiles = {p.user_id: p for p in selectors.reviewer_pool().filter(
            user__in=[u.pk for u in page])}
        rows = [profiles[u.pk] for u in page if u.pk in profiles]
        loads = selectors.reviewer_loads(list(profiles))
        return self.get_paginated_response(
            rs.PoolReviewer(rows, many=True, context={"loads": loads}).data)


# ---------------------------------------------------------------- a call's reviewing

class CallReviewingViewSet(OfficeViewSet):
    """A call's automatic assignment and scorecard. Registered under `calls/` beside the
    portal's viewset, with detail actions only."""

    serializer_class = rs.CallScorecard
    action_serializers = {"scorecard_set": rs.ScorecardSet}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Call.objects.none()
        return portal.calls_visible()

    def _scorecard(self, call) -> Response:
        scorecard = Scorecard.objects.filter(call=call).first()
        criteria = scorecard.criteria if scorecard is not None else DEFAULT_CRITERIA
        started = None
        if portal.reads_everything(self.request.user):
            # Not for reviewers: whether others have scored is no business of theirs.
            started = Review.objects.filter(application__call=call,
                                            state=ReviewState.SUBMITTED).exists()
        return Response(rs.CallScorecard({
            "call": call.pk, "criteria": rs.criteria_json(criteria, with_labels=True),
            "scoring_started": started,
            "updated_at": scorecard.updated_at if scorecard is not None else None}).data)

    @extend_schema(request=None, responses={200: rs.AutoAssignOutcome,
                                            **_errors(401, 403, 404)})
    @action(detail=True, methods=["post"], url_path="auto-assign", url_name="auto-assign")
    def auto_assign(self, request, pk=None):
        """Give every accepted or in-review application of the call reviewers until it has the
        call's number: those whose expertise covers the measure, not conflicted, the least
        loaded first. Running it again adds nothing where the number is reached. Staff."""
        call = self.get_object()
        require_staff(request.user)
        return Response(rs.AutoAssignOutcome(call_auto_assign(by=request.user,
                                                              call=call)).data)

    @extend_schema(request=None, responses={200: rs.CallScorecard, **_errors(401, 403, 404)})
    @action(detail=True, methods=["get"])
    def scorecard(self, request, pk=None):
        """The call's scoring criteria: code, labels, relative weight, maximum score. Staff,
        management and the reviewers given one of its applications."""
        call = self.get_object()
        if not scorecard_readable_by(request.user, call):
            raise DomainError("forbidden", _(
                "Only staff, management and the call's reviewers can see this."), status=403)
        return self._scorecard(call)

    @extend_schema(request=rs.ScorecardSet,
                   responses={200: rs.CallScorecard, **_errors(400, 401, 403, 404, 409)})
    @scorecard.mapping.put
    def scorecard_set(self, request, pk=None):
        """Replace the call's criteria (`{code, labels: {zh-hans, zh-hant, en}, weight,
        max_score}` each); 409 `scoring_started` once a review of the call is submitted.
        Staff."""
        call = self.get_object()
        require_staff(request.user)
        data = _valid(rs.ScorecardSet, request)
        scorecard_set(by=request.user, call=call, criteria=data["criteria"])
        return self._scorecard(call)


# ---------------------------------------------------------------- a reviewer's own reviews

class ReviewViewSet(OfficeViewSet):
    """A reviewer's own reviews: reviewers only (anyone else 403), their own only (404)."""

    serializer_class = rs.ReviewRow
    action_serializers = {"retrieve": rs.ReviewDetail, "submit": rs.ReviewSubmit,
                          "recuse": rs.RecusalReason}
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = rs.ReviewFilter

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # anonymous: 401
        require_reviewer(request.user)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Review.objects.none()
        reviews = reviews_seen_by(self.request.user)
        if self.action != "list":
            # A recused review's application is no longer the reviewer's to read.
            reviews = reviews.exclude(state=ReviewState.RECUSED)
        return reviews

    def filter_queryset(self, queryset):
        # Filters narrow the list; a detail or an action finds its review by id alone.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _context(self, reviews) -> dict:
        return {"request": self.request,
                "criteria": criteria_by_call(r.application.call_id for r in reviews)}

    def _detail(self, pk) -> Response:
        review = self.get_queryset().get(pk=pk)
        return Response(rs.ReviewDetail(review, context=self._context([review])).data)

    @extend_schema(responses={200: rs.ReviewRow(many=True), **_errors(400, 401, 403)})
    def list(self, request):
        """Your reviews, the soonest due first, each with the call's criteria and, once
        submitted, your own scores; `?state=` assigned, submitted or recused, `?call=`,
        `?application=`. Reviewers only: staff and management (403 here) read an
        application's reviews at `applications/{id}/assignments/`."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(
            rs.ReviewRow(page, many=True, context=self._context(page)).data)

    @extend_schema(responses={200: rs.ReviewDetail, **_errors(401, 403, 404)})
    def retrieve(self, request, pk=None):
        """Your review with what you score: the application's inputs as labelled values and
        its documents (downloaded from the application's attachments)."""
        return self._detail(self.get_object().pk)

    @extend_schema(request=rs.ReviewSubmit,
                   responses={200: rs.ReviewDetail, **_errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit your scores, once: every criterion from 0 to its maximum (at most 2 decimal
        places), a comment for a score below half (per criterion in `comments`, or the general
        `comment`) and, for a measure awarded up to a cap, an optional recommended amount.
        Errors name `scores.<code>`, `comments.<code>`, `recommended_amount`; 409
        `invalid_transition` once submitted. The last review in closes the application's
        expert review (`reviewed`)."""
        review = self.get_object()
        data = _valid(rs.ReviewSubmit, request)
        amount = data.get("recommended_amount")
        review_submit(by=request.user, review=review, scores=data["scores"],
                      comment=data.get("comment", ""), comments=data.get("comments"),
                      recommended_amount=None if amount is None else f"{amount:f}")
        return self._detail(review.pk)

    @extend_schema(request=rs.RecusalReason,
                   responses={200: rs.ReviewRow, **_errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def recuse(self, request, pk=None):
        """Step back from a review still to score, saying why (staff read it); another
        eligible reviewer is given the application in your place when there is one. 409
        `invalid_transition` once submitted."""
        review = self.get_object()
        data = _valid(rs.RecusalReason, request)
        review = review_recuse(by=request.user, review=review, reason=data["reason"])
        review = reviews_seen_by(request.user).get(pk=review.pk)
        return Response(rs.ReviewRow(review, context=self._context([review])).data)


def register(router) -> None:
    """Add the reviewing viewsets to the router."""
    router.register("reviewers", ReviewerViewSet, basename="api-reviewer")
    router.register("applications", ApplicationReviewingViewSet,
                    basename="api-application-reviewing")
    router.register("calls", CallReviewingViewSet, basename="api-call-reviewing")
    router.register("reviews", ReviewViewSet, basename="api-review")
