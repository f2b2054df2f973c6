"""The reviewers' pages (/office/reviews/) and the reviewer pool for staff (/office/reviewers/).

Scoring is blind: a reviewer's page is built from their own review only, never from another
reviewer's scores, totals, comments or name, nor from the application's Assessment. Every write
goes through reviews.services (DESIGN rule 1); a review is found through the reviewer's own
reviews and the application through applications_visible_to, so what a reviewer may not see
answers 404 (rule 6)."""

from decimal import Decimal, InvalidOperation
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from applications.forms import add_service_errors
from applications.models import Status
from applications.selectors import (
    applications_visible_to,
    is_staff_officer,
    reads_everything,
    user_roles,
)
from applications.views import _display as input_display
from measures.models import AwardKind, Measure, Pillar
from qianhai_grants.errors import DomainError
from qianhai_grants.i18n import localized
from qianhai_grants.roles import REVIEWER
from reviews import selectors
from reviews.forms_reviewing import DeclareForm, RecuseForm, ReviewerCreateForm, ScoreForm
from reviews.models import ReviewerProfile, ReviewState
from reviews.services.assignments import review_recuse
from reviews.services.pool import affiliation_declare, reviewer_create
from reviews.services.scoring import review_submit, scorecard_for, weighted_total


def _refuse(exc: DomainError) -> None:
    """A service's 404 and 403 become the site's pages; anything else goes on the form."""
    if exc.status == 404:
        raise Http404
    if exc.status == 403:
        raise PermissionDenied(str(exc.message))


def reviewer_view(view):
    """A reviewer's page: the login page for anonymous visitors, 403 for anyone not in the
    reviewer group (staff and management included: scoring is the reviewers' own)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if REVIEWER not in user_roles(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def pool_view(view):
    """The reviewer pool: staff and management read it, only staff add to it."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD", "POST"):
            return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
        if not reads_everything(request.user):
            raise PermissionDenied
        if request.method == "POST" and not is_staff_officer(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


# ---------------------------------------------------------------- my reviews

def _profile(user) -> ReviewerProfile | None:
    return ReviewerProfile.objects.filter(user=user).first()


def _my_reviews_page(request, *, declare_form=None, status=200):
    reviews = list(selectors.reviews_of(request.user).order_by("due_at", "assigned_at", "pk"))
    groups = {state: [r for r in reviews if r.state == state] for state in ReviewState.values}
    # A review still open whose application left review (withdrawn by the company, say) can no
    # longer be scored: it is listed apart rather than as work to do.
    to_score = [r for r in groups[ReviewState.ASSIGNED]
                if r.application.status == Status.IN_REVIEW]
    closed = [r for r in groups[ReviewState.ASSIGNED] if r not in to_score]
    return render(request, "reviews/reviewing/my_reviews.html", {
        "to_score": to_score, "scored": groups[ReviewState.SUBMITTED], "closed": closed,
        "recused": groups[ReviewState.RECUSED], "open_count": len(to_score),
        "profile": _profile(request.user),
        "declare_form": declare_form or DeclareForm(),
    }, status=status)


@reviewer_view
def my_reviews(request):
    return _my_reviews_page(request)


@reviewer_view
@require_POST
def relation_declare(request):
    profile = _profile(request.user)
    if profile is None:
        raise Http404
    form = DeclareForm(request.POST)
    if not form.is_valid():
        return _my_reviews_page(request, declare_form=form, status=400)
    try:
        affiliation_declare(by=request.user, reviewer=profile,
                            registration_number=form.cleaned_data["registration_number"],
                            note=form.cleaned_data["note"])
    except DomainError as exc:
        _refuse(exc)
        add_service_errors(form, exc.fields or {None: [exc.message]})
        return _my_reviews_page(request, declare_form=form, status=exc.status)
    messages.success(request, _(
        "Your declaration is recorded. Any review you still had of that company's applications "
        "is taken from you and given to another reviewer."))
    return redirect("office-my-reviews")


# ---------------------------------------------------------------- one review

def _own_review(request, pk):
    """The reviewer's own review and its application, or 404: never another reviewer's, never
    one they recused, never one of a company they are related to."""
    review = selectors.reviews_of(request.user).filter(pk=pk).first()
    if review is None or review.state == ReviewState.RECUSED:
        raise Http404
    application = applications_visible_to(request.user).filter(pk=review.application_id).first()
    # Checked here too: a reviewer who is also staff sees every application.
    if application is None or selectors.is_conflicted(reviewer=request.user,
                                                      company=application.company):
        raise Http404
    return review, application


def _inputs(version, inputs: dict) -> list[dict]:
    labels = version.field_labels()
    rows = []
    for spec in version.fields:
        value = inputs.get(spec["name"])
        row = {"label": labels.get(spec["name"], spec["name"]), "value": input_display(spec, value)}
        if spec["type"] == "cases" and isinstance(value, list):
            items = spec.get("item_fields", [])
            row["headers"] = [localized(i.get("label")) for i in items]
            row["rows"] = [[input_display(i, case.get(i["name"])) for i in items]
                           for case in value if isinstance(case, dict)]
        rows.append(row)
    return rows


def _documents(application, version) -> list[dict]:
    current = list(application.attachments.filter(removed_at__isnull=True)
                   .order_by("uploaded_at", "pk"))
    return [{"label": localized(d.get("label")), "required": d.get("required", True),
             "files": [a for a in current if a.kind == d["kind"]]} for d in version.documents]


def _with_amount(application) -> bool:
    return application.measure_version.award_kind == AwardKind.UP_TO_CAP


def _own_scores(review, criteria) -> list[dict]:
    """The reviewer's own submitted scores, criterion by criterion (read-only)."""
    return [{"label": localized(c["labels"]), "weight": c["weight"],
             "max_score": c["max_score"], "score": review.scores.get(c["code"], ""),
             "comment": review.comments.get(c["code"], "")} for c in criteria]


def _review_page(request, review, application, *, form=None, recuse_form=None, status=200):
    criteria = scorecard_for(call=application.call).criteria
    version = application.measure_version
    can_score = review.state == ReviewState.ASSIGNED
    if can_score and form is None:
        form = ScoreForm(criteria, with_amount=_with_amount(application))
    return render(request, "reviews/reviewing/review_detail.html", {
        "review": review, "application": application, "measure": application.call.measure,
        "inputs": _inputs(version, application.inputs),
        "documents": _documents(application, version),
        "can_score": can_score, "form": form,
        "recuse_form": (recuse_form or RecuseForm()) if can_score else None,
        "own_scores": _own_scores(review, criteria)
        if review.state == ReviewState.SUBMITTED else [],
        "total": _preview_total(criteria, form) if form is not None else None,
    }, status=status)


@reviewer_view
def review_page(request, pk):
    review, application = _own_review(request, pk)
    if request.method != "POST":
        return _review_page(request, review, application)
    criteria = scorecard_for(call=application.call).criteria
    form = ScoreForm(criteria, request.POST, with_amount=_with_amount(application))
    if not form.is_valid():
        return _review_page(request, review, application, form=form, status=400)
    try:
        review_submit(by=request.user, review=review, **form.service_kwargs())
    except DomainError as exc:
        _refuse(exc)
        form.add_service_errors(exc.fields or {None: [exc.message]})
        review.refresh_from_db()
        return _review_page(request, review, application,
                            form=form if review.state == ReviewState.ASSIGNED else None,
                            status=exc.status)
    messages.success(request, _("Your scores are submitted. Thank you."))
    return redirect("office-review", pk=review.pk)


def _preview_total(criteria, form) -> Decimal | None:
    """The weighted total of the scores typed so far, once every criterion has a valid one
    (the same computation as review_submit's; nothing is saved)."""
    if form is None or not form.is_bound:
        return None
    values = {}
    for criterion in criteria:
        raw = str(form.data.get(f"score_{criterion['code']}", "")).strip()
        try:
            value = Decimal(raw)
        except InvalidOperation:
            return None
        if not value.is_finite() or not 0 <= value <= criterion["max_score"]:
            return None
        values[criterion["code"]] = value
    return weighted_total(criteria, values)


@reviewer_view
@require_POST
def review_total(request, pk):
    """The weighted total of the scores in the form now (htmx, as the reviewer types)."""
    review, application = _own_review(request, pk)
    if not request.htmx:
        return redirect("office-review", pk=review.pk)
    criteria = scorecard_for(call=application.call).criteria
    form = ScoreForm(criteria, request.POST, with_amount=_with_amount(application))
    return render(request, "reviews/reviewing/review_detail.html#total",
                  {"total": _preview_total(criteria, form)})


@reviewer_view
@require_POST
def review_recuse_view(request, pk):
    review, application = _own_review(request, pk)
    form = RecuseForm(request.POST)
    form.is_valid()
    try:
        review_recuse(by=request.user, review=review, reason=form.cleaned_data.get("reason", ""))
    except DomainError as exc:
        _refuse(exc)
        add_service_errors(form, exc.fields or {None: [exc.message]})
        review.refresh_from_db()
        if review.state == ReviewState.RECUSED:
            raise Http404 from None
        return _review_page(request, review, application, recuse_form=form, status=exc.status)
    messages.success(request, _(
        "You stepped back from this review. Your reason is recorded for staff."))
    return redirect("office-my-reviews")


# ---------------------------------------------------------------- the reviewer pool

def _expertise_labels() -> dict[str, str]:
    labels = {m.code: m.name for m in Measure.objects.all()}
    labels.update({value: str(label) for value, label in Pillar.choices})
    return labels


def _pool_page(request, *, form=None, status=200):
    profiles = list(selectors.reviewer_pool())
    loads = selectors.reviewer_loads(p.user_id for p in profiles)
    labels = _expertise_labels()
    rows = [{"profile": p, "email": p.user.email,
             "expertise": [labels.get(tag, tag) for tag in p.expertise or []],
             "affiliations": list(p.affiliations.all()), "load": loads.get(p.user_id, 0),
             "active": p.active and p.user.is_active} for p in profiles]
    can_add = is_staff_officer(request.user)
    return render(request, "reviews/reviewing/pool.html", {
        "rows": rows, "can_add": can_add,
        "form": (form or ReviewerCreateForm()) if can_add else None}, status=status)


@pool_view
def reviewer_pool(request):
    if request.method != "POST":
        return _pool_page(request)
    form = ReviewerCreateForm(request.POST)
    if not form.is_valid():
        return _pool_page(request, form=form, status=400)
    try:
        profile = reviewer_create(by=request.user, **form.service_kwargs())
    except DomainError as exc:
        _refuse(exc)
        add_service_errors(form, exc.fields or {None: [exc.message]})
        return _pool_page(request, form=form, status=exc.status)
    messages.success(request, _(
        "%(name)s is in the pool. They set their password through “Forgot your password?” on "
        "the login page.") % {"name": profile.name})
    return redirect("office-reviewers")


urlpatterns = [
    path("office/reviews/", my_reviews, name="office-my-reviews"),
    path("office/reviews/relations/", relation_declare, name="office-relation-declare"),
    path("office/reviews/<int:pk>/", review_page, name="office-review"),
    path("office/reviews/<int:pk>/total/", review_total, name="office-review-total"),
    path("office/reviews/<int:pk>/recuse/", review_recuse_view, name="office-review-recuse"),
    path("office/reviewers/", reviewer_pool, name="office-reviewers"),
]
