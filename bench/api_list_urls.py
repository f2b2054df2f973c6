"""The site's URLs plus the bare baseline of `bench_api_list.py`: a plain Django view running the
same query as `GET /api/v1/applications/` and answering the same fields with JsonResponse."""

from django.http import JsonResponse
from django.urls import path
from rest_framework.authtoken.models import Token

from applications.selectors import applications_visible_to
from qianhai_grants.urls import urlpatterns as site_urls


def _money(value):
    return None if value is None else f"{value:.2f}"


def _when(value):
    return None if value is None else value.isoformat()


def bare_applications(request):
    # The same authentication the API does (a token), then the same scoped query and page.
    key = request.headers.get("Authorization", "").removeprefix("Token ")
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None:
        return JsonResponse({"code": "not_authenticated"}, status=401)
    rows = applications_visible_to(token.user)
    size = int(request.GET.get("page_size", 50))
    page = rows[:size]
    return JsonResponse({"count": rows.count(), "next": None, "previous": None, "results": [{
        "id": a.pk, "call": a.call_id, "measure": a.call.measure.code,
        "funding_year": a.call.funding_year, "company": a.company_id,
        "company_name": a.company.name, "status": a.status,
        "status_label": a.get_status_display(), "estimate_amount": _money(a.estimate),
        "amount": _money(a.amount), "revision": a.revision,
        "submitted_at": _when(a.submitted_at), "created_at": _when(a.created_at),
        "updated_at": _when(a.updated_at)} for a in page]})


urlpatterns = [path("bare/applications/", bare_applications), *site_urls]
