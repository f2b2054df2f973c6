"""The 公示 (public notice) API (API.md): staff open a notice for a call's proposed awards and
finalize it once it has ended; anyone reads the notices and files a signed objection; staff
resolve objections (management reads them)."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from applications import selectors as portal
from applications.api import _errors, _valid
from applications.models import Call
from reviews.api import serializers as s
from reviews.api.decisions import OfficeViewSet, require_reader, require_staff
from reviews.models import Objection, Publicity
from reviews.selectors_office import objections_visible_to, publicity_public
from reviews.services import publicity as services


class ObjectionRateThrottle(UserRateThrottle):
    """Objections are open to anyone, so each sender (a user, or else an address) may file at
    most 20 an hour. The rate is kept here rather than in settings: it is this endpoint's."""

    scope = "objections"
    rate = "20/hour"


# ---------------------------------------------------------------- staff, on a call

class CallPublicityViewSet(OfficeViewSet):
    """Open and finalize a call's 公示. Registered under `calls/` with detail actions only."""

    serializer_class = s.PublicityNotice
    action_serializers = {"publicity": s.PublicityOpenRequest}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Call.objects.none()
        return portal.calls_visible()

    @extend_schema(request=s.PublicityOpenRequest,
                   responses={201: s.PublicityNotice, **_errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def publicity(self, request, pk=None):
        """Publish the call's `proposed` awards for `working_days` working days (default 5, on
        the holiday calendar); 409 `nothing_to_publish`."""
        call = self.get_object()
        require_staff(request.user)
        data = _valid(s.PublicityOpenRequest, request)
        notice = services.publicity_open(by=request.user, call=call,
                                         working_days=data["working_days"])
        return Response(s.PublicityNotice(publicity_public().get(pk=notice.pk)).data,
                        status=201)

    @extend_schema(request=None,
                   responses={200: s.FinalizeOutcome, **_errors(401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def finalize(self, request, pk=None):
        """After the 公示 has ended with every objection resolved: `in_publicity` →
        `awarded`; 409 `no_publicity`, `publicity_not_ended`, `objections_open`."""
        call = self.get_object()
        require_staff(request.user)
        awarded = services.publicity_finalize(by=request.user, call=call)
        return Response(s.FinalizeOutcome({"awarded": [a.pk for a in awarded]}).data)


# ---------------------------------------------------------------- the public notices

class PublicityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OfficeViewSet):
    """Open and past notices with their lists: public, no login needed."""

    serializer_class = s.PublicityNotice
    action_serializers = {"objections": s.ObjectionFileRequest}
    permission_classes = [AllowAny]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Publicity.objects.none()
        return publicity_public()

    @extend_schema(responses={200: s.PublicityNotice(many=True), **_errors(400)})
    def list(self, request, *args, **kwargs):
        """Every notice, newest first, each with its lines (company, project, amount)."""
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: s.PublicityNotice, **_errors(404)})
    def retrieve(self, request, *args, **kwargs):
        """One notice with its lines."""
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(request=s.ObjectionFileRequest,
                   responses={201: s.ObjectionFiled, **_errors(400, 404, 409, 429)})
    @action(detail=True, methods=["post"],
            throttle_classes=[AnonRateThrottle, UserRateThrottle, ObjectionRateThrottle])
    def objections(self, request, pk=None):
        """File a signed objection to one line of an open notice: `name`, `organization` and
        `contact` are required (anonymous objections are refused); 409 `publicity_closed`.
        The answer says only that it was received: objections are never shown publicly."""
        notice = self.get_object()
        data = _valid(s.ObjectionFileRequest, request)
        objection = services.objection_file(publicity=notice, **data)
        return Response(s.ObjectionFiled(objection).data, status=201)


# ---------------------------------------------------------------- objections, in the office

class ObjectionViewSet(mixins.ListModelMixin, OfficeViewSet):
    """Objections with who filed them: staff and management read them, staff resolve them."""

    serializer_class = s.ObjectionRow
    action_serializers = {"resolve": s.ObjectionResolveRequest}
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = s.ObjectionFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Objection.objects.none()
        return objections_visible_to(self.request.user).order_by("-created_at", "-pk")

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    @extend_schema(responses={200: s.ObjectionRow(many=True), **_errors(400, 401, 403)})
    def list(self, request, *args, **kwargs):
        """Objections, newest first; `?state=open` for those still to resolve, `?call=`,
        `?publicity=`."""
        require_reader(request.user)
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.ObjectionResolveRequest,
                   responses={200: s.ObjectionRow, **_errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Upheld: the application is rejected and its quota slot freed for the reserve list.
        Dismissed: it stays in the notice. 409 `objection_resolved`."""
        objection = self.get_object()
        require_staff(request.user)
        data = _valid(s.ObjectionResolveRequest, request)
        services.objection_resolve(by=request.user, objection=objection,
                                   upheld=data["upheld"], note=data["note"])
        return Response(s.ObjectionRow(self.get_queryset().get(pk=objection.pk)).data)


def register(router) -> None:
    router.register("calls", CallPublicityViewSet, basename="api-call-publicity")
    router.register("publicity", PublicityViewSet, basename="api-publicity")
    router.register("objections", ObjectionViewSet, basename="api-objection")

