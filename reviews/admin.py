"""The back office's data in the Django admin.

Staff maintain the holiday calendar (public holidays and make-up working days) here. Everything
else is read-only: reviews, decisions, 公示, objections and payments change only through the
services (DESIGN rule 1), which check roles, quotas and caps and write the audit trail.
"""

from django.contrib import admin

from applications.admin import ReadOnlyAdmin
from reviews.models import (
    Affiliation,
    AuditEntry,
    Award,
    CalendarDay,
    Objection,
    Payment,
    Publicity,
    QuotaCounter,
    ReviewerProfile,
    SubjectLedger,
)


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ("date", "kind", "name")
    list_filter = ("kind",)
    search_fields = ("name",)
    date_hierarchy = "date"
    ordering = ("date",)


class AffiliationInline(admin.TabularInline):
    model = Affiliation
    fields = ("registration_number", "kind", "note", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ReviewerProfile)
class ReviewerProfileAdmin(ReadOnlyAdmin):
    list_display = ("name", "user", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "user__username", "affiliations__registration_number")
    inlines = [AffiliationInline]


class PaymentInline(admin.TabularInline):
    model = Payment
    fields = ("amount", "paid_on", "reference", "recorded_by", "recorded_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Award)
class AwardAdmin(ReadOnlyAdmin):
    list_display = ("application", "amount", "capped_by", "paid", "decided_at", "awarded_at",
                    "released_at")
    list_filter = ("application__call__measure", "application__call__funding_year")
    search_fields = ("application__company__name", "application__company__registration_number")
    inlines = [PaymentInline]


@admin.register(Publicity)
class PublicityAdmin(ReadOnlyAdmin):
    list_display = ("call", "starts_on", "ends_on", "working_days", "finalized_at")


@admin.register(Objection)
class ObjectionAdmin(ReadOnlyAdmin):
    list_display = ("application", "name", "organization", "state", "created_at", "resolved_at")
    list_filter = ("state",)


@admin.register(QuotaCounter)
class QuotaCounterAdmin(ReadOnlyAdmin):
    list_display = ("measure", "funding_year", "used", "quota")


@admin.register(SubjectLedger)
class SubjectLedgerAdmin(ReadOnlyAdmin):
    list_display = ("measure", "company", "subject_key", "committed", "cumulative_cap", "awards")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "action", "by", "application", "call")
    list_filter = ("action",)
    search_fields = ("application__company__name", "reason")
    date_hierarchy = "at"
