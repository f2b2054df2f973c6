"""Management reports: the dashboard, the exports and the PDFs (/reports/)."""

from reports.views import dashboard, exports, pdf

urlpatterns = [*dashboard.urlpatterns, *exports.urlpatterns, *pdf.urlpatterns]
