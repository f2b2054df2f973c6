"""API tokens: POST {"username", "password"} -> {"token"} (API.md, conventions)."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle

from qianhai_grants.api import ErrorSchema


@extend_schema_serializer(component_name="AuthToken")  # the name the schema always had
class TokenRequestSerializer(AuthTokenSerializer):
    # No user has a longer username, and django-axes records each failed login's username in a
    # column of 255 characters: on PostgreSQL a longer one would be a 500.
    username = serializers.CharField(
        label=AuthTokenSerializer._declared_fields["username"].label, write_only=True,
        max_length=get_user_model()._meta.get_field("username").max_length)


class TokenView(ObtainAuthToken):
    serializer_class = TokenRequestSerializer
    throttle_classes = [AnonRateThrottle]
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES  # ObtainAuthToken sets its own

    # A wrong password, a locked-out login (django-axes) and a body that is not an object are
    # 400s in the error shape.
    @extend_schema(responses={200: inline_serializer("Token", {
        "token": serializers.CharField()}), 400: ErrorSchema})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
