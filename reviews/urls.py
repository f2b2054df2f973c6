"""The back office's pages (/office/) and the public 公示 pages (/publicity/)."""

from reviews.views import office, public, reviewing

urlpatterns = [*office.urlpatterns, *reviewing.urlpatterns, *public.urlpatterns]
