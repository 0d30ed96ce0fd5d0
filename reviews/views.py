from pathlib import Path

from django.db.models import Count, F, Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema, extend_schema_view
from drf_standardized_errors.openapi_serializers import ValidationErrorResponseSerializer
from rest_framework import generics, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from compare_api.caching import CachedReadMixin, cached_read
from compare_api.openapi import seed_example
from compare_api.previews import preview_target
from compare_api.slugs import ANY_SEGMENT, COMPARISON_MAX_TOOLS, SLUG_SEGMENT, split_comparison_slug
from reviews.models import Comparison, Review, Reviewer, ReviewerDisclosure
from reviews.selectors import Preview, UnknownTool, comparison_get
from reviews.serializers import (
    ComparisonSerializer,
    CuratedComparisonSerializer,
    ReviewerSerializer,
    ReviewSerializer,
)
from tools.models import Tool
from tools.selectors import COMPARISON_TALLIES
from tools.serializers import TOOL_COLUMNS, ToolSerializer, tool_document

EXAMPLES = Path(__file__).resolve().parent / "openapi_examples"
# What a reviewer's counts count: published reviews of published tools (drafts count nowhere).
_PUBLISHED_REVIEWS = Q(reviews__is_published=True, reviews__tool__is_published=True)


def _panel_reviews():
    """Published reviews of published tools by the active panel, as every review list shows them."""
    return (
        Review.objects.published()
        .filter(tool__is_published=True, reviewer__is_active=True)
        .select_related("reviewer", "tool")
    )


@extend_schema_view(
    list=extend_schema(
        summary="List the panel",
        description="The active reviewers in panel order, each with a lens.",
        examples=[seed_example(EXAMPLES / "reviewers.json", "The seed panel")],
    ),
    retrieve=extend_schema(
        summary="Get a reviewer", description="One active reviewer by slug, with review and ship counts."
    ),
)
class ReviewerViewSet(CachedReadMixin, viewsets.ReadOnlyModelViewSet):
    """The panel: active reviewers in panel order, each with a lens."""

    queryset = (
        Reviewer.objects.panel()
        .annotate(
            review_count=Count("reviews", filter=_PUBLISHED_REVIEWS),
            ship_count=Count("reviews", filter=_PUBLISHED_REVIEWS & Q(reviews__verdict="ship")),
        )
        # One query for the disclosures of the whole page, in the scorecard's order.
        .prefetch_related(
            Prefetch(
                "disclosures",
                queryset=ReviewerDisclosure.objects.select_related("vendor").order_by("vendor__name", "since", "id"),
            )
        )
    )
    serializer_class = ReviewerSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG_SEGMENT
    filter_backends: list = []

    @extend_schema(
        responses=ReviewSerializer(many=True),
        operation_id="reviewers_reviews_list",
        summary="List a reviewer's reviews",
        description="The reviewer's reviews of published tools, newest first.",
    )
    @action(detail=True, methods=["get"], serializer_class=ReviewSerializer)
    def reviews(self, request: Request, slug: str) -> HttpResponse:
        """The reviewer's reviews of published tools, newest first."""

        def build() -> dict:
            reviewer = get_object_or_404(Reviewer.objects.panel(), slug=slug)
            page = self.paginate_queryset(
                _panel_reviews()
                .filter(reviewer=reviewer)
                .order_by(F("reviewed_at").desc(nulls_last=True), "tool__name", "id")
            )
            return self.get_paginated_response(ReviewSerializer(page, many=True).data).data

        return cached_read(request, build)


@extend_schema_view(
    get=extend_schema(
        summary="List a tool's panel reviews",
        description="The panel's reviews of one published tool, in panel order (one per active reviewer at most).",
    )
)
class ToolReviewListView(CachedReadMixin, generics.ListAPIView):
    """The panel's reviews of one published tool, in panel order (one per active reviewer at most)."""

    serializer_class = ReviewSerializer
    pagination_class = None
    filter_backends: list = []

    def get_queryset(self):
        tool = get_object_or_404(Tool.objects.published().only("id"), slug=self.kwargs["slug"])
        return _panel_reviews().filter(tool=tool).order_by("reviewer__position", "reviewer_id")


@extend_schema_view(
    list=extend_schema(
        summary="List curated comparisons",
        description="Pairs staff wrote editorial text for; any other pair of published tools can be "
        "compared too (`GET /api/v1/comparisons/{pair}/`).",
    ),
    retrieve=extend_schema(
        summary="Compare two to four tools",
        description=(
            "The side-by-side document for two to four different published tools, in the requested order: "
            "each tool with its pricing, panel and community tallies, the reviewer scorecard "
            "(one row per panel reviewer, one entry per tool), the reviewer split and the "
            "panel's pick. A curated pair adds its title, headline and summary (curation is per pair: "
            "three or four tools have none). Three or four tools add `community_pick`. "
            "A tool named twice, or more than four tools, is a 400."
        ),
        parameters=[
            OpenApiParameter(
                "pair",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="Two to four tool slugs joined by `-vs-`, e.g. `code-llama-4-vs-mistral-large-3`.",
            )
        ],
        responses={200: ComparisonSerializer, 400: ValidationErrorResponseSerializer},
        examples=[seed_example(EXAMPLES / "comparison.json", "The seed comparison")],
    ),
)
class ComparisonViewSet(CachedReadMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    queryset = Comparison.objects.for_list()
    serializer_class = CuratedComparisonSerializer
    lookup_field = "pair"
    lookup_value_regex = ANY_SEGMENT
    filter_backends: list = []

    def retrieve(self, request: Request, pair: str) -> HttpResponse:
        slugs = split_comparison_slug(pair)
        if slugs is None:
            raise NotFound(
                "A comparison URL names two to four tool slugs joined by '-vs-', e.g. 'a-vs-b' or 'a-vs-b-vs-c'."
            )
        if len(slugs) > COMPARISON_MAX_TOOLS:
            raise ValidationError({"pair": [f"Compare two to four tools, not {len(slugs)}."]})
        if len(set(slugs)) < len(slugs):
            if len(slugs) == 2:
                raise ValidationError({"pair": ["Compare two different tools."]})
            repeated = next(slug for index, slug in enumerate(slugs) if slug in slugs[:index])
            raise ValidationError({"pair": [f"Name each tool once: '{repeated}' appears more than once."]})

        def build() -> dict:
            try:
                return comparison_get(slugs=slugs)
            except UnknownTool as unknown:
                raise NotFound(f"No published tool has the slug '{unknown.slug}'.") from None

        return cached_read(request, build, tallied=COMPARISON_TALLIES)


PREVIEW_NOT_FOUND = "No preview at this link: it is mistyped or has expired; open it again from the admin."


class PreviewView(APIView):
    filter_backends: list = []

    @extend_schema(
        operation_id="previews_retrieve",
        summary="Preview a draft (staff links)",
        description=(
            "**Staff only, by link**: the admin's page of an unpublished tool or curated comparison shows a signed "
            "link here, good for `PREVIEW_SECONDS` (15 minutes). It answers the document the public endpoint will "
            "serve once the draft is published (a tool: `GET /api/v1/tools/{slug}/`; a curated comparison: "
            "`GET /api/v1/comparisons/{pair}/`, its tools treated as published too; draft reviews stay out). "
            "Never cached (`Cache-Control: private, no-store`). A mistyped, altered or expired link is a 404 that "
            "says nothing of what exists."
        ),
        parameters=[
            OpenApiParameter(
                "token", OpenApiTypes.STR, OpenApiParameter.PATH, description="The signed token from the admin's link."
            ),
            OpenApiParameter(
                "Cache-Control",
                str,
                OpenApiParameter.HEADER,
                response=["200"],
                description="`private, no-store`: a draft is never stored by a browser, proxy or this API's cache.",
            ),
        ],
        responses={
            200: PolymorphicProxySerializer(
                component_name="Preview",
                serializers=[ToolSerializer, ComparisonSerializer],
                resource_type_field_name=None,
            )
        },
    )
    def get(self, request: Request, token: str) -> Response:
        document = _preview_document(preview_target(token))
        if document is None:
            raise NotFound(PREVIEW_NOT_FOUND)
        response = Response(document)
        response["Cache-Control"] = "private, no-store"
        return response


def _preview_document(target: tuple[str, int] | None) -> dict | None:
    """The draft's document as its public endpoint will build it once published; None if it is gone."""
    match target:
        case ("tool", pk):
            # The tool detail's document (tools.views.ToolViewSet.retrieve_document), published or not.
            row = Tool.objects.for_document().filter(pk=pk).values(*TOOL_COLUMNS).first()
            return None if row is None else tool_document(row)
        case ("comparison", pk):
            # The curated pair's document (ComparisonViewSet.retrieve), the pair and its tools shown as published.
            columns = ("left_tool_id", "right_tool_id", "left_tool__slug", "right_tool__slug")
            pair = Comparison.objects.filter(pk=pk).values_list(*columns).first()
            if pair is None:
                return None
            left_id, right_id, *slugs = pair
            return comparison_get(
                slugs=slugs, preview=Preview(tool_ids=frozenset((left_id, right_id)), comparison_id=pk)
            )
    return None
