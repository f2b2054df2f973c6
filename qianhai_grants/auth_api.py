"""API tokens: POST {"username", "password"} -> {"token"} (API.md, conventions)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle


class TokenView(ObtainAuthToken):
    throttle_classes = [AnonRateThrottle]
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES  # ObtainAuthToken sets its own

    @extend_schema(responses={200: inline_serializer("Token", {
        "token": serializers.CharField()})})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
