"""The notification centre's API, and staff's view of failed notices.

Scoped to who asks (DESIGN rule 6): a user reads and marks only their own in-app notices;
another's answers 404. Staff list failed email notices and retry them."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from applications.api import ID, IsStaffOfficer, PortalViewSet, _errors
from notices import selectors, services
from notices.models import Channel, Notice


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notice
        fields = ["id", "event", "subject", "body", "url", "created_at", "read_at"]
        read_only_fields = fields


class FailedNoticeSerializer(serializers.ModelSerializer):
    recipient_email = serializers.EmailField(source="recipient.email", read_only=True)

    class Meta:
        model = Notice
        fields = ["id", "key", "event", "channel", "recipient", "recipient_email", "language",
                  "subject", "state", "attempts", "last_error", "created_at",
                  "next_attempt_at", "sent_at"]
        read_only_fields = fields


UnreadCount = inline_serializer("UnreadCount", {"unread": serializers.IntegerField()})
Marked = inline_serializer("MarkedRead", {"marked": serializers.IntegerField()})


class NotificationViewSet(mixins.ListModelMixin, PortalViewSet):
    """One's own in-app notices, newest first."""

    serializer_class = NotificationSerializer
    lookup_value_regex = ID

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notice.objects.none()
        return selectors.notifications_of(self.request.user)

    @extend_schema(responses={200: NotificationSerializer(many=True), **_errors(401)})
    def list(self, request, *args, **kwargs):
        """Your notices, newest first; `read_at` is null while unread."""
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: NotificationSerializer, **_errors(401, 404)})
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        """Mark one of your notices read (again is harmless)."""
        notice = services.notice_mark_read(user=request.user, notice_id=int(pk))
        return Response(NotificationSerializer(notice).data)

    @extend_schema(request=None, responses={200: Marked, **_errors(401)})
    @action(detail=False, methods=["post"], url_path="read-all", url_name="read-all")
    def read_all(self, request):
        """Mark all your notices read; answers how many were unread."""
        return Response({"marked": services.notices_mark_all_read(user=request.user)})

    @extend_schema(responses={200: UnreadCount, **_errors(401)})
    @action(detail=False, methods=["get"], url_path="unread-count", url_name="unread-count")
    def unread_count(self, request):
        """How many of your notices are unread (the badge)."""
        return Response({"unread": selectors.unread_count(request.user)})


class StaffNoticeViewSet(PortalViewSet):
    """Email notices that could not be delivered, for staff to see and send again."""

    serializer_class = FailedNoticeSerializer
    permission_classes = [IsAuthenticated, IsStaffOfficer]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notice.objects.none()
        return Notice.objects.filter(channel=Channel.EMAIL).select_related("recipient")

    @extend_schema(responses={200: FailedNoticeSerializer(many=True), **_errors(401, 403)})
    @action(detail=False, methods=["get"])
    def failed(self, request):
        """Failed email notices, newest first, with their attempts and last error."""
        page = self.paginate_queryset(selectors.failed_notices())
        return self.get_paginated_response(FailedNoticeSerializer(page, many=True).data)

    @extend_schema(request=None,
                   responses={200: FailedNoticeSerializer, **_errors(401, 403, 404, 409)})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Send a failed (or waiting) email notice again now, with fresh attempts; 409
        `notice_not_retryable` when it was sent."""
        notice = services.notice_retry(by=request.user, notice=self.get_object())
        return Response(FailedNoticeSerializer(notice).data)


def register(router) -> None:
    """Add this app's viewsets to the API router."""
    router.register("notifications", NotificationViewSet, basename="api-notification")
    router.register("notices", StaffNoticeViewSet, basename="api-notice")
