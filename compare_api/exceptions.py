from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import status
from rest_framework.exceptions import APIException

from compare_api import failures

# PostgreSQL's SQLSTATEs for the two request timeouts (settings: DB_LOCK_TIMEOUT, DB_STATEMENT_TIMEOUT).
LOCK_NOT_AVAILABLE = "55P03"
QUERY_CANCELED = "57014"


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class _RetryLater(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    wait = 1  # seconds, sent as Retry-After

    def __init__(self, detail: str | None = None, *, wait: int | None = None) -> None:
        super().__init__(detail)
        if wait is not None:
            self.wait = wait


class DatabaseUnavailable(_RetryLater):
    default_detail = "The database is briefly unavailable; try again in a moment."
    default_code = "service_unavailable"


class DatabaseBusy(_RetryLater):
    default_detail = "Another write holds a row this request needs; try again in a moment."
    default_code = "lock_timeout"


class DatabaseTimeout(_RetryLater):
    default_detail = "The database took too long to answer; try again in a moment."
    default_code = "statement_timeout"
    wait = 2


def sqlstate(exc: BaseException) -> str | None:
    """The PostgreSQL error code behind a Django database error (None on SQLite, or without one)."""
    return getattr(exc.__cause__, "sqlstate", None)


def database_failure(exc: BaseException) -> _RetryLater | None:
    """The 503 for a database error that says nothing about the request (the database is
    unreachable, out of connection slots, or a wait hit its timeout), reported once per
    class per interval; None for any other exception."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return None
    code = sqlstate(exc)
    if code == LOCK_NOT_AVAILABLE:
        answer: _RetryLater = DatabaseBusy()
    elif code == QUERY_CANCELED:
        answer = DatabaseTimeout()
    else:
        answer = DatabaseUnavailable()
    failures.report("database", exc, f"answered 503 {answer.default_code}")
    return answer


class ApiExceptionHandler(ExceptionHandler):
    """drf-standardized-errors' handler, plus the Django exceptions a client can cause
    and a 503 with Retry-After while the database cannot answer (nothing was written)."""

    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, RequestDataTooBig):
            return RequestTooLarge()
        if (answer := database_failure(exc)) is not None:
            return answer
        return super().convert_known_exceptions(exc)
