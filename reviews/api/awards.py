"""The awards API (API.md): awards scoped to who asks, each with the rules, inputs and
calculation it was decided with, and its payments (recorded by staff, at once or in tranches)."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from applications.api import _errors, _valid
from reviews.api import serializers as s
from reviews.api.decisions import OfficeViewSet, require_staff
from reviews.models import Award
from reviews.selectors_office import award_payments, awards_visible_to
from reviews.services.payments import payment_record


class AwardViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OfficeViewSet):
    """Awards: a company's standing ones (proposed, in 公示, awarded), or (staff, management)
    every one; reviewers see none."""

    serializer_class = s.AwardRow
    action_serializers = {"retrieve": s.AwardDetail, "payments": s.PaymentRecordRequest,
                          "payments_record": s.PaymentRecordRequest}
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = s.AwardFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Award.objects.none()
        return awards_visible_to(self.request.user).order_by("-decided_at", "-pk")

    def filter_queryset(self, queryset):
        # Filters narrow the list; a detail or an action finds its award by id alone.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    @extend_schema(responses={200: s.AwardRow(many=True), **_errors(400, 401)})
    def list(self, request, *args, **kwargs):
        """Awards, newest decision first; `?call=`, `?funding_year=`, `?measure=` (a code)."""
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: s.AwardDetail, **_errors(401, 404)})
    def retrieve(self, request, *args, **kwargs):
        """An award with its rule parameters, inputs, calculation (as sentences in the
        request's language, and as raw steps) and payments."""
        return Response(s.AwardDetail(self.get_object()).data)

    @extend_schema(request=None, filters=False,
                   responses={200: s.PaymentRow(many=True), **_errors(401, 404)})
    @action(detail=True, methods=["get"])
    def payments(self, request, pk=None):
        """The award's payments, oldest first."""
        page = self.paginate_queryset(award_payments(self.get_object()))
        return self.get_paginated_response(s.PaymentRow(page, many=True).data)

    @extend_schema(request=s.PaymentRecordRequest,
                   responses={201: s.PaymentRow, **_errors(400, 401, 403, 404, 409)})
    @payments.mapping.post
    def payments_record(self, request, pk=None):
        """Record a payment of a final award (`amount`, `paid_on`, `reference`); 409
        `not_awarded`, `payment_exceeds_award`, `duplicate_payment`."""
        award = self.get_object()
        require_staff(request.user)
        data = _valid(s.PaymentRecordRequest, request)
        payment = payment_record(by=request.user, award=award,
                                 amount=f"{data['amount']:f}", paid_on=data["paid_on"],
                                 reference=data["reference"])
        return Response(s.PaymentRow(payment).data, status=201)


def register(router) -> None:
    router.register("awards", AwardViewSet, basename="api-award")
