from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from import_export import fields, resources, widgets
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV
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


class ToolResource(resources.ModelResource):
    """Tools as CSV rows for bulk import and export: matched on `slug`, the vendor and category
    named by their slugs (which must exist), never the counters (their writers own them).
    Each row is validated as the admin form validates it and saved through Tool.save(), so an
    import invalidates the cache and writes change events like any edit."""

    vendor = fields.Field("vendor", "vendor", widgets.ForeignKeyWidget(Vendor, field="slug"))
    category = fields.Field("category", "category", widgets.ForeignKeyWidget(Category, field="slug"))

    class Meta:
        model = Tool
        import_id_fields = ["slug"]
        fields = [
            "slug",
            "name",
            "vendor",
            "category",
            "tagline",
            "description",
            "pricing_tier",
            "pricing_label",
            "price_from_usd",
            "price_unit",
            "licence",
            "open_weights",
            "context_window_tokens",
            "homepage_url",
            "pricing_source_url",
            "pricing_verified_at",
            "licence_source_url",
            "licence_verified_at",
            "is_published",
        ]
        export_order = fields
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True


@admin.register(Tool)
class ToolAdmin(SimpleHistoryAdmin, ImportExportModelAdmin):
    # Import shows every row's changes first and writes nothing until "Confirm import".
    resource_classes = [ToolResource]
    formats = [CSV]
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
