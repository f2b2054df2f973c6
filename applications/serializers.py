"""How the company portal's API reads requests and writes answers (applications/api.py).

Serializers and filters here check the *shape* of input (types, lengths the database can hold);
every business rule (USCC check characters, who may invite, when a call is open...) is the
services'. The builders at the end put answers together from what services and selectors
return. Money leaves as decimal strings with two places (API.md, conventions).
"""

from django import forms
from django.core.validators import MaxValueValidator
from django.urls import reverse
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from applications import selectors, services
from applications.models import (
    Application,
    Call,
    Language,
    MemberRole,
    Membership,
    RegistrationType,
    Status,
)
from applications.transitions import COMPANY, STAFF, allowed
from measures.inputs import parse_inputs
from measures.quotes import Quote

# Ids arrive in bodies as JSON numbers; bounding them keeps a malformed id a 400, never a
# database overflow.
MAX_ID = 2**63 - 1
MAX_REASON = 5000

# What a staff officer can do in formal screening (形式審查): action name -> target status.
SCREENING = {"accept": Status.ACCEPTED, "return": Status.RETURNED, "reject": Status.REJECTED}


def _id(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def _money(**kwargs):
    return serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True,
                                    allow_null=True, **kwargs)


# ---------------------------------------------------------------- accounts

class Registration(serializers.Serializer):
    # The email is the username, and Django's username holds 150 characters.
    email = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False,
                                     style={"input_type": "password"})
    preferred_language = serializers.ChoiceField(
        choices=Language.choices, required=False,
        help_text="zh-hans, zh-hant or en; defaults to the request's language.")


class RegisteredUser(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    preferred_language = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    preferred_language = serializers.ChoiceField(choices=Language.choices)
    email_confirmed = serializers.BooleanField()
    roles = serializers.ListField(child=serializers.CharField(),
                                  help_text="company, reviewer, staff, management")


class MeUpdate(serializers.Serializer):
    preferred_language = serializers.ChoiceField(choices=Language.choices)


# ---------------------------------------------------------------- companies

class CompanyCreate(serializers.Serializer):
    name = serializers.CharField(max_length=200, help_text="The legal name (Chinese).")
    name_en = serializers.CharField(max_length=200, required=False, allow_blank=True)
    registration_type = serializers.ChoiceField(choices=RegistrationType.choices)
    # Spaces are removed before the number (at most 32 characters) is checked and stored.
    registration_number = serializers.CharField(max_length=64)
    in_qianhai = serializers.BooleanField(required=False, default=False)
    contact_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    contact_phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    contact_email = serializers.EmailField(max_length=254, required=False, allow_blank=True)


class CompanySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    registration_type = serializers.CharField()
    registration_number = serializers.CharField()
    in_qianhai = serializers.BooleanField()
    contact_name = serializers.CharField()
    contact_phone = serializers.CharField()
    contact_email = serializers.CharField()
    my_role = serializers.CharField(help_text="owner, editor or viewer")
    created_at = serializers.DateTimeField()


class MemberInvite(serializers.Serializer):
    email = serializers.CharField(max_length=254)
    # Checked by the service after the owner check, so a non-owner always hears 403.
    role = serializers.CharField(max_length=16, help_text="editor or viewer")


class MemberSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=MemberRole.choices)
    state = serializers.ChoiceField(choices=["member", "invited"],
                                    help_text="invited: no account with this email yet")
    user = serializers.IntegerField(allow_null=True)
    since = serializers.DateTimeField()


# ---------------------------------------------------------------- calls

class CallOpen(serializers.Serializer):
    measure = serializers.CharField(max_length=64, help_text="The measure's code.")
    funding_year = serializers.IntegerField()
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    reviewers_per_application = serializers.IntegerField(required=False, default=3)
    trimmed_mean = serializers.BooleanField(required=False, default=False)


class CallSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    measure = serializers.CharField(source="measure.code")
    measure_name = serializers.CharField(source="measure.name",
                                         help_text="In the request's language.")
    funding_year = serializers.IntegerField()
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    status = serializers.CharField(help_text="scheduled, open or closed (by the clock now)")
    reviewers_per_application = serializers.IntegerField()


# ---------------------------------------------------------------- applications

class ApplicationCreate(serializers.Serializer):
    call = _id()
    company = _id()
    inputs = serializers.DictField(required=False, default=dict,
                                   help_text="The measure's form fields by name.")


class ApplicationUpdate(serializers.Serializer):
    inputs = serializers.DictField(help_text="The measure's form fields by name (all of them).")


class Reason(serializers.Serializer):
    reason = serializers.CharField(max_length=MAX_REASON, required=False, allow_blank=True)


class AttachmentUpload(serializers.Serializer):
    kind = serializers.CharField(max_length=64,
                                 help_text="One of the measure version's document kinds.")
    file = serializers.FileField(help_text="PDF, JPEG, PNG, DOCX or XLSX; at most 20 MB.")


class EstimateSerializer(serializers.Serializer):
    """The engine's estimate (the same body as the policy calculator's quote)."""

    measure = serializers.CharField()
    eligible = serializers.BooleanField()
    amount = serializers.CharField(help_text="Yuan, two decimal places.")
    currency = serializers.CharField()
    capped_by = serializers.CharField(allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField())
    trace = serializers.ListField(child=serializers.CharField())
    messages = serializers.ListField(child=serializers.DictField())
    missing_fields = serializers.ListField(child=serializers.CharField())
    version = serializers.IntegerField()
    provisional = serializers.BooleanField()


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField(source="original_name")
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    uploaded_at = serializers.DateTimeField()
    download_url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, attachment) -> str:
        path = reverse("api-application-attachment-download",
                       kwargs={"pk": attachment.application_id, "att_id": attachment.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ApplicationSerializer(serializers.Serializer):
    """One row of the application list."""

    id = serializers.IntegerField()
    call = serializers.IntegerField(source="call_id")
    measure = serializers.CharField(source="call.measure.code")
    funding_year = serializers.IntegerField(source="call.funding_year")
    company = serializers.IntegerField(source="company_id")
    company_name = serializers.CharField(source="company.name")
    status = serializers.ChoiceField(choices=Status.choices)
    status_label = serializers.CharField(source="get_status_display")
    estimate_amount = _money(source="estimate",
                             help_text="The estimate stored at the last save or submission.")
    amount = _money(help_text="The decided amount, once decided.")
    revision = serializers.IntegerField(help_text="How many versions were submitted.")
    submitted_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ApplicationDetailSerializer(ApplicationSerializer):
    """An application with its inputs, a fresh estimate, its documents and what comes next.

    The view puts `estimate` (a dict) and `next_actions` (a list) into the context.
    """

    inputs = serializers.DictField()
    estimate = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()
    next_actions = serializers.SerializerMethodField()

    @extend_schema_field(EstimateSerializer)
    def get_estimate(self, application) -> dict:
        return self.context["estimate"]

    @extend_schema_field(AttachmentSerializer(many=True))
    def get_attachments(self, application) -> list:
        rows = application.attachments.filter(removed_at__isnull=True)
        return AttachmentSerializer(rows, many=True, context=self.context).data

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=[
        "edit", "submit", "withdraw", "accept", "return", "reject"])))
    def get_next_actions(self, application) -> list[str]:
        return self.context["next_actions"]


class StatusEventSerializer(serializers.Serializer):
    """{at, by, from, to, reason}: `from` is a Python keyword, hence get_fields."""

    def get_fields(self):
        return {
            "at": serializers.DateTimeField(),
            "by": serializers.EmailField(source="by.email", allow_null=True, default=None),
            "from": serializers.CharField(source="from_status", help_text="A status code."),
            "to": serializers.CharField(source="to_status", help_text="A status code."),
            "to_label": serializers.CharField(source="get_to_status_display"),
            "reason": serializers.CharField(),
        }


class RevisionAttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    name = serializers.CharField(source="original_name")
    sha256 = serializers.CharField()


class RevisionSerializer(serializers.Serializer):
    """A submitted version; the view sets `changes` on each from the previous one."""

    number = serializers.IntegerField()
    submitted_at = serializers.DateTimeField()
    submitted_by = serializers.EmailField(source="submitted_by.email", allow_null=True)
    inputs = serializers.DictField()
    attachments = RevisionAttachmentSerializer(many=True)
    changes = serializers.DictField(
        child=serializers.DictField(),
        help_text='Inputs that differ from the previous revision: {field: {"from", "to"}}.')


# ---------------------------------------------------------------- query filters

class IntegerFilter(filters.NumberFilter):
    """A whole number that fits a 64-bit key: anything else is a 400 naming the parameter."""

    field_class = forms.IntegerField

    def get_max_validator(self):
        return MaxValueValidator(MAX_ID)


class CallFilter(filters.FilterSet):
    status = filters.ChoiceFilter(
        choices=[("scheduled", "scheduled"), ("open", "open"), ("closed", "closed")],
        method="filter_status")
    measure = filters.CharFilter(field_name="measure__code")
    funding_year = IntegerFilter(field_name="funding_year")

    class Meta:
        model = Call
        fields = ["status", "measure", "funding_year"]

    def filter_status(self, queryset, name, value):
        # The same boundaries as Call.status_at: open from opens_at, closed from closes_at.
        now = timezone.now()
        if value == "scheduled":
            return queryset.filter(opens_at__gt=now)
        if value == "closed":
            return queryset.filter(closes_at__lte=now)
        return queryset.filter(opens_at__lte=now, closes_at__gt=now)


class ApplicationFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Status.choices)
    call = IntegerFilter(field_name="call_id")
    company = IntegerFilter(field_name="company_id")

    class Meta:
        model = Application
        fields = ["status", "call", "company"]


# ---------------------------------------------------------------- answers

def me_json(user) -> dict:
    profile = services.profile_of(user)
    return {"id": user.pk, "email": user.email, "preferred_language": profile.preferred_language,
            "email_confirmed": profile.email_confirmed_at is not None,
            "roles": sorted(selectors.user_roles(user))}


def member_row(row) -> dict:
    """A membership or a pending invitation, as one row of a company's members."""
    if isinstance(row, Membership):
        return {"email": row.user.email, "role": row.role, "state": "member",
                "user": row.user_id, "since": row.created_at}
    return {"email": row.email, "role": row.role, "state": "invited", "user": None,
            "since": row.created_at}


def next_actions(user, application) -> list[str]:
    """What `user` can do next with `application`, by the transition table and their roles."""
    actions = []
    if selectors.can_edit_for(user, application.company):
        if application.is_editable:
            actions.append("edit")
        if allowed(application.status, Status.SUBMITTED, COMPANY) and application.call.is_open():
            actions.append("submit")
        if allowed(application.status, Status.WITHDRAWN, COMPANY):
            actions.append("withdraw")
    if selectors.is_staff_officer(user):
        actions += [name for name, to in SCREENING.items()
                    if allowed(application.status, to, STAFF)]
    return actions


def estimate_json(application, result=None) -> dict:
    """The engine's estimate as the calculator shows it: `result` if a service just computed
    it, else computed now from the stored inputs (the engine is pure; DESIGN rule 4)."""
    version = application.measure_version
    if result is not None:
        return Quote(version=version, result=result, inputs={}).as_json()
    values = parse_inputs(version.fields, application.inputs).values
    return selectors.inputs_quote(version=version, values=values,
                                  measure_id=application.call.measure_id,
                                  company_id=application.company_id,
                                  subject_key=application.subject_key,
                                  application_id=application.pk).as_json()


def revision_changes(before: dict | None, after: dict) -> dict:
    """The inputs that differ between two submitted versions; none for the first."""
    if before is None:
        return {}
    return {name: {"from": before.get(name), "to": after.get(name)}
            for name in sorted({*before, *after}) if before.get(name) != after.get(name)}
