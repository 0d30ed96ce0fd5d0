"""The operations endpoints through the production server: counts summed over gunicorn's workers,
readiness with Redis gone, request ids in the access log and JSON log lines."""

import json
from pathlib import Path

import pytest

from tests.factories import CategoryFactory
from tests.helpers import free_port, gunicorn_server, http, redis_server, requires_postgres, run_together
from tests.test_operations import sample

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]
TOKEN = "metrics-token-over-http"
NO_LIMITS = {f"THROTTLE_{kind}": "100000/min" for kind in ("ANON", "VOTER")}


def scrape(base_url: str) -> str:
    status, headers = http("GET", f"{base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    return headers["body"].decode()


def test_counts_are_summed_over_the_workers(tmp_path: Path) -> None:
    CategoryFactory.create_batch(3)
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left by an earlier run")
    with gunicorn_server(workers=2, METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), **NO_LIMITS) as url:
        assert not (metrics_dir / "counter_999999.db").exists()  # wiped at start
        results = []
        # At least one batch, then more until both workers have served (a worker still starting up may
        # leave a batch to the other; the start-up probe may already have reached both).
        while not results or (len(list(metrics_dir.glob("counter_*.db"))) < 2 and len(results) < 400):
            results += run_together([lambda: http("GET", f"{url}/api/v1/categories/") for _ in range(40)])
        health = run_together([lambda: http("GET", f"{url}/healthz") for _ in range(10)])
        assert sorted(status for status, _ in results + health) == [200] * (len(results) + 10)
        assert http("GET", f"{url}/metrics")[0] == 404
        text = scrape(url)
        writers = {path.name for path in metrics_dir.glob("counter_*.db")}
    assert len(writers) == 2, writers  # both workers served, and the scrape added both up
    total = "verdicts_http_requests_total"
    assert sample(text, total, route="category-list", method="GET", status="200") == len(results)
    assert sample(text, total, route="healthz", method="GET", status="200") == 10
    assert sample(text, total, route="unresolved", method="GET", status="404") == 1  # the refused scrape
    timed = {"route": "category-list", "method": "GET"}
    assert sample(text, "verdicts_http_request_duration_seconds_count", **timed) == len(results)
    assert 0 < sample(text, "verdicts_http_request_duration_seconds_sum", **timed) < len(results)


def test_readyz_names_redis_when_it_is_gone_and_healthz_stays_up() -> None:
    with redis_server() as redis, gunicorn_server(workers=1, REDIS_URL=redis.url) as url:
        assert http("GET", f"{url}/readyz")[0] == 200
        redis.stop()
        status, headers = http("GET", f"{url}/readyz")
        assert status == 503
        assert headers["Cache-Control"] == "no-store"
        body = json.loads(headers["body"])
        assert [error["attr"] for error in body["errors"]] == ["redis"]
        assert body["checks"]["database"]["status"] == "ok"
        assert http("GET", f"{url}/healthz")[0] == 200
    with gunicorn_server(workers=1, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0") as url:
        status, headers = http("GET", f"{url}/readyz")
        assert status == 503
        assert json.loads(headers["body"])["errors"][0]["detail"] == "Redis refused the connection."


def test_json_logs_and_the_access_log_carry_the_request_id(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with gunicorn_server(workers=1, log_file=log, LOG_FORMAT="json", GUNICORN_ACCESSLOG="-") as url:
        status, headers = http("GET", f"{url}/no/such/page", headers={"X-Request-ID": "trace-over-http"})
        assert (status, headers["X-Request-ID"]) == (404, "trace-over-http")
        status, headers = http("GET", f"{url}/healthz", headers={"X-Request-ID": "bad id"})
        fresh = headers["X-Request-ID"]
        assert fresh != "bad id" and len(fresh) == 32
    lines = [json.loads(line) for line in log.read_text().splitlines()]  # every line is one JSON object
    assert all({"timestamp", "level", "logger", "message", "request_id"} <= set(line) for line in lines)
    by_logger: dict[str, list[dict]] = {}
    for line in lines:
        by_logger.setdefault(line["logger"], []).append(line)
    (not_found,) = by_logger["django.request"]
    assert (not_found["message"], not_found["request_id"]) == ("Not Found: /no/such/page", "trace-over-http")
    access = by_logger["gunicorn.access"]
    assert [line["request_id"] for line in access if "/no/such/page" in line["message"]] == ["trace-over-http"]
    assert [line["request_id"] for line in access if "/healthz" in line["message"]] == [fresh]
    assert any("Booting worker" in line["message"] for line in by_logger["gunicorn.error"])


def test_the_text_access_log_ends_with_the_request_id(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with gunicorn_server(workers=1, log_file=log, GUNICORN_ACCESSLOG="-") as url:
        http("GET", f"{url}/healthz", headers={"X-Request-ID": "trace-text"})
    (line,) = [line for line in log.read_text().splitlines() if "GET /healthz" in line]
    assert line.endswith(" trace-text")
