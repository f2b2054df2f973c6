"""The company portal's API: accounts, companies, calls, applications and their documents.

Views are thin (DESIGN rule 1): they check the shape of a request, call one service or selector
and serialize the answer. Every queryset comes from `applications.selectors`, scoped to the user
asking, so what a user may not see answers 404, never 403 (DESIGN rule 6). Errors are raised as
`DomainError` or DRF `ValidationError` and shaped by `qianhai_grants.api.exception_handler`.
"""

import logging
from collections.abc import Mapping

from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db.models import OuterRef, Subquery
from django.http import FileResponse, Http404
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from applications import selectors, services, uploads
from applications import serializers as s
from applications.models import Application, Membership
from measures.selectors import measure_with_version
from qianhai_grants.api import ErrorSchema
from qianhai_grants.errors import DomainError
from qianhai_grants.i18n import current_language

logger = logging.getLogger(__name__)

# Ids in paths: digits that fit a 64-bit key; anything else is a 404 before any query.
ID = r"[0-9]{1,18}"


def _errors(*codes):
    """The documented error answers of an operation: `_errors(400, 404)`."""
    return dict.fromkeys(codes, ErrorSchema)


def _invalid(fields: dict) -> DomainError:
    return DomainError("invalid", _("The input is not valid."), status=400, fields=fields)


def _valid(serializer_class, request) -> dict:
    """The request body checked by `serializer_class`; a body that is not an object is a 400."""
    if not isinstance(request.data, Mapping):
        raise DomainError("invalid", _("The request body must be a JSON object."), status=400,
                          fields={"body": [_("Expected a JSON object.")]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class FirstRendererNegotiation(DefaultContentNegotiation):
    """A download answers with the file's own type whatever `Accept` says; errors stay JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class IsStaffOfficer(BasePermission):
    def has_permission(self, request, view):
        return selectors.is_staff_officer(request.user)


class PortalViewSet(viewsets.GenericViewSet):
    # Token first: an anonymous request then hears 401 (with WWW-Authenticate), not 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [AnonRateThrottle, UserRateThrottle]
    lookup_value_regex = ID
    # The request body of each action (the browsable API builds its forms from these).
    action_serializers: dict = {}

    def get_serializer_class(self):
        return self.action_serializers.get(self.action, self.serializer_class)


# ---------------------------------------------------------------- accounts

def send_confirmation_email(request, user) -> None:
    """Mail `user` a link that confirms their email address, in their preferred language.

    For the web sign-up to reuse (applications/views.py keeps its own copy today). The link's
    view (/accounts/confirm/<uid>/<token>/) checks the token with `default_token_generator` and
    calls `services.email_confirm`. A mail server that is down does not undo the account: the
    failure is logged.
    """
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = request.build_absolute_uri(f"/accounts/confirm/{uid}/{token}/")
    with translation.override(services.profile_of(user).preferred_language):
        # The same messages as the web sign-up's mail (registration/confirm_email.txt), so one
        # set of translations serves both.
        subject = _("Confirm your email address · Qianhai AI Grants")
        body = "\n".join([
            _("Welcome to Qianhai AI Grants."), "",
            _("Open this link to confirm your email address:"), link, "",
            _("If you did not sign up, ignore this message."), _("Qianhai Authority"), ""])
        try:
            send_mail(subject, body, None, [user.email])
        except Exception:
            logger.exception("The confirmation email to user %s could not be sent", user.pk)


class AccountViewSet(PortalViewSet):
    """Registered with an empty prefix: only its actions, `auth/register/` and `me/`, route."""

    serializer_class = s.MeUpdate
    action_serializers = {"register_account": s.Registration}

    @extend_schema(request=s.Registration,
                   responses={201: s.RegisteredUser, **_errors(400, 429)})
    @action(detail=False, methods=["post"], url_path="auth/register", url_name="register",
            permission_classes=[AllowAny], authentication_classes=[],
            throttle_classes=[AnonRateThrottle])
    def register_account(self, request):
        """Create a company user's account (the email is the username); a confirmation
        link is mailed in the chosen language."""
        data = _valid(s.Registration, request)
        user = services.user_register(
            email=data["email"], password=data["password"],
            preferred_language=data.get("preferred_language") or current_language())
        send_confirmation_email(request, user)
        return Response({"id": user.pk, "email": user.email,
                         "preferred_language": services.profile_of(user).preferred_language},
                        status=201)

    @extend_schema(responses={200: s.MeSerializer, **_errors(401)})
    @action(detail=False, methods=["get"], url_path="me")
    def me(self, request):
        """The logged-in user: email, language, whether the email is confirmed, roles."""
        return Response(s.me_json(request.user))

    @extend_schema(request=s.MeUpdate, responses={200: s.MeSerializer, **_errors(400, 401)})
    @me.mapping.patch
    def me_update(self, request):
        """Change the preferred language."""
        data = _valid(s.MeUpdate, request)
        services.profile_update(user=request.user,
                                preferred_language=data["preferred_language"])
        return Response(s.me_json(request.user))


# ---------------------------------------------------------------- companies

class CompanyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """The companies the user belongs to; the creator of a company is its owner."""

    serializer_class = s.CompanySerializer
    action_serializers = {"create": s.CompanyCreate, "members": s.MemberInvite,
                          "members_invite": s.MemberInvite}

    def get_queryset(self):
        user = self.request.user
        companies = selectors.companies_of(user)
        if not user.is_authenticated:  # the schema generator's anonymous request
            return companies
        return companies.annotate(my_role=Subquery(Membership.objects.filter(
            company=OuterRef("pk"), user=user).values("role")[:1]))

    @extend_schema(responses={200: s.CompanySerializer(many=True), **_errors(401)})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: s.CompanySerializer, **_errors(401, 404)})
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(request=s.CompanyCreate,
                   responses={201: s.CompanySerializer, **_errors(400, 401)})
    def create(self, request):
        """Register a company; its creator becomes the owner."""
        data = _valid(s.CompanyCreate, request)
        company = services.company_create(by=request.user, **data)
        return Response(s.CompanySerializer(self.get_queryset().get(pk=company.pk)).data,
                        status=201)

    @extend_schema(responses={200: s.MemberSerializer(many=True), **_errors(401, 404)})
    @action(detail=True, methods=["get"])
    def members(self, request, pk=None):
        """The company's members and pending invitations."""
        company = self.get_object()
        rows = [*company.memberships.select_related("user").order_by("created_at", "pk"),
                *company.invitations.filter(accepted_at__isnull=True).order_by("created_at")]
        page = self.paginate_queryset([s.member_row(row) for row in rows])
        return self.get_paginated_response(s.MemberSerializer(page, many=True).data)

    @extend_schema(request=s.MemberInvite,
                   responses={201: s.MemberSerializer, **_errors(400, 401, 403, 404)})
    @members.mapping.post
    def members_invite(self, request, pk=None):
        """The owner invites a colleague as editor or viewer."""
        company = self.get_object()
        data = _valid(s.MemberInvite, request)
        row = services.member_invite(company=company, by=request.user, email=data["email"],
                                     role=data["role"])
        return Response(s.MemberSerializer(s.member_row(row)).data, status=201)


# ---------------------------------------------------------------- calls

class CallViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PortalViewSet):
    """Calls for applications: readable by anyone, opened by staff."""

    serializer_class = s.CallSerializer
    action_serializers = {"create": s.CallOpen}
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = s.CallFilter

    def get_queryset(self):
        return selectors.calls_visible()

    def get_permissions(self):
        if self.action in ("list", "retrieve", "metadata"):
            return [AllowAny()]
        return [IsAuthenticated(), IsStaffOfficer()]

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    @extend_schema(responses={200: s.CallSerializer(many=True), **_errors(400)})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: s.CallSerializer, **_errors(404)})
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(request=s.CallOpen,
                   responses={201: s.CallSerializer, **_errors(400, 401, 403)})
    def create(self, request):
        """Staff open a call for a measure whose parameters are configured."""
        data = _valid(s.CallOpen, request)
        measure, _version = measure_with_version(code=data["measure"])
        if measure is None:
            raise _invalid({"measure": [_("There is no measure with this code.")]})
        call = services.call_open(by=request.user, measure=measure, **{
            k: v for k, v in data.items() if k != "measure"})
        return Response(s.CallSerializer(call).data, status=201)


# ---------------------------------------------------------------- applications

DETAIL = {200: s.ApplicationDetailSerializer, **_errors(400, 401, 403, 404, 409)}


class ApplicationViewSet(mixins.ListModelMixin, PortalViewSet):
    """Applications: a company's own, or (staff, management) every submitted one."""

    serializer_class = s.ApplicationSerializer
    action_serializers = {
        "create": s.ApplicationCreate, "retrieve": s.ApplicationUpdate,
        "partial_update": s.ApplicationUpdate, "attachments": s.AttachmentUpload,
        **dict.fromkeys(("withdraw", "accept", "return_for_changes", "reject"), s.Reason)}
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = s.ApplicationFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Application.objects.none()
        return selectors.applications_visible_to(self.request.user)

    def filter_queryset(self, queryset):
        # Filters narrow the list; a detail or an action finds its application by id alone.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _detail(self, application, result=None, status=200) -> Response:
        context = {"request": self.request, "estimate": s.estimate_json(application, result),
                   "next_actions": s.next_actions(self.request.user, application)}
        return Response(s.ApplicationDetailSerializer(application, context=context).data,
                        status=status)

    def _company_object(self):
        """The application, for a company's own action (edit, documents, submit, withdraw):
        one the user may read without being a member of its company (staff, management, its
        reviewers) answers 403, as the pages do, and so does a viewer of the company: before
        the request's body is looked at, so that no one learns what a valid body would be."""
        application = self.get_object()
        membership = selectors.membership_of(self.request.user, application.company)
        if membership is None:
            raise DomainError("forbidden", _("Only the company's members can do this."),
                              status=403)
        if membership.role not in selectors.EDIT_ROLES:
            raise DomainError("forbidden", _("Viewers cannot change applications."), status=403)
        return application

    def _attachment(self, application, att_id, *, active_only=False):
        rows = application.attachments.filter(pk=att_id)
        if active_only:
            rows = rows.filter(removed_at__isnull=True)
        attachment = rows.first()
        if attachment is None:
            raise Http404
        return attachment

    @extend_schema(responses={200: s.ApplicationSerializer(many=True), **_errors(400, 401)})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.ApplicationCreate,
                   responses={201: s.ApplicationDetailSerializer, **_errors(400, 401, 403, 409)})
    def create(self, request):
        """A draft for one of your companies in a call; answers with the estimate."""
        data = _valid(s.ApplicationCreate, request)
        call = selectors.calls_visible().filter(pk=data["call"]).first()
        company = selectors.companies_of(request.user).filter(pk=data["company"]).first()
        errors = {}
        if call is None:
            errors["call"] = [_("There is no call with this id.")]
        if company is None:
            errors["company"] = [_("You are not a member of a company with this id.")]
        if errors:
            raise _invalid(errors)
        application, result = services.application_create(
            by=request.user, call=call, company=company, inputs=data["inputs"])
        return self._detail(application, result, status=201)

    @extend_schema(responses=DETAIL)
    def retrieve(self, request, pk=None):
        """An application with a fresh estimate, its documents and what you can do next."""
        return self._detail(self.get_object())

    @extend_schema(request=s.ApplicationUpdate, responses=DETAIL)
    def partial_update(self, request, pk=None):
        """Save the form while draft or returned: the inputs given replace theirs."""
        application = self._company_object()
        data = _valid(s.ApplicationUpdate, request)
        # PATCH merges (RFC 7386): the fields given replace theirs, null removes one.
        inputs = {**application.inputs, **data["inputs"]}
        application, result = services.application_update(
            by=request.user, application=application, inputs=inputs)
        return self._detail(application, result)

    @extend_schema(request={"multipart/form-data": s.AttachmentUpload},
                   responses={201: s.AttachmentSerializer, **_errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def attachments(self, request, pk=None):
        """Attach a document (multipart `kind`, `file`): PDF, JPEG, PNG, DOCX or XLSX by
        content, at most 20 MB."""
        application = self._company_object()
        data = _valid(s.AttachmentUpload, request)
        attachment = services.attachment_add(by=request.user, application=application,
                                             kind=data["kind"], upload=data["file"])
        return Response(s.AttachmentSerializer(attachment, context={"request": request}).data,
                        status=201)

    @extend_schema(request=None, responses={204: None, **_errors(401, 403, 404, 409)})
    @action(detail=True, methods=["delete"], url_path=rf"attachments/(?P<att_id>{ID})",
            url_name="attachment")
    def attachment_remove(self, request, pk=None, att_id=None):
        """Remove a document while the application is draft or returned."""
        attachment = self._attachment(self._company_object(), att_id, active_only=True)
        services.attachment_remove(by=request.user, attachment=attachment)
        return Response(status=204)

    @extend_schema(responses={
        **{(200, kind.content_type): OpenApiResponse(
            OpenApiTypes.BINARY, description="The file, with its own Content-Type.")
           for kind in uploads.ALLOWED},
        **_errors(401, 404)})
    @action(detail=True, methods=["get"], url_path=rf"attachments/(?P<att_id>{ID})/download",
            url_name="attachment-download", content_negotiation_class=FirstRendererNegotiation)
    def attachment_download(self, request, pk=None, att_id=None):
        """The document's file, as an attachment."""
        attachment = self._attachment(self.get_object(), att_id)
        try:
            handle = uploads.private_storage().open(attachment.stored_name, "rb")
        except FileNotFoundError:
            raise Http404 from None
        response = FileResponse(handle, as_attachment=True, filename=attachment.original_name,
                                content_type=attachment.content_type)
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(request=None, responses=DETAIL)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Submit while the call is open; every missing field, document and eligibility
        reason is named at once."""
        application = services.application_submit(by=request.user,
                                                  application=self._company_object())
        return self._detail(application)

    @extend_schema(request=s.Reason, responses=DETAIL)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """Withdraw, until the award is final (a proposed award given up frees its slot)."""
        application = self._company_object()
        data = _valid(s.Reason, request)
        application = services.application_withdraw(by=request.user, application=application,
                                                    reason=data.get("reason", ""))
        return self._detail(application)

    def _screen(self, request, action_name):
        application = self.get_object()
        data = _valid(s.Reason, request)
        application = services.application_screen(
            by=request.user, application=application, to=s.SCREENING[action_name],
            reason=data.get("reason", ""))
        return self._detail(application)

    @extend_schema(request=s.Reason, responses=DETAIL)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Accept in formal screening (形式審查)."""
        return self._screen(request, "accept")

    @extend_schema(request=s.Reason, responses=DETAIL)
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def return_for_changes(self, request, pk=None):
        """Return for changes (補正) in screening; `reason` is required."""
        return self._screen(request, "return")

    @extend_schema(request=s.Reason, responses=DETAIL)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject in screening; `reason` is required."""
        return self._screen(request, "reject")

    @extend_schema(responses={200: s.StatusEventSerializer(many=True), **_errors(401, 404)})
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """Every status change: at, by, from, to, reason. `by` names a member of the
        company; a change made by the Authority (or the system) has none, except for staff
        and management, as on the application's page."""
        application = self.get_object()
        events = application.events.select_related("by").order_by("at", "pk")
        page = self.paginate_queryset(events)
        rows = s.StatusEventSerializer(page, many=True).data
        if not selectors.reads_everything(request.user):
            # Members see their colleagues; a reviewer sees no one of the company either.
            named = selectors.sees_applicants_people(request.user, application.company)
            members = set(application.company.memberships.values_list("user_id", flat=True))
            for event, row in zip(page, rows, strict=True):
                if not named or event.by_id not in members:
                    row["by"] = None
        return self.get_paginated_response(rows)

    @extend_schema(responses={200: s.RevisionSerializer(many=True), **_errors(401, 404)})
    @action(detail=True, methods=["get"])
    def revisions(self, request, pk=None):
        """The submitted versions, each with its changes from the one before. `submitted_by`
        is for the company's members, staff and management (null for a reviewer)."""
        application = self.get_object()
        revisions = list(application.revisions.select_related("submitted_by")
                         .order_by("number"))
        previous = None
        for revision in revisions:
            revision.changes = s.revision_changes(previous, revision.inputs)
            previous = revision.inputs
        page = self.paginate_queryset(revisions)
        rows = s.RevisionSerializer(page, many=True).data
        if not selectors.sees_applicants_people(request.user, application.company):
            for row in rows:
                row["submitted_by"] = None
        return self.get_paginated_response(rows)


def register(router) -> None:
    """Add this app's viewsets to the API router."""
    router.register("companies", CompanyViewSet, basename="api-company")
    router.register("calls", CallViewSet, basename="api-call")
    router.register("applications", ApplicationViewSet, basename="api-application")
    # An empty prefix: only its named actions (auth/register/, me/) become routes.
    router.register("", AccountViewSet, basename="api-account")
