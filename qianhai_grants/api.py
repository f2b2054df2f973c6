"""API plumbing shared by every app: one error shape, pagination, throttles."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from qianhai_grants.errors import DomainError


class ErrorSchema(serializers.Serializer):
    """The one error shape, for the schema (API.md, conventions)."""

    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class ApiSchema(AutoSchema):
    """The schema of an API view, with the errors that DRF answers for every view of a kind,
    so that every answer is one the schema documents (tests/api/test_fuzz.py holds to it):

    - a paginated list: 404 for a `page` past the last one, or not a page number at all;
    - an operation that takes a body: 415 for a body of a type it does not parse;
    - a throttled view: 429.
    """

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        if direction != "response":
            return bodies
        codes = []
        if self._is_list_view() and self._get_paginator() is not None:
            codes.append("404")
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            codes.append("415")
        if self.view.get_throttles():
            codes.append("429")
        for code in codes:
            if code not in bodies:
                bodies[code] = self._get_response_for_code(ErrorSchema, code, direction=direction)
        return dict(sorted(bodies.items()))


def error_body(code: str, message, fields: dict | None = None) -> dict:
    return {"code": code, "message": str(message), "fields": _stringify(fields or {})}


def _stringify(fields: dict) -> dict:
    out = {}
    for name, messages in fields.items():
        if isinstance(messages, dict):
            for sub, sub_messages in _stringify(messages).items():
                out[f"{name}.{sub}"] = sub_messages
        elif isinstance(messages, (list, tuple)):
            flat = []
            for m in messages:
                if isinstance(m, dict):
                    for sub, sub_messages in _stringify(m).items():
                        out[f"{name}.{sub}"] = sub_messages
                else:
                    flat.append(str(m))
            if flat:
                out[name] = flat
        else:
            out[name] = [str(messages)]
    return out


def exception_handler(exc, context):
    """Every API error as {"code", "message", "fields"} (API.md, conventions)."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ParseError):
        response.data = error_body("invalid", _("The request body is not valid JSON."),
                                   {"body": [_("Expected a JSON object.")]})
    elif isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("invalid", _("The input is not valid."), detail)
    elif isinstance(exc, exceptions.Throttled):
        response.data = error_body("throttled", _("Too many requests. Try again in %(s)d "
                                                  "seconds.") % {"s": exc.wait or 1})
    else:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        if not isinstance(code, str):
            code = "error"
        response.data = error_body(code, getattr(exc, "detail", exc))
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response.data["code"] = "not_authenticated"
    return response
