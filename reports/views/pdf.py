"""The PDF documents as pages: an award's decision letter and a 公示's list, shown inline in
the browser in the reader's language (the site's language switcher, else Accept-Language).

Who may see what is `reports.selectors_pdf`: a letter needs a login (the login page for an
anonymous visitor), then answers 404 to anyone who may not know the award exists; the list of a
notice is public, like the notice's page. The answers keep the site's Content-Security-Policy:
browsers show a PDF inline under it (checked with Chromium's viewer).
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404
from django.urls import path
from django.views.decorators.http import require_safe

from qianhai_grants.i18n import current_language
from reports.pdf import (
    award_letter_pdf,
    letter_filename,
    pdf_response,
    publicity_filename,
    publicity_list_pdf_cached,
)
from reports.selectors_pdf import award_letters_visible_to, publicity_lists_visible_to


@require_safe
@login_required
def award_letter(request, pk):
    award = get_object_or_404(award_letters_visible_to(request.user), pk=pk)
    return pdf_response(award_letter_pdf(award=award, language=current_language()),
                        filename=letter_filename(award), private=True)


@require_safe
def publicity_list(request, pk):
    publicity = get_object_or_404(publicity_lists_visible_to(request.user), pk=pk)
    return pdf_response(publicity_list_pdf_cached(publicity=publicity,
                                                  language=current_language()),
                        filename=publicity_filename(publicity), private=False)


urlpatterns = [
    path("awards/<int:pk>/letter.pdf", award_letter, name="reports-award-letter"),
    path("publicity/<int:pk>/list.pdf", publicity_list, name="reports-publicity-list"),
]
