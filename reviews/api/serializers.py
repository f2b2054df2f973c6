"""How the back office's decision API reads requests and writes answers (reviews/api/decisions.py,
publicity.py, awards.py).

Request serializers check the *shape* of a body (types, lengths the database holds); every rule
(who may, when, how much) is the services'. Answer serializers turn what services and selectors
return into JSON: money as decimal strings with two places (API.md, conventions). Class names
are unique across the whole API: they name the schema's components.
"""

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from applications.models import Status
from applications.serializers import MAX_ID, MAX_REASON, IntegerFilter
from measures.trace import render_trace
from qianhai_grants.i18n import localized
from qianhai_grants.money import format_money, parse_money
from reviews.models import Award, Objection, ObjectionState
from reviews.services.publicity import MAX_WORKING_DAYS, publicity_is_open


def _id(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def _money(**kwargs):
    return serializers.DecimalField(**{"max_digits": 16, "decimal_places": 2, **kwargs})


def _email_of(user) -> str | None:
    return user.email if user is not None else None


@extend_schema_field({"type": "string", "pattern": r"^\d+(\.\d{1,2})?$",
                      "example": "1500000.00"})
class MoneyField(serializers.Field):
    """An amount in yuan: a decimal string (or a JSON number), at most two places, never
    negative. Read as a Decimal; the view hands services its canonical string."""

    default_error_messages = {"invalid": _("Enter an amount in yuan, such as 1500000.00.")}

    def to_internal_value(self, data):
        try:
            return parse_money(data)
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value):
        return format_money(value)


# ---------------------------------------------------------------- requests

class DecisionReason(serializers.Serializer):
    reason = serializers.CharField(max_length=MAX_REASON, required=False, allow_blank=True)


class DeclineRequestBody(serializers.Serializer):
    reason = serializers.CharField(max_length=MAX_REASON,
                                   help_text="Why it was not selected, for the company.")


class ApproveRequestBody(serializers.Serializer):
    amount = MoneyField(required=False, allow_null=True, help_text=(
        "A lower amount than the engine's (never a higher one); by default the engine's, or "
        "the reviewers' recommendation for a measure awarded up to a cap."))
    reason = serializers.CharField(max_length=MAX_REASON, required=False, allow_blank=True)


class RankAndFillRequest(serializers.Serializer):
    count = serializers.IntegerField(min_value=0, max_value=10_000, required=False,
                                     allow_null=True, help_text=(
                                         "How many to propose; by default as many as the "
                                         "annual quota allows (required without a quota)."))
    reserve = serializers.IntegerField(min_value=0, max_value=10_000, required=False,
                                       allow_null=True, help_text=(
                                           "How many go to the reserve list; by default all "
                                           "the others."))


class PublicityOpenRequest(serializers.Serializer):
    working_days = serializers.IntegerField(min_value=1, max_value=MAX_WORKING_DAYS,
                                            required=False, default=5)


class ObjectionFileRequest(serializers.Serializer):
    """A signed objection: name, organisation and contact are required (anonymous objections
    are refused)."""

    name = serializers.CharField(max_length=100)
    organization = serializers.CharField(max_length=200)
    contact = serializers.CharField(max_length=200, help_text="A phone number or an email.")
    application = _id(help_text="The application id of the notice's line objected to.")
    text = serializers.CharField(max_length=5000)


class ObjectionResolveRequest(serializers.Serializer):
    upheld = serializers.BooleanField(help_text=(
        "true: the application is rejected and its slot freed; false: dismissed."))
    note = serializers.CharField(max_length=MAX_REASON)


class PaymentRecordRequest(serializers.Serializer):
    amount = MoneyField()
    paid_on = serializers.DateField()
    reference = serializers.CharField(max_length=64)


# ---------------------------------------------------------------- answers

class NamedCompany(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class NamedMeasure(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(help_text="In the request's language.")


def measure_json(measure) -> dict:
    return {"code": measure.code, "name": localized(measure.names)}


class AwardSummary(serializers.Serializer):
    id = serializers.IntegerField()
    amount = _money()
    capped_by = serializers.CharField(help_text="The limit that bound the amount, if any.")
    decided_at = serializers.DateTimeField()
    released_at = serializers.DateTimeField(allow_null=True)


class DecisionResult(serializers.Serializer):
    """An application after a decision, with its award once it has one."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Status.choices)
    status_label = serializers.CharField(source="get_status_display")
    amount = _money(allow_null=True)
    award = serializers.SerializerMethodField()

    @extend_schema_field(AwardSummary(allow_null=True))
    def get_award(self, application):
        award = Award.objects.filter(application=application).first()
        return AwardSummary(award).data if award is not None else None


class RankAndFillOutcome(serializers.Serializer):
    proposed = serializers.ListField(child=serializers.IntegerField())
    reserve = serializers.ListField(child=serializers.IntegerField())
    declined = serializers.ListField(child=serializers.IntegerField())


class FinalizeOutcome(serializers.Serializer):
    awarded = serializers.ListField(child=serializers.IntegerField(),
                                    help_text="The applications now awarded.")


class QuotaUse(serializers.Serializer):
    quota = serializers.IntegerField(allow_null=True, help_text="null: the measure has none.")
    used = serializers.IntegerField()
    left = serializers.IntegerField(allow_null=True)


class RankingRow(serializers.Serializer):
    rank = serializers.IntegerField()
    application = serializers.IntegerField()
    company = NamedCompany()
    project = serializers.CharField()
    score = _money(max_digits=6)
    reviews_count = serializers.IntegerField()
    trimmed = serializers.BooleanField(help_text="The highest and lowest scores were dropped.")
    status = serializers.ChoiceField(choices=Status.choices)
    estimate = _money(allow_null=True)
    amount = _money(allow_null=True, help_text="The decided amount, once decided.")
    recommended_amount = _money(allow_null=True)


class Ranking(serializers.Serializer):
    call = serializers.IntegerField()
    measure = NamedMeasure()
    funding_year = serializers.IntegerField()
    quota = QuotaUse()
    results = RankingRow(many=True)


def ranking_row(rank: int, application, project: str) -> dict:
    assessment = application.assessment
    return {"rank": rank, "application": application.pk,
            "company": {"id": application.company_id, "name": application.company.name},
            "project": project, "score": assessment.score,
            "reviews_count": assessment.reviews_count, "trimmed": assessment.trimmed,
            "status": application.status, "estimate": application.estimate,
            "amount": application.amount, "recommended_amount": assessment.recommended_amount}


class ChecklistItem(serializers.Serializer):
    code = serializers.CharField(help_text="document:<kind>, condition:<field> or "
                                           "company:in_qianhai")
    label = serializers.CharField()
    ok = serializers.BooleanField()
    detail = serializers.CharField()


class Checklist(serializers.Serializer):
    application = serializers.IntegerField()
    ok = serializers.BooleanField(help_text="Every item holds.")
    items = ChecklistItem(many=True)


class AuditRow(serializers.Serializer):
    """One line of an application's history: a status change (`kind` "status", with `from`
    and `to`) or something a service did (`kind` its action, with `data`)."""

    def get_fields(self):  # `from` is a Python keyword
        return {
            "at": serializers.DateTimeField(),
            "by": serializers.EmailField(allow_null=True),
            "kind": serializers.CharField(help_text='"status" or the action: approved, '
                                                    'declined, objection_filed, ...'),
            "from": serializers.CharField(allow_null=True),
            "to": serializers.CharField(allow_null=True),
            "data": serializers.DictField(),
            "reason": serializers.CharField(),
        }


# ---------------------------------------------------------------- 公示 and objections

class PublicityLine(serializers.Serializer):
    application = serializers.IntegerField(source="application_id")
    company_name = serializers.CharField()
    project = serializers.CharField()
    amount = _money()


class PublicityNotice(serializers.Serializer):
    id = serializers.IntegerField()
    call = serializers.IntegerField(source="call_id")
    measure = serializers.SerializerMethodField()
    funding_year = serializers.IntegerField(source="call.funding_year")
    title = serializers.SerializerMethodField()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    working_days = serializers.IntegerField()
    is_open = serializers.SerializerMethodField(
        help_text="Objections are taken (from publication until the period ends).")
    finalized_at = serializers.DateTimeField(allow_null=True)
    entries = PublicityLine(many=True)

    @extend_schema_field(NamedMeasure)
    def get_measure(self, publicity) -> dict:
        return measure_json(publicity.call.measure)

    def get_title(self, publicity) -> str:
        from reviews.services.publicity import publicity_title

        return publicity_title(publicity)

    def get_is_open(self, publicity) -> bool:
        return publicity_is_open(publicity)


class ObjectionFiled(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField(help_text="open")


class ObjectionRow(serializers.Serializer):
    id = serializers.IntegerField()
    publicity = serializers.IntegerField(source="publicity_id")
    call = serializers.IntegerField(source="publicity.call_id")
    application = serializers.IntegerField(source="application_id")
    company_name = serializers.CharField(source="application.company.name")
    name = serializers.CharField()
    organization = serializers.CharField()
    contact = serializers.CharField()
    text = serializers.CharField()
    created_at = serializers.DateTimeField()
    state = serializers.CharField(help_text="open, upheld or dismissed")
    resolved_by = serializers.SerializerMethodField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField()

    @extend_schema_field(serializers.EmailField(allow_null=True))  # null while open
    def get_resolved_by(self, objection) -> str | None:
        return _email_of(objection.resolved_by)


class ObjectionFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=ObjectionState.choices)
    publicity = IntegerFilter(field_name="publicity_id")
    call = IntegerFilter(field_name="publicity__call_id")

    class Meta:
        model = Objection
        fields = ["state", "publicity", "call"]


# ---------------------------------------------------------------- awards and payments

class PaymentRow(serializers.Serializer):
    id = serializers.IntegerField()
    award = serializers.IntegerField(source="award_id")
    amount = _money()
    paid_on = serializers.DateField()
    reference = serializers.CharField()
    recorded_by = serializers.EmailField(source="recorded_by.email")
    recorded_at = serializers.DateTimeField()


class AwardRow(serializers.Serializer):
    """One award of the list."""

    id = serializers.IntegerField()
    application = serializers.IntegerField(source="application_id")
    call = serializers.IntegerField(source="application.call_id")
    company = serializers.SerializerMethodField()
    measure = serializers.SerializerMethodField()
    funding_year = serializers.IntegerField(source="application.call.funding_year")
    amount = _money()
    capped_by = serializers.CharField()
    status = serializers.ChoiceField(source="application.status", choices=Status.choices,
                                     help_text="The application's status.")
    decided_at = serializers.DateTimeField()
    awarded_at = serializers.DateTimeField(allow_null=True)
    released_at = serializers.DateTimeField(allow_null=True)
    paid = _money()
    left_to_pay = serializers.SerializerMethodField()

    @extend_schema_field(NamedCompany)
    def get_company(self, award) -> dict:
        company = award.application.company
        return {"id": company.pk, "name": company.name}

    @extend_schema_field(NamedMeasure)
    def get_measure(self, award) -> dict:
        return measure_json(award.application.call.measure)

    @extend_schema_field(_money())
    def get_left_to_pay(self, award) -> str:
        return format_money(award.amount - award.paid)


class AwardDetail(AwardRow):
    """An award with the rules, inputs and calculation it was decided with, and its payments."""

    parameters = serializers.DictField(help_text="The rule parameters in force at the decision.")
    inputs = serializers.DictField(help_text="The application's inputs at the decision.")
    trace = serializers.SerializerMethodField()
    trace_steps = serializers.ListField(source="trace", child=serializers.DictField(),
                                        help_text="The calculation's raw steps.")
    payments = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_trace(self, award) -> list[str]:
        return render_trace(award.trace, award.measure_version.field_labels())

    @extend_schema_field(PaymentRow(many=True))
    def get_payments(self, award) -> list:
        from reviews.selectors_office import award_payments

        return PaymentRow(award_payments(award), many=True).data


class AwardFilter(filters.FilterSet):
    call = IntegerFilter(field_name="application__call_id")
    funding_year = IntegerFilter(field_name="application__call__funding_year")
    measure = filters.CharFilter(field_name="application__call__measure__code", max_length=64)

    class Meta:
        model = Award
        fields = ["call", "funding_year", "measure"]
