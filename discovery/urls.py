from django.urls import path

from discovery import views

urlpatterns = [
    path("leaderboards/", views.LeaderboardView.as_view(), name="leaderboard"),
    path("leaderboards/<slug:category>/", views.CategoryLeaderboardView.as_view(), name="leaderboard-category"),
    path("tools/<slug:slug>/alternatives/", views.AlternativesView.as_view(), name="tool-alternatives"),
    path("methodology/", views.MethodologyView.as_view(), name="methodology"),
    path("badges/tools/<slug:slug>.svg", views.BadgeSvgView.as_view(), name="badge-svg"),
    path("badges/tools/<slug:slug>.json", views.BadgeJsonView.as_view(), name="badge-json"),
    path("badges/tools/<slug:slug>/", views.BadgeEmbedView.as_view(), name="badge-embed"),
]
