from django.http import HttpRequest, JsonResponse
from django.urls import path

from compare_api.urls import handler404, handler500  # noqa: F401
from compare_api.urls import urlpatterns as api_urlpatterns


def baseline(request: HttpRequest) -> JsonResponse:
    """The stack's own floor: a bare Django view, no database, a small JSON body."""
    return JsonResponse({"slug": "baseline", "ship_rate": 0.75})


urlpatterns = [path("bench/baseline/", baseline, name="bench-baseline"), *api_urlpatterns]
