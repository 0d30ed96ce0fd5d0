"""Django-level error views, in the API's one error shape.

DRF views answer errors through drf-standardized-errors; these cover what
never reaches a DRF view (an unknown URL, a crash in middleware), so no client ever sees an HTML error page.
"""

import sys

from django.http import HttpRequest, JsonResponse

from compare_api.exceptions import database_failure
from compare_api.http_errors import error_body


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body(404, "not_found", "No such resource."), status=404)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body(400, "bad_request", "Bad request."), status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body(403, "permission_denied", "Permission denied."), status=403)


def database_unavailable(exc: BaseException) -> JsonResponse | None:
    """The database's 503 (compare_api.exceptions.database_failure) outside DRF views; None for other errors."""
    answer = database_failure(exc)
    if answer is None:
        return None
    response = JsonResponse(error_body(503, answer.default_code, str(answer.detail)), status=503)
    response["Retry-After"] = str(answer.wait)
    return response


def server_error(request: HttpRequest) -> JsonResponse:
    # Django calls this while handling the exception (a view outside DRF, or a middleware).
    exc = sys.exc_info()[1]
    if exc is not None and (response := database_unavailable(exc)) is not None:
        return response
    return JsonResponse(error_body(500, "error", "A server error occurred."), status=500)
