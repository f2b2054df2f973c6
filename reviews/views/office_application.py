"""One application in the back office: everything known about it, and the actions staff take on
it (screening, assignment, decision, payment). Never shown to reviewers: they score blind, on
their own pages."""

import datetime
from itertools import chain

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from applications import selectors as application_selectors
from applications.models import Status, StatusEvent
from applications.services import application_screen
from applications.views import _inputs_for_display, _revisions
from measures.trace import render_trace
from qianhai_grants.errors import DomainError
from qianhai_grants.i18n import localized
from qianhai_grants.templatetags.grants import yuan
from reviews import selectors
from reviews.forms import (
    ApproveForm,
    AssignForm,
    DeclineForm,
    PaymentForm,
    ReserveForm,
    ScreenForm,
    reviewer_name,
)
from reviews.models import AuditEntry, Award, Scorecard
from reviews.screening import screening_checklist
from reviews.selectors_office import application_row_history
from reviews.services.assignments import ASSIGNABLE, review_assign
from reviews.services.decisions import (
    DECIDABLE,
    application_approve,
    application_decline,
    application_reserve,
)
from reviews.services.payments import payment_record
from reviews.services.scoring import DEFAULT_CRITERIA
from reviews.views.office_common import AUDIT_LABELS, can_act, office_action, office_view, refused

SCREENED = {
    Status.ACCEPTED: gettext_lazy("Application accepted (受理)."),
    Status.RETURNED: gettext_lazy("Application returned to the company for changes (補正)."),
    Status.REJECTED: gettext_lazy("Application rejected."),
}


def _application(request, pk):
    """An application staff and management may see (never a draft): 404 otherwise."""
    return get_object_or_404(application_selectors.applications_visible_to(request.user), pk=pk)


def _criteria(application) -> list[dict]:
    """The call's criteria; the defaults until the scorecard is made (a read makes nothing)."""
    scorecard = Scorecard.objects.filter(call_id=application.call_id).first()
    criteria = scorecard.criteria if scorecard is not None else DEFAULT_CRITERIA
    return [{"code": c["code"], "label": localized(c.get("labels")), "max": c["max_score"]}
            for c in criteria]


def _reviews(application, criteria) -> list[dict]:
    return [{"review": review, "name": reviewer_name(review.reviewer),
             "scores": [review.scores.get(c["code"]) for c in criteria],
             "comments": [(c["label"], review.comments[c["code"]]) for c in criteria
                          if review.comments.get(c["code"])]}
            for review in selectors.application_reviews_for_staff(application)]


def _documents(application) -> list[dict]:
    labels = {d["kind"]: localized(d.get("label")) for d in application.measure_version.documents}
    return [{"attachment": a, "label": labels.get(a.kind, a.kind)}
            for a in application.attachments.filter(removed_at__isnull=True)
            .order_by("kind", "uploaded_at")]


ROW_LABELS = {"row_insert": gettext_lazy("Record created"),
              "row_update": gettext_lazy("Record changed"),
              "row_delete": gettext_lazy("Record deleted")}


def _who(user) -> str:
    if user is None:
        return _("the system")
    return user.get_username()


def _history(application) -> list[dict]:
    """Status changes, what the services did and the row history the database recorded
    (PostgreSQL triggers: even a bulk update outside the services shows), merged by time."""
    events = [{"at": e.at, "who": _who(e.by), "event": e, "reason": e.reason}
              for e in StatusEvent.objects.filter(application=application).select_related("by")]
    audit = [{"at": a.at, "who": _who(a.by), "label": AUDIT_LABELS.get(a.action, a.action),
              "reason": a.reason, "amount": a.data.get("amount") if a.action in (
                  "approved", "payment_recorded", "award_released") else None}
             for a in AuditEntry.objects.filter(application=application).select_related("by")]
    rows = [{"at": r["at"], "who": r["by"] or _("the database"),
             "label": ROW_LABELS.get(r["kind"], r["kind"]), "reason": "",
             "changes": ", ".join(sorted(r["data"]["changes"])), "amount": None}
            for r in application_row_history(application)]
    return sorted(chain(events, audit, rows), key=lambda item: item["at"])


def _award(application):
    award = Award.objects.filter(application=application).select_related(
        "measure_version", "decided_by").first()
    if award is None:
        return None
    return {"award": award, "left": award.amount - award.paid,
            "trace": render_trace(award.trace, award.measure_version.field_labels()),
            "payments": list(award.payments.select_related("recorded_by"))}


def _context(request, application, forms: dict) -> dict:
    acting = can_act(request.user)
    status = application.status
    criteria = _criteria(application)
    assignable = status in ASSIGNABLE
    candidates = selectors.reviewer_candidates(application=application) \
        if acting and assignable else []
    return {
        "application": application, "can_act": acting, "section": "applications",
        "measure": application.call.measure, "version": application.measure_version,
        "inputs": _inputs_for_display(application.measure_version, application.inputs),
        "documents": _documents(application),
        "revisions": list(reversed(_revisions(application))),
        "checklist": screening_checklist(application) if status == Status.SUBMITTED else None,
        "criteria": criteria, "reviews": _reviews(application, criteria),
        "assessment": getattr(application, "assessment", None),
        "assignable": assignable, "decidable": status in DECIDABLE,
        "reservable": status == Status.REVIEWED,
        "award": _award(application),
        "payable": status == Status.AWARDED,
        "history": _history(application),
        "screen_form": forms.get("screen") or ScreenForm(),
        "assign_form": forms.get("assign") or AssignForm(candidates),
        "approve_form": forms.get("approve") or ApproveForm(),
        "decline_form": forms.get("decline") or DeclineForm(),
        "reserve_form": forms.get("reserve") or ReserveForm(),
        "payment_form": forms.get("payment") or PaymentForm(
            initial={"paid_on": timezone.localdate().isoformat()}),
    }


def _page(request, application, *, status=200, **forms):
    return render(request, "reviews/office/application.html",
                  _context(request, application, forms), status=status)


def _back(application, anchor=""):
    return redirect(reverse("office-application", args=[application.pk]) + anchor)


@office_view
def application_detail(request, pk):
    return _page(request, _application(request, pk))


@office_action
def application_screen_view(request, pk):
    application = _application(request, pk)
    form = ScreenForm(request.POST)
    if not form.is_valid():
        return _page(request, application, status=400, screen=form)
    to = form.cleaned_data["to"]
    try:
        application_screen(by=request.user, application=application, to=to,
                           reason=form.cleaned_data["reason"])
    except DomainError as exc:
        return _page(request, application, status=refused(request, form, exc), screen=form)
    messages.success(request, SCREENED[to])
    return _back(application)


def _due_at(day):
    if day is None:
        return None
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(23, 59)))


@office_action
def application_assign(request, pk):
    """Give the application to a reviewer. With htmx, the reviews section comes back alone (with
    its errors, answered 200 so that htmx swaps it in); without, the page as usual."""
    application = _application(request, pk)
    form = AssignForm(selectors.reviewer_candidates(application=application), request.POST)
    status = 200
    if form.is_valid():
        try:
            review = review_assign(by=request.user, application=application,
                                   reviewer=form.cleaned_data["reviewer"],
                                   due_at=_due_at(form.cleaned_data["due_on"]))
        except DomainError as exc:
            if "due_at" in exc.fields:  # the form asks for a day
                exc.fields["due_on"] = exc.fields.pop("due_at")
            status = refused(request, form, exc)
        else:
            messages.success(request, _("%(name)s will review this application.") % {
                "name": reviewer_name(review.reviewer)})
            if not request.htmx:
                return _back(application, "#reviews")
            application = _application(request, pk)
            form = None
    else:
        status = 400
    forms = {"assign": form} if form is not None else {}
    if request.htmx:
        return render(request, "reviews/office/application.html#reviews",
                      _context(request, application, forms))
    return _page(request, application, status=status, **forms)


@office_action
def application_approve_view(request, pk):
    application = _application(request, pk)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        return _page(request, application, status=400, approve=form)
    amount = form.cleaned_data["amount"].strip() or None
    try:
        proposed = application_approve(by=request.user, application=application, amount=amount,
                                       reason=form.cleaned_data["reason"])
    except DomainError as exc:
        return _page(request, application, status=refused(request, form, exc), approve=form)
    messages.success(request, _("Proposed for an award of %(amount)s yuan.") % {
        "amount": yuan(proposed.amount)})
    return _back(application)


@office_action
def application_decline_view(request, pk):
    application = _application(request, pk)
    form = DeclineForm(request.POST)
    if not form.is_valid():
        return _page(request, application, status=400, decline=form)
    try:
        application_decline(by=request.user, application=application,
                            reason=form.cleaned_data["reason"])
    except DomainError as exc:
        return _page(request, application, status=refused(request, form, exc), decline=form)
    messages.success(request, _("The application is not selected; the company is told why."))
    return _back(application)


@office_action
def application_reserve_view(request, pk):
    application = _application(request, pk)
    form = ReserveForm(request.POST)
    if not form.is_valid():
        return _page(request, application, status=400, reserve=form)
    try:
        application_reserve(by=request.user, application=application,
                            reason=form.cleaned_data["reason"])
    except DomainError as exc:
        return _page(request, application, status=refused(request, form, exc), reserve=form)
    messages.success(request, _("The application is on the reserve list."))
    return _back(application)


@office_action
def application_pay(request, pk):
    application = _application(request, pk)
    award = get_object_or_404(Award, application=application)
    form = PaymentForm(request.POST)
    if not form.is_valid():
        return _page(request, application, status=400, payment=form)
    data = form.cleaned_data
    try:
        payment = payment_record(by=request.user, award=award, amount=data["amount"],
                                 paid_on=data["paid_on"], reference=data["reference"])
    except DomainError as exc:
        return _page(request, application, status=refused(request, form, exc), payment=form)
    messages.success(request, _("Payment of %(amount)s yuan recorded.") % {
        "amount": yuan(payment.amount)})
    return _back(application, "#award")


urlpatterns = [
    path("office/applications/<int:pk>/", application_detail, name="office-application"),
    path("office/applications/<int:pk>/screen/", application_screen_view,
         name="office-application-screen"),
    path("office/applications/<int:pk>/assign/", application_assign,
         name="office-application-assign"),
    path("office/applications/<int:pk>/approve/", application_approve_view,
         name="office-application-approve"),
    path("office/applications/<int:pk>/decline/", application_decline_view,
         name="office-application-decline"),
    path("office/applications/<int:pk>/reserve/", application_reserve_view,
         name="office-application-reserve"),
    path("office/applications/<int:pk>/payments/", application_pay,
         name="office-application-pay"),
]
