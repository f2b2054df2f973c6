"""Exports in the API, for staff and management.

- `GET /api/v1/reports/{applications,awards}.{csv,xlsx}` (API.md): the file at once, with the
  dashboard's filters (`funding_year` or `year`, `pillar`, `measure`); 409 `export_too_large`
  above REPORTS_DIRECT_EXPORT_MAX_ROWS rows (5,000), for which:
- `POST /api/v1/reports/exports/` `{kind, format, funding_year, pillar, measure}` always makes a
  background job: 202 with the job and its `Location`;
- `GET /api/v1/reports/exports/{id}/`: its state and progress, and `download_url` once done;
- `GET /api/v1/reports/exports/{id}/download/`: the file;
- `GET /api/v1/reports/exports/`: one's own jobs, newest first.

A job is visible to its requester and to staff, 404 to anyone else (DESIGN rule 6); anyone but
staff and management hears 403. Errors are JSON whatever `Accept` asks for.
"""

from collections.abc import Mapping

from django.http import Http404
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from applications.api import FirstRendererNegotiation, PortalViewSet, _errors
from measures.models import Pillar
from qianhai_grants.errors import DomainError
from qianhai_grants.i18n import current_language
from qianhai_grants.roles import can_read_everything
from reports import exports, services
from reports.exports.selectors import export_jobs_visible_to
from reports.filters import ReportFilter
from reports.models import ExportFormat, ExportJob, ExportKind

FILTER_PARAMETERS = [
    OpenApiParameter("funding_year", OpenApiTypes.INT, description="A funding year."),
    OpenApiParameter("year", OpenApiTypes.INT, description="The same as `funding_year`."),
    OpenApiParameter("pillar", OpenApiTypes.STR, enum=Pillar.values),
    OpenApiParameter("measure", OpenApiTypes.STR, description="A measure's code."),
]


class CanExport(BasePermission):
    """Staff and management (the dashboard's readers)."""

    message = gettext_lazy("Only staff and management can export.")

    def has_permission(self, request, view):
        return bool(can_read_everything(request.user))


def _filter(data, *, named_as_sent: Mapping) -> ReportFilter:
    """The dashboard's filter from query parameters or a body; 400 naming the field."""
    report_filter, form = ReportFilter.from_data(data)
    if form.errors:
        fields = {name: list(messages) for name, messages in form.errors.items()}
        if "funding_year" in fields and "year" in named_as_sent and \
                "funding_year" not in named_as_sent:
            fields["year"] = fields.pop("funding_year")
        raise DomainError("invalid", _("The filter is not valid."), status=400, fields=fields)
    return report_filter


# ---------------------------------------------------------------- jobs

class ExportJobSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True, help_text="0 to 100.")
    filters = serializers.DictField(
        child=serializers.CharField(), read_only=True,
        help_text="The dashboard's filters applied: funding_year, pillar, measure (only those "
                  "given).")
    url = serializers.SerializerMethodField(help_text="This job.")
    download_url = serializers.SerializerMethodField(
        help_text="The file, once the job is done (null before, and after it expired).")

    class Meta:
        model = ExportJob
        fields = ["id", "kind", "format", "filters", "language", "state", "rows_total",
                  "rows_done", "percent", "file_name", "size", "created_at", "started_at",
                  "finished_at", "expires_at", "url", "download_url"]
        read_only_fields = fields

    def _absolute(self, name: str, pk: int) -> str:
        link = reverse(name, args=[pk])
        request = self.context.get("request")
        return request.build_absolute_uri(link) if request is not None else link

    def get_url(self, job) -> str:
        return self._absolute("api-report-export-detail", job.pk)

    def get_download_url(self, job) -> str | None:
        return self._absolute("api-report-export-download", job.pk) if job.is_ready else None


class ExportRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ExportKind.choices)
    format = serializers.ChoiceField(choices=ExportFormat.choices)
    funding_year = serializers.IntegerField(required=False, allow_null=True)
    year = serializers.IntegerField(required=False, allow_null=True,
                                    help_text="The same as `funding_year`.")
    pillar = serializers.ChoiceField(choices=Pillar.choices, required=False, allow_blank=True)
    measure = serializers.CharField(required=False, allow_blank=True,
                                    help_text="A measure's code.")


def _binary(description: str, formats=("csv", "xlsx")) -> dict:
    return {(200, exports.CONTENT_TYPES[f].split(";")[0]): OpenApiResponse(
        OpenApiTypes.BINARY, description=description) for f in formats}


class ExportJobViewSet(mixins.ListModelMixin, PortalViewSet):
    """Background exports."""

    serializer_class = ExportJobSerializer
    action_serializers = {"create": ExportRequestSerializer}
    permission_classes = [IsAuthenticated, CanExport]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ExportJob.objects.none()
        if self.action == "list":
            return ExportJob.objects.filter(requested_by=self.request.user)
        return export_jobs_visible_to(self.request.user)

    @extend_schema(responses={200: ExportJobSerializer(many=True), **_errors(401, 403, 429)})
    def list(self, request, *args, **kwargs):
        """Your export jobs, newest first."""
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ExportRequestSerializer,
                   responses={202: ExportJobSerializer, **_errors(400, 401, 403, 429)})
    def create(self, request):
        """Ask for an export of the applications or the awards as CSV or XLSX, with the
        dashboard's filters. It is written in the background: 202 with the job, whose URL is
        also in `Location`; poll it until `state` is `done`, then fetch `download_url`. Headers
        and labels are in the request's language."""
        if not isinstance(request.data, Mapping):
            raise DomainError("invalid", _("The request body must be a JSON object."),
                              status=400, fields={"body": [_("Expected a JSON object.")]})
        serializer = ExportRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        filter_data = {name: data[name] for name in ("funding_year", "year", "pillar", "measure")
                       if data.get(name) not in (None, "")}
        report_filter = _filter(filter_data, named_as_sent=filter_data)
        job = services.export_request(by=request.user, kind=data["kind"],
                                      format=data["format"], filter=report_filter,
                                      language=current_language(), background=True)
        body = ExportJobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": body["url"]})

    @extend_schema(responses={200: ExportJobSerializer, **_errors(401, 403, 404, 429)})
    def retrieve(self, request, pk=None):
        """An export job: its state (queued, running, done, failed, expired), its progress
        in rows, and `download_url` once done."""
        return Response(ExportJobSerializer(self.get_object(),
                                            context={"request": request}).data)

    @extend_schema(responses={**_binary("The export's file, as an attachment."),
                              **_errors(401, 403, 404, 429)})
    @action(detail=True, methods=["get"], content_negotiation_class=FirstRendererNegotiation)
    def download(self, request, pk=None):
        """The file of a finished export: 404 before it is done and after it expired."""
        job = self.get_object()
        try:
            handle = services.export_open(by=request.user, job=job)
        except DomainError:
            raise Http404 from None
        return exports.stored_response(job, handle)


# ---------------------------------------------------------------- at once

class _DirectExportView(APIView):
    # Token first: an anonymous request then hears 401 (with WWW-Authenticate), not 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, CanExport]
    throttle_classes = [AnonRateThrottle, UserRateThrottle]
    content_negotiation_class = FirstRendererNegotiation
    kind = ""
    format = ""

    def export(self, request):
        report_filter = _filter(request.query_params, named_as_sent=request.query_params)
        language = current_language()
        services.export_request(by=request.user, kind=self.kind, format=self.format,
                                filter=report_filter, language=language, background=False)
        return exports.direct_response(kind=self.kind, format=self.format,
                                       filter=report_filter, language=language)


def _direct_view(kind: str, format: str):
    what = {"applications": "applications (submitted ones: never a company's draft)",
            "awards": "awards (released ones included, with `released_at`)"}[kind]
    how = {"csv": "CSV in UTF-8 with a byte order mark, streamed; text cells a spreadsheet "
                  "would take for a formula start with a single quote",
           "xlsx": "an XLSX workbook: money as numbers with two places, times as "
                   "date-times"}[format]

    @extend_schema(operation_id=f"reports_{kind}_{format}", parameters=FILTER_PARAMETERS,
                   responses={**_binary(f"The {kind} as {format.upper()}, as an attachment.",
                                        (format,)),
                              **_errors(400, 401, 403, 409, 429)})
    def get(self, request):
        return self.export(request)

    get.__doc__ = (f"The {what}, with the dashboard's filters, as {how}; headers and labels "
                   "in the request's language, times in Asia/Shanghai time. 409 "
                   "`export_too_large` above the limit of a direct answer: ask for a "
                   "background export (`POST /api/v1/reports/exports/`).")
    name = f"{kind.title()}{format.title()}ExportView"
    return type(name, (_DirectExportView,), {"kind": kind, "format": format, "get": get,
                                             "__doc__": f"The {kind} as {format}."})


urlpatterns = [
    path(f"reports/{kind}.{format}", _direct_view(kind, format).as_view(),
         name=f"api-reports-{kind}-{format}")
    for kind in ExportKind.values for format in ExportFormat.values
]


def register(router) -> None:
    router.register("reports/exports", ExportJobViewSet, basename="api-report-export")

