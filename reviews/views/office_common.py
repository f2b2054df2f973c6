"""What every back-office page shares: who may open it (staff act, management reads), how a
service's refusal reaches the page, and small display helpers."""

from functools import wraps

import rules
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _

from applications.forms import add_service_errors
from qianhai_grants.errors import DomainError
from qianhai_grants.roles import can_read_everything, is_reviewer, is_staff_officer

# What the audit trail's actions mean, for the history of an application or a call.
AUDIT_LABELS = {
    "affiliation_declared": _("Affiliation declared"),
    "approved": _("Approved for an award"),
    "declined": _("Not selected"),
    "review_assigned": _("Reviewer assigned"),
    "review_recused": _("Reviewer recused"),
    "review_submitted": _("Review submitted"),
    "auto_assigned": _("Reviewers assigned automatically"),
    "award_batch_done": _("Award batch finished"),
    "award_batch_started": _("Award batch started"),
    "award_released": _("Award released"),
    "objection_filed": _("Objection filed"),
    "objection_resolved": _("Objection resolved"),
    "payment_recorded": _("Payment recorded"),
    "publicity_opened": _("Public notice opened"),
    "publicity_finalized": _("Public notice finalized"),
    "rank_and_fill": _("Ranked and filled"),
    "reviewer_created": _("Reviewer added to the pool"),
    "scorecard_set": _("Scorecard set"),
}


# The site's navigation shows "Back office" by these rules (templates/base.html, `test_rule`):
# staff and management open the office's home, reviewers their own reviews.
rules.set_rule("office_read", can_read_everything)
rules.set_rule("office_review", is_reviewer)


def can_act(user) -> bool:
    """Staff act; management reads the same pages without a single action."""
    return bool(is_staff_officer(user))


def _guarded(view, methods: tuple[str, ...]):
    """The login page for anonymous visitors; 403 for anyone who is neither staff nor
    management, and for any POST by anyone but staff (before the method is even looked at: a
    reader never learns more); then 405 for a method the view does not take."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not can_read_everything(request.user):
            raise PermissionDenied
        if request.method == "POST" and not can_act(request.user):
            raise PermissionDenied
        if request.method not in methods:
            return HttpResponseNotAllowed(methods)
        return view(request, *args, **kwargs)

    return wrapper


def office_view(view):
    """A back-office page: read by staff and management (GET)."""
    return _guarded(view, ("GET", "HEAD"))


def office_action(view):
    """A back-office action: a POST by staff."""
    return _guarded(view, ("POST",))


def refused(request, form, exc: DomainError) -> int:
    """Show a service's refusal and return the status to answer with: field messages on the
    form's fields, a refusal of the whole action (the state forbids it: a quota full, an
    objection already resolved) as a message at the top of the page, which may no longer show
    the form. 404 and 403 become the site's pages."""
    if exc.status == 404:
        raise Http404
    if exc.status == 403:
        raise PermissionDenied(str(exc.message))
    if exc.fields and form is not None:
        add_service_errors(form, exc.fields)
    else:
        messages.error(request, exc.message)
    return exc.status


def safe_next(request, default: str) -> str:
    """Where to go back to after an action (a path of this site only)."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def project_of(application) -> str:
    """The project's name as the applicant gave it: every measure's form starts with the name
    of its project, platform, model, pilot or centre."""
    fields = application.measure_version.fields
    if not fields:
        return ""
    value = (application.inputs or {}).get(fields[0]["name"])
    return str(value) if value else ""
