from pathlib import Path

from django.db.models import Count, Q
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import viewsets
from rest_framework.exceptions import NotFound

from compare_api.caching import CachedReadMixin, cached_read
from compare_api.openapi import seed_example
from compare_api.slugs import SLUG_SEGMENT
from tools.filters import ToolFilter
from tools.models import Category, Tool, Vendor
from tools.selectors import LIST_TALLIES, TOOL_TALLIES
from tools.serializers import TOOL_COLUMNS, CategorySerializer, ToolSerializer, VendorSerializer, tool_document

EXAMPLES = Path(__file__).resolve().parent / "openapi_examples"
_published_tools = Count("tools", filter=Q(tools__is_published=True))


# For the schema: the errors `?search=` can answer (compare_api.filters.BoundedSearchFilter).
search_errors = extend_validation_errors(["invalid", "null_characters_not_allowed"], field_name="search")


@extend_schema_view(
    list=extend_schema(
        summary="List categories",
        description="Tool categories, with how many published tools each holds, by name unless "
        "`ordering` says otherwise.",
    ),
    retrieve=extend_schema(
        summary="Get a category", description="One category by slug, with its published tool count."
    ),
)
@search_errors
class CategoryViewSet(CachedReadMixin, viewsets.ReadOnlyModelViewSet):
    """Tool categories, with how many published tools each holds."""

    queryset = Category.objects.annotate(tool_count=_published_tools).order_by("name", "id")
    serializer_class = CategorySerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG_SEGMENT
    search_fields = ["name"]
    ordering_fields = ["name", "tool_count"]


@extend_schema_view(
    list=extend_schema(
        summary="List vendors",
        description="The companies behind the tools, with how many published tools each has, by name "
        "unless `ordering` says otherwise.",
    ),
    retrieve=extend_schema(summary="Get a vendor", description="One vendor by slug, with its published tool count."),
)
@search_errors
class VendorViewSet(CachedReadMixin, viewsets.ReadOnlyModelViewSet):
    """The companies behind the tools, with how many published tools each has."""

    queryset = Vendor.objects.annotate(tool_count=_published_tools).order_by("name", "id")
    serializer_class = VendorSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG_SEGMENT
    search_fields = ["name"]
    ordering_fields = ["name", "tool_count"]


@extend_schema_view(
    list=extend_schema(
        summary="List tools",
        description="Published tools with their pricing and their panel and community tallies, by name unless "
        "`ordering` says otherwise (tools without a rate sort last either way). Page through with `page` "
        "until `next` is null.",
        examples=[seed_example(EXAMPLES / "tools.json", "The seed tools")],
    ),
    retrieve=extend_schema(
        summary="Get a tool",
        description="One published tool by slug, with its pricing and both tallies.",
        examples=[seed_example(EXAMPLES / "tool.json", "A seed tool")],
    ),
)
@search_errors
class ToolViewSet(CachedReadMixin, viewsets.ReadOnlyModelViewSet):
    """Published tools with their panel and community tallies."""

    queryset = Tool.objects.for_api()
    serializer_class = ToolSerializer
    filterset_class = ToolFilter
    lookup_field = "slug"
    lookup_value_regex = SLUG_SEGMENT
    search_fields = ["name", "tagline"]
    ordering_fields = [
        "name",
        "panel_ship_rate",
        "community_ship_rate",
        "panel_ci95_low",
        "community_ci95_low",
        "created_at",
    ]
    ordering = ["name"]

    # Votes change only the tools' tallies: cached apart from the rest (compare_api.caching).
    def list(self, request, *args: object, **kwargs: str) -> HttpResponse:
        return cached_read(request, lambda: self.list_document(request), tallied=LIST_TALLIES)

    def retrieve(self, request, slug: str) -> HttpResponse:
        return cached_read(request, lambda: self.retrieve_document(request, slug), tallied=TOOL_TALLIES)

    # Plain rows and tool_document(), not model instances and ToolSerializer: same
    # JSON, a fraction of the CPU (ToolSerializer documents the shape for the schema).
    def list_document(self, request, *args: object, **kwargs: str) -> dict:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()).values(*TOOL_COLUMNS))
        return self.get_paginated_response([tool_document(row) for row in page]).data

    def retrieve_document(self, request, slug: str) -> dict:
        row = self.get_queryset().filter(slug=slug).values(*TOOL_COLUMNS).first()
        if row is None:
            raise NotFound()
        return tool_document(row)
