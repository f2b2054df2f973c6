"""The dashboard's filters (funding year, pillar, measure), shared by the dashboard, the summary
API and the exports so that a download always holds the figures the screen showed."""

from dataclasses import dataclass

from django import forms
from django.utils.translation import gettext_lazy as _

from measures.models import Measure, Pillar


class ReportFilterForm(forms.Form):
    # `funding_year` as API.md names it (`GET /api/v1/reports/summary/?funding_year=`).
    funding_year = forms.IntegerField(label=_("Funding year"), required=False, min_value=2000,
                              max_value=2100)
    pillar = forms.ChoiceField(label=_("Pillar"), required=False,
                               choices=[("", _("All pillars")), *Pillar.choices])
    measure = forms.SlugField(label=_("Measure"), required=False)

    def clean_measure(self):
        code = self.cleaned_data["measure"]
        if code and not Measure.objects.filter(code=code).exists():
            raise forms.ValidationError(_("No measure has this code."), code="unknown_measure")
        return code


@dataclass(frozen=True)
class ReportFilter:
    year: int | None = None
    pillar: str = ""
    measure: str = ""

    @classmethod
    def from_data(cls, data) -> tuple["ReportFilter", ReportFilterForm]:
        """From a query string. An invalid form gives the unfiltered view plus the form's
        errors, which the page shows beside the field and the API returns as a 400."""
        if data and "year" in data and "funding_year" not in data:  # the short name, too
            data = data.copy()
            data["funding_year"] = data["year"]
        form = ReportFilterForm(data or None)
        if form.is_bound and form.is_valid():
            c = form.cleaned_data
            return cls(year=c["funding_year"], pillar=c["pillar"] or "",
                       measure=c["measure"] or ""), form
        return cls(), form

    def applications(self, queryset, prefix: str = ""):
        """Narrow a queryset of applications (or of rows reaching one through `prefix`, e.g.
        "application__" for awards) to this filter."""
        lookups = {}
        if self.year:
            lookups[f"{prefix}call__funding_year"] = self.year
        if self.pillar:
            lookups[f"{prefix}call__measure__pillar"] = self.pillar
        if self.measure:
            lookups[f"{prefix}call__measure__code"] = self.measure
        return queryset.filter(**lookups)

    def as_query(self) -> dict[str, str]:
        """The filter as query parameters (links to exports keep the dashboard's filter)."""
        query = {"funding_year": str(self.year) if self.year else "", "pillar": self.pillar,
                 "measure": self.measure}
        return {k: v for k, v in query.items() if v}
