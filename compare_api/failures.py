"""Failures of the services the API depends on (PostgreSQL, Redis): reported in one place.

An outage fails many requests the same way. A traceback per request buries the
first line that matters (the issue that led here: 13 MB of log in 25 s of
exhausted connection slots), so each *failure class* — the service and the
exception type, e.g. `database:ConnectionTimeout` or `redis:TimeoutError` — logs
its first occurrence as one line, then at most one line per LOG_INTERVAL with the
number of occurrences since. `report()` is the single call site every breaker
and error handler goes through (metrics counters hook in there too).
"""

import logging
import threading
import time

from compare_api import metrics

logger = logging.getLogger("compare_api.failures")

LOG_INTERVAL = 10.0  # seconds between lines of one failure class


def failure_class(source: str, exc: BaseException) -> str:
    cause = exc.__cause__ or exc  # Django's database errors wrap the driver's, which names what happened
    return f"{source}:{type(cause).__name__}"


def _summary(exc: BaseException) -> str:
    text = " ".join(str(exc.__cause__ or exc).split())  # driver messages span lines
    return text[:200] or type(exc).__name__


class RateLimitedLog:
    """Admits the first record of each class, then one per `interval`, counting what it held back."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, now: float | None = None) -> int | None:
        """None: hold this one back. Otherwise, log it: the number held back since the last line."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if now < self._next.get(key, 0.0):
                self._held[key] = self._held.get(key, 0) + 1
                return None
            self._next[key] = now + self.interval
            return self._held.pop(key, 0)


_log = RateLimitedLog(LOG_INTERVAL)


def report(source: str, exc: BaseException, what: str) -> None:
    """`source` ("database", "redis") failed with `exc`; `what` says what the API did about it."""
    key = failure_class(source, exc)
    metrics.count_failure(source, key.partition(":")[2])  # every failure counts, logged or held back
    held = _log.admit(key)
    if held is None:
        return
    since = f" ({held} more since the last line)" if held else ""
    logger.warning("%s failed, %s: %s%s", key, what, _summary(exc), since)


class ServiceUnavailableLogFilter(logging.Filter):
    """For django.request: its 503 lines (with a traceback when an exception caused them) go
    through the same limit, keyed by their cause. `report()` has already named the failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 503:
            return True
        exc = record.exc_info[1] if record.exc_info else None
        key = "http-503:" + (type(exc.__cause__ or exc).__name__ if exc else "response")
        held = _log.admit(key)
        if held is None:
            return False
        record.exc_info = record.exc_text = None
        if held:
            record.msg = f"{record.msg} ({held} more 503s like it since the last line)"
        return True
