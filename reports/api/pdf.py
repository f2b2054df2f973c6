"""The PDF documents in the API: an award's decision letter (GET /api/v1/awards/{id}/letter/)
and a 公示's list (GET /api/v1/publicity/{id}/list-pdf/), as application/pdf in the language of
`Accept-Language`.

Scoping is `reports.selectors_pdf`, built on the awards API's own selector: a letter answers 401
to an anonymous request and 404 to anyone who may not see it (a company sees its own awards once
final; staff and management every award, drafts and released ones marked as such); a list is
public. Errors stay JSON whatever `Accept` asks for (`FirstRendererNegotiation`).
"""

from django.shortcuts import get_object_or_404
from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from applications.api import ID, FirstRendererNegotiation, _errors
from qianhai_grants.i18n import current_language
from reports.pdf import (
    award_letter_pdf,
    letter_filename,
    pdf_response,
    publicity_filename,
    publicity_list_pdf_cached,
)
from reports.selectors_pdf import award_letters_visible_to, publicity_lists_visible_to


def _pdf(description: str) -> dict:
    return {(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY,
                                                      description=description)}


def _id(what: str) -> OpenApiParameter:
    return OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH,
                            description=f"The {what}'s id.")


class _PdfView(APIView):
    # Token first: an anonymous request then hears 401 (with WWW-Authenticate), not 403.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    throttle_classes = [AnonRateThrottle, UserRateThrottle]
    content_negotiation_class = FirstRendererNegotiation


class AwardLetterView(_PdfView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="awards_letter_retrieve", tags=["awards"], parameters=[_id("award")],
        responses={**_pdf("The decision letter (资助决定书), shown inline."),
                   **_errors(401, 404)})
    def get(self, request, id):
        """The award's decision letter as a PDF in the request's language: the company, the
        measure and its clause, the amount with every step of its calculation, the dates and a
        place for the seal. A company reads its own awards once final; staff and management
        read every award (marked as a draft before the 公示 is finalized, void once released)."""
        award = get_object_or_404(award_letters_visible_to(request.user), pk=id)
        return pdf_response(award_letter_pdf(award=award, language=current_language()),
                            filename=letter_filename(award), private=True)


class PublicityListPdfView(_PdfView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="publicity_list_pdf_retrieve", tags=["publicity"],
        parameters=[_id("public notice")],
        responses={**_pdf("The notice's list with its total, shown inline."), **_errors(404)})
    def get(self, request, id):
        """A public notice (公示) as a PDF in the request's language: its period, every line
        with its amount, the total and how to object. Public, like the notice."""
        publicity = get_object_or_404(publicity_lists_visible_to(request.user), pk=id)
        return pdf_response(publicity_list_pdf_cached(publicity=publicity,
                                                      language=current_language()),
                            filename=publicity_filename(publicity), private=False)


urlpatterns = [
    re_path(rf"^awards/(?P<id>{ID})/letter/$", AwardLetterView.as_view(),
            name="api-award-letter"),
    re_path(rf"^publicity/(?P<id>{ID})/list-pdf/$", PublicityListPdfView.as_view(),
            name="api-publicity-list-pdf"),
]
