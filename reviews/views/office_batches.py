"""Award batches in the back office: staff start a recomputation of a call's provisional
amounts from the call's page; its progress shows on that page, polled every two seconds while
the batch runs (templates/reviews/office/_award_batch.html)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from applications import selectors as application_selectors
from qianhai_grants.errors import DomainError
from reviews.models import AwardBatch
from reviews.services.batches import award_batch_start
from reviews.views.office_common import office_action, office_view, refused


@office_action
def award_batch_start_view(request, pk):
    call = get_object_or_404(application_selectors.calls_visible(), pk=pk)
    try:
        batch = award_batch_start(by=request.user, call=call)
    except DomainError as exc:
        refused(request, None, exc)
    else:
        messages.success(request, _(
            "Recomputing the provisional amounts of %(total)d applications.") % {
            "total": batch.total})
    return redirect(reverse("office-call", args=[call.pk]) + "#award-batch")


@office_view
def award_batch_progress(request, pk):
    """The progress partial alone (what the call's page polls)."""
    batch = get_object_or_404(AwardBatch.objects.select_related("call"), pk=pk)
    return render(request, "reviews/office/_award_batch.html", {"batch": batch})


urlpatterns = [
    path("office/calls/<int:pk>/award-batch/", award_batch_start_view,
         name="office-award-batch-start"),
    path("office/award-batches/<int:pk>/", award_batch_progress, name="office-award-batch"),
]
