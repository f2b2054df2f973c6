from django.urls import path

from measures import views

urlpatterns = [
    path("", views.catalogue, name="home"),
    path("measures/<slug:code>/", views.measure_detail, name="measure-detail"),
    path("calculator/", views.calculator, name="calculator"),
]
