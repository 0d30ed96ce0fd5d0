from django.core.cache import caches
from django.http import HttpRequest, JsonResponse
from django.urls import path

from compare_api.cache import RedisCache
from compare_api.throttling import anonymous_scope, client_ident, precount
from compare_api.urls import handler404, handler500  # noqa: F401
from compare_api.urls import urlpatterns as api_urlpatterns
from reviews.selectors import DOCUMENT, SLUG_NAMES

COMPARISON = "/api/v1/comparisons/code-llama-4-vs-mistral-large-3/"


def baseline(request: HttpRequest) -> JsonResponse:
    """The stack's own floor: a bare Django view, no database, a small JSON body."""
    return JsonResponse({"slug": "baseline", "ship_rate": 0.75})


def comparison_floor(request: HttpRequest) -> JsonResponse:
    """What an uncached comparison's round trips alone cost: the bare view plus the count against
    the client's limit (one Redis round trip, as the API's) and the comparison's one statement
    (reviews.selectors.DOCUMENT), with none of the work between them and a small body."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):  # the servers' (the benchmark's own process counts queries without Redis)
        precount(request, cache, [(anonymous_scope(COMPARISON), f"ip:{client_ident(request)}")])
    parts = DOCUMENT[2].rows(**dict(zip(SLUG_NAMES[2], ["code-llama-4", "mistral-large-3"], strict=True)))
    return JsonResponse({"slug": "floor", "tools": len(parts["tools"])})


urlpatterns = [
    path("bench/baseline/", baseline, name="bench-baseline"),
    path("bench/comparison-floor/", comparison_floor, name="bench-comparison-floor"),
    *api_urlpatterns,
]
