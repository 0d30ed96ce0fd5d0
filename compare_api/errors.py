"""Django-level error views, in the API's one error shape.

DRF views answer errors through drf-standardized-errors; these cover what
never reaches a DRF view (an unknown URL, a crash in middleware), so no client ever sees an HTML error page.
"""

from django.http import HttpRequest, JsonResponse


def error_body(status: int, code: str, detail: str, attr: str | None = None) -> dict:
    kind = "server_error" if status >= 500 else "client_error"
    return {"type": kind, "errors": [{"code": code, "detail": detail, "attr": attr}]}


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body(404, "not_found", "No such resource."), status=404)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body(400, "bad_request", "Bad request."), status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body(403, "permission_denied", "Permission denied."), status=403)


def server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body(500, "error", "A server error occurred."), status=500)
