from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from tools.models import Category, Tool, Vendor


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


# Django 6's default for URL fields typed without a scheme, without 5.2's transitional warning.
URL_FIELDS_ASSUME_HTTPS = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    formfield_overrides = URL_FIELDS_ASSUME_HTTPS
    list_display = ["name", "slug", "homepage_url"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Tool)
class ToolAdmin(SimpleHistoryAdmin):
    formfield_overrides = URL_FIELDS_ASSUME_HTTPS
    list_display = [
        "name",
        "vendor",
        "category",
        "pricing_tier",
        "panel_column",
        "community_column",
        "is_published",
        "updated_at",
    ]
    list_filter = ["is_published", "category", "pricing_tier", "open_weights", "vendor"]
    list_select_related = ["vendor", "category"]
    search_fields = ["name", "slug", "tagline", "vendor__name"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["vendor", "category"]
    readonly_fields = [
        "panel_ship_count",
        "panel_skip_count",
        "community_ship_count",
        "community_skip_count",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "slug", "vendor", "category", "tagline", "description", "is_published"]}),
        (
            "Pricing",
            {
                "fields": [
                    "pricing_tier",
                    "pricing_label",
                    "price_from_usd",
                    "price_unit",
                    "pricing_source_url",
                    "pricing_verified_at",
                ]
            },
        ),
        (
            "Facts",
            {
                "fields": [
                    "licence",
                    "licence_source_url",
                    "licence_verified_at",
                    "open_weights",
                    "context_window_tokens",
                    "homepage_url",
                ]
            },
        ),
        ("Panel (recounted from the reviews)", {"fields": ["panel_ship_count", "panel_skip_count"]}),
        ("Community (kept by the vote service)", {"fields": ["community_ship_count", "community_skip_count"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tool]:
        return super().get_queryset(request).with_rates()

    @admin.display(description="Panel ship", ordering="panel_ship_rate")
    def panel_column(self, tool: Tool) -> str:
        return _tally_text(tool.panel)

    @admin.display(description="Community ship", ordering="community_ship_rate")
    def community_column(self, tool: Tool) -> str:
        return _tally_text(tool.community)


def _tally_text(tally) -> str:
    if not tally.total:
        return "—"
    return f"{tally.ship_rate:.0%} ({tally.ship} of {tally.total})"
