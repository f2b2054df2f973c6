"""The dashboard (/reports/): staff and management read the figures of `report_summary`, filtered
by funding year, pillar and measure.

Every chart has a table beside it holding the same figures (the tables are the accessible
version, and the page's content without JavaScript). The charts' data reaches static/js/
dashboard.js through `json_script` (CSP: no inline script), with every label already translated
here; money travels as decimal strings and is only turned into numbers to draw.
"""

from django import forms
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _

from applications.models import Status
from measures.models import Measure
from qianhai_grants.i18n import localized
from qianhai_grants.money import format_money
from reports.filters import ReportFilter
from reports.selectors import FUNNEL, report_summary
from reviews.models import ObjectionState
from reviews.views.office_common import office_view

# The charts show the first rows of a long list; the tables beside them show every row.
CHART_ROWS = 20


def _money(value) -> str | None:
    return None if value is None else format_money(value)


def _days(value) -> str | None:
    return None if value is None else f"{value:f}"


def _row_label(group) -> str:
    return f"{group['measure'].name} · {group['funding_year']}"


def _dataset(label: str, data: list, *, stack: str | None = None) -> dict:
    dataset = {"label": label, "data": data}
    if stack:
        dataset["stack"] = stack
    return dataset


def charts(summary: dict) -> dict:
    """What dashboard.js draws: per chart its type, axis, labels and datasets (translated)."""
    groups = summary["groups"]
    totals = summary["totals"]
    labels = [_row_label(g) for g in groups]
    platforms = summary["platforms"]["rows"][:CHART_ROWS]
    reviewers = summary["reviewers"][:CHART_ROWS]
    count, yuan, days = _("Applications"), _("Yuan"), _("Days")
    return {
        "funnel": {
            "type": "bar", "integer": True, "horizontal": True, "unit": count,
            "labels": [Status(s).label for s in FUNNEL],
            "datasets": [_dataset(count, [totals["funnel"][s] for s in FUNNEL])]},
        "quota": {
            "type": "bar", "integer": True, "horizontal": True, "stacked": True,
            "unit": _("Awards"), "labels": labels,
            "datasets": [
                _dataset(_("Quota used"), [g["quota"]["used"] for g in groups], stack="quota"),
                _dataset(_("Quota left"), [g["quota"]["left"] or 0 for g in groups],
                         stack="quota"),
                _dataset(_("On the reserve list"), [g["reserve"] for g in groups],
                         stack="reserve")]},
        "amounts": {
            "type": "bar", "horizontal": True, "unit": yuan, "labels": labels,
            "datasets": [
                _dataset(_("Awarded amount"), [_money(g["awards"]["amount"]) for g in groups]),
                _dataset(_("Most the annual quota can cost"),
                         [_money(g["caps"]["annual_ceiling"]) for g in groups])]},
        "platforms": {
            "type": "bar", "horizontal": True, "stacked": True, "unit": yuan,
            "labels": [row["subject"] for row in platforms],
            "datasets": [
                _dataset(_("Committed"), [_money(row["committed"]) for row in platforms]),
                _dataset(_("Left under the cap"), [_money(row["left"]) for row in platforms])]},
        "stages": {
            "type": "bar", "unit": days,
            "labels": [row["label"] for row in summary["stages"]],
            "datasets": [_dataset(_("Median days"),
                                  [_days(row["median_days"]) for row in summary["stages"]])]},
        "reviewers": {
            "type": "bar", "integer": True, "horizontal": True, "stacked": True,
            "unit": _("Reviews"),
            "labels": [row["reviewer"]["name"] for row in reviewers],
            "datasets": [
                _dataset(_("Scored"), [row["submitted"] for row in reviewers]),
                _dataset(_("To score"), [row["open"] for row in reviewers]),
                _dataset(_("Recused"), [row["recused"] for row in reviewers])]},
        "objections": {
            "type": "bar", "integer": True, "unit": _("Objections"),
            "labels": [state.label for state in ObjectionState],
            "datasets": [_dataset(_("Objections"), [totals["objections"][state.value]
                                                    for state in ObjectionState])]},
    }


def _filter_form(form):
    """The measure as a list of the catalogue's names in the active language (the form itself
    takes any code: the API shares it)."""
    measures = Measure.objects.only("code", "name_zh_hans", "name_zh_hant", "name_en") \
        .order_by("order", "code")
    form.fields["measure"].widget = forms.Select(choices=[
        ("", _("All measures")), *((m.code, localized(m.names)) for m in measures)])
    return form


def _funnel_rows(totals: dict) -> list[dict]:
    """Each stage with its share of the submitted applications (a percentage, one place)."""
    submitted = totals["funnel"][Status.SUBMITTED]
    return [{"status": s, "label": Status(s).label, "count": totals["funnel"][s],
             "percent": round(totals["funnel"][s] * 100 / submitted, 1) if submitted else None}
            for s in FUNNEL]


@office_view
def dashboard(request):
    report_filter, form = ReportFilter.from_data(request.GET)
    summary = report_summary(user=request.user, filter=report_filter)
    return render(request, "reports/dashboard.html", {
        "form": _filter_form(form), "summary": summary, "charts": charts(summary),
        "funnel": _funnel_rows(summary["totals"]),
        "statuses": [(s, Status(s).label, n) for s, n in summary["totals"]["statuses"].items()],
        "objection_states": list(ObjectionState),
        "chart_rows": CHART_ROWS,
        "filtered": bool(report_filter.as_query()),
    })


urlpatterns = [
    path("", dashboard, name="reports-dashboard"),
]
