from django.urls import path

from events import views

urlpatterns = [
    path("changes/", views.ChangesView.as_view(), name="changes"),
    path("tools/<slug:slug>/history/", views.ToolHistoryView.as_view(), name="tool-history"),
]
