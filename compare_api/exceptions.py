import logging

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import status
from rest_framework.exceptions import APIException

logger = logging.getLogger(__name__)


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class DatabaseUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is briefly unavailable; try again in a moment."
    default_code = "service_unavailable"
    wait = 1  # seconds, sent as Retry-After


class ApiExceptionHandler(ExceptionHandler):
    """drf-standardized-errors' handler, plus the Django exceptions a client can cause
    and a 503 with Retry-After while the database restarts (nothing was written)."""

    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, RequestDataTooBig):
            return RequestTooLarge()
        if isinstance(exc, (OperationalError, InterfaceError)):
            logger.warning("database unavailable: %s", exc)
            return DatabaseUnavailable()
        return super().convert_known_exceptions(exc)
