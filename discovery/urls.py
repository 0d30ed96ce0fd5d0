from django.urls import path

from discovery import views

urlpatterns = [
    path("leaderboards/", views.LeaderboardView.as_view(), name="leaderboard"),
    path("leaderboards/<slug:category>/", views.CategoryLeaderboardView.as_view(), name="leaderboard-category"),
    path("tools/<slug:slug>/alternatives/", views.AlternativesView.as_view(), name="tool-alternatives"),
    path("methodology/", views.MethodologyView.as_view(), name="methodology"),
]
