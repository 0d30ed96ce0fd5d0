from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from votes.models import Vote
from votes.services import votes_remove


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    """Moderation: staff see and remove votes; the tool counters follow through the service."""

    list_display = ["tool", "voter", "verdict", "created_at", "updated_at"]
    list_filter = ["verdict", "tool__category"]
    list_select_related = ["tool", "voter"]
    search_fields = ["voter__username", "tool__name", "tool__slug"]
    readonly_fields = ["voter", "tool", "verdict", "created_at", "updated_at"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Vote | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Vote) -> None:
        votes_remove(votes=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Vote]) -> None:
        votes_remove(votes=list(queryset))
