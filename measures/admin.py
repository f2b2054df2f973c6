"""Staff edit the catalogue here. Editing rules always makes a new version (measures.services)."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from measures import selectors
from measures.models import Measure, MeasureVersion
from measures.services import RULE_KEYS, measure_version_create, rules_validate
from qianhai_grants.errors import DomainError


class MeasureVersionInline(admin.TabularInline):
    model = MeasureVersion
    fields = ("number", "effective_from", "award_kind", "rate", "per_award_cap",
              "cumulative_cap", "fixed_amount", "annual_quota", "reason", "created_by",
              "source")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ("-number",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Measure)
class MeasureAdmin(admin.ModelAdmin):
    list_display = ("code", "clause", "pillar", "name_zh_hans", "name_en")
    list_filter = ("pillar",)
    search_fields = ("code", "name_zh_hans", "name_zh_hant", "name_en")
    readonly_fields = ("code",)
    inlines = [MeasureVersionInline]

    def has_delete_permission(self, request, obj=None):
        return False


class MeasureVersionForm(forms.ModelForm):
    """Validated by the same rules the service applies, so errors show on their fields."""

    class Meta:
        model = MeasureVersion
        fields = ("measure", "effective_from", "reason", *RULE_KEYS)

    def clean(self):
        cleaned = super().clean()
        try:
            rules_validate({key: cleaned.get(key) for key in RULE_KEYS})
        except DomainError as exc:
            for name, problems in exc.fields.items():
                self.add_error(name if name in self.fields else None, problems)
        return cleaned


@admin.register(MeasureVersion)
class MeasureVersionAdmin(admin.ModelAdmin):
    """Add a version (prefilled from the one in force); never change or delete one."""

    form = MeasureVersionForm
    list_display = ("measure", "number", "effective_from", "award_kind", "annual_quota",
                    "created_by", "source")
    list_filter = ("measure", "source")
    ordering = ("measure", "-number")

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return [f.name for f in MeasureVersion._meta.fields]
        return ()

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # A version is never changed: its page is read-only, without Save buttons.
        return obj is None and super().has_change_permission(request, obj)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        raw = request.GET.get("measure", "")
        measure = (Measure.objects.filter(pk=int(raw)).first()
                   if raw.isascii() and raw.isdigit() and len(raw) < 19 else None)
        current = selectors.version_current(measure=measure) if measure else None
        if current is not None:
            for key in RULE_KEYS:
                initial[key] = getattr(current, key)
        return initial

    def save_model(self, request, obj, form, change):
        if change:
            return
        rules = {key: form.cleaned_data.get(key) for key in RULE_KEYS}
        version = measure_version_create(
            measure=form.cleaned_data["measure"], rules=rules, by=request.user,
            reason=form.cleaned_data["reason"],
            effective_from=form.cleaned_data["effective_from"])
        obj.pk = version.pk
        obj.number = version.number



admin.site.site_header = _("Qianhai Grants administration")
admin.site.site_title = _("Qianhai Grants")
