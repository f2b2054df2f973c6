"""Classes named in REST_FRAMEWORK settings.

DRF imports these while it reads its own settings, so this module must not import
``rest_framework.views`` (whose class body reads those settings): that would be a
circular import whenever the settings are read before any view module is loaded.
"""

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser


class JSONBodyParser(JSONParser):
    """JSON; a body nested too deep for the decoder is a 400, not a crash."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(_("Expected a JSON object.")) from None


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100
