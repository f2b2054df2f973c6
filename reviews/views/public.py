"""The public 公示 pages (/publicity/): every notice with its list of proposed awards, and, while
a notice is open, a signed objection form. No login; never another person's objection or
contact details on these pages. Objections are written through reviews.services.publicity."""

import time

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from rest_framework.throttling import BaseThrottle

from applications.forms import add_service_errors
from qianhai_grants.errors import DomainError
from reviews.forms_reviewing import ObjectionForm
from reviews.models import Publicity
from reviews.services.publicity import (
    objection_file,
    publicity_ends_at,
    publicity_is_open,
    publicity_title,
)

# At most this many objections from one address per hour: enough for anyone who objects in good
# faith to several lines, and a stop to a script filling the Authority's queue.
OBJECTIONS_PER_HOUR = 20
HOUR = 3600


def rate_limited(request, *, scope: str, limit: int, window: int = HOUR) -> bool:
    """Count one request of this client (by address, behind as many proxies as DRF's
    NUM_PROXIES says) in a fixed window; True once it goes over `limit`. The count lives in
    the shared cache (Redis in production), so every web process sees the same one."""
    ident = BaseThrottle().get_ident(request)
    key = f"ratelimit:{scope}:{ident}:{int(time.time() // window)}"
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        count = 1
    return count > limit


def _notices():
    return (Publicity.objects.select_related("call__measure")
            .prefetch_related("entries").order_by("-opened_at", "-pk"))


def _state(publicity) -> tuple[str, str]:
    """The notice's state, as a code for its badge and a label in the reader's language."""
    if publicity_is_open(publicity):
        return "open", _("Open for objections")
    if publicity.finalized_at is not None:
        return "finalized", _("Finalized")
    return "ended", _("Ended")


def _item(publicity) -> dict:
    code, label = _state(publicity)
    return {"notice": publicity, "title": publicity_title(publicity),
            "measure": publicity.call.measure.name, "state": code, "state_label": label,
            "ends_at": publicity_ends_at(publicity), "entries": list(publicity.entries.all())}


def publicity_list(request):
    items = [_item(p) for p in _notices()]
    return render(request, "reviews/public/publicity_list.html", {
        "open": [i for i in items if i["state"] == "open"],
        "past": [i for i in items if i["state"] != "open"]})


def _detail(request, item, *, form=None, closed=False, status=200):
    if item["state"] == "open" and form is None:
        form = ObjectionForm(item["entries"])
    return render(request, "reviews/public/publicity_detail.html", {
        **item, "form": form if item["state"] == "open" and not closed else None,
        "closed": closed},
        status=status)


def publicity_detail(request, pk):
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    publicity = get_object_or_404(_notices(), pk=pk)
    item = _item(publicity)
    if request.method != "POST":
        return _detail(request, item)
    if rate_limited(request, scope="objection", limit=OBJECTIONS_PER_HOUR):
        return render(request, "reviews/public/too_many.html", {"notice": publicity,
                                                                "title": item["title"]},
                      status=429)
    if item["state"] != "open":
        return _detail(request, item, closed=True, status=409)
    form = ObjectionForm(item["entries"], request.POST)
    if not form.is_valid():
        return _detail(request, item, form=form, status=400)
    try:
        objection_file(publicity=publicity, **form.service_kwargs())
    except DomainError as exc:
        if exc.code == "publicity_closed":  # it ended (or was finalized) a moment ago
            publicity.refresh_from_db()
            return _detail(request, _item(publicity), closed=True, status=409)
        add_service_errors(form, exc.fields or {None: [exc.message]})
        return _detail(request, item, form=form, status=exc.status)
    messages.success(request, _(
        "Thank you. Your objection is recorded: the Authority examines it before the awards "
        "are final, and may contact you."))
    return redirect("publicity-detail", pk=publicity.pk)


urlpatterns = [
    path("publicity/", publicity_list, name="publicity-list"),
    path("publicity/<int:pk>/", publicity_detail, name="publicity-detail"),
]
