"""The back office's view of the company portal's data.

Business rules stay in applications.services (DESIGN rule 1): a call is opened through
`call_open`, and nothing here changes an application's status, inputs or documents, which only
the services and the transition table do. Applications, documents and status events are
read-only here.
"""

from django import forms
from django.contrib import admin

from applications import selectors, services
from applications.models import (
    Application,
    Attachment,
    Call,
    Company,
    Membership,
    StatusEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown to staff, never written here: the services are the only way to change these."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    raw_id_fields = ("user",)
    extra = 0


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "name_en", "registration_type", "registration_number", "in_qianhai",
                    "created_at")
    list_filter = ("registration_type", "in_qianhai")
    search_fields = ("name", "name_en", "registration_number", "contact_email")
    # The number was checked and normalised when the company registered (company_create); an
    # edit here would bypass the check character and the one-claim rule.
    readonly_fields = ("registration_type", "registration_number", "created_by", "created_at")
    inlines = [MembershipInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("company", "user", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("company__name", "company__registration_number", "user__username")
    raw_id_fields = ("company", "user")


class CallForm(forms.ModelForm):
    """Checked by the same rules `call_open` applies, so errors show on their fields."""

    class Meta:
        model = Call
        fields = ("measure", "funding_year", "opens_at", "closes_at",
                  "reviewers_per_application", "trimmed_mean")

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            errors = services.call_validate(
                measure=cleaned.get("measure"), funding_year=cleaned.get("funding_year"),
                opens_at=cleaned.get("opens_at"), closes_at=cleaned.get("closes_at"),
                reviewers_per_application=cleaned.get("reviewers_per_application"))
            for name, problems in errors.items():
                if name not in self.errors:
                    self.add_error(name if name in self.fields else None, problems)
        return cleaned


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    form = CallForm
    list_display = ("measure", "funding_year", "opens_at", "closes_at", "status",
                    "reviewers_per_application")
    list_filter = ("funding_year", "measure")
    date_hierarchy = "opens_at"

    def get_readonly_fields(self, request, obj=None):
        # Once opened, a call keeps its measure and year: applications refer to them.
        return ("measure", "funding_year", "created_by", "created_at") if obj else ()

    def has_add_permission(self, request):
        # call_open lets only staff officers open calls; the admin asks the same.
        return selectors.is_staff_officer(request.user) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        call = services.call_open(by=request.user, **form.cleaned_data)
        obj.pk = call.pk
        obj.created_by = call.created_by
        obj.created_at = call.created_at


class AttachmentInline(admin.TabularInline):
    model = Attachment
    fields = ("kind", "original_name", "content_type", "size", "sha256", "uploaded_by",
              "uploaded_at", "removed_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class StatusEventInline(admin.TabularInline):
    model = StatusEvent
    fields = ("at", "by", "from_status", "to_status", "reason")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ("id", "company", "call", "status", "estimate", "amount", "revision",
                    "submitted_at", "updated_at")
    list_filter = ("status", "call__measure", "call__funding_year")
    search_fields = ("company__name", "company__registration_number", "subject_key")
    list_select_related = ("company", "call__measure")
    readonly_fields = ("call", "company", "measure_version", "status", "inputs", "subject_key",
                       "estimate", "amount", "revision", "submitted_at", "created_by",
                       "created_at", "updated_at")
    inlines = [AttachmentInline, StatusEventInline]


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ("original_name", "application", "kind", "content_type", "size",
                    "uploaded_at", "removed_at")
    list_filter = ("kind", "content_type", ("removed_at", admin.EmptyFieldListFilter))
    search_fields = ("original_name", "sha256", "application__company__name")
    list_select_related = ("application__company",)
    readonly_fields = ("application", "kind", "original_name", "stored_name", "content_type",
                       "size", "sha256", "uploaded_by", "uploaded_at", "removed_at")


@admin.register(StatusEvent)
class StatusEventAdmin(ReadOnlyAdmin):
    list_display = ("application", "at", "by", "from_status", "to_status")
    list_filter = ("to_status", "from_status")
    search_fields = ("application__company__name", "reason")
    list_select_related = ("application__company", "by")
    readonly_fields = ("application", "at", "by", "from_status", "to_status", "reason")
    date_hierarchy = "at"

