from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from events.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The outbox, read-only: events are written by the changes they record, never by hand."""

    list_display = ["id", "type", "slug", "created_at", "txid"]
    list_filter = ["type"]
    search_fields = ["payload"]  # the search box; get_search_results says what it matches
    search_help_text = "A slug: of the tool, reviewer or comparison (or the tool or reviewer of a review)."
    readonly_fields = ["type", "schema_version", "payload", "txid", "created_at"]
    date_hierarchy = "created_at"
    ordering = ["-id"]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        slug = Q(payload__slug=term) | Q(payload__tool__slug=term) | Q(payload__reviewer__slug=term)
        return queryset.filter(slug), False

    @admin.display(description="Slug")
    def slug(self, event: Event) -> str:
        return str(event.payload.get("slug") or event.payload.get("tool", {}).get("slug", "—"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Event | None = None) -> bool:
        return False
