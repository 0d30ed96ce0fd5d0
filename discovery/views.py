from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_standardized_errors.openapi_serializers import ValidationErrorResponseSerializer
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

from compare_api.caching import cached_read
from compare_api.pagination import PageNumberPagination
from discovery.methodology import methodology_get
from discovery.selectors import (
    COMMUNITY,
    METRICS,
    UnknownCategory,
    UnknownTool,
    alternatives_get,
    alternatives_page_document,
    board_get,
)
from discovery.serializers import AlternativesPageSerializer, LeaderboardPageSerializer, MethodologySerializer

METRIC_PARAMETER = OpenApiParameter(
    "metric",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    enum=list(METRICS),
    default=COMMUNITY,
    description="Rank by community votes (`community`, the default) or by the panel's reviews (`panel`).",
)
BOARD_DESCRIPTION = (
    "Published tools ranked by the 95% Wilson intervals of their ship rate (method in `meta.method`, stated in "
    "full at `GET /api/v1/methodology/`): a tool's `rank` is 1 + the number of tools whose interval lies "
    "entirely above its own, so tools that cannot be told apart share a rank, and `tied_with` / `tied_count` "
    "say which. The community board ranks only tools with at least `meta.min_total` counted votes; the others "
    "follow, unranked (`rank` null, `status` `not_enough_votes`), never ranked at 0. The panel board ranks "
    "reviewed tools the same way; with one verdict per reviewer most of them tie (`meta.note`)."
)


def _metric(request: Request) -> str:
    metric = request.query_params.get("metric", COMMUNITY)
    if metric not in METRICS:
        raise ValidationError({"metric": [f"Use one of: {', '.join(METRICS)}."]})
    return metric


class _Paged(APIView):
    pagination_class = PageNumberPagination

    def _page(self, request: Request, items: list) -> tuple[list, dict]:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(items, request, view=self)
        return page, paginator


class LeaderboardView(_Paged):
    @extend_schema(
        operation_id="leaderboards_retrieve",
        summary="The overall leaderboard",
        description=BOARD_DESCRIPTION,
        parameters=[METRIC_PARAMETER],
        responses={200: LeaderboardPageSerializer, 400: ValidationErrorResponseSerializer},
    )
    def get(self, request: Request) -> HttpResponse:
        return self._board(request, category=None)

    def _board(self, request: Request, category: str | None) -> HttpResponse:
        metric = _metric(request)

        def build() -> dict:
            try:
                board = board_get(category=category, metric=metric)
            except UnknownCategory:
                raise NotFound(f"No category has the slug '{category}'.") from None
            page, paginator = self._page(request, board)
            listed = paginator.get_paginated_response(board.page_document(page)).data
            return {"meta": board.meta(), **listed}

        return cached_read(request, build)


class CategoryLeaderboardView(LeaderboardView):
    @extend_schema(
        operation_id="leaderboards_category_retrieve",
        summary="A category's leaderboard",
        description=BOARD_DESCRIPTION,
        parameters=[METRIC_PARAMETER],
        responses={200: LeaderboardPageSerializer, 400: ValidationErrorResponseSerializer},
    )
    def get(self, request: Request, category: str) -> HttpResponse:
        return self._board(request, category=category)


class AlternativesView(_Paged):
    @extend_schema(
        operation_id="tools_alternatives_list",
        summary="Alternatives to a tool",
        description=(
            "Tools a reader of this one should also consider: the published tools of its category first, then "
            "those staff curated a comparison against it; each group ordered by the lower bound of the community "
            "interval (the panel's where the tool has fewer counted votes than the leaderboards' minimum; tools "
            "with neither last). Each comes with the comparison slug that pairs it with this tool and why it is "
            "listed."
        ),
        responses={200: AlternativesPageSerializer},
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        def build() -> dict:
            try:
                alternatives = alternatives_get(slug=slug)
            except UnknownTool:
                raise NotFound(f"No published tool has the slug '{slug}'.") from None
            page, paginator = self._page(request, alternatives)
            return paginator.get_paginated_response(alternatives_page_document(page)).data

        return cached_read(request, build)


class MethodologyView(APIView):
    @extend_schema(
        operation_id="methodology_retrieve",
        summary="How the numbers are made",
        description=(
            "What the panel is, what counts as a community vote, how each ship rate and 95% interval is "
            "computed, the ranking rule and its versioned name (carried by every leaderboard and badge), the "
            "minimum counts, and the rules behind the picks and the alternatives."
        ),
        responses={200: MethodologySerializer},
    )
    def get(self, request: Request) -> HttpResponse:
        return cached_read(request, methodology_get)
