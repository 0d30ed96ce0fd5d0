from django.urls import path
from rest_framework.routers import SimpleRouter

from reviews import views

router = SimpleRouter()
router.register("reviewers", views.ReviewerViewSet, basename="reviewer")
router.register("comparisons", views.ComparisonViewSet, basename="comparison")

urlpatterns = [
    path("tools/<slug:slug>/reviews/", views.ToolReviewListView.as_view(), name="tool-reviews"),
    path("previews/<str:token>/", views.PreviewView.as_view(), name="preview"),
    *router.urls,
]
