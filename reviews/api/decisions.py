"""The back office's decisions API (API.md): approve, decline and reserve an application, its
screening checklist and audit trail; a call's ranking, rank-and-fill and the reserve list.

The 公示 and its objections live in `reviews/api/publicity.py`, awards and payments in
`reviews/api/awards.py`; `register` adds all three to the router.

Who may do what (DESIGN rule 6): an object is first looked up through a scoped selector, so what
a user may not see answers 404; then staff actions answer 403 to anyone else who can see it
(management reads everything staff read, and writes nothing); then the body is checked (400);
then the service decides (409 with its code). Views are thin (DESIGN rule 1).
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from applications import selectors as portal
from applications.api import ID, PortalViewSet, _errors, _valid
from applications.models import Application, Call
from measures.selectors import version_current
from qianhai_grants.errors import DomainError
from reviews import selectors
from reviews.api import serializers as s
from reviews.screening import screening_checklist
from reviews.selectors_office import application_audit, project_of
from reviews.services import decisions


def require_staff(user) -> None:
    """Staff actions: anyone else who can see the object hears 403 (management included)."""
    if not portal.is_staff_officer(user):
        raise DomainError("forbidden", _("Only staff can do this."), status=403)


def require_reader(user) -> None:
    """The back office's reads: staff and management."""
    if not portal.reads_everything(user):
        raise DomainError("forbidden", _("Only staff and management can see this."),
                          status=403)


class OfficeViewSet(PortalViewSet):
    """Token or session authentication (anonymous: 401), ids of digits, the site's throttles."""

    lookup_value_regex = ID


# ---------------------------------------------------------------- applications

DECISION = {200: s.DecisionResult, **_errors(400, 401, 403, 404, 409)}


class ApplicationDecisionViewSet(OfficeViewSet):
    """Decisions on one application. Registered under `applications/` beside the portal's
    viewset: it has only detail actions, so only their routes are made."""

    serializer_class = s.DecisionResult
    action_serializers = {"approve": s.ApproveRequestBody, "decline": s.DeclineRequestBody,
                          "reserve": s.DecisionReason}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Application.objects.none()
        return portal.applications_visible_to(self.request.user)

    def _staff_application(self):
        application = self.get_object()
        require_staff(self.request.user)
        return application

    def _result(self, application) -> Response:
        return Response(s.DecisionResult(application).data)

    @extend_schema(request=s.ApproveRequestBody, responses=DECISION)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Propose for an award (`proposed`) with the engine's amount, or a lower `amount`;
        409 `annual_quota_full`, `cumulative_cap_reached`, `already_awarded_once`,
        `invalid_transition`."""
        application = self._staff_application()
        data = _valid(s.ApproveRequestBody, request)
        amount = data.get("amount")
        application = decisions.application_approve(
            by=request.user, application=application,
            amount=None if amount is None else f"{amount:f}", reason=data.get("reason", ""))
        return self._result(application)

    @extend_schema(request=s.DeclineRequestBody, responses=DECISION)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        """Not selected (`declined`); `reason` is required and the company reads it."""
        application = self._staff_application()
        data = _valid(s.DeclineRequestBody, request)
        return self._result(decisions.application_decline(
            by=request.user, application=application, reason=data["reason"]))

    @extend_schema(request=s.DecisionReason, responses=DECISION)
    @action(detail=True, methods=["post"])
    def reserve(self, request, pk=None):
        """Put a reviewed application on the reserve list (`reserve`)."""
        application = self._staff_application()
        data = _valid(s.DecisionReason, request)
        return self._result(decisions.application_reserve(
            by=request.user, application=application, reason=data.get("reason", "")))

    @extend_schema(request=None, responses={200: s.Checklist, **_errors(401, 403, 404)})
    @action(detail=True, methods=["get"])
    def checklist(self, request, pk=None):
        """The formal screening (形式審查) checklist: documents, eligibility conditions, the
        company's registration in Qianhai. Staff and management."""
        application = self.get_object()
        require_reader(request.user)
        items = [item.as_dict() for item in screening_checklist(application)]
        return Response(s.Checklist({"application": application.pk,
                                     "ok": all(item["ok"] for item in items),
                                     "items": items}).data)

    @extend_schema(request=None, responses={200: s.AuditRow(many=True),
                                            **_errors(401, 403, 404)})
    @action(detail=True, methods=["get"])
    def audit(self, request, pk=None):
        """The application's whole history in time order: status changes and everything the
        back office did (assignments, scores, decisions, objections, payments). Staff and
        management."""
        application = self.get_object()
        require_reader(request.user)
        page = self.paginate_queryset(application_audit(application))
        return self.get_paginated_response(s.AuditRow(page, many=True).data)


# ---------------------------------------------------------------- calls

class CallDecisionViewSet(OfficeViewSet):
    """A call's ranking and the decisions made on it as a whole. Registered under `calls/`
    beside the portal's viewset, with detail actions only."""

    serializer_class = s.Ranking
    action_serializers = {"rank_and_fill": s.RankAndFillRequest}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Call.objects.none()
        return portal.calls_visible()

    @extend_schema(request=None, responses={200: s.Ranking, **_errors(401, 403, 404)})
    @action(detail=True, methods=["get"])
    def ranking(self, request, pk=None):
        """The reviewed applications by aggregate score (best first; ties to the earlier
        submission), decided ones beside the waiting ones, with the annual quota's use.
        Staff and management."""
        call = self.get_object()
        require_reader(request.user)
        version = version_current(measure=call.measure)
        quota = decisions.quota_use(measure=call.measure, funding_year=call.funding_year,
                                    quota=version.annual_quota if version else None)
        rows = [s.ranking_row(rank, application, project_of(application))
                for rank, application in enumerate(selectors.call_ranking(call=call), start=1)]
        return Response(s.Ranking({
            "call": call.pk, "measure": s.measure_json(call.measure),
            "funding_year": call.funding_year, "quota": quota, "results": rows}).data)

    @extend_schema(request=s.RankAndFillRequest,
                   responses={200: s.RankAndFillOutcome, **_errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"], url_path="rank-and-fill", url_name="rank-and-fill")
    def rank_and_fill(self, request, pk=None):
        """Propose the top of the ranking while the quota lasts (or `count`), the next
        `reserve` to the reserve list, the rest declined; answers with the ids of each."""
        call = self.get_object()
        require_staff(request.user)
        data = _valid(s.RankAndFillRequest, request)
        outcome = decisions.call_rank_and_fill(by=request.user, call=call,
                                               count=data.get("count"),
                                               reserve=data.get("reserve"))
        return Response(s.RankAndFillOutcome(outcome).data)

    @extend_schema(request=None, responses={200: s.DecisionResult,
                                            **_errors(401, 403, 404, 409)})
    @action(detail=True, methods=["post"], url_path="promote-reserve",
            url_name="promote-reserve")
    def promote_reserve(self, request, pk=None):
        """Propose the best-ranked application of the reserve list once a slot is free;
        409 `reserve_empty` or `annual_quota_full`."""
        call = self.get_object()
        require_staff(request.user)
        application = decisions.call_promote_reserve(by=request.user, call=call)
        return Response(s.DecisionResult(application).data)


def register(router) -> None:
    """Add the decisions, 公示 and awards viewsets to the router."""
    from reviews.api import awards, publicity

    router.register("applications", ApplicationDecisionViewSet,
                    basename="api-application-decision")
    router.register("calls", CallDecisionViewSet, basename="api-call-decision")
    publicity.register(router)
    awards.register(router)
