"""How the reviewing API reads requests and writes answers (reviews/api/reviewing.py): the
reviewer pool, assignments, scorecards and a reviewer's own reviews.

Request serializers check the *shape* of a body (types, lengths the database holds); every rule
(expertise tags, conflicts, score ranges, comments below half) is the services', which name the
offending field (`scores.<code>`, `comments.<code>`, `criteria.<n>.weight`...). Answer
serializers never mix reviewers: a reviewer's answers are built from their own review only
(blind scoring); the staff view of an application's reviews is `AssignmentRow`. Class names are
unique across the whole API (they name the schema's components).
"""

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from applications.serializers import MAX_ID, MAX_REASON, AttachmentSerializer, IntegerFilter
from applications.views import _display as input_display
from measures.models import AwardKind
from qianhai_grants.i18n import LANGUAGE_CODES, localized
from reviews.api.serializers import MoneyField, NamedCompany, NamedMeasure, measure_json
from reviews.models import Affiliation, AffiliationKind, Review, ReviewerProfile, ReviewState
from reviews.selectors_office import project_of

NAME_MAX = ReviewerProfile._meta.get_field("name").max_length
NOTE_MAX = Affiliation._meta.get_field("note").max_length
MAX_TAGS = 50  # expertise tags or registration numbers given at once
MAX_CRITERIA = 50
MAX_TEXT = 20_000  # a reviewer's comment


def _money(**kwargs):
    return serializers.DecimalField(**{"max_digits": 16, "decimal_places": 2, **kwargs})


def _score_total(**kwargs):
    return serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True, **kwargs)


class ReviewStateField(serializers.CharField):
    """A review's state: assigned (to score), submitted or recused."""


class ReviewStateFieldSchema(OpenApiSerializerFieldExtension):
    """The review states as one named component, `ReviewStateEnum`: the schema's enum naming
    goes by field name, and other "state" and "status" fields of the API have other choices."""

    target_class = ReviewStateField

    def map_serializer_field(self, auto_schema, direction):
        component = ResolvedComponent(
            name="ReviewStateEnum", type=ResolvedComponent.SCHEMA, object="ReviewStateEnum",
            schema={"type": "string", "enum": list(ReviewState.values),
                    "description": "assigned (to score), submitted or recused"})
        auto_schema.registry.register_on_missing(component)
        return component.ref


def weight_text(weight) -> str:
    """A stored weight (a JSON number or a decimal string) as a decimal string: "30", "12.5"."""
    return str(weight)


# ---------------------------------------------------------------- requests

class ReviewerCreate(serializers.Serializer):
    email = serializers.CharField(max_length=150, help_text="The reviewer's login name too.")
    name = serializers.CharField(max_length=NAME_MAX)
    expertise = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=MAX_TAGS, required=False,
        default=list, help_text="Measure codes (`demo-project`) or pillars "
                                "(`application_demo`) the reviewer scores.")
    affiliations = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=MAX_TAGS, required=False,
        default=list, help_text="Registration numbers of the companies the reviewer works for: "
                                "never given their applications.")
    password = serializers.CharField(
        max_length=4096, required=False, allow_null=True, trim_whitespace=False,
        write_only=True, style={"input_type": "password"},
        help_text="Without one, the reviewer sets a password through password reset.")


class AffiliationDeclare(serializers.Serializer):
    registration_number = serializers.CharField(max_length=64)
    kind = serializers.ChoiceField(choices=AffiliationKind.choices, required=False,
                                   default=AffiliationKind.DECLARED)
    note = serializers.CharField(max_length=NOTE_MAX, required=False, allow_blank=True,
                                 default="")


class AssignmentCreate(serializers.Serializer):
    reviewer = serializers.IntegerField(min_value=1, max_value=MAX_ID,
                                        help_text="The reviewer's user id (`reviewers/`).")
    due_at = serializers.DateTimeField(required=False, allow_null=True,
                                       help_text="When the scores are due; in the future.")


class CriterionSpecLabels(serializers.Serializer):
    def get_fields(self):  # "zh-hans" is not a Python name
        return {code: serializers.CharField() for code in LANGUAGE_CODES}


class CriterionSpec(serializers.Serializer):
    """One criterion as staff set it."""

    code = serializers.RegexField(r"^[-a-zA-Z0-9_]+$", max_length=64)
    labels = CriterionSpecLabels()
    weight = serializers.DecimalField(max_digits=11, decimal_places=4, min_value=0,
                                      help_text="Relative (the weights need not add up to "
                                                "anything); a number or a decimal string.")
    max_score = serializers.IntegerField(min_value=1, max_value=100)


def _storable(value) -> bool:
    """No string anywhere in a JSON value holds a NUL or a lone surrogate (as DRF's text fields
    refuse them)."""
    if isinstance(value, str):
        return "\x00" not in value and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    return True


@extend_schema_field(CriterionSpec(many=True))
class CriteriaField(serializers.Field):
    """A list of criteria: only its shape here; `scorecard_set` checks each one and names what
    is wrong as `criteria.<index>.<field>`."""

    default_error_messages = {
        "invalid": _("Give a list of criteria."),
        "characters": _("Text may not contain NUL or surrogate characters."),
    }

    def to_internal_value(self, data):
        if not isinstance(data, list) or len(data) > MAX_CRITERIA:
            self.fail("invalid")
        try:
            storable = _storable(data)
        except RecursionError:  # nested deeper than any criterion is
            self.fail("invalid")
        if not storable:  # the criteria are kept as JSON, which PostgreSQL refuses then
            self.fail("characters")
        return data

    def to_representation(self, value):
        return value


class ScorecardSet(serializers.Serializer):
    criteria = CriteriaField()


@extend_schema_field({"type": "object", "additionalProperties": {
    "oneOf": [{"type": "number"}, {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$"}]},
    "example": {"innovation": 8, "feasibility": "7.5"}})
class ScoresField(serializers.Field):
    """A score per criterion code: only its shape here; `review_submit` checks each score and
    names what is wrong as `scores.<code>`."""

    default_error_messages = {"invalid": _("Give a score for each criterion.")}

    def to_internal_value(self, data):
        if not isinstance(data, dict) or len(data) > MAX_CRITERIA:
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class ReviewSubmit(serializers.Serializer):
    scores = ScoresField(help_text="Every criterion of the call's scorecard, from 0 to its "
                                   "maximum, at most 2 decimal places.")
    comment = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True,
                                    default="", help_text="For staff (and, through them, the "
                                                          "company).")
    comments = serializers.DictField(
        child=serializers.CharField(max_length=MAX_REASON, allow_blank=True, allow_null=True),
        required=False, allow_null=True, help_text=(
            "A comment per criterion code; a score below half of its maximum needs one (or the "
            "general comment)."))
    recommended_amount = MoneyField(required=False, allow_null=True, help_text=(
        "Only for a measure awarded up to a cap: the amount the reviewer recommends."))


class RecusalReason(serializers.Serializer):
    reason = serializers.CharField(max_length=MAX_REASON,
                                   help_text="Why the reviewer steps back; staff read it.")


# ---------------------------------------------------------------- the pool

class PoolAffiliation(serializers.Serializer):
    registration_number = serializers.CharField()
    kind = serializers.ChoiceField(choices=AffiliationKind.choices)
    note = serializers.CharField()


class PoolReviewer(serializers.Serializer):
    """A reviewer of the pool."""

    # The context holds `loads`: user id → reviews still to score (one query for a page).

    id = serializers.IntegerField(source="user_id", help_text="The reviewer's user id: what "
                                                              "assignments name.")
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField()
    expertise = serializers.ListField(child=serializers.CharField())
    affiliations = PoolAffiliation(many=True, source="affiliations.all")
    active = serializers.SerializerMethodField(
        help_text="In the pool and able to log in: may be given applications.")
    open_reviews = serializers.SerializerMethodField(
        help_text="Reviews still to score, over all calls.")

    def get_active(self, profile) -> bool:
        return bool(profile.active and profile.user.is_active)

    def get_open_reviews(self, profile) -> int:
        return self.context.get("loads", {}).get(profile.user_id, 0)


# ---------------------------------------------------------------- assignments (staff)

class AssignmentCreated(serializers.Serializer):
    id = serializers.IntegerField()
    application = serializers.IntegerField(source="application_id")
    reviewer = serializers.IntegerField(source="reviewer_id", help_text="A user id.")
    state = ReviewStateField()
    due_at = serializers.DateTimeField(allow_null=True)


class AssignmentRow(AssignmentCreated):
    """One review of an application, as staff and management read it (never a reviewer)."""

    reviewer_name = serializers.SerializerMethodField()
    reviewer_email = serializers.EmailField(source="reviewer.email")
    assigned_at = serializers.DateTimeField()
    automatic = serializers.SerializerMethodField(
        help_text="Assigned by the system (auto-assignment or a recusal's replacement).")
    scores = serializers.DictField(child=serializers.CharField(),
                                   help_text="Criterion code → score, once submitted.")
    comments = serializers.DictField(child=serializers.CharField())
    comment = serializers.CharField()
    total = _score_total(help_text="The weighted total on a scale of 0 to 100.")
    recommended_amount = _money(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    recusal_reason = serializers.CharField()
    recused_at = serializers.DateTimeField(allow_null=True)

    def get_reviewer_name(self, review) -> str:
        profile = getattr(review.reviewer, "reviewer_profile", None)
        return profile.name if profile is not None else review.reviewer.get_username()

    def get_automatic(self, review) -> bool:
        return review.assigned_by_id is None


class AutoAssignOutcome(serializers.Serializer):
    assigned = serializers.IntegerField(help_text="New reviews made.")
    short = serializers.ListField(child=serializers.IntegerField(), help_text=(
        "Applications left with fewer reviewers than the call asks for."))


# ---------------------------------------------------------------- scorecards

class ReviewCriterion(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField(help_text="In the request's language.")
    weight = serializers.CharField(help_text='A decimal string: "30", "12.5".')
    max_score = serializers.IntegerField()


class ScorecardCriterion(ReviewCriterion):
    labels = serializers.DictField(child=serializers.CharField(),
                                   help_text="zh-hans, zh-hant and en.")


def criteria_json(criteria: list[dict], *, with_labels=False) -> list[dict]:
    rows = []
    for c in criteria:
        row = {"code": c["code"], "label": localized(c.get("labels")),
               "weight": weight_text(c["weight"]), "max_score": c["max_score"]}
        if with_labels:
            row["labels"] = dict(c.get("labels") or {})
        rows.append(row)
    return rows


class CallScorecard(serializers.Serializer):
    call = serializers.IntegerField()
    criteria = ScorecardCriterion(many=True)
    scoring_started = serializers.BooleanField(allow_null=True, help_text=(
        "A review of the call is submitted, so the criteria can no longer change (staff and "
        "management; null for reviewers)."))
    updated_at = serializers.DateTimeField(allow_null=True, help_text=(
        "null: the call still has the default criteria."))


# ---------------------------------------------------------------- a reviewer's own reviews

class ReviewRow(serializers.Serializer):
    """One of your own reviews. Scores, comments and total are yours, once submitted: never
    another reviewer's, never the aggregate."""

    # The context holds `criteria`: call id → the call's criteria (one query for a page).

    id = serializers.IntegerField()
    application = serializers.IntegerField(source="application_id")
    call = serializers.IntegerField(source="application.call_id")
    measure = serializers.SerializerMethodField()
    company = serializers.SerializerMethodField()
    project = serializers.SerializerMethodField()
    state = ReviewStateField()
    status = ReviewStateField(source="state", help_text="The same as `state` (API.md's name).")
    assigned_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(allow_null=True)
    criteria = serializers.SerializerMethodField()
    scores = serializers.DictField(child=serializers.CharField(),
                                   help_text="Your scores by criterion code, once submitted.")
    comments = serializers.DictField(child=serializers.CharField())
    comment = serializers.CharField()
    total = _score_total(help_text="Your weighted total (0 to 100), once submitted.")
    recommended_amount = _money(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(NamedMeasure)
    def get_measure(self, review) -> dict:
        return measure_json(review.application.call.measure)

    @extend_schema_field(NamedCompany)
    def get_company(self, review) -> dict:
        company = review.application.company
        return {"id": company.pk, "name": company.name}

    def get_project(self, review) -> str:
        return project_of(review.application)

    @extend_schema_field(ReviewCriterion(many=True))
    def get_criteria(self, review) -> list[dict]:
        return criteria_json(self.context["criteria"][review.application.call_id])


class ReviewInput(serializers.Serializer):
    """One field of the application's form, as the company filled it in."""

    name = serializers.CharField()
    label = serializers.CharField(help_text="In the request's language.")
    type = serializers.CharField()
    value = serializers.JSONField(allow_null=True, help_text="As stored (money a decimal "
                                                             "string, a date ISO 8601).")
    display = serializers.CharField(help_text="As a person reads it, in the request's "
                                              "language.")
    columns = serializers.ListField(child=serializers.DictField(child=serializers.CharField()),
                                    required=False, help_text=(
                                        "For a table of rows: each column's name and label."))


class ReviewDocument(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    required = serializers.BooleanField()
    files = AttachmentSerializer(many=True)


class ReviewDetail(ReviewRow):
    """A review with what the reviewer scores: the application's inputs and documents."""

    inputs = serializers.SerializerMethodField()
    documents = serializers.SerializerMethodField()
    recommended_amount_allowed = serializers.SerializerMethodField(
        help_text="The measure is awarded up to a cap: a recommended amount may be given.")

    @extend_schema_field(ReviewInput(many=True))
    def get_inputs(self, review) -> list[dict]:
        application = review.application
        rows = []
        for spec in application.measure_version.fields:
            value = application.inputs.get(spec["name"])
            row = {"name": spec["name"], "label": localized(spec.get("label")),
                   "type": spec["type"], "value": value,
                   "display": str(input_display(spec, value))}
            if spec["type"] == "cases":
                row["columns"] = [{"name": item["name"], "label": localized(item.get("label"))}
                                  for item in spec.get("item_fields", [])]
            rows.append(row)
        return ReviewInput(rows, many=True).data

    @extend_schema_field(ReviewDocument(many=True))
    def get_documents(self, review) -> list[dict]:
        application = review.application
        current = list(application.attachments.filter(removed_at__isnull=True)
                       .order_by("uploaded_at", "pk"))
        rows = [{"kind": d["kind"], "label": localized(d.get("label")),
                 "required": d.get("required", True),
                 "files": [a for a in current if a.kind == d["kind"]]}
                for d in application.measure_version.documents]
        return ReviewDocument(rows, many=True, context=self.context).data

    def get_recommended_amount_allowed(self, review) -> bool:
        return review.application.measure_version.award_kind == AwardKind.UP_TO_CAP


class ReviewFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=ReviewState.choices)
    call = IntegerFilter(field_name="application__call_id")
    application = IntegerFilter(field_name="application_id")

    class Meta:
        model = Review
        fields = ["state", "call", "application"]

