"""`GET /api/v1/reports/summary/` (API.md): the dashboard's figures for staff and management,
filtered by `funding_year` (or `year`), `pillar` and `measure` as the dashboard is.

Anonymous: 401; anyone but staff and management: 403; an invalid filter: 400 naming the
parameter. The figures are `reports.selectors.report_summary`'s, read in a fixed number of
queries; money as decimal strings with two places, medians as decimal strings of days.
"""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from applications.api import _errors
from applications.models import Status
from measures.models import Pillar
from qianhai_grants.errors import DomainError
from qianhai_grants.roles import can_read_everything
from reports.filters import ReportFilter
from reports.selectors import FUNNEL, STATUSES, report_summary
from reviews.models import ObjectionState


def _money(**kwargs):
    return serializers.DecimalField(max_digits=16, decimal_places=2, **kwargs)


def _days(**kwargs):
    return serializers.DecimalField(max_digits=9, decimal_places=1, allow_null=True, **kwargs)


def _counts(name: str, keys, help_text: str = ""):
    """An object of whole numbers with one fixed key per status or state."""
    return type(name, (serializers.Serializer,), {
        key: serializers.IntegerField(help_text=help_text) for key in keys})


ReportStatusCounts = _counts("ReportStatusCounts", (s.value for s in STATUSES),
                             "Applications in this status now.")
ReportFunnel = _counts("ReportFunnel", (s.value for s in FUNNEL),
                       "Applications that ever entered this stage.")
ReportObjections = _counts("ReportObjections",
                           ["total", *(state.value for state in ObjectionState)])


class ReportMeasure(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(help_text="In the request's language.")
    pillar = serializers.ChoiceField(choices=Pillar.choices)


class ReportAwards(serializers.Serializer):
    count = serializers.IntegerField(help_text="Standing awards: proposed, in public notice or "
                                               "final, not released.")
    amount = _money()
    final_count = serializers.IntegerField(help_text="Awards whose public notice ended.")
    final_amount = _money()
    paid = _money()
    capped = serializers.IntegerField(help_text="Standing awards limited by a cap.")
    released = serializers.IntegerField(help_text="Awards undone (an objection upheld, a "
                                                  "withdrawal): not counted above.")


class ReportGroupAwards(ReportAwards):
    largest = _money(allow_null=True)


class ReportQuota(serializers.Serializer):
    quota = serializers.IntegerField(allow_null=True, help_text="null: the measure has none.")
    used = serializers.IntegerField()
    left = serializers.IntegerField(allow_null=True)


class ReportCaps(serializers.Serializer):
    per_award_cap = _money(allow_null=True)
    cumulative_cap = _money(allow_null=True)
    annual_ceiling = _money(allow_null=True, help_text="The annual quota times the cap per "
                                                       "award: the most a year can cost.")


class ReportGroup(serializers.Serializer):
    funding_year = serializers.IntegerField()
    measure = ReportMeasure()
    applications = serializers.IntegerField()
    statuses = ReportStatusCounts()
    funnel = ReportFunnel()
    reserve = serializers.IntegerField(help_text="Applications on the reserve list.")
    awards = ReportGroupAwards()
    quota = ReportQuota()
    caps = ReportCaps()
    objections = ReportObjections()


class ReportTotals(serializers.Serializer):
    applications = serializers.IntegerField()
    statuses = ReportStatusCounts()
    funnel = ReportFunnel()
    reserve = serializers.IntegerField()
    awards = ReportAwards()
    objections = ReportObjections()


class ReportNamed(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ReportPlatform(serializers.Serializer):
    measure = ReportMeasure()
    company = ReportNamed()
    subject = serializers.CharField(help_text="The platform, as compared (case and spaces "
                                              "ignored).")
    awards = serializers.IntegerField()
    committed = _money()
    cap = _money()
    left = _money()
    percent = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True,
                                       help_text="Share of the cap used.")


class ReportPlatforms(serializers.Serializer):
    count = serializers.IntegerField()
    committed = _money()
    at_cap = serializers.IntegerField()
    rows = ReportPlatform(many=True, help_text="The platforms nearest their cap first (at most "
                                               "50).")


class ReportStage(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)
    label = serializers.CharField()
    median_days = _days()
    count = serializers.IntegerField(help_text="How many times an application left this stage.")


class ReportReviewer(serializers.Serializer):
    reviewer = ReportNamed()
    assigned = serializers.IntegerField()
    submitted = serializers.IntegerField()
    open = serializers.IntegerField(help_text="Assigned, the application still in review.")
    recused = serializers.IntegerField()
    median_turnaround_days = _days()


class ReportFilterEcho(serializers.Serializer):
    funding_year = serializers.IntegerField(allow_null=True)
    pillar = serializers.CharField(allow_blank=True)
    measure = serializers.CharField(allow_blank=True)


class ReportSummary(serializers.Serializer):
    filter = ReportFilterEcho()
    groups = ReportGroup(many=True, help_text="Per funding year and measure, newest year first.")
    totals = ReportTotals()
    platforms = ReportPlatforms()
    stages = ReportStage(many=True)
    reviewers = ReportReviewer(many=True)


PARAMETERS = [
    OpenApiParameter("funding_year", OpenApiTypes.INT, description="A funding year."),
    OpenApiParameter("year", OpenApiTypes.INT, description="The same as `funding_year`."),
    OpenApiParameter("pillar", OpenApiTypes.STR, enum=Pillar.values),
    OpenApiParameter("measure", OpenApiTypes.STR, description="A measure's code."),
]


class SummaryView(APIView):
    """The dashboard's figures."""

    # Token first: an anonymous request then hears 401 (with WWW-Authenticate), not 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [AnonRateThrottle, UserRateThrottle]

    @extend_schema(operation_id="reports_summary", parameters=PARAMETERS,
                   responses={200: ReportSummary, **_errors(400, 401, 403, 429)})
    def get(self, request):
        """Applications by stage and status, awards against the annual quota and caps,
        platforms against their cumulative cap, the reserve list, median days per stage,
        reviewer workload and turnaround, objections: per funding year and measure."""
        if not can_read_everything(request.user):
            raise DomainError("forbidden", _("Only staff and management can see this."),
                              status=403)
        report_filter, form = ReportFilter.from_data(request.query_params)
        if form.errors:
            raise DomainError("invalid", _("The filter is not valid."), status=400,
                              fields=_named_as_sent(form.errors, request.query_params))
        summary = report_summary(user=request.user, filter=report_filter)
        f = summary["filter"]
        return Response(ReportSummary({
            **summary, "filter": {"funding_year": f.year, "pillar": f.pillar,
                                  "measure": f.measure}}).data)


def _named_as_sent(errors, params) -> dict:
    """Form errors keyed as the client wrote the parameter (`year` for `funding_year`)."""
    fields = {name: list(messages) for name, messages in errors.items()}
    if "funding_year" in fields and "year" in params and "funding_year" not in params:
        fields["year"] = fields.pop("funding_year")
    return fields
