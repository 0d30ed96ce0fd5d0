"""Request ids on every log line, and the log formats (LOG_FORMAT=text or json).

The id of the request being served lives in a context variable, set by
compare_api.operations.RequestMiddleware for the whole request and read by
RequestIdFilter into every log record, whichever logger wrote it.
"""

import logging
import os
import re
from contextvars import ContextVar

from django.core.signals import request_finished

# Kept from the client or proxy when it is 1-128 characters of letters, digits, '.', '_' and
# '-' (a UUID, nginx's $request_id of 32 hex digits, most tracing ids); anything else (spaces,
# control characters, quotes, longer) could forge or break a log line, so it is replaced.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{1,128}")
NO_REQUEST = "-"

request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)


def is_well_formed(value: str) -> bool:
    return _WELL_FORMED.fullmatch(value) is not None


def new_request_id() -> str:
    """32 hex digits, the shape of nginx's $request_id."""
    return os.urandom(16).hex()


def _request_done(**kwargs: object) -> None:
    request_id.set(NO_REQUEST)


# When the response is closed, after Django's last log line of the request (as Django's
# own reset_urlconf): plumbing, not domain logic, hence a signal.
request_finished.connect(_request_done, dispatch_uid="compare_api.logs.request_done")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record: the current request's, or "-" outside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# python-json-logger: one object a line: timestamp, level, logger, message, request_id (and exc_info).
JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(request_id)s"
JSON_RENAMES = {"levelname": "level", "name": "logger"}


def logging_config(*, log_format: str, level: str) -> dict:
    """settings.LOGGING for LOG_FORMAT ("text" or "json")."""
    formatters = {
        "text": {"format": TEXT_FORMAT},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": JSON_RENAMES,
            "timestamp": True,  # "timestamp": ISO 8601, UTC
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "compare_api.logs.RequestIdFilter"},
            # An outage's 503s: one line per cause per interval, not a traceback per request.
            "service_unavailable": {"()": "compare_api.failures.ServiceUnavailableLogFilter"},
        },
        "formatters": {log_format: formatters[log_format]},
        "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": log_format}},
        "loggers": {"django.request": {"filters": ["service_unavailable"]}},
        "root": {"handlers": ["console"], "level": level},
    }
