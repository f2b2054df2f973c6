from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from applications.selectors import is_staff_officer
from notices import services
from notices.models import Notice
from qianhai_grants.errors import DomainError


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    """Staff see every notice and send failed ones again (the Retry action)."""

    list_display = ["id", "event", "channel", "recipient", "state", "attempts", "created_at",
                    "sent_at", "read_at"]
    list_filter = ["state", "event", "channel"]
    search_fields = ["key", "recipient__email", "subject"]
    list_select_related = ["recipient"]
    date_hierarchy = "created_at"
    actions = ["retry"]
    readonly_fields = [f.name for f in Notice._meta.fields]

    def _staff(self, request) -> bool:
        return request.user.is_active and (request.user.is_superuser
                                           or is_staff_officer(request.user))

    # Staff officers see notices without a model permission (roles_ensure grants none here).
    def has_module_permission(self, request):
        return self._staff(request)

    def has_view_permission(self, request, obj=None):
        return self._staff(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False  # notices are written with their event, never by hand

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Retry: send the selected failed notices again"))
    def retry(self, request, queryset):
        done = refused = 0
        for notice in queryset:
            try:
                services.notice_retry(by=request.user, notice=notice)
            except DomainError:
                refused += 1
            else:
                done += 1
        if done:
            self.message_user(request, ngettext(
                "%(count)d notice queued again.", "%(count)d notices queued again.", done)
                % {"count": done}, messages.SUCCESS)
        if refused:
            self.message_user(request, ngettext(
                "%(count)d notice was not retried: only failed or waiting email notices can be.",
                "%(count)d notices were not retried: only failed or waiting email notices can be.",
                refused) % {"count": refused}, messages.WARNING)
