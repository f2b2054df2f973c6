"""Which export jobs a user sees (DESIGN rule 6): a job is its requester's, and staff see every
one; anyone else is answered 404, as if it did not exist."""

from django.db.models import QuerySet

from qianhai_grants.roles import can_read_everything, is_staff_officer
from reports.models import ExportJob


def export_jobs_visible_to(user) -> QuerySet[ExportJob]:
    if user is None or not user.is_authenticated or not user.is_active:
        return ExportJob.objects.none()
    if is_staff_officer(user):
        return ExportJob.objects.all()
    if can_read_everything(user):  # management: its own
        return ExportJob.objects.filter(requested_by=user)
    return ExportJob.objects.none()


def export_jobs_of(user, *, limit: int = 20) -> list[ExportJob]:
    """One's own exports, newest first ("my exports")."""
    if user is None or not user.is_authenticated:
        return []
    return list(ExportJob.objects.filter(requested_by=user).order_by("-created_at", "-pk")
                [:limit])
