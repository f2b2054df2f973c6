"""Web forms of the back office. They only collect values: the services check them (and every
rule), and the field errors of their DomainErrors are put back on these forms' fields
(`applications.forms.add_service_errors`)."""

import django_filters as filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from applications.models import Application, Call, Status
from applications.registration import normalize
from applications.services import SCREENING_OUTCOMES
from measures.models import Measure
from qianhai_grants.i18n import localized
from reviews.models import Award


def call_label(call) -> str:
    return _("%(measure)s, funding year %(year)s") % {
        "measure": localized(call.measure.names), "year": call.funding_year}


def _call_choices():
    calls = Call.objects.select_related("measure").order_by("-funding_year", "measure__order",
                                                            "pk")
    return [(call.pk, call_label(call)) for call in calls]


# ---------------------------------------------------------------- lists

class ApplicationFilter(filters.FilterSet):
    """The applications list's filters: call, measure, status, funding year, and a search by
    company name, registration number or application id."""

    q = filters.CharFilter(label=_("Company, registration number or id"), method="search")
    call = filters.ChoiceFilter(label=_("Call"), field_name="call_id", empty_label=_("All"))
    measure = filters.ChoiceFilter(label=_("Measure"), field_name="call__measure__code",
                                   empty_label=_("All"))
    status = filters.ChoiceFilter(label=_("Status"), choices=Status.choices,
                                  empty_label=_("All"))
    funding_year = filters.NumberFilter(label=_("Funding year"),
                                        field_name="call__funding_year")

    class Meta:
        model = Application
        fields = ["q", "call", "measure", "status", "funding_year"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["call"].extra["choices"] = _call_choices
        self.filters["measure"].extra["choices"] = lambda: [
            (m.code, localized(m.names)) for m in Measure.objects.order_by("order", "code")]

    def search(self, queryset, name, value):
        """"#12" is application 12; a bare number is an id or a part of a registration number
        (of 4 characters or more); any other text, a part of a name or of a number."""
        text = value.strip()
        if not text:
            return queryset
        digits = text[1:].strip() if text.startswith("#") else text
        by_id = Q(pk=int(digits)) if digits.isdigit() and len(digits) < 16 else None
        if text.startswith("#"):
            return queryset.filter(by_id) if by_id is not None else queryset.none()
        found = Q(company__name__icontains=text) | Q(company__name_en__icontains=text)
        number = normalize(text)
        if len(number) >= 4:
            found |= Q(company__registration_number__icontains=number)
        return queryset.filter(found | by_id if by_id is not None else found)


class AwardFilter(filters.FilterSet):
    call = filters.ChoiceFilter(label=_("Call"), field_name="application__call_id",
                                empty_label=_("All"))
    funding_year = filters.NumberFilter(label=_("Funding year"),
                                        field_name="application__call__funding_year")

    class Meta:
        model = Award
        fields = ["call", "funding_year"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["call"].extra["choices"] = _call_choices


# ---------------------------------------------------------------- one application

class ActionForm(forms.Form):
    """Several action forms share a page: each gets its own element ids (its field names stay
    plain, as the services name them)."""

    ids = "action"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"id_{self.ids}_%s")
        super().__init__(*args, **kwargs)


def _text(label, *, required=False, rows=3, max_length=2000):
    return forms.CharField(label=label, required=required, max_length=max_length,
                           widget=forms.Textarea(attrs={"rows": rows}))


class ScreenForm(ActionForm):
    """Formal screening (形式審查): one form, three buttons (accept, return, reject)."""

    ids = "screen"

    to = forms.ChoiceField(choices=[(s, Status(s).label) for s in SCREENING_OUTCOMES],
                           widget=forms.HiddenInput)
    reason = _text(_("Reason (for the company; needed to return or reject)"))


class AssignForm(ActionForm):
    """The best candidates are offered (`reviewer_candidates`); the service decides who may be
    given the application (so a reviewer who became conflicted meanwhile is refused by it)."""

    ids = "assign"

    reviewer = forms.CharField(label=_("Reviewer"), required=False, max_length=20,
                               widget=forms.Select)
    due_on = forms.DateField(label=_("Due on (optional)"), required=False,
                             widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, candidates, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reviewer"].widget.choices = [("", _("Choose a reviewer"))] + [
            (user.pk, reviewer_name(user)) for user in candidates]


def reviewer_name(user) -> str:
    profile = getattr(user, "reviewer_profile", None)
    return profile.name if profile is not None else user.get_username()


class ApproveForm(ActionForm):
    ids = "approve"
    amount = forms.CharField(label=_("Amount in yuan (optional: lower than the computed one)"),
                             required=False, max_length=32)
    reason = _text(_("Note (optional)"), rows=2)


class DeclineForm(ActionForm):
    ids = "decline"
    reason = _text(_("Reason (for the company)"))


class ReserveForm(ActionForm):
    ids = "reserve"
    reason = _text(_("Note (optional)"), rows=2)


class PaymentForm(ActionForm):
    ids = "payment"
    amount = forms.CharField(label=_("Amount in yuan"), max_length=32, required=False)
    paid_on = forms.CharField(label=_("Paid on"), required=False, max_length=10,
                              widget=forms.DateInput(attrs={"type": "date"}))
    reference = forms.CharField(label=_("Reference"), required=False, max_length=200)


# ---------------------------------------------------------------- a call, a notice

class RankFillForm(ActionForm):
    ids = "rank"
    count = forms.IntegerField(label=_("How many to propose (blank: as the quota allows)"),
                               required=False, min_value=0)
    reserve = forms.IntegerField(label=_("How many on the reserve list (blank: all the rest)"),
                                 required=False, min_value=0)


class PublicityOpenForm(ActionForm):
    ids = "publicity"
    working_days = forms.IntegerField(label=_("Working days"), initial=5)


class ResolveForm(ActionForm):
    ids = "resolve"
    upheld = forms.TypedChoiceField(
        label=_("Is the objection upheld?"), widget=forms.RadioSelect,
        choices=[("yes", _("Upheld: the award is withdrawn")),
                 ("no", _("Dismissed: the award stays"))],
        coerce=lambda value: value == "yes")
    note = _text(_("Note for the record"))
