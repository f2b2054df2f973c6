"""Calls in the back office: the list with counts per status, and a call's ranking with its
quota and the actions on the whole call (automatic assignment, rank-and-fill, the reserve list,
公示 and its finalizing)."""

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from applications import selectors as application_selectors
from applications.models import Application, Status
from measures.selectors import version_current
from qianhai_grants.errors import DomainError
from qianhai_grants.templatetags.grants import yuan
from reviews import selectors
from reviews.forms import PublicityOpenForm, RankFillForm
from reviews.services.assignments import call_auto_assign
from reviews.services.decisions import call_promote_reserve, call_rank_and_fill, quota_use
from reviews.services.publicity import (
    publicity_finalize,
    publicity_is_open,
    publicity_open,
)
from reviews.views import office_publicity
from reviews.views.office_common import (
    can_act,
    office_action,
    office_view,
    project_of,
    refused,
)

# The order statuses are counted in on the calls list (drafts are the companies' own).
COUNTED = [s for s in Status if s != Status.DRAFT]


def _call(pk):
    return get_object_or_404(application_selectors.calls_visible(), pk=pk)


@office_view
def calls(request):
    rows = list(application_selectors.calls_visible().order_by("-funding_year",
                                                               "measure__order", "pk"))
    counts: dict[int, dict[str, int]] = {}
    for call_id, status, n in (Application.objects.exclude(status=Status.DRAFT)
                               .values_list("call_id", "status").annotate(n=Count("pk"))
                               .order_by()):
        counts.setdefault(call_id, {})[status] = n
    return render(request, "reviews/office/calls.html", {
        "can_act": can_act(request.user), "section": "calls",
        "rows": [{"call": call, "total": sum(counts.get(call.pk, {}).values()),
                  "counts": [(Status(s), counts[call.pk][s]) for s in COUNTED
                             if counts.get(call.pk, {}).get(s)]}
                 for call in rows],
    })


def _call_context(request, call, forms: dict) -> dict:
    measure = call.measure
    version = version_current(measure=measure)
    ranking = list(selectors.call_ranking(call=call))
    counts = dict(Application.objects.filter(call=call).exclude(status=Status.DRAFT)
                  .values_list("status").annotate(n=Count("pk")).order_by())
    notices = list(call.publicities.order_by("-opened_at", "-pk"))
    return {
        "call": call, "measure": measure, "can_act": can_act(request.user), "section": "calls",
        "quota": quota_use(measure=measure, funding_year=call.funding_year,
                           quota=version.annual_quota if version is not None else None),
        "ranking": [{"rank": n, "application": a, "project": project_of(a)}
                    for n, a in enumerate(ranking, start=1)],
        "counts": [(Status(s), counts[s]) for s in COUNTED if counts.get(s)],
        "assignable": counts.get(Status.ACCEPTED, 0) + counts.get(Status.IN_REVIEW, 0),
        "reviewed": counts.get(Status.REVIEWED, 0),
        "reserve": counts.get(Status.RESERVE, 0),
        "proposed": counts.get(Status.PROPOSED, 0),
        "notices": [{"notice": p, "open": publicity_is_open(p)} for p in notices],
        "pending_notice": next((p for p in notices if p.finalized_at is None), None),
        "rank_form": forms.get("rank") or RankFillForm(),
        "publicity_form": forms.get("publicity") or PublicityOpenForm(),
    }


def _page(request, call, *, status=200, **forms):
    return render(request, "reviews/office/call.html", _call_context(request, call, forms),
                  status=status)


def _back(call):
    return redirect(reverse("office-call", args=[call.pk]))


@office_view
def call_detail(request, pk):
    return _page(request, _call(pk))


@office_action
def call_auto_assign_view(request, pk):
    call = _call(pk)
    try:
        outcome = call_auto_assign(by=request.user, call=call)
    except DomainError as exc:
        refused(request, None, exc)
        return _back(call)
    messages.success(request, _("%(count)d reviews assigned.") % {"count": outcome["assigned"]})
    if outcome["short"]:
        messages.warning(request, _(
            "Not enough eligible reviewers for: %(ids)s. Add reviewers to the pool or assign "
            "them by hand.") % {"ids": ", ".join(f"#{pk}" for pk in outcome["short"])})
    return _back(call)


@office_action
def call_rank_fill(request, pk):
    call = _call(pk)
    form = RankFillForm(request.POST)
    if not form.is_valid():
        return _page(request, call, status=400, rank=form)
    try:
        outcome = call_rank_and_fill(by=request.user, call=call,
                                     count=form.cleaned_data["count"],
                                     reserve=form.cleaned_data["reserve"])
    except DomainError as exc:
        return _page(request, call, status=refused(request, form, exc), rank=form)
    messages.success(request, _(
        "%(proposed)d proposed, %(reserve)d on the reserve list, %(declined)d not selected.")
        % {key: len(outcome[key]) for key in ("proposed", "reserve", "declined")})
    return _back(call)


@office_action
def call_promote(request, pk):
    call = _call(pk)
    try:
        promoted = call_promote_reserve(by=request.user, call=call)
    except DomainError as exc:
        refused(request, None, exc)
        return _back(call)
    messages.success(request, _("%(company)s is proposed for an award of %(amount)s yuan.") % {
        "company": promoted.company.name, "amount": yuan(promoted.amount)})
    return _back(call)


@office_action
def call_publicity_open(request, pk):
    call = _call(pk)
    form = PublicityOpenForm(request.POST)
    if not form.is_valid():
        return _page(request, call, status=400, publicity=form)
    try:
        notice = publicity_open(by=request.user, call=call,
                                working_days=form.cleaned_data["working_days"])
    except DomainError as exc:
        return _page(request, call, status=refused(request, form, exc), publicity=form)
    messages.success(request, _("The public notice is open from %(start)s until %(end)s.") % {
        "start": notice.starts_on.isoformat(), "end": notice.ends_on.isoformat()})
    return redirect(reverse("office-publicity", args=[notice.pk]))


@office_action
def call_finalize(request, pk):
    call = _call(pk)
    try:
        awarded = publicity_finalize(by=request.user, call=call)
    except DomainError as exc:
        return _page(request, call, status=refused(request, None, exc))
    messages.success(request, _("%(count)d awards are final.") % {"count": len(awarded)})
    return _back(call)


urlpatterns = [
    path("office/calls/", calls, name="office-calls"),
    path("office/calls/<int:pk>/", call_detail, name="office-call"),
    path("office/calls/<int:pk>/auto-assign/", call_auto_assign_view,
         name="office-call-auto-assign"),
    path("office/calls/<int:pk>/rank-and-fill/", call_rank_fill,
         name="office-call-rank-and-fill"),
    path("office/calls/<int:pk>/promote/", call_promote, name="office-call-promote"),
    path("office/calls/<int:pk>/publicity/", call_publicity_open,
         name="office-call-publicity-open"),
    path("office/calls/<int:pk>/finalize/", call_finalize, name="office-call-finalize"),
    *office_publicity.urlpatterns,
]
