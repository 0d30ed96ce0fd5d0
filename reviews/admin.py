from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from reviews.models import Comparison, Review, Reviewer
from reviews.services import comparisons_publish, comparisons_unpublish, reviews_publish, reviews_unpublish
from tools.admin import ToolAdmin, preview_link, report_publishing
from tools.models import Tool


@admin.register(Reviewer)
class ReviewerAdmin(admin.ModelAdmin):
    list_display = ["position", "name", "lens", "is_active", "review_count"]
    list_display_links = ["name"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "lens"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reviewer]:
        return super().get_queryset(request).annotate(review_count=Count("reviews"))

    @admin.display(description="Reviews", ordering="review_count")
    def review_count(self, reviewer: Reviewer) -> int:
        return reviewer.review_count


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["tool", "reviewer", "verdict", "is_published", "publish_at", "reviewed_at", "updated_at"]
    list_filter = ["is_published", "verdict", "reviewer", "tool__category"]
    list_select_related = ["tool", "reviewer"]
    search_fields = ["tool__name", "reviewer__name", "body"]
    autocomplete_fields = ["tool", "reviewer"]
    date_hierarchy = "updated_at"
    actions = ["publish_selected", "unpublish_selected"]

    @admin.action(description="Publish selected reviews")
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        report_publishing(self, request, reviews_publish(reviews=queryset), queryset.count(), "published")

    @admin.action(description="Unpublish selected reviews")
    def unpublish_selected(self, request: HttpRequest, queryset: QuerySet[Review]) -> None:
        report_publishing(self, request, reviews_unpublish(reviews=queryset), queryset.count(), "unpublished")


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ["title", "left_tool", "right_tool", "is_published", "publish_at", "updated_at"]
    list_filter = ["is_published"]
    list_select_related = ["left_tool", "right_tool"]
    search_fields = ["title", "headline", "left_tool__name", "right_tool__name"]
    autocomplete_fields = ["left_tool", "right_tool"]
    fields = ["left_tool", "right_tool", "title", "headline", "summary", "is_published", "publish_at", "preview_link"]
    readonly_fields = ["preview_link"]
    actions = ["publish_selected", "unpublish_selected"]

    @admin.action(description="Publish selected comparisons")
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Comparison]) -> None:
        report_publishing(self, request, comparisons_publish(comparisons=queryset), queryset.count(), "published")

    @admin.action(description="Unpublish selected comparisons")
    def unpublish_selected(self, request: HttpRequest, queryset: QuerySet[Comparison]) -> None:
        report_publishing(self, request, comparisons_unpublish(comparisons=queryset), queryset.count(), "unpublished")

    @admin.display(description="Preview")
    def preview_link(self, comparison: Comparison) -> str:
        return preview_link(comparison, kind="comparison")


class ReviewInline(admin.StackedInline):
    model = Review
    extra = 0
    fields = ["reviewer", "verdict", "reviewed_at", "body", "is_published", "publish_at"]
    autocomplete_fields = ["reviewer"]


# The catalog knows no judge: the panel adds its reviews to the tool's page from here
# (tools is installed before reviews, so its admin is registered first).
admin.site.unregister(Tool)


@admin.register(Tool)
class ToolWithReviewsAdmin(ToolAdmin):
    inlines = [*ToolAdmin.inlines, ReviewInline]
