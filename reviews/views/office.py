"""The back office (/office/): staff screen, assign, decide, publish and pay; management reads
the same pages without a single action. Every write goes through the services (DESIGN rule 1),
every list is read through the scoped selectors (rule 6).

This module holds the home page and the applications list; the rest lives beside it
(office_application, office_calls) and its urlpatterns are concatenated here."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Value, Window
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from applications import selectors as application_selectors
from applications.models import Call, Status
from applications.services import application_screen
from qianhai_grants.errors import DomainError
from reviews.forms import ApplicationFilter
from reviews.models import Award, ObjectionState, Publicity, Review, ReviewState
from reviews.views import office_application, office_batches, office_calls
from reviews.views.office_common import (
    can_act,
    office_action,
    office_view,
    project_of,
    safe_next,
)

QUEUE_ROWS = 5
PAGE_SIZE = 50


def _first_rows(queryset) -> tuple[list, int]:
    """The first rows of a queue and its length, in one query (a window count)."""
    rows = list(queryset.annotate(queue_total=Window(Count("pk")))[:QUEUE_ROWS])
    return rows, (rows[0].queue_total if rows else 0)


def _queue(user, status, order=("submitted_at", "pk")):
    return application_selectors.applications_visible_to(user).filter(status=status).order_by(
        *order)


@office_view
def home(request):
    user = request.user
    to_screen, to_screen_total = _first_rows(_queue(user, Status.SUBMITTED))
    to_assign, to_assign_total = _first_rows(_queue(user, Status.ACCEPTED))
    reviews_in = (Review.objects.filter(application=OuterRef("pk"), state=ReviewState.SUBMITTED)
                  .order_by().values("application").annotate(n=Count("pk")).values("n"))
    reviews_active = (Review.objects.filter(application=OuterRef("pk"),
                                            state__in=(ReviewState.ASSIGNED,
                                                       ReviewState.SUBMITTED))
                      .order_by().values("application").annotate(n=Count("pk")).values("n"))
    in_review, in_review_total = _first_rows(_queue(user, Status.IN_REVIEW).annotate(
        reviews_in=Coalesce(Subquery(reviews_in, output_field=IntegerField()), Value(0)),
        reviews_active=Coalesce(Subquery(reviews_active, output_field=IntegerField()),
                                Value(0))))
    to_decide = list(Call.objects.select_related("measure")
                     .filter(applications__status=Status.REVIEWED)
                     .annotate(reviewed=Count("applications"))
                     .order_by("-funding_year", "measure__order", "pk"))
    notices = list(Publicity.objects.filter(finalized_at__isnull=True)
                   .select_related("call__measure")
                   .annotate(open_objections=Count("objections", distinct=True, filter=Q(
                       objections__state=ObjectionState.OPEN)),
                       entries_count=Count("entries", distinct=True))
                   .order_by("ends_on", "pk"))
    to_pay, to_pay_total = _first_rows(
        Award.objects.filter(application__status=Status.AWARDED, released_at__isnull=True,
                             paid__lt=F("amount"))
        .select_related("application__company", "application__call__measure")
        .annotate(left=F("amount") - F("paid"))
        .order_by("awarded_at", "pk"))
    return render(request, "reviews/office/home.html", {
        "can_act": can_act(user), "section": "home",
        "to_screen": to_screen, "to_screen_total": to_screen_total,
        "to_assign": to_assign, "to_assign_total": to_assign_total,
        "in_review": in_review, "in_review_total": in_review_total,
        "to_decide": to_decide, "to_decide_total": sum(c.reviewed for c in to_decide),
        "notices": notices,
        "to_pay": to_pay, "to_pay_total": to_pay_total,
    })


@office_view
def applications(request):
    """Every submitted application, filtered and paginated; staff accept checked rows in bulk."""
    base = application_selectors.applications_visible_to(request.user).order_by(
        "-submitted_at", "-pk")
    found = ApplicationFilter(request.GET or None, queryset=base)
    page = Paginator(found.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"application": a, "project": project_of(a)} for a in page.object_list]
    return render(request, "reviews/office/applications.html", {
        "can_act": can_act(request.user), "section": "applications", "filter": found,
        "page": page, "rows": rows,
        "selectable": any(row["application"].status == Status.SUBMITTED for row in rows),
    })


@office_action
def applications_accept(request):
    """Accept (受理) the checked submitted applications, one by one through the screening
    service; say how many were accepted and why the others were not."""
    ids = sorted({int(value) for value in request.POST.getlist("ids")
                  if value.isdigit() and len(value) < 16})
    back = safe_next(request, reverse("office-applications"))
    if not ids:
        messages.warning(request, _("Check the applications to accept first."))
        return redirect(back)
    visible = {a.pk: a for a in application_selectors.applications_visible_to(
        request.user).filter(pk__in=ids)}
    accepted, problems = 0, []
    for pk in ids:
        application = visible.get(pk)
        if application is None:
            problems.append(_("#%(id)s: not found.") % {"id": pk})
            continue
        try:
            application_screen(by=request.user, application=application, to=Status.ACCEPTED)
        except DomainError as exc:
            problems.append(_("#%(id)s: %(message)s") % {"id": pk, "message": exc.message})
        else:
            accepted += 1
    if accepted:
        messages.success(request, _("%(count)d applications accepted.") % {"count": accepted})
    for problem in problems:
        messages.error(request, problem)
    return redirect(back)


urlpatterns = [
    path("office/", home, name="office-home"),
    path("office/applications/", applications, name="office-applications"),
    path("office/applications/accept/", applications_accept, name="office-applications-accept"),
    *office_application.urlpatterns,
    *office_calls.urlpatterns,
    *office_batches.urlpatterns,
]
