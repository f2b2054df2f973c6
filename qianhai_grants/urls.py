from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from applications import api as applications_api
from measures.api import MeasureViewSet
from notices import api as notices_api
from qianhai_grants.auth_api import TokenView
from reports import api as reports_api
from reviews import api as reviews_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("measures", MeasureViewSet, basename="api-measure")
applications_api.register(router)
reviews_api.register(router)
notices_api.register(router)
reports_api.register(router)

DOCS_CSP = {**settings.SECURE_CSP, "style-src": [CSP.SELF, CSP.UNSAFE_INLINE]}

urlpatterns = [
    path("", include("measures.urls")),
    path("", include("applications.urls")),
    path("", include("reviews.urls")),
    path("", include("notices.urls")),
    path("reports/", include("reports.urls")),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/auth/token/", TokenView.as_view(), name="api-token"),
    path("api/v1/", include(router.urls)),
    path("api/v1/", include(reports_api.urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI's page carries an inline <style>; its scripts still come from our own files.
    path("api/docs/", csp_override(DOCS_CSP)(
        SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
]

handler404 = "qianhai_grants.views.page_not_found"
handler500 = "qianhai_grants.views.server_error"
