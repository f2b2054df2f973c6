"""Export jobs in the Django admin, read-only: who asked for what, how it went, and the error of
one that failed. Jobs are made and changed only by reports.services."""

from django.contrib import admin

from applications.admin import ReadOnlyAdmin
from reports.models import ExportJob


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdmin):
    list_display = ("pk", "requested_by", "kind", "format", "state", "rows_done", "rows_total",
                    "created_at", "finished_at", "expires_at")
    list_filter = ("state", "kind", "format")
    search_fields = ("requested_by__username", "requested_by__email")
    list_select_related = ("requested_by",)
    date_hierarchy = "created_at"
