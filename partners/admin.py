from django.contrib import admin
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from partners.models import PartnerKey, PartnerKeyUsage

# The library's own concrete model is unused: partner keys carry an owner and a tier.
admin.site.unregister(APIKey)


class UsageInline(admin.TabularInline):
    model = PartnerKeyUsage
    extra = 0
    can_delete = False
    fields = ["day", "requests"]
    readonly_fields = fields
    max_num = 0


@admin.register(PartnerKey)
class PartnerKeyAdmin(APIKeyModelAdmin):
    """Create (the key is shown once), rotate (create a new one, revoke the old) and revoke keys."""

    list_display = ["prefix", "name", "owner", "tier", "requests_today", "created", "expiry_date", "revoked"]
    list_filter = ["tier", "revoked", "created"]
    search_fields = ["name", "prefix", "owner__username"]
    autocomplete_fields = ["owner"]
    inlines = [UsageInline]
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[PartnerKey]:
        today = timezone.now().date()
        return (
            super()
            .get_queryset(request)
            .select_related("owner")
            .annotate(requests_today=Coalesce(Sum("usage__requests", filter=Q(usage__day=today)), 0))
        )

    @admin.display(description="Requests today", ordering="requests_today")
    def requests_today(self, key: PartnerKey) -> int:
        return key.requests_today

    @admin.action(description="Revoke the selected keys (cannot be undone)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[PartnerKey]) -> None:
        self.message_user(request, f"Revoked {queryset.filter(revoked=False).update(revoked=True)} keys.")
