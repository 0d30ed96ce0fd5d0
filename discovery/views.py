from collections.abc import Sequence

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils.html import escape
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_standardized_errors.openapi_serializers import ValidationErrorResponseSerializer
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from compare_api.caching import CachedReadMixin, cached_read
from compare_api.openapi import AutoSchema
from compare_api.pagination import PageNumberPagination
from compare_api.renderers import ORJSONRenderer
from compare_api.stats import RANKING_METHOD
from discovery import badges
from discovery.methodology import methodology_get
from discovery.selectors import (
    COMMUNITY,
    METRICS,
    UnknownCategory,
    UnknownTool,
    alternatives_get,
    alternatives_page_document,
    badge_tallies_get,
    badge_tool_name_get,
    board_get,
)
from discovery.serializers import (
    AlternativesPageSerializer,
    BadgeEmbedSerializer,
    LeaderboardPageSerializer,
    MethodologySerializer,
    ShieldsEndpointSerializer,
)

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


def _board_schema(operation_id: str, summary: str):
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=BOARD_DESCRIPTION,
        parameters=[METRIC_PARAMETER],
        responses={200: LeaderboardPageSerializer, 400: ValidationErrorResponseSerializer},
    )


class _Paged(CachedReadMixin, APIView):
    pagination_class = PageNumberPagination

    def _page(self, request: Request, items: Sequence) -> tuple[list, PageNumberPagination]:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(items, request, view=self)
        return page, paginator


class LeaderboardView(_Paged):
    @_board_schema("leaderboards_retrieve", "The overall leaderboard")
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
    @_board_schema("leaderboards_category_retrieve", "A category's leaderboard")
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


class MethodologyView(CachedReadMixin, APIView):
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


METHOD_HEADER = "Verdicts-Method"
# Badges are meant for any page: open to every origin (corsheaders is told to leave them alone,
# compare_api/settings.py), with the validator, the method and the limits readable.
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": ", ".join(
        ["ETag", METHOD_HEADER, "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"]
    ),
}
# Served from the API's own origin, so opened on its own an SVG must be inert: no scripts, no
# fetches, no plugins (sandbox); its inline style (the `auto` theme) is all it may use.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


def _badge_headers(content_type: str) -> dict[str, str]:
    return {
        "Content-Type": content_type,
        "Cache-Control": f"public, max-age={settings.BADGE_MAX_AGE}",
        "X-Content-Type-Options": "nosniff",
        METHOD_HEADER: RANKING_METHOD,
        **CORS_HEADERS,
    }


def _not_found(slug: str) -> NotFound:
    return NotFound(f"No published tool has the slug '{slug}'.")


def _choice(request: Request, name: str, choices: tuple[str, ...], default: str) -> str:
    value = request.query_params.get(name, default)
    if value not in choices:
        raise ValidationError({name: [f"Must be one of: {', '.join(choices)}."]}, code="invalid_choice")
    return value


class SvgRenderer(BaseRenderer):
    """Lets an `<img>` request (`Accept: image/svg+xml`, or image/*) past content negotiation;
    the badge itself is rendered by discovery.badges and sent as is."""

    media_type = "image/svg+xml"
    format = "svg"
    charset = "utf-8"

    def render(self, data: object, accepted_media_type: str | None = None, renderer_context: dict | None = None):
        return data


class SvgBadgeSchema(AutoSchema):
    """The SVG's errors are JSON, not its renderer's image/svg+xml."""

    def _get_response_for_code(self, serializer, status_code, media_types=None, direction="response"):
        if media_types is None and str(status_code) != "200":
            media_types = ["application/json"]
        return super()._get_response_for_code(serializer, status_code, media_types, direction)


class BadgeView(CachedReadMixin, APIView):
    """What every badge route shares: errors in JSON whatever the Accept header allowed, and
    CORS open to every origin, on every answer (a preflight included)."""

    def finalize_response(self, request: Request, response: HttpResponse, *args: object, **kwargs: object):
        if isinstance(response, Response):  # an error or OPTIONS (a badge itself is cached_read's bytes)
            request.accepted_renderer, request.accepted_media_type = ORJSONRenderer(), "application/json"
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in CORS_HEADERS.items():
            response[name] = value
        return response

    def options(self, request: Request, *args: object, **kwargs: object) -> HttpResponse:
        if "Access-Control-Request-Method" not in request.headers:
            return super().options(request, *args, **kwargs)
        return HttpResponse(
            headers={
                "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
                "Access-Control-Allow-Headers": ", ".join(settings.CORS_ALLOW_HEADERS),
                "Access-Control-Max-Age": str(settings.CORS_PREFLIGHT_MAX_AGE),
            }
        )


def _badge(request: Request, slug: str) -> badges.Badge:
    metric = _choice(request, "metric", badges.METRICS, badges.DEFAULT_METRIC)
    tallies = badge_tallies_get(slug=slug)
    if tallies is None:
        raise _not_found(slug)
    panel, community = tallies
    return badges.badge_for(metric, panel if metric == "panel" else community, min_total=settings.LEADERBOARD_MIN_TOTAL)


METRIC_PARAMETER = OpenApiParameter(
    "metric",
    str,
    enum=list(badges.METRICS),
    default=badges.DEFAULT_METRIC,
    description="`panel`: ship verdicts of the panel's reviews (`Panel 3/4 ship`). `community`: the share of "
    "counted votes that say ship (`Community 72% · 1,240 votes`); below LEADERBOARD_MIN_TOTAL counted votes "
    "only the count (`Community 3 votes · needs 10`). `—` when there is nothing yet.",
)
THEME_PARAMETER = OpenApiParameter(
    "theme",
    str,
    enum=list(badges.THEMES),
    default=badges.DEFAULT_THEME,
    description="`light` for light pages, `dark` for dark ones, `auto`: light unless the viewer prefers a dark "
    "colour scheme (a media query inside the SVG).",
)
SLUG_PARAMETER = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="A published tool's slug.")
BADGE_RESPONSE_HEADERS = [
    OpenApiParameter(
        METHOD_HEADER,
        str,
        OpenApiParameter.HEADER,
        response=["200", "304"],
        description="The method version behind the badge (also in the SVG's `<desc>` and `data-method`).",
    ),
    OpenApiParameter(
        "Cache-Control",
        str,
        OpenApiParameter.HEADER,
        response=["200", "304"],
        description="`public, max-age=300` (BADGE_MAX_AGE): browsers and CDNs may keep a badge that long; "
        "the server's own copy follows every vote.",
    ),
    OpenApiParameter(
        "Access-Control-Allow-Origin",
        str,
        OpenApiParameter.HEADER,
        response=True,
        description="`*`: a badge may be read from any origin.",
    ),
]
metric_errors = extend_validation_errors(["invalid_choice"], field_name="metric")


@metric_errors
@extend_validation_errors(["invalid_choice"], field_name="theme")
class BadgeSvgView(BadgeView):
    renderer_classes = [SvgRenderer]  # errors are JSON all the same (BadgeView.finalize_response)
    schema = SvgBadgeSchema()

    @extend_schema(
        operation_id="badges_tool_svg",
        summary="A tool's badge (SVG)",
        description="A small SVG badge of a published tool's panel or community tally, for any page: "
        "`<img src=...>` (the embed snippet is `GET /api/v1/badges/tools/{slug}/`). Its title and aria-label "
        "say the numbers in words; its colour is what the Wilson 95% interval says (green: ship, red: skip, "
        "amber: split, grey: no rate). Errors are JSON.",
        parameters=[SLUG_PARAMETER, METRIC_PARAMETER, THEME_PARAMETER, *BADGE_RESPONSE_HEADERS],
        responses={(200, "image/svg+xml"): OpenApiResponse(OpenApiTypes.STR, description="The badge.")},
        tags=["badges"],
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        def build() -> bytes:
            theme = _choice(request, "theme", badges.THEMES, badges.DEFAULT_THEME)
            return badges.render_svg(_badge(request, slug), theme=theme, slug=slug)

        headers = {**_badge_headers("image/svg+xml; charset=utf-8"), "Content-Security-Policy": SVG_CSP}
        return cached_read(request, build, render=bytes, headers=headers)


@metric_errors
class BadgeJsonView(BadgeView):
    @extend_schema(
        operation_id="badges_tool_json",
        summary="A tool's badge (shields.io endpoint JSON)",
        description="The badge's label, message and colour in shields.io's endpoint-badge format, for "
        "`https://img.shields.io/endpoint?url=...`. Shields refuses unknown keys, so the method version is "
        "in the Verdicts-Method header only.",
        parameters=[SLUG_PARAMETER, METRIC_PARAMETER, *BADGE_RESPONSE_HEADERS],
        responses={200: ShieldsEndpointSerializer},
        tags=["badges"],
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        def build() -> dict:
            return badges.shields_endpoint(_badge(request, slug), cache_seconds=settings.BADGE_MAX_AGE)

        return cached_read(request, build, headers=_badge_headers("application/json"))


def _markdown_text(text: str) -> str:
    return "".join(f"\\{char}" if char in "\\[]" else char for char in text)


def badge_embed(*, slug: str, name: str) -> dict:
    """The embed document: per metric the badge's URLs and snippets linking to the tool's page."""
    link = f"{settings.SITE_URL}/tools/{slug}/"
    snippets = {}
    for metric in badges.METRICS:
        query = f"?metric={metric}"
        svg = settings.PUBLIC_BASE_URL + reverse("badge-svg", kwargs={"slug": slug}) + query
        alt = f"{metric.capitalize()} verdicts on {name} (AI Tool Verdicts)"
        snippets[metric] = {
            "svg": svg,
            "json": settings.PUBLIC_BASE_URL + reverse("badge-json", kwargs={"slug": slug}) + query,
            "html": f'<a href="{escape(link)}"><img src="{escape(svg)}" alt="{escape(alt)}" height="20"></a>',
            "markdown": f"[![{_markdown_text(alt)}]({svg})]({link})",
        }
    return {"tool": slug, "link": link, "method": RANKING_METHOD, "badges": snippets}


class BadgeEmbedView(BadgeView):
    @extend_schema(
        operation_id="badges_tool_embed",
        summary="A tool's badge embed snippets",
        description="For each metric, the SVG and JSON badge URLs and ready-made HTML and Markdown snippets "
        "that link to the tool's page on the site (attribution). URLs start with PUBLIC_BASE_URL, the link "
        "with SITE_URL.",
        parameters=[SLUG_PARAMETER],
        responses={200: BadgeEmbedSerializer},
        tags=["badges"],
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        def build() -> dict:
            name = badge_tool_name_get(slug=slug)
            if name is None:
                raise _not_found(slug)
            return badge_embed(slug=slug, name=name)

        return cached_read(request, build, headers=CORS_HEADERS)
