"""The reports' REST API (summary, exports, PDFs), mounted under /api/v1/: `urlpatterns` for
plain views, `register` for the viewsets that join the site's router."""

from django.urls import path

from reports.api import exports as exports_api
from reports.api import pdf as pdf_api
from reports.api import summary

urlpatterns = [
    path("reports/summary/", summary.SummaryView.as_view(), name="api-reports-summary"),
    *pdf_api.urlpatterns,
    *exports_api.urlpatterns,
]


def register(router) -> None:
    """Viewsets of the reports API join the site's router here."""
    exports_api.register(router)
