"""The exports' pages (/reports/exports/): staff and management ask for an export of the
applications or awards, as CSV or XLSX, with the dashboard's filters; a small one downloads at
once, a larger one runs in the background and its page shows the progress (polled every two
seconds with htmx while it runs) and the download link when ready. "My exports" lists one's own.

The rule of what is answered at once and what becomes a job is `reports.services`'. Language:
the headers and labels of an export are in the page's language when it was asked for.
"""

from functools import wraps

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from measures.models import Measure, Pillar
from qianhai_grants.errors import DomainError
from qianhai_grants.i18n import current_language, localized
from qianhai_grants.roles import can_read_everything, is_staff_officer
from reports import exports, services
from reports.exports.selectors import export_jobs_of, export_jobs_visible_to
from reports.filters import ReportFilter, ReportFilterForm
from reports.models import ExportFormat, ExportKind


class ExportForm(ReportFilterForm):
    """What to export, and the dashboard's filters."""

    kind = forms.ChoiceField(label=gettext_lazy("Export"), choices=ExportKind.choices,
                             initial=ExportKind.APPLICATIONS)
    format = forms.ChoiceField(label=gettext_lazy("Format"), choices=ExportFormat.choices,
                               initial=ExportFormat.CSV, widget=forms.RadioSelect)

    field_order = ["kind", "format", "funding_year", "pillar", "measure"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The catalogue's names in the page's language (the API takes a code).
        measures = Measure.objects.only("code", "name_zh_hans", "name_zh_hant", "name_en") \
            .order_by("order", "code")
        self.fields["measure"].widget = forms.Select(choices=[
            ("", _("All measures")), *((m.code, localized(m.names)) for m in measures)])


def reader_view(view):
    """Staff and management: the login page for anonymous visitors, 403 for anyone else."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not can_read_everything(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _page(request, form, status=200):
    return render(request, "reports/exports.html", {
        "form": form, "jobs": export_jobs_of(request.user),
        "direct_max": settings.REPORTS_DIRECT_EXPORT_MAX_ROWS,
        "ttl_days": max(1, settings.REPORTS_EXPORT_TTL // 86_400),
    }, status=status)


def _filters(job) -> list[tuple[str, str]]:
    """The job's filters as the page shows them (labels and names in the page's language)."""
    filters, shown = job.filters or {}, []
    if filters.get("funding_year"):
        shown.append((_("Funding year"), str(filters["funding_year"])))
    if filters.get("pillar"):
        shown.append((_("Pillar"), str(dict(Pillar.choices).get(filters["pillar"],
                                                                 filters["pillar"]))))
    if filters.get("measure"):
        measure = Measure.objects.filter(code=filters["measure"]).first()
        shown.append((_("Measure"), measure.name if measure else filters["measure"]))
    return shown


@require_http_methods(["GET", "HEAD", "POST"])
@reader_view
def export_list(request):
    """GET: the form and one's exports. POST (the dashboard's buttons post here too): the
    file at once, or a job and its page."""
    if request.method != "POST":
        return _page(request, ExportForm(initial=request.GET.dict()))
    form = ExportForm(request.POST)
    report_filter, filter_form = ReportFilter.from_data(request.POST)
    if not form.is_valid() or filter_form.errors:
        return _page(request, form, status=400)
    kind, format = form.cleaned_data["kind"], form.cleaned_data["format"]
    language = current_language()
    try:
        job = services.export_request(by=request.user, kind=kind, format=format,
                                      filter=report_filter, language=language)
    except DomainError as exc:
        if exc.status == 403:
            raise PermissionDenied(str(exc.message)) from None
        form.add_error(None, exc.message)
        return _page(request, form, status=exc.status)
    if job is None:
        return exports.direct_response(kind=kind, format=format, filter=report_filter,
                                       language=language)
    return redirect(reverse("reports-export", args=[job.pk]), permanent=False)


@require_safe
@login_required
def export_detail(request, pk):
    """A job's page; with htmx, its progress section alone (what the page polls). 404 for
    anyone but its requester and staff (`export_jobs_visible_to`)."""
    job = get_object_or_404(export_jobs_visible_to(request.user).select_related(
        "requested_by"), pk=pk)
    context = {"job": job, "mine": job.requested_by_id == request.user.pk,
               "show_error": is_staff_officer(request.user)}
    if request.htmx:
        return render(request, "reports/_export_job.html", context)
    return render(request, "reports/exports_job.html", {**context, "filters": _filters(job)})


@require_safe
@login_required
def export_download(request, pk):
    """The file of a finished job: its requester and staff; 404 for anyone else."""
    job = get_object_or_404(export_jobs_visible_to(request.user), pk=pk)
    try:
        handle = services.export_open(by=request.user, job=job)
    except DomainError:
        raise Http404 from None
    return exports.stored_response(job, handle)


urlpatterns = [
    path("exports/", export_list, name="reports-exports"),
    path("exports/<int:pk>/", export_detail, name="reports-export"),
    path("exports/<int:pk>/download/", export_download, name="reports-export-download"),
]
