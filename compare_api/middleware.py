import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.http import http_date
from rest_framework.response import Response

from compare_api import throttling
from compare_api.errors import database_unavailable, not_found
from compare_api.http_errors import error_body


class RateLimitHeadersMiddleware:
    """Adds the IETF RateLimit-* fields of the tightest limit a request was counted against."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        throttling.add_headers(request, response)
        return response


class EdgeExpiryMiddleware:
    """Tells the stack's edge cache when its copy of an answer expires (README, "Edge cache").

    nginx sends `X-Edge-Cache-Seconds: <EDGE_CACHE_SECONDS>` with every request it may
    cache. Left to itself, it counts a copy's life in whole seconds from the second the copy
    was made, so a copy made late in a second would outlive EDGE_CACHE_SECONDS by up to a
    second; `X-Accel-Expires: @<epoch second>` ends it at the first second boundary at
    least EDGE_CACHE_SECONDS - 1 s away, so no copy lives longer than EDGE_CACHE_SECONDS.
    nginx never passes X-Accel-* headers on to clients.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        seconds = request.META.get("HTTP_X_EDGE_CACHE_SECONDS", "")
        # 200s only: nginx would store any status an X-Accel-Expires came with.
        if response.status_code == 200 and seconds.isdigit() and 0 < int(seconds) <= 3600:
            response["X-Accel-Expires"] = f"@{int(time.time()) + int(seconds) - 1}"
        return response


class RejectNulBytesMiddleware:
    """Outside the API (the admin), a NUL byte in the query string is a 400 before any view runs.

    PostgreSQL refuses NUL in text, so a NUL reaching a lookup or a search
    would otherwise be a 500. The API validates each parameter itself (DRF and
    django-filter fields refuse NUL, as does the search filter), so its errors
    name the offending field; paths are covered by the URL patterns.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if ("\x00" in query or "%00" in query) and not request.path.startswith("/api/"):
            body = error_body(400, "invalid_query", "The query string may not contain NUL bytes.")
            return JsonResponse(body, status=400)
        return self.get_response(request)


class DeprecationHeadersMiddleware:
    """Announce the retirement of a route (settings.API_DEPRECATIONS, keyed by URL name).

    Sends `Deprecation: @<epoch seconds>` (RFC 9745), `Sunset: <HTTP date>`
    (RFC 8594) and a `Link` to the migration notes, on every response of that route.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        notice = settings.API_DEPRECATIONS.get(match.url_name) if match else None
        if notice:
            response["Deprecation"] = f"@{int(notice['deprecated_at'].timestamp())}"
            response["Sunset"] = http_date(notice["sunset_at"].timestamp())
            if notice.get("link"):
                response["Link"] = f'<{notice["link"]}>; rel="deprecation"'
        return response


class DatabaseUnavailableMiddleware:
    """A view outside DRF (the admin) that meets an unreachable or timed-out database answers
    the same JSON 503 as the API, with DEBUG on too (where Django would render its HTML page).
    Errors raised by middleware themselves reach handler500 (compare_api.errors.server_error)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return database_unavailable(exception)


class DebugJsonNotFoundMiddleware:
    """Under DEBUG, the JSON 404 in place of Django's HTML technical page, everywhere but the admin.

    Django answers an unknown URL (or an Http404 outside DRF) with handler404
    only when DEBUG is off; clients of `make run` must see the same JSON as in
    production. DRF's own answers (the browsable API's pages included) pass untouched.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and not isinstance(response, Response)
            and response.get("Content-Type", "").startswith("text/html")
            and not request.path.startswith("/admin/")
        ):
            return not_found(request)
        return response
