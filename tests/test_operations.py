"""The operations endpoints (/healthz, /readyz, /metrics), request ids and the metrics' counters, in-process."""

import contextlib
import io
import json
import logging
import logging.config
import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from compare_api import logs
from compare_api.breakers import CircuitBreaker
from compare_api.exceptions import ApiExceptionHandler
from tests.factories import CategoryFactory, ToolFactory, UserFactory
from tests.helpers import bearer, free_port, redis_server, requires_postgres

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-tests"
NOT_FOUND = {"type": "client_error", "errors": [{"code": "not_found", "detail": "No such resource.", "attr": None}]}
URL = "/api/v1/comparisons/alpha-vs-beta/"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition; 0 when absent."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return found.value
    return 0.0


@pytest.fixture
def scrape(api, settings):
    settings.METRICS_TOKEN = TOKEN

    def scrape() -> str:
        response = api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        return response.content.decode()

    return scrape


@pytest.fixture
def low_anon_limit(settings) -> None:
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**rates, "anon": "3/min"}}


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port that accepts connections (the kernel completes them) and never answers; yields the port."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


# --- /healthz and /readyz


def test_healthz_answers_without_touching_the_database(api, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"


def test_probes_need_neither_the_public_host_name_nor_https(api, settings) -> None:
    """A probe sends the address it knows; the API itself still refuses an unknown host."""
    settings.SECURE_SSL_REDIRECT = True
    assert api.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert api.get("/readyz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert api.get("/api/v1/categories/", HTTP_HOST="10.1.2.3:8000").status_code == 400


def test_readyz_reports_each_dependency(api, settings) -> None:
    settings.REDIS_URL = ""
    response = api.get("/readyz")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["checks"]["database"].pop("ms") >= 0
    assert body == {
        "status": "ready",
        "checks": {"database": {"status": "ok"}, "redis": {"status": "skipped", "detail": "REDIS_URL is unset"}},
    }


def test_readyz_checks_redis_when_it_is_configured(api, settings) -> None:
    with redis_server() as redis:
        settings.REDIS_URL = redis.url
        body = api.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["checks"]["redis"]["status"] == "ok"


def test_readyz_names_redis_when_its_port_is_closed(api, settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    response = api.get("/readyz")
    assert time.monotonic() - started < 1
    assert response.status_code == 503
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["type"] == "server_error"
    assert body["errors"] == [
        {"code": "dependency_unavailable", "detail": "Redis refused the connection.", "attr": "redis"}
    ]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"] == {"status": "error", "detail": "refused the connection"}


def test_readyz_gives_a_silent_redis_one_second(api, settings) -> None:
    with black_hole() as port:
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
        started = time.monotonic()
        response = api.get("/readyz")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["errors"][0]["detail"] == "Redis did not answer within 1 s."
    assert 0.9 < elapsed < 1.5


@requires_postgres
@pytest.mark.parametrize("answers", ["never", "closed"])
def test_readyz_names_the_database_within_a_second(api, settings, answers: str) -> None:
    """A fresh connection each probe, so a database that stops answering is seen at once."""
    settings.REDIS_URL = ""
    saved = dict(connection.settings_dict)
    with black_hole() as port:
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(port if answers == "never" else free_port()))
        try:
            started = time.monotonic()
            response = api.get("/readyz")
            elapsed = time.monotonic() - started
        finally:
            connection.settings_dict.update(saved)
    assert response.status_code == 503
    detail = "did not answer within 1 s" if answers == "never" else "refused the connection"
    assert response.json()["errors"] == [
        {"code": "dependency_unavailable", "detail": f"The database {detail}.", "attr": "database"}
    ]
    assert elapsed < 1.5
    if answers == "never":
        assert elapsed > 0.9


@pytest.mark.parametrize("dependency", ["database", "redis"])
def test_readyz_answers_at_once_while_a_breaker_is_open(api, settings, dependency: str) -> None:
    """During an outage probes keep coming: each costs no wait once this process knows."""
    from compare_api.caching import breaker as redis_breaker
    from compare_api.postgresql.base import connect_breaker

    breaker = connect_breaker if dependency == "database" else redis_breaker
    if dependency == "database" and connection.vendor != "postgresql":
        pytest.skip("the connect breaker is PostgreSQL's backend")
    with redis_server() as redis:
        settings.REDIS_URL = redis.url
        CircuitBreaker.failed(breaker, lambda: 1 / 0)  # open, with a probe that keeps failing
        try:
            started = time.monotonic()
            response = api.get("/readyz")
            elapsed = time.monotonic() - started
        finally:
            breaker.reset()
    assert elapsed < 0.2
    assert response.status_code == 503
    subject = {"database": "The database", "redis": "Redis"}[dependency]
    assert response.json()["errors"] == [
        {
            "code": "dependency_unavailable",
            "detail": f"{subject} failed this process's last attempt (a background probe retries every 1 s).",
            "attr": dependency,
        }
    ]


def test_probes_are_never_rate_limited(api, low_anon_limit) -> None:
    statuses = [api.get(path).status_code for path in ("/healthz", "/readyz") for _ in range(10)]
    assert statuses == [200] * 20
    assert [api.get("/api/v1/categories/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert api.get("/healthz").status_code == 200
    assert "RateLimit-Limit" not in api.get("/healthz")


def test_probes_answer_get_and_head_only(api) -> None:
    assert api.head("/healthz").status_code == 200
    response = api.post("/healthz")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json()["errors"][0]["code"] == "method_not_allowed"


def test_the_probes_are_not_in_the_public_schema(api) -> None:
    paths = api.get("/api/schema/?format=json").json()["paths"]
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)


# --- /metrics: who may see it


@pytest.mark.parametrize(
    "token, authorization",
    [
        (TOKEN, None),
        (TOKEN, "Bearer wrong"),
        (TOKEN, f"Bearer {TOKEN}x"),
        (TOKEN, f"bearer {TOKEN}"),
        (TOKEN, TOKEN),
        ("", "Bearer "),
        ("", None),
    ],
)
def test_metrics_is_a_404_like_any_unknown_url_without_the_token(api, settings, token, authorization) -> None:
    settings.METRICS_TOKEN = token
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    for method in ("get", "post", "head"):
        response = getattr(api, method)("/metrics", **headers)
        unknown = getattr(api, method)("/no-such-page", **headers)
        assert (response.status_code, response.content) == (unknown.status_code, unknown.content)
        assert response.status_code == 404
    assert api.get("/metrics", **headers).json() == NOT_FOUND


def test_metrics_with_the_token_is_prometheus_text(api, scrape, settings) -> None:
    response = api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {"verdicts_http_requests", "verdicts_http_request_duration_seconds"} <= names
    assert api.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 405


# --- /metrics: the counters move exactly with what happens


def test_requests_are_counted_by_route_method_and_status(api, scrape) -> None:
    CategoryFactory.create_batch(3)
    before = scrape()
    for _ in range(3):
        assert api.get("/api/v1/categories/").status_code == 200
    api.get("/api/v1/categories/no-such-category/")
    api.delete("/api/v1/categories/")
    for _ in range(2):
        api.get("/no/such/page")
    after = scrape()
    counted = "verdicts_http_requests_total"
    for labels, made in [
        ({"route": "category-list", "method": "GET", "status": "200"}, 3),
        ({"route": "category-detail", "method": "GET", "status": "404"}, 1),
        ({"route": "category-list", "method": "DELETE", "status": "405"}, 1),
        ({"route": "unresolved", "method": "GET", "status": "404"}, 2),
        ({"route": "metrics", "method": "GET", "status": "200"}, 1),  # the first scrape
    ]:
        assert sample(after, counted, **labels) - sample(before, counted, **labels) == made, labels
    timed = {"route": "category-list", "method": "GET"}
    count = "verdicts_http_request_duration_seconds_count"
    assert sample(after, count, **timed) - sample(before, count, **timed) == 3
    bucket = "verdicts_http_request_duration_seconds_bucket"
    assert sample(after, bucket, **timed, le="+Inf") - sample(before, bucket, **timed, le="+Inf") == 3


def test_methods_outside_http_are_one_label(api, scrape) -> None:
    before = scrape()
    for method in ("BREW", "PROPFIND", "X1"):
        api.generic(method, "/api/v1/categories/")
    after = scrape()
    labels = {"route": "category-list", "method": "other", "status": "405"}
    assert (
        sample(after, "verdicts_http_requests_total", **labels)
        - sample(before, "verdicts_http_requests_total", **labels)
        == 3
    )
    assert "BREW" not in after


def test_votes_are_counted_by_outcome(api, scrape, django_capture_on_commit_callbacks) -> None:
    ToolFactory(slug="alpha")
    headers = bearer(UserFactory())
    vote = "/api/v1/tools/alpha/vote/"
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        for verdict in ("ship", "ship", "skip", "skip", "skip"):
            api.put(vote, {"verdict": verdict}, format="json", **headers)
        api.delete(vote, **headers)
        api.delete(vote, **headers)  # nothing to withdraw: a 404, not a vote
    after = scrape()
    for outcome, made in [("created", 1), ("repeat", 3), ("changed", 1), ("withdrawn", 1)]:
        assert (
            sample(after, "verdicts_votes_total", outcome=outcome)
            - sample(before, "verdicts_votes_total", outcome=outcome)
            == made
        ), outcome


def test_a_vote_rolled_back_is_not_counted(scrape) -> None:
    """Counted on commit: the test's transaction never commits."""
    from votes.services import vote_cast

    ToolFactory(slug="alpha")
    before = scrape()
    vote_cast(voter=UserFactory(), slug="alpha", verdict="ship")
    assert sample(scrape(), "verdicts_votes_total", outcome="created") == sample(
        before, "verdicts_votes_total", outcome="created"
    )


def test_rate_limited_requests_are_counted_by_limit(api, scrape, low_anon_limit) -> None:
    before = scrape()
    for _ in range(5):
        api.get("/api/v1/categories/")
    after = scrape()
    assert (
        sample(after, "verdicts_rate_limited_total", scope="anon")
        - sample(before, "verdicts_rate_limited_total", scope="anon")
        == 2
    )


@pytest.fixture
def redis_cache(settings, django_capture_on_commit_callbacks) -> Iterator[None]:
    with redis_server() as redis:
        settings.CACHES = {"default": {"BACKEND": "compare_api.cache.RedisCache", "LOCATION": redis.url}}
        settings.DOCUMENT_CACHE = True
        with django_capture_on_commit_callbacks(execute=True):
            ToolFactory(slug="alpha"), ToolFactory(slug="beta")
        yield


def test_document_cache_hits_and_misses_are_counted_by_layer(api, scrape, redis_cache) -> None:
    """The first read misses (in the view), the next is the fast path's; with credentials the view hits."""
    before = scrape()
    api.get(URL)
    api.get(URL)
    api.get(URL, **bearer(UserFactory()))
    after = scrape()
    name = "verdicts_document_cache_lookups_total"
    for labels, made in [
        ({"layer": "view", "result": "miss"}, 1),
        ({"layer": "fastpath", "result": "hit"}, 1),
        ({"layer": "view", "result": "hit"}, 1),
    ]:
        assert sample(after, name, **labels) - sample(before, name, **labels) == made, labels
    # The fast path's answer is counted under the route's name too.
    labels = {"route": "comparison-detail", "method": "GET", "status": "200"}
    assert (
        sample(after, "verdicts_http_requests_total", **labels)
        - sample(before, "verdicts_http_requests_total", **labels)
        == 3
    )


def test_redis_failures_are_counted_where_they_are_answered_around(api, scrape, settings) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "compare_api.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    before = scrape()
    assert api.get("/api/v1/categories/").status_code == 200  # limits fail open
    after = scrape()
    name = "verdicts_dependency_failures_total"
    labels = {"dependency": "redis", "error": "ConnectionError"}
    assert sample(after, name, **labels) - sample(before, name, **labels) == 1


def test_database_failures_answered_with_a_503_are_counted(scrape) -> None:
    """The exception handler's 503 path, given the error psycopg raises when the server goes away."""
    context = {"view": APIView(), "request": APIRequestFactory().get("/")}
    before = scrape()
    response = ApiExceptionHandler(OperationalError("the server closed the connection"), context).run()
    assert response.status_code == 503
    name = "verdicts_dependency_failures_total"
    labels = {"dependency": "database", "error": "OperationalError"}
    assert sample(scrape(), name, **labels) - sample(before, name, **labels) == 1


# --- request ids


WELL_FORMED = [
    "abc-123",
    "0f3a5c1e2b4d6f708192a3b4c5d6e7f8",
    "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "a" * 128,
    "v1.2_x",
]
MALFORMED = ["a" * 129, "has space", "tab\there", "bell\x07", "new\nline", "", "a/b", 'quote"', "café", "<script>"]


def _fresh(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


@pytest.mark.parametrize("sent", WELL_FORMED)
def test_a_well_formed_request_id_is_kept(api, sent: str) -> None:
    for path in ("/api/v1/categories/", "/healthz", "/no/such/page"):
        assert api.get(path, HTTP_X_REQUEST_ID=sent)["X-Request-ID"] == sent


@pytest.mark.parametrize("sent", MALFORMED)
def test_anything_else_is_replaced(api, sent: str) -> None:
    for path in ("/api/v1/categories/", "/healthz", "/no/such/page"):
        answered = api.get(path, HTTP_X_REQUEST_ID=sent)["X-Request-ID"]
        assert answered != sent
        assert _fresh(answered)


def test_every_response_gets_a_fresh_id_when_none_is_sent(api, low_anon_limit) -> None:
    responses = [api.get("/api/v1/categories/") for _ in range(5)]  # 200s, then 429s
    responses.append(api.put("/api/v1/tools/nope/vote/", {}, format="json"))  # 401
    responses.append(api.generic("GET", "/admin/?q=%00"))  # 400 from a middleware
    ids = [response["X-Request-ID"] for response in responses]
    assert all(map(_fresh, ids))
    assert len(set(ids)) == len(ids)
    assert {r.status_code for r in responses} == {200, 429, 401, 400}


def test_the_fast_path_answer_carries_the_request_id(api, redis_cache) -> None:
    api.get(URL)
    cached = api.get(URL, HTTP_X_REQUEST_ID="fast-1")
    assert cached["X-Request-ID"] == "fast-1"
    assert "X-Frame-Options" not in cached  # answered before the later middleware: the fast path
    etag = cached["ETag"]
    not_modified = api.get(URL, HTTP_X_REQUEST_ID="fast-2", HTTP_IF_NONE_MATCH=etag)
    assert (not_modified.status_code, not_modified["X-Request-ID"]) == (304, "fast-2")


def test_a_crash_is_answered_with_the_request_id(api, monkeypatch) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("tools.views.CategoryViewSet.list", crash)
    api.raise_request_exception = False
    response = api.get("/api/v1/categories/", HTTP_X_REQUEST_ID="crash-1")
    assert response.status_code == 500
    assert response["X-Request-ID"] == "crash-1"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_log_lines_of_a_request_carry_its_id(api, settings, log_format: str) -> None:
    """Django's own "Not Found" line is written after the middleware returns: it carries the id too."""
    stream = io.StringIO()
    config = logs.logging_config(log_format=log_format, level="INFO")
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        api.get("/no/such/page", HTTP_X_REQUEST_ID="trace-42")
        logging.getLogger("tests").warning("between requests")
    finally:
        logging.config.dictConfig(settings.LOGGING)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    if log_format == "json":
        entry, between = map(json.loads, lines)
        assert set(entry) >= {"timestamp", "level", "logger", "message", "request_id"}
        assert (entry["level"], entry["logger"], entry["message"], entry["request_id"]) == (
            "WARNING",
            "django.request",
            "Not Found: /no/such/page",
            "trace-42",
        )
        assert entry["timestamp"].endswith("+00:00")
        assert (between["message"], between["request_id"]) == ("between requests", "-")
    else:
        assert lines[0].endswith(" WARNING django.request [trace-42] Not Found: /no/such/page")
        assert lines[1].endswith(" WARNING tests [-] between requests")


def test_the_route_label_of_the_probes(api, scrape) -> None:
    before = scrape()
    api.get("/healthz")
    api.get("/readyz")
    after = scrape()
    for route in ("healthz", "readyz"):
        labels = {"route": route, "method": "GET", "status": "200"}
        assert (
            sample(after, "verdicts_http_requests_total", **labels)
            - sample(before, "verdicts_http_requests_total", **labels)
            == 1
        )


def test_the_task_queue_is_read_from_its_table_at_scrape_time(scrape) -> None:
    now = timezone.now()
    rows = [("READY", now, 3), ("READY", now + timedelta(minutes=4), 1), ("RUNNING", now, 1)]
    rows += [("FAILED", now, 2), ("SUCCESSFUL", now, 5)]
    for status, run_after, count in rows:
        for _ in range(count):
            DBTaskResult.objects.create(
                status=status, args_kwargs={"args": [], "kwargs": {}}, task_path="x.y", run_after=run_after
            )
    text = scrape()
    found = {state: sample(text, "verdicts_tasks", state=state) for state in ("due", "scheduled", "running", "failed")}
    assert found == {"due": 3, "scheduled": 1, "running": 1, "failed": 2}


@pytest.mark.parametrize(
    ("sent", "path", "expires"),
    [("1", "/api/v1/categories/", 0), ("5", "/api/v1/categories/", 4), (None, "/api/v1/categories/", None),
     ("0", "/api/v1/categories/", None), ("x", "/api/v1/categories/", None), ("99999", "/api/v1/categories/", None),
     ("1", "/api/v1/tools/no-such-tool/", None)],
)  # fmt: skip
def test_the_edge_is_told_when_its_copy_of_a_200_expires(api, sent: str | None, path: str, expires: int | None) -> None:
    """X-Accel-Expires: @<the second boundary EDGE_CACHE_SECONDS - 1 s on>, for nginx's edge cache only."""
    before = int(time.time())
    response = api.get(path, **({"HTTP_X_EDGE_CACHE_SECONDS": sent} if sent is not None else {}))
    after = int(time.time())
    if expires is None:
        assert "X-Accel-Expires" not in response
    else:
        assert response.status_code == 200
        assert before + expires <= int(response["X-Accel-Expires"].removeprefix("@")) <= after + expires
