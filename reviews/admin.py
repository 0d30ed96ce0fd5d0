from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from reviews.models import Comparison, Review, Reviewer
from tools.admin import ToolAdmin
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
    list_display = ["tool", "reviewer", "verdict", "reviewed_at", "updated_at"]
    list_filter = ["verdict", "reviewer", "tool__category"]
    list_select_related = ["tool", "reviewer"]
    search_fields = ["tool__name", "reviewer__name", "body"]
    autocomplete_fields = ["tool", "reviewer"]
    date_hierarchy = "updated_at"


@admin.register(Comparison)
class ComparisonAdmin(admin.ModelAdmin):
    list_display = ["title", "left_tool", "right_tool", "is_published", "updated_at"]
    list_filter = ["is_published"]
    list_select_related = ["left_tool", "right_tool"]
    search_fields = ["title", "headline", "left_tool__name", "right_tool__name"]
    autocomplete_fields = ["left_tool", "right_tool"]


class ReviewInline(admin.StackedInline):
    model = Review
    extra = 0
    fields = ["reviewer", "verdict", "reviewed_at", "body"]
    autocomplete_fields = ["reviewer"]


# The catalog knows no judge: the panel adds its reviews to the tool's page from here
# (tools is installed before reviews, so its admin is registered first).
admin.site.unregister(Tool)


@admin.register(Tool)
class ToolWithReviewsAdmin(ToolAdmin):
    inlines = [*ToolAdmin.inlines, ReviewInline]
