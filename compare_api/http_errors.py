"""The API's one error shape, and the errors that servers in front of Django answer themselves.

nginx (deploy/nginx.conf.template, rendered by deploy/stack.py), gunicorn
(gunicorn.conf.py) and runserver (compare_api/management/commands/runserver.py)
each answer some requests without asking Django: a malformed request line, a
URL or headers too large, a body over the limit, an upstream that is down.
They all word those answers from this table, so a client sees the same JSON
whichever of them answered. Standard library only: gunicorn's master and the
stack launcher import it without setting up Django.
"""

import json

# status -> (code, detail). The codes of 413 and 500 are the ones Django's own
# answers use (compare_api/exceptions.py, compare_api/errors.py).
SERVER_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be parsed."),
    403: ("permission_denied", "Permission denied."),
    404: ("not_found", "No such resource."),
    405: ("method_not_allowed", "The method is not allowed for this resource."),
    408: ("request_timeout", "The request was not received in time."),
    411: ("length_required", "The request needs a Content-Length."),
    413: ("request_too_large", "The request body is too large."),
    414: ("uri_too_long", "The request URL is too long."),
    416: ("range_not_satisfiable", "The requested range is not available."),
    417: ("expectation_failed", "The expectation in the Expect header cannot be met."),
    429: ("throttled", "Too many simultaneous connections from this address."),
    431: ("request_header_fields_too_large", "The request headers are too large."),
    500: ("error", "A server error occurred."),
    501: ("not_implemented", "The server does not support this request."),
    502: ("bad_gateway", "The application server is not answering; try again in a moment."),
    503: ("service_unavailable", "The service is briefly unavailable; try again in a moment."),
    504: ("gateway_timeout", "The application server did not answer in time."),
    505: ("http_version_not_supported", "The HTTP version is not supported."),
}


def error_body(status: int, code: str, detail: str, attr: str | None = None) -> dict:
    kind = "server_error" if status >= 500 else "client_error"
    return {"type": kind, "errors": [{"code": code, "detail": detail, "attr": attr}]}


def server_error_document(status: int) -> bytes:
    """The JSON body for an error a server answers itself (an unknown status counts as its class's generic error)."""
    code, detail = SERVER_ERRORS.get(status) or SERVER_ERRORS[500 if status >= 500 else 400]
    return json.dumps(error_body(status, code, detail), separators=(",", ":")).encode()
