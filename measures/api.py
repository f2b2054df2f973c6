"""The public catalogue and policy calculator (MEASURES.md, "The policy calculator")."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle

from measures import selectors
from measures.models import Measure, MeasureVersion
from measures.quotes import quote_compute
from qianhai_grants.api import ErrorSchema
from qianhai_grants.i18n import localized


def field_json(spec: dict) -> dict:
    out = {
        "name": spec["name"],
        "type": spec["type"],
        "required": spec.get("required", True),
        "label": localized(spec.get("label")),
        "labels": spec.get("label", {}),
    }
    if spec.get("help"):
        out["help"] = localized(spec["help"])
    if spec.get("choices"):
        out["choices"] = [{"value": c["value"], "label": localized(c.get("label")),
                           "labels": c.get("label", {})} for c in spec["choices"]]
    if spec.get("item_fields"):
        out["item_fields"] = [field_json(item) for item in spec["item_fields"]]
    return out


def version_json(version: MeasureVersion) -> dict:
    return {
        "number": version.number,
        "effective_from": version.effective_from.isoformat(),
        "reason": version.reason,
        "source": version.source,
    }


def measure_json(measure: Measure, version: MeasureVersion) -> dict:
    return {
        "code": measure.code,
        "clause": measure.clause or None,
        "pillar": measure.pillar,
        "pillar_name": measure.get_pillar_display(),
        "name": measure.name,
        "name_zh_hans": measure.name_zh_hans,
        "name_zh_hant": measure.name_zh_hant,
        "name_en": measure.name_en,
        "names": measure.names,
        "description": measure.description,
        "descriptions": measure.descriptions,
        "source_quote": measure.source_quote,
        "award_kind": version.award_kind,
        "is_configured": version.is_configured,
        "parameters": version.parameters(),
        "annual_quota": version.annual_quota,
        "conditions": version.conditions,
        "fields": [field_json(f) for f in version.fields],
        "documents": [{"kind": d["kind"], "required": d.get("required", True),
                       "label": localized(d.get("label")), "labels": d.get("label", {})}
                      for d in version.documents],
        "version": version_json(version),
    }


def _texts():
    return serializers.DictField(child=serializers.CharField(),
                                 help_text="Keys zh-hans, zh-hant and en.")


class MeasureSchema(serializers.Serializer):
    """Documentation of the catalogue entry (built by `measure_json`)."""

    code = serializers.CharField()
    clause = serializers.CharField(allow_null=True)
    pillar = serializers.CharField()
    pillar_name = serializers.CharField()
    name = serializers.CharField(help_text="In the request's language.")
    name_zh_hans = serializers.CharField()
    name_zh_hant = serializers.CharField()
    name_en = serializers.CharField()
    names = _texts()
    description = serializers.CharField()
    descriptions = _texts()
    source_quote = serializers.CharField()
    award_kind = serializers.CharField()
    is_configured = serializers.BooleanField()
    parameters = serializers.DictField(help_text="Money and rates as decimal strings.")
    annual_quota = serializers.IntegerField(allow_null=True)
    conditions = serializers.ListField(child=serializers.DictField())
    fields = serializers.ListField(child=serializers.DictField())
    documents = serializers.ListField(child=serializers.DictField())
    version = serializers.DictField()


@extend_schema_serializer(many=False)  # the list's own envelope, not a list of envelopes
class MeasureListSchema(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = MeasureSchema(many=True)


class QuoteRequest(serializers.Serializer):
    inputs = serializers.DictField(help_text="The measure's form fields by name.")
    awarded_to_date = serializers.DecimalField(
        max_digits=16, decimal_places=2, required=False,
        help_text="What the platform or model already received (yuan).")


class QuoteResponse(serializers.Serializer):
    measure = serializers.CharField()
    eligible = serializers.BooleanField()
    amount = serializers.CharField()
    currency = serializers.CharField()
    capped_by = serializers.CharField(allow_null=True)
    reasons = serializers.ListField(child=serializers.CharField())
    trace = serializers.ListField(child=serializers.CharField())
    messages = serializers.ListField(child=serializers.DictField())
    missing_fields = serializers.ListField(child=serializers.CharField())
    version = serializers.IntegerField()
    provisional = serializers.BooleanField()


class MeasureViewSet(viewsets.ViewSet):
    """The measures catalogue, readable by anyone, and the policy calculator."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AnonRateThrottle]
    throttle_scope = None  # set to "quote" on the calculator action
    lookup_field = "code"
    lookup_value_regex = "[a-z0-9-]+"

    @extend_schema(responses={200: MeasureListSchema})
    def list(self, request):
        items = [measure_json(m, v) for m, v in selectors.catalogue_current()]
        return Response({"count": len(items), "next": None, "previous": None, "results": items})

    @extend_schema(responses={200: MeasureSchema, 404: ErrorSchema})
    def retrieve(self, request, code=None):
        measure, version = selectors.measure_with_version(code=code)
        if measure is None:
            raise Http404
        return Response(measure_json(measure, version))

    @extend_schema(
        request=QuoteRequest,
        responses={200: QuoteResponse, 400: ErrorSchema, 404: ErrorSchema, 429: ErrorSchema},
        examples=[OpenApiExample("demo-project", request_only=True, value={
            "inputs": {"actual_investment": "15000000"}, "awarded_to_date": "0"})],
    )
    @action(detail=True, methods=["post"], throttle_classes=[ScopedRateThrottle],
            throttle_scope="quote")
    def quote(self, request, code=None):
        measure, version = selectors.measure_with_version(code=code)
        if measure is None:
            raise Http404
        return Response(quote_compute(version=version, body=request.data).as_json())

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 404: ErrorSchema})
    @action(detail=True, methods=["get"])
    def versions(self, request, code=None):
        measure = Measure.objects.filter(code=code).first()
        if measure is None:
            raise Http404
        items = [{**version_json(v), "award_kind": v.award_kind, "parameters": v.parameters(),
                  "annual_quota": v.annual_quota, "conditions": v.conditions}
                 for v in selectors.version_history(measure=measure)]
        return Response({"count": len(items), "next": None, "previous": None, "results": items})
