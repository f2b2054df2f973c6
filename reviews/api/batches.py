"""Award batches in the API: staff start a recomputation of a call's provisional amounts
(`POST /api/v1/calls/{id}/award-batches/`, 202) and staff and management follow its progress
(`GET /api/v1/award-batches/{id}/`). The work runs in the background (reviews/tasks.py)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from applications import selectors as portal
from applications.api import _errors, _valid
from applications.models import Call
from reviews.api.decisions import OfficeViewSet, require_staff
from reviews.models import AWARD_BATCH_CHUNK_SIZE, AwardBatch
from reviews.services.batches import MAX_CHUNK_SIZE, award_batch_start


class AwardBatchRequest(serializers.Serializer):
    chunk_size = serializers.IntegerField(
        min_value=1, max_value=MAX_CHUNK_SIZE, required=False,
        help_text=f"Applications per transaction (default {AWARD_BATCH_CHUNK_SIZE}).")


class AwardBatchProgress(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True, help_text="0 to 100.")

    class Meta:
        model = AwardBatch
        fields = ["id", "call", "state", "total", "processed", "changed", "percent",
                  "chunk_size", "created_at", "started_at", "finished_at", "error"]
        read_only_fields = fields


class CallAwardBatchViewSet(OfficeViewSet):
    """Registered under `calls/` beside the portal's viewset, with one detail action."""

    serializer_class = AwardBatchProgress
    action_serializers = {"award_batches": AwardBatchRequest}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Call.objects.none()
        return portal.calls_visible()

    @extend_schema(request=AwardBatchRequest,
                   responses={202: AwardBatchProgress, **_errors(400, 401, 403, 404, 409)})
    @action(detail=True, methods=["post"], url_path="award-batches", url_name="award-batches")
    def award_batches(self, request, pk=None):
        """Recompute the provisional amount of every undecided application of the call
        (accepted, in review, reviewed, on the reserve list) under the catalogue in force, in
        the background; answers with the batch to follow. 409 `batch_running`."""
        call = self.get_object()
        require_staff(request.user)
        data = _valid(AwardBatchRequest, request)
        batch = award_batch_start(by=request.user, call=call,
                                  chunk_size=data.get("chunk_size", AWARD_BATCH_CHUNK_SIZE))
        return Response(AwardBatchProgress(batch).data, status=202)


class AwardBatchViewSet(mixins.RetrieveModelMixin, OfficeViewSet):
    """A batch's progress: staff and management; to anyone else no batch exists (404)."""

    serializer_class = AwardBatchProgress

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False) or not portal.reads_everything(
                self.request.user):
            return AwardBatch.objects.none()
        return AwardBatch.objects.all()

    @extend_schema(responses={200: AwardBatchProgress, **_errors(401, 404)})
    def retrieve(self, request, *args, **kwargs):
        """How far the batch is: `state` (pending, running, done, failed), `processed` of
        `total`, `changed` (provisional amounts written), `percent`."""
        return super().retrieve(request, *args, **kwargs)


def register(router) -> None:
    router.register("calls", CallAwardBatchViewSet, basename="api-call-award-batch")
    router.register("award-batches", AwardBatchViewSet, basename="api-award-batch")
