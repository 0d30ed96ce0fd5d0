from django.urls import path

from discovery import views

urlpatterns = [
    path("badges/tools/<slug:slug>.svg", views.BadgeSvgView.as_view(), name="badge-svg"),
    path("badges/tools/<slug:slug>.json", views.BadgeJsonView.as_view(), name="badge-json"),
    path("badges/tools/<slug:slug>/", views.BadgeEmbedView.as_view(), name="badge-embed"),
]
