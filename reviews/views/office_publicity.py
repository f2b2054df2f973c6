"""A 公示 (public notice) in the back office, with its objections and their resolution; and the
list of awards with what is paid and what is left to pay."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from qianhai_grants.errors import DomainError
from reviews.forms import AwardFilter, ResolveForm
from reviews.models import Award, ObjectionState, Publicity
from reviews.services.publicity import (
    objection_resolve,
    publicity_ends_at,
    publicity_is_open,
    publicity_title,
)
from reviews.views.office_common import can_act, office_action, office_view, refused

PAGE_SIZE = 50


def _notice(pk):
    return get_object_or_404(Publicity.objects.select_related("call__measure", "opened_by",
                                                              "finalized_by"), pk=pk)


def _page(request, notice, *, status=200, forms=None):
    forms = forms or {}
    objections = list(notice.objections.select_related("application__company", "resolved_by"))
    return render(request, "reviews/office/publicity.html", {
        "notice": notice, "title": publicity_title(notice), "can_act": can_act(request.user),
        "section": "calls",
        "is_open": publicity_is_open(notice), "ends_at": publicity_ends_at(notice),
        "entries": list(notice.entries.select_related("application")),
        "objections": [{"objection": o, "open": o.state == ObjectionState.OPEN,
                        "form": forms.get(o.pk) or ResolveForm(prefix=f"o{o.pk}")}
                       for o in objections],
        "open_objections": sum(o.state == ObjectionState.OPEN for o in objections),
    }, status=status)


@office_view
def publicity_detail(request, pk):
    return _page(request, _notice(pk))


@office_action
def objection_resolve_view(request, pk, objection_pk):
    notice = _notice(pk)
    objection = get_object_or_404(notice.objections, pk=objection_pk)
    form = ResolveForm(request.POST, prefix=f"o{objection.pk}")
    if not form.is_valid():
        return _page(request, notice, status=400, forms={objection.pk: form})
    try:
        objection_resolve(by=request.user, objection=objection,
                          upheld=form.cleaned_data["upheld"], note=form.cleaned_data["note"])
    except DomainError as exc:
        return _page(request, notice, status=refused(request, form, exc),
                     forms={objection.pk: form})
    if form.cleaned_data["upheld"]:
        messages.success(request, _(
            "The objection is upheld: the application is rejected and its award released."))
    else:
        messages.success(request, _("The objection is dismissed: the award stays."))
    return redirect(reverse("office-publicity", args=[notice.pk]) + "#objections")


@office_view
def awards(request):
    base = (Award.objects.filter(released_at__isnull=True)
            .select_related("application__company", "application__call__measure")
            .annotate(left=F("amount") - F("paid"))
            .order_by("-decided_at", "-pk"))
    found = AwardFilter(request.GET or None, queryset=base)
    totals = found.qs.aggregate(amount=Sum("amount"), paid=Sum("paid"))
    page = Paginator(found.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "reviews/office/awards.html", {
        "can_act": can_act(request.user), "section": "awards", "filter": found, "page": page,
        "totals": {"amount": totals["amount"] or 0, "paid": totals["paid"] or 0,
                   "left": (totals["amount"] or 0) - (totals["paid"] or 0)},
    })


urlpatterns = [
    path("office/publicity/<int:pk>/", publicity_detail, name="office-publicity"),
    path("office/publicity/<int:pk>/objections/<int:objection_pk>/resolve/",
         objection_resolve_view, name="office-objection-resolve"),
    path("office/awards/", awards, name="office-awards"),
]
