from django.conf import settings
from django.contrib import admin, messages
from django.db import models
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from import_export import fields, resources, widgets
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV
from simple_history.admin import SimpleHistoryAdmin

from compare_api.previews import preview_token
from tools.models import Category, Tool, Vendor
from tools.services import tools_publish, tools_unpublish


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
        "publish_at",
        "updated_at",
    ]
    list_filter = ["is_published", "category", "pricing_tier", "open_weights", "vendor"]
    list_select_related = ["vendor", "category"]
    search_fields = ["name", "slug", "tagline", "vendor__name"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["vendor", "category"]
    actions = ["publish_selected", "unpublish_selected"]
    readonly_fields = [
        "preview_link",
        "panel_ship_count",
        "panel_skip_count",
        "community_ship_count",
        "community_skip_count",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "slug", "vendor", "category", "tagline", "description"]}),
        ("Publishing", {"fields": ["is_published", "publish_at", "preview_link"]}),
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

    @admin.action(description="Publish selected tools")
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Tool]) -> None:
        report_publishing(self, request, tools_publish(tools=queryset), queryset.count(), "published")

    @admin.action(description="Unpublish selected tools")
    def unpublish_selected(self, request: HttpRequest, queryset: QuerySet[Tool]) -> None:
        report_publishing(self, request, tools_unpublish(tools=queryset), queryset.count(), "unpublished")

    @admin.display(description="Preview")
    def preview_link(self, tool: Tool) -> str:
        return preview_link(tool, kind="tool")

    @admin.display(description="Panel ship", ordering="panel_ship_rate")
    def panel_column(self, tool: Tool) -> str:
        return _tally_text(tool.panel)

    @admin.display(description="Community ship", ordering="community_ship_rate")
    def community_column(self, tool: Tool) -> str:
        return _tally_text(tool.community)


def report_publishing(
    model_admin: admin.ModelAdmin, request: HttpRequest, changed: int, selected: int, done: str
) -> None:
    """Say how many of the selected rows the action changed (the others already were so)."""
    names = model_admin.model._meta
    name = names.verbose_name if changed == 1 else names.verbose_name_plural
    text = f"{changed} {name} {done}."
    if changed < selected:
        text += f" {selected - changed} of the {selected} selected already were."
    model_admin.message_user(request, text, messages.SUCCESS if changed else messages.WARNING)


def preview_link(row: Model, *, kind: str) -> str | SafeString:
    """A signed link to the draft's document as it will be published (compare_api.previews)."""
    if row.pk is None:
        return "Save the draft first."
    if row.is_published:
        return "Published: the API serves it."
    url = reverse("preview", kwargs={"token": preview_token(kind=kind, pk=row.pk)})
    minutes = settings.PREVIEW_SECONDS // 60
    return format_html(
        '<a href="{}" target="_blank" rel="noopener" class="preview-link">Preview the API document</a> '
        "(a private link, good for {} minutes)",
        url,
        minutes,
    )


def _tally_text(tally) -> str:
    if not tally.total:
        return "—"
    return f"{tally.ship_rate:.0%} ({tally.ship} of {tally.total})"
