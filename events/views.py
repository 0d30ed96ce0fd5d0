import re
from datetime import date

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_standardized_errors.openapi_serializers import ValidationErrorResponseSerializer
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.fields import DateTimeField
from rest_framework.request import Request
from rest_framework.views import APIView

from compare_api.caching import CachedReadMixin, cached_read
from compare_api.params import whole_number
from compare_api.stats import Tally
from events.models import Event, TallySnapshot
from events.selectors import CursorExpired, InvalidCursor, changes_after, cursor_decode, cursor_encode, history_get
from events.serializers import EVENT_TYPES, ChangesPageSerializer, ErrorResponse410Serializer, HistoryDaySerializer

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_timestamp = DateTimeField()


class CursorGone(APIException):
    status_code = status.HTTP_410_GONE
    default_detail = (
        "Events after this cursor have been pruned (events are kept for EVENT_RETENTION_DAYS days). "
        "Restart from a snapshot: read the documents again, then follow the feed from its start (no `after`)."
    )
    default_code = "cursor_expired"


def _event_document(event: Event) -> dict:
    return {
        "id": event.pk,
        "type": event.type,
        "schema_version": event.schema_version,
        "created_at": _timestamp.to_representation(event.created_at),
        "data": event.payload,
    }


def _types(raw: str | None) -> list[str]:
    if raw is None:
        return []
    types = raw.split(",")
    unknown = sorted(set(types) - EVENT_TYPES.keys())
    if unknown:
        raise ValidationError({"types": [f"Unknown event type(s): {', '.join(unknown)[:200]}."]})
    return types


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    limit = whole_number(raw)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError({"limit": [f"A whole number from 1 to {MAX_LIMIT}."]})
    return limit


CHANGES_DESCRIPTION = """Every change to the public documents, oldest first, as events (see `Event`:
one component per `type`). Follow it by asking again with `after` set to the `next` of the last
answer: no event is skipped or repeated across pages, whatever order writers commit in.
`has_more` says more are there already; otherwise wait a few seconds before asking again.

Tallies are coalesced: `tool.tallies_changed` comes at most once per tool per period
(TALLY_EVENT_SECONDS, 5 s by default) with both tallies as of then; votes never say who voted.
Events are kept at least 30 days: a cursor from before pruned events is answered 410, and the
reader restarts from the documents. Without `after`, the feed starts at the oldest event kept."""


class ChangesView(CachedReadMixin, APIView):
    @extend_schema(
        operation_id="changes_list",
        summary="Follow changes",
        description=CHANGES_DESCRIPTION,
        parameters=[
            OpenApiParameter(
                "after",
                OpenApiTypes.STR,
                description="The `next` cursor of the previous answer (opaque). "
                "Omit it to start at the oldest event kept.",
            ),
            OpenApiParameter(
                "types",
                OpenApiTypes.STR,
                description=f"Only these event types, comma-separated (of: {', '.join(EVENT_TYPES)}).",
            ),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"Events per answer, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."
            ),
        ],
        responses={200: ChangesPageSerializer, 400: ValidationErrorResponseSerializer, 410: ErrorResponse410Serializer},
    )
    def get(self, request: Request) -> HttpResponse:
        raw_after = request.query_params.get("after")
        try:
            after = cursor_decode(raw_after) if raw_after is not None else None
        except InvalidCursor:
            raise ValidationError({"after": ["Not a cursor this feed gave out."]}) from None
        types, limit = _types(request.query_params.get("types")), _limit(request.query_params.get("limit"))

        def build() -> dict:
            try:
                page = changes_after(after=after, types=types, limit=limit)
            except CursorExpired:
                raise CursorGone() from None
            return {
                "results": [_event_document(event) for event in page.events],
                "next": cursor_encode(page.next),
                "has_more": page.has_more,
            }

        return cached_read(request, build, timeout=settings.FEED_CACHE_SECONDS)


def _date(name: str, raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        if _DATE.fullmatch(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    raise ValidationError({name: ["A date as YYYY-MM-DD."]})


def _history_day(row: TallySnapshot) -> dict:
    return {
        "date": row.date.isoformat(),
        "panel": Tally(row.panel_ship, row.panel_skip).as_dict(),
        "community": Tally(row.community_ship, row.community_skip).as_dict(),
    }


class ToolHistoryView(CachedReadMixin, APIView):
    @extend_schema(
        operation_id="tools_history_list",
        summary="Get a tool's score history",
        description="One row per day for a published tool: its panel and community tallies as of that day "
        "(recorded at publication, then through each day; a day's last record stands), oldest first, "
        "from `from` to `to` inclusive.",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="The first day (YYYY-MM-DD), inclusive."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="The last day (YYYY-MM-DD), inclusive."),
        ],
        responses={200: HistoryDaySerializer(many=True), 400: ValidationErrorResponseSerializer},
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        start = _date("from", request.query_params.get("from"))
        end = _date("to", request.query_params.get("to"))
        if start and end and start > end:
            raise ValidationError({"from": ["`from` is after `to`."]})

        def build() -> list[dict]:
            rows = history_get(slug=slug, start=start, end=end)
            if rows is None:
                raise NotFound(f"No published tool has the slug '{slug}'.")
            return [_history_day(row) for row in rows]

        return cached_read(request, build)
