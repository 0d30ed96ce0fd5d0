from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from webhooks import clock, services
from webhooks.models import Attempt, Delivery, Endpoint


class _ReadOnly(admin.ModelAdmin):
    """Rows the system writes: staff look, and act through the actions, never edit by hand."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class EnabledFilter(admin.SimpleListFilter):
    title = "enabled"
    parameter_name = "enabled"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Enabled"), ("no", "Disabled")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> QuerySet[Endpoint]:
        if self.value() in ("yes", "no"):
            return queryset.filter(disabled_at__isnull=self.value() == "yes")
        return queryset


@admin.register(Endpoint)
class EndpointAdmin(_ReadOnly):
    """Partners register endpoints through the API (the secret is theirs: never shown here)."""

    list_display = ["id", "url", "key", "event_types", "enabled", "disabled_at", "disabled_reason", "created_at"]
    list_filter = [EnabledFilter]
    list_select_related = ["key"]
    search_fields = ["url", "key__name", "key__prefix"]
    fields = ["key", "url", "event_types", "disabled_at", "disabled_reason", "created_at", "leased_by", "leased_until"]
    readonly_fields = fields
    actions = ["disable"]

    @admin.display(boolean=True)
    def enabled(self, endpoint: Endpoint) -> bool:
        return endpoint.enabled

    @admin.action(description="Disable the selected endpoints (the partner can enable them again)")
    def disable(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        count = 0
        for endpoint_id in queryset.filter(disabled_at__isnull=True).values_list("pk", flat=True):
            services.endpoint_disable(endpoint_id=endpoint_id, reason="Disabled by staff.", at=clock.now())
            count += 1
        self.message_user(request, f"Disabled {count} endpoints.")


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = ["attempted_at", "status_code", "error", "duration_ms"]
    readonly_fields = fields
    max_num = 0


@admin.register(Delivery)
class DeliveryAdmin(_ReadOnly):
    list_display = ["id", "endpoint", "event", "status", "attempt_count", "next_attempt_at", "created_at"]
    list_filter = ["status"]
    list_select_related = ["endpoint", "event"]
    search_fields = ["endpoint__url", "event__type"]
    fields = ["endpoint", "event", "status", "attempt_count", "next_attempt_at", "created_at"]
    readonly_fields = fields
    inlines = [AttemptInline]
    actions = ["replay"]

    @admin.action(description="Replay the selected deliveries (sent again under the same webhook-id)")
    def replay(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        self.message_user(request, f"Queued {services.deliveries_replay(deliveries=queryset)} deliveries again.")


@admin.register(Attempt)
class AttemptAdmin(_ReadOnly):
    list_display = ["id", "delivery", "attempted_at", "status_code", "error", "duration_ms"]
    list_select_related = ["delivery__endpoint", "delivery__event"]
    fields = ["delivery", "attempted_at", "status_code", "error", "duration_ms"]
    readonly_fields = fields
