"""The company portal's pages. Every write goes through applications.services, every scoped read
through applications.selectors (DESIGN rules 1 and 6); views turn requests into those calls and
DomainErrors into answers: 404 for what the user may not see, 403 for what is not theirs."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from applications import selectors, services, uploads
from applications.forms import (
    ApplicationForm,
    AttachmentForm,
    CompanyForm,
    InviteForm,
    ProfileForm,
    SignupForm,
    StartForm,
    WithdrawForm,
    add_service_errors,
)
from applications.models import Attachment, MemberRole, Profile, Status
from applications.transitions import COMPANY, allowed
from measures.inputs import parse_inputs
from measures.selectors import catalogue_current, version_current
from qianhai_grants.errors import DomainError
from qianhai_grants.i18n import current_language, localized
from qianhai_grants.templatetags.grants import yuan

User = get_user_model()

# What the company does next, by status code (display only: the transition table decides).
NEXT_ACTIONS = {
    Status.DRAFT: gettext_lazy("Complete and submit"),
    Status.RETURNED: gettext_lazy("Make the requested changes and resubmit"),
    Status.SUBMITTED: gettext_lazy("Wait for screening"),
    Status.ACCEPTED: gettext_lazy("Wait for the expert review"),
    Status.IN_REVIEW: gettext_lazy("Wait for the expert review"),
    Status.REVIEWED: gettext_lazy("Wait for the decision"),
    Status.RESERVE: gettext_lazy("Wait: on the reserve list"),
    Status.PROPOSED: gettext_lazy("Wait for the public notice"),
    Status.IN_PUBLICITY: gettext_lazy("Wait for the end of the public notice"),
}
# Actions only an owner or editor can take.
EDITOR_ACTIONS = (Status.DRAFT, Status.RETURNED)
CALL_STATUS = {"scheduled": gettext_lazy("Not yet open"), "open": gettext_lazy("Open"),
               "closed": gettext_lazy("Closed")}


def _raise_for(exc: DomainError) -> None:
    """A service's 404 and 403 become the site's 404 and 403 pages."""
    if exc.status == 404:
        raise Http404
    if exc.status == 403:
        raise PermissionDenied(str(exc.message))


def _set_language(response, language: str):
    """Activate the user's language and remember it in the same cookie as the language switch."""
    translation.activate(language)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME, language, max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE)
    return response


# ---------------------------------------------------------------- accounts

class LoginView(auth_views.LoginView):
    """Django's login, then the user's preferred language (when they have a profile)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        language = (Profile.objects.filter(user=form.get_user())
                    .values_list("preferred_language", flat=True).first())
        return _set_language(response, language) if language else response


def _send_confirmation(request, user) -> None:
    """The confirmation link, in the user's language. Made after login: the token covers
    last_login, so a link made before it would already be stale."""
    with translation.override(services.profile_of(user).preferred_language):
        link = request.build_absolute_uri(reverse("confirm-email", args=[
            urlsafe_base64_encode(force_bytes(user.pk)), default_token_generator.make_token(user)]))
        body = render_to_string("registration/confirm_email.txt", {"user": user, "link": link})
        send_mail(_("Confirm your email address · Qianhai AI Grants"), body, None, [user.email])


def signup(request):
    if request.user.is_authenticated:
        return redirect("applications-dashboard")
    form = SignupForm(request.POST or None, initial={"preferred_language": current_language()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_register(email=data["email"], password=data["password"],
                                          preferred_language=data["preferred_language"])
        except DomainError as exc:
            add_service_errors(form, exc.fields or {None: [exc.message]})
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            _send_confirmation(request, user)
            response = _set_language(redirect("applications-dashboard"),
                                     data["preferred_language"])
            messages.success(request, _(
                "Welcome. We sent a link to %(email)s: open it to confirm your address.")
                % {"email": user.email})
            return response
    return render(request, "registration/signup.html", {"form": form},
                  status=400 if form.errors else 200)


def confirm_email(request, uidb64, token):
    try:
        user = User.objects.get(pk=urlsafe_base64_decode(uidb64).decode())
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        user = None
    confirmed = user is not None and default_token_generator.check_token(user, token)
    if confirmed:
        services.email_confirm(user=user)
    return render(request, "registration/confirm_email.html", {"confirmed": confirmed},
                  status=200 if confirmed else 400)


@login_required
@require_POST
def confirm_email_resend(request):
    _send_confirmation(request, request.user)
    messages.success(request, _("We sent a new confirmation link to %(email)s.")
                     % {"email": request.user.email})
    return redirect("profile")


@login_required
def profile(request):
    current = services.profile_of(request.user)
    form = ProfileForm(request.POST or None,
                       initial={"preferred_language": current.preferred_language})
    if request.method == "POST" and form.is_valid():
        language = form.cleaned_data["preferred_language"]
        try:
            services.profile_update(user=request.user, preferred_language=language)
        except DomainError as exc:
            add_service_errors(form, exc.fields)
        else:
            response = _set_language(redirect("profile"), language)
            messages.success(request, _("Your preferred language is saved."))
            return response
    return render(request, "registration/profile.html", {"form": form, "profile": current},
                  status=400 if form.errors else 200)


# ---------------------------------------------------------------- companies

@login_required
def company_list(request):
    memberships = request.user.memberships.select_related("company").order_by("company__name")
    return render(request, "applications/company_list.html", {"memberships": memberships})


@login_required
def company_new(request):
    form = CompanyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            company = services.company_create(by=request.user, **form.cleaned_data)
        except DomainError as exc:
            add_service_errors(form, exc.fields or {None: [exc.message]})
        else:
            messages.success(request, _("Company registered. You are its owner."))
            return redirect("company-detail", pk=company.pk)
    return render(request, "applications/company_form.html", {"form": form},
                  status=400 if form.errors else 200)


def _company_page(request, company, invite_form=None, status=200):
    membership = selectors.membership_of(request.user, company)
    return render(request, "applications/company_detail.html", {
        "company": company, "membership": membership,
        "is_owner": membership.role == MemberRole.OWNER,
        "members": company.memberships.select_related("user").order_by("created_at"),
        "invitations": company.invitations.filter(accepted_at__isnull=True),
        "applications": selectors.applications_visible_to(request.user).filter(company=company),
        "invite_form": invite_form or InviteForm(),
    }, status=status)


@login_required
def company_detail(request, pk):
    company = get_object_or_404(selectors.companies_of(request.user), pk=pk)
    return _company_page(request, company)


@login_required
@require_POST
def company_invite(request, pk):
    company = get_object_or_404(selectors.companies_of(request.user), pk=pk)
    form = InviteForm(request.POST)
    form.is_valid()  # the service checks who may invite, then the email and the role
    try:
        services.member_invite(company=company, by=request.user,
                               email=form.cleaned_data.get("email", ""),
                               role=form.cleaned_data.get("role", ""))
    except DomainError as exc:
        _raise_for(exc)
        add_service_errors(form, exc.fields or {None: [exc.message]})
        return _company_page(request, company, invite_form=form, status=exc.status)
    messages.success(request, _("%(email)s is invited.") % form.cleaned_data)
    return redirect("company-detail", pk=company.pk)


# ---------------------------------------------------------------- calls

def call_list(request):
    versions = {measure.pk: version for measure, version in catalogue_current()}
    calls = [{"call": call, "version": versions.get(call.measure_id),
              "status": call.status, "status_label": CALL_STATUS[call.status]}
             for call in selectors.calls_visible()]
    can_apply = selectors.companies_of(request.user).exists()
    return render(request, "applications/call_list.html",
                  {"calls": calls, "can_apply": can_apply})


# ---------------------------------------------------------------- applications: lists

@login_required
def dashboard(request):
    roles = dict(request.user.memberships.values_list("company_id", "role"))
    rows = []
    for application in selectors.applications_visible_to(request.user).filter(
            company_id__in=roles).order_by("-updated_at"):
        action = NEXT_ACTIONS.get(application.status, "")
        if application.status in EDITOR_ACTIONS and roles[application.company_id] not in (
                selectors.EDIT_ROLES):
            action = ""
        rows.append({"application": application, "next_action": action,
                     "money": application.amount if application.amount is not None
                     else application.estimate})
    return render(request, "applications/dashboard.html",
                  {"rows": rows, "has_company": bool(roles)})


@login_required
def application_new(request):
    call_id = request.POST.get("call") or request.GET.get("call") or ""
    if not call_id.isdigit():
        raise Http404
    call = get_object_or_404(selectors.calls_visible(), pk=int(call_id))
    companies = selectors.companies_of(request.user).filter(
        memberships__user=request.user, memberships__role__in=selectors.EDIT_ROLES)
    form = StartForm(companies, request.POST or None)
    error = None
    if request.method == "POST":
        # Any of the user's companies (404 for others); the service refuses viewers (403).
        posted = request.POST.get("company", "")
        company = get_object_or_404(selectors.companies_of(request.user),
                                    pk=int(posted) if posted.isdigit() else 0)
        try:
            application, _result = services.application_create(by=request.user, call=call,
                                                               company=company)
        except DomainError as exc:
            _raise_for(exc)
            error = exc.message
        else:
            messages.success(request, _("Draft created. Fill in the form and save it at any "
                                        "time."))
            return redirect("application-edit", pk=application.pk)
    return render(request, "applications/application_new.html", {
        "call": call, "form": form, "companies": companies, "error": error,
        "status_label": CALL_STATUS[call.status]},
        status=409 if error else (400 if form.errors else 200))


# ---------------------------------------------------------------- applications: one

def _visible(request, pk):
    return get_object_or_404(selectors.applications_visible_to(request.user), pk=pk)


def _require_editor(request, application) -> None:
    if not selectors.can_edit_for(request.user, application.company):
        raise PermissionDenied


def _display(spec: dict, value):
    """A stored input as a person reads it."""
    if value is None or value == "":
        return ""
    kind = spec["type"]
    if kind == "boolean":
        return _("Yes") if value else _("No")
    if kind == "choice":
        labels = {c["value"]: localized(c.get("label")) for c in spec.get("choices", [])}
        return labels.get(value, value)
    if kind == "money":
        return yuan(value)
    if kind == "cases":
        return _("%(count)d rows") % {"count": len(value)} if isinstance(value, list) else ""
    return str(value)


def _inputs_for_display(version, inputs: dict) -> list[dict]:
    rows = []
    for spec in version.fields:
        value = inputs.get(spec["name"])
        row = {"label": localized(spec.get("label")), "value": _display(spec, value),
               "type": spec["type"]}
        if spec["type"] == "cases" and isinstance(value, list):
            items = spec.get("item_fields", [])
            row["headers"] = [localized(i.get("label")) for i in items]
            row["rows"] = [[_display(i, case.get(i["name"])) for i in items] for case in value]
        rows.append(row)
    return rows


def _changes(version, before: dict, after: dict) -> list[dict]:
    """What changed between two versions of the inputs, field by field."""
    return [{"label": localized(spec.get("label")),
             "before": _display(spec, before.get(spec["name"])),
             "after": _display(spec, after.get(spec["name"])),
             "detail": spec["type"] == "cases"}
            for spec in version.fields if before.get(spec["name"]) != after.get(spec["name"])]


def _revisions(application) -> list[dict]:
    revisions = list(application.revisions.select_related("submitted_by", "measure_version"))
    out, previous = [], None
    for revision in revisions:
        files = {(a["kind"], a["sha256"]): a["original_name"] for a in revision.attachments}
        before = {} if previous is None else {
            (a["kind"], a["sha256"]): a["original_name"] for a in previous.attachments}
        out.append({
            "revision": revision,
            "changes": [] if previous is None else _changes(
                revision.measure_version, previous.inputs, revision.inputs),
            "added": [] if previous is None else [n for k, n in files.items() if k not in before],
            "removed": [] if previous is None else [
                n for k, n in before.items() if k not in files]})
        previous = revision
    return out


def _form_version(application):
    """The rules the form is filled in under: as services.application_update chooses them (a
    draft follows the catalogue version in force; a submitted one keeps its own)."""
    if application.status == Status.DRAFT:
        return version_current(measure=application.call.measure) or application.measure_version
    return application.measure_version


def _estimate(application, version, raw: dict) -> dict:
    """The engine's estimate of these inputs, counting what this company's platform or model
    already received (the same figures services.application_update stores)."""
    parsed = parse_inputs(version.fields, raw)
    if parsed.errors:
        return {"errors": True}
    quote = selectors.inputs_quote(version=version, values=parsed.values,
                                   measure_id=application.call.measure_id,
                                   company_id=application.company_id,
                                   application_id=application.pk)
    return {"quote": quote.as_json()}


def _documents(application, version) -> list[dict]:
    current = list(application.attachments.filter(removed_at__isnull=True)
                   .order_by("uploaded_at"))
    kinds = []
    for document in version.documents:
        files = [a for a in current if a.kind == document["kind"]]
        kinds.append({"kind": document["kind"], "label": localized(document.get("label")),
                      "required": document.get("required", True), "files": files,
                      "missing": document.get("required", True) and not files})
    return kinds


def _submit_errors(application, exc: DomainError) -> list[str]:
    """Every reason the service gave, each in words (fields, documents, eligibility)."""
    labels = _form_version(application).field_labels()
    errors = []
    for name, values in (exc.fields or {}).items():
        for value in values:
            if name in labels:
                errors.append(f"{labels[name]}: {value}")
            else:
                errors.append(str(value))
    return errors or [str(exc.message)]


def _events(application, user) -> list[dict]:
    """Status changes with who made them: a colleague by name (to those who may know the
    company's people, else as the applicant), anyone else as the Authority."""
    members = set(application.company.memberships.values_list("user_id", flat=True))
    named = selectors.sees_applicants_people(user, application.company)

    def who(event):
        if event.by_id in members:
            return event.by.get_username() if named else _("the applicant")
        return _("the Qianhai Authority") if event.by_id else _("the system")

    return [{"event": event, "who": who(event)}
            for event in application.events.select_related("by")]


def _returned_reason(application) -> str:
    event = application.events.filter(to_status=Status.RETURNED).order_by("-at", "-pk").first()
    return event.reason if event else ""


def _page(request, application, *, status=200, **extra):
    version = _form_version(application)
    is_editor = selectors.can_edit_for(request.user, application.company)
    can_edit = is_editor and application.is_editable
    revisions = _revisions(application)
    pending = []
    if application.status == Status.RETURNED and revisions:
        pending = _changes(version, revisions[-1]["revision"].inputs, application.inputs)
    context = {
        "application": application, "version": version, "measure": application.call.measure,
        "is_editor": is_editor, "can_edit": can_edit,
        "can_withdraw": is_editor and allowed(application.status, Status.WITHDRAWN, COMPANY),
        "inputs": _inputs_for_display(version, application.inputs),
        "documents": _documents(application, version),
        "attachment_form": AttachmentForm(version),
        "events": _events(application, request.user),
        "revisions": list(reversed(revisions)), "pending_changes": pending,
        "returned_reason": _returned_reason(application)
        if application.status == Status.RETURNED else "",
        "next_action": NEXT_ACTIONS.get(application.status, "")
        if is_editor or application.status not in EDITOR_ACTIONS else "",
        **extra,
    }
    return render(request, "applications/application_detail.html", context, status=status)


@login_required
def application_detail(request, pk):
    return _page(request, _visible(request, pk))


def _form_page(request, application, form, *, status=200, estimate=None, **extra):
    return render(request, "applications/application_form.html", {
        "application": application, "form": form, "layout": form.layout(),
        "measure": application.call.measure,
        "estimate": estimate if estimate is not None else _estimate(
            application, _form_version(application), application.inputs),
        "returned_reason": _returned_reason(application)
        if application.status == Status.RETURNED else "",
        **extra}, status=status)


@login_required
def application_edit(request, pk):
    application = _visible(request, pk)
    _require_editor(request, application)
    if not application.is_editable:
        if request.method == "POST":
            return _page(request, application, status=409, submit_errors=[_(
                "A submitted application cannot be changed unless staff return it for "
                "changes.")])
        return redirect("application-detail", pk=application.pk)
    version = _form_version(application)
    if request.method != "POST":
        return _form_page(request, application, ApplicationForm(version,
                                                                inputs=application.inputs))
    add_row = request.POST.get("add_row")
    form = ApplicationForm(version, request.POST, add_row_to=add_row)
    if add_row:  # no JS: the same form again, with one more empty row; nothing saved yet
        return _form_page(request, application, form,
                          estimate=_estimate(application, version, form.raw_inputs))
    if not form.is_valid():
        return _form_page(request, application, form, status=400)
    try:
        application, _result = services.application_update(
            by=request.user, application=application, inputs=form.raw_inputs)
    except DomainError as exc:
        _raise_for(exc)
        form = ApplicationForm(version, form.compacted())
        form.is_valid()
        rest = form.add_service_errors(exc.fields)
        return _form_page(request, application, form, status=exc.status,
                          summary=[m for _name, m in rest] or [str(exc.message)])
    if "submit" not in request.POST:
        messages.success(request, _("Draft saved."))
        return redirect("application-edit", pk=application.pk)
    try:
        services.application_submit(by=request.user, application=application)
    except DomainError as exc:
        _raise_for(exc)
        form = ApplicationForm(version, inputs=application.inputs)
        form = ApplicationForm(version, form.initial | {
            f"{s['name']}-TOTAL": str(form.row_counts[s["name"]]) for s in form.case_specs})
        form.is_valid()
        form.add_service_errors({k: v for k, v in exc.fields.items()
                                 if k not in ("attachments", "eligibility")})
        return _form_page(request, application, form, status=exc.status,
                          summary=_submit_errors(application, exc))
    messages.success(request, _("Your application is submitted."))
    return redirect("application-detail", pk=application.pk)


@login_required
@require_POST
def application_estimate(request, pk):
    """The estimate panel for the values in the form now (htmx, on every change)."""
    application = _visible(request, pk)
    _require_editor(request, application)
    if not request.htmx:
        return redirect("application-edit", pk=application.pk)
    version = _form_version(application)
    form = ApplicationForm(version, request.POST)
    return render(request, "applications/application_form.html#estimate", {
        "application": application, "estimate": _estimate(application, version, form.raw_inputs)})


@login_required
@require_POST
def application_submit(request, pk):
    application = _visible(request, pk)
    _require_editor(request, application)
    try:
        services.application_submit(by=request.user, application=application)
    except DomainError as exc:
        _raise_for(exc)
        return _page(request, application, status=exc.status,
                     submit_errors=_submit_errors(application, exc))
    messages.success(request, _("Your application is submitted."))
    return redirect("application-detail", pk=application.pk)


@login_required
def application_withdraw(request, pk):
    application = _visible(request, pk)
    _require_editor(request, application)
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.application_withdraw(by=request.user, application=application,
                                          reason=form.cleaned_data["reason"])
        except DomainError as exc:
            _raise_for(exc)
            return _page(request, application, status=exc.status,
                         submit_errors=[str(exc.message)])
        messages.success(request, _("Your application is withdrawn."))
        return redirect("application-detail", pk=application.pk)
    return render(request, "applications/application_withdraw.html",
                  {"application": application, "form": form})


# ---------------------------------------------------------------- attachments

@login_required
@require_POST
def attachment_upload(request, pk):
    application = _visible(request, pk)
    _require_editor(request, application)
    form = AttachmentForm(_form_version(application), request.POST, request.FILES)
    form.is_valid()
    try:
        services.attachment_add(by=request.user, application=application,
                                kind=request.POST.get("kind", ""),
                                upload=request.FILES.get("file"))
    except DomainError as exc:
        _raise_for(exc)
        add_service_errors(form, exc.fields or {None: [exc.message]})
        return _page(request, application, status=exc.status, attachment_form=form)
    messages.success(request, _("Document attached."))
    return redirect(reverse("application-detail", args=[application.pk]) + "#documents")


@login_required
@require_POST
def attachment_remove(request, pk, attachment_pk):
    application = _visible(request, pk)
    _require_editor(request, application)
    attachment = get_object_or_404(application.attachments.filter(removed_at__isnull=True),
                                   pk=attachment_pk)
    try:
        services.attachment_remove(by=request.user, attachment=attachment)
    except DomainError as exc:
        _raise_for(exc)
        return _page(request, application, status=exc.status,
                     submit_errors=[str(exc.message)])
    messages.success(request, _("Document removed."))
    return redirect(reverse("application-detail", args=[application.pk]) + "#documents")


@login_required
def attachment_download(request, pk, attachment_pk):
    """Streamed from private storage to those who may see the application, as a download
    under its sanitized name (never shown inline)."""
    application = _visible(request, pk)
    attachment = get_object_or_404(Attachment, pk=attachment_pk, application=application)
    try:
        handle = uploads.private_storage().open(attachment.stored_name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    return FileResponse(handle, as_attachment=True, filename=attachment.original_name,
                        content_type=attachment.content_type)
