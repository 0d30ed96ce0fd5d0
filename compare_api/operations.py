"""What operators need from every request: an id, a count, a time; and the probes.

RequestMiddleware comes first in MIDDLEWARE, so every answer passes through it,
the fast path's (compare_api.fastpath), a redirect's and an error's included. It
gives the request its id (X-Request-ID, kept from the client or nginx when well
formed; compare_api.logs), counts it in the metrics (compare_api.metrics) and
answers three operations endpoints itself, before any other middleware:

- GET /healthz: the process is up and serving; touches nothing else.
- GET /readyz: the database and Redis each answered within 1 s; 503 naming
  which did not (at once, while this process's breaker for it is open).
- GET /metrics: Prometheus text, only for `Authorization: Bearer <METRICS_TOKEN>`;
  to anyone else it is the 404 of any unknown URL.

Answered here, they are outside /api/v1/ (no rate limit, no fast path, no
CORS), cost no view machinery, and work for a probe that knows neither the
public host name (no ALLOWED_HOSTS check) nor HTTPS (no SSL redirect): they
build no URL and set no cookie, so neither check protects anything here.
"""

import hmac
import logging
import select
import time
from collections.abc import Callable
from functools import lru_cache, wraps

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, get_urlconf, resolve

from compare_api import caching, logs, metrics
from compare_api.breakers import CircuitBreaker
from compare_api.errors import error_body

logger = logging.getLogger(__name__)

READY_TIMEOUT = 1.0  # seconds each dependency has to answer /readyz
NO_STORE = "no-store"


def _json(body: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = NO_STORE
    return response


def _method_not_allowed() -> HttpResponse:
    response = _json(error_body(405, "method_not_allowed", "Only GET and HEAD are allowed here."), status=405)
    response["Allow"] = "GET, HEAD"
    return response


def _get_or_head(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    @wraps(view)
    def checked(request: HttpRequest) -> HttpResponse:
        return view(request) if request.method in ("GET", "HEAD") else _method_not_allowed()

    return checked


@_get_or_head
def healthz(request: HttpRequest) -> HttpResponse:
    return _json({"status": "ok"})


class NotReady(Exception):
    """A dependency failed its readiness check; the message says how, without addresses or secrets."""


def _wait(sock: int, *, write: bool, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    ready = remaining > 0 and select.select([] if write else [sock], [sock] if write else [], [], remaining)
    if not ready or not any(ready):
        raise NotReady(f"did not answer within {READY_TIMEOUT:g} s")


# Keys of Django's connection parameters that are psycopg's arguments, not libpq's conninfo.
_NOT_CONNINFO = frozenset({"cursor_factory", "context", "prepare_threshold", "autocommit", "row_factory"})


def _check_postgresql(deadline: float) -> None:
    """Connect and run SELECT 1 on a fresh connection, by libpq's non-blocking calls, so the
    deadline bounds every wait: libpq's connect_timeout cannot be under 2 s, and a blocking
    query on a server that accepts but never answers would wait forever."""
    from psycopg import pq
    from psycopg.conninfo import make_conninfo

    params = {k: v for k, v in connection.get_connection_params().items() if k not in _NOT_CONNINFO}
    pgconn = pq.PGconn.connect_start(make_conninfo("", **params).encode())
    try:
        if pgconn.status == pq.ConnStatus.BAD:  # refused before any wait (an unusable address)
            raise NotReady("refused the connection")
        status = pq.PollingStatus.WRITING
        while status != pq.PollingStatus.OK:
            if status == pq.PollingStatus.FAILED:
                raise NotReady("refused the connection")
            _wait(pgconn.socket, write=status == pq.PollingStatus.WRITING, deadline=deadline)
            status = pgconn.connect_poll()
        pgconn.nonblocking = 1
        pgconn.send_query(b"SELECT 1")
        while pgconn.flush():
            _wait(pgconn.socket, write=True, deadline=deadline)
        while pgconn.is_busy():
            _wait(pgconn.socket, write=False, deadline=deadline)
            pgconn.consume_input()
        result = pgconn.get_result()
        if result is None or result.status != pq.ExecStatus.TUPLES_OK:
            raise NotReady("could not run SELECT 1")
    finally:
        pgconn.finish()


def _breaker_closed(breaker: CircuitBreaker) -> None:
    """While this process's breaker is open the answer is known: say so at once, without a
    wait that would hold a worker for READY_TIMEOUT on every probe of an outage."""
    if not breaker.available():
        raise NotReady(f"failed this process's last attempt (a background probe retries every {breaker.interval:g} s)")


def check_database() -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    if connection.vendor == "postgresql":
        from compare_api.postgresql.base import connect_breaker

        _breaker_closed(connect_breaker)
        _check_postgresql(deadline)
    else:  # SQLite: a local file, nothing to wait for
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")


def check_redis() -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    _breaker_closed(caching.breaker)
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=READY_TIMEOUT,
        socket_timeout=READY_TIMEOUT,
        retry=Retry(NoBackoff(), 0),  # one try: a retry would double the wait
    )
    try:
        client.ping()
    except redis.TimeoutError:
        raise NotReady(f"did not answer within {READY_TIMEOUT:g} s") from None
    except redis.RedisError:
        raise NotReady("refused the connection") from None
    finally:
        client.close()


def _run_check(check: Callable[[], None]) -> dict:
    started = time.monotonic()
    try:
        check()
    except NotReady as error:
        return {"status": "error", "detail": str(error)}
    except Exception as error:  # a driver error: its class says enough, its text may name hosts
        return {"status": "error", "detail": f"failed: {type(error).__name__}"}
    return {"status": "ok", "ms": round((time.monotonic() - started) * 1000, 1)}


_SUBJECTS = {"database": "The database", "redis": "Redis"}


@_get_or_head
def readyz(request: HttpRequest) -> HttpResponse:
    checks = {"database": _run_check(check_database)}
    if settings.REDIS_URL:
        checks["redis"] = _run_check(check_redis)
    else:
        checks["redis"] = {"status": "skipped", "detail": "REDIS_URL is unset"}
    failed = [name for name, check in checks.items() if check["status"] == "error"]
    if not failed:
        return _json({"status": "ready", "checks": checks})
    for name in failed:
        logger.warning("not ready: %s %s", name, checks[name]["detail"])
    # The one error shape, one entry per failed dependency (attr names it), with the checks beside.
    errors = [
        {"code": "dependency_unavailable", "detail": f"{_SUBJECTS[name]} {checks[name]['detail']}.", "attr": name}
        for name in failed
    ]
    return _json({"type": "server_error", "errors": errors, "checks": checks}, status=503)


def metrics_endpoint(request: HttpRequest) -> HttpResponse | None:
    """The metrics for the bearer of METRICS_TOKEN; None (the caller's 404) for anyone else."""
    token = settings.METRICS_TOKEN
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    if not token or not hmac.compare_digest(sent.encode("latin-1"), f"Bearer {token}".encode()):
        return None
    return _scrape(request)


@_get_or_head
def _scrape(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)
    response["Cache-Control"] = NO_STORE
    return response


ENDPOINTS: dict[str, tuple[str, Callable[[HttpRequest], HttpResponse | None]]] = {
    "/healthz": ("healthz", healthz),
    "/readyz": ("readyz", readyz),
    "/metrics": ("metrics", metrics_endpoint),
}


_STATIC_PREFIX = "/" + settings.STATIC_URL.lstrip("/")


# Bounded: only paths of documents the views stored (every route and slug pair) reach it.
@lru_cache(maxsize=4096)
def _route_of_path(urlconf: str | None, path: str) -> str:
    try:
        return resolve(path, urlconf).view_name
    except Resolver404:
        return "unresolved"


def route_label(request: HttpRequest) -> str:
    """The request's route for the metrics: its URL name (bounded), never the path."""
    match = request.resolver_match
    if match is not None:
        return match.view_name
    if getattr(request, "fast_path", False):
        # Answered before URL resolution, from a document a view stored: its path resolves.
        return _route_of_path(get_urlconf(), request.path_info)
    if request.path_info.startswith(_STATIC_PREFIX):
        return "static"
    return "unresolved"  # no route matched, or a middleware answered first


class RequestMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.META.get("HTTP_X_REQUEST_ID")
        request_id = incoming if incoming is not None and logs.is_well_formed(incoming) else logs.new_request_id()
        # Left set until the response is closed (compare_api.logs), so Django's own
        # "Not Found: ..." line, logged after the middleware returns, carries it too.
        logs.request_id.set(request_id)
        route, response = None, None
        endpoint = ENDPOINTS.get(request.path_info)
        if endpoint is not None:
            route, view = endpoint
            response = view(request)
            if response is None:  # /metrics without the token: as if it did not exist
                route = None
        if response is None:
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        metrics.observe_request(
            route or route_label(request), request.method, response.status_code, time.perf_counter() - started
        )
        return response
