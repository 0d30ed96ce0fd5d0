"""The production server (gunicorn, 4 workers) sharing Redis: exact limits, and no 500 without Redis."""

import json
import time

import pytest

from compare_api import caching
from tests.factories import ToolFactory, UserFactory
from tests.helpers import gunicorn_server, http, redis_server, requires_postgres, run_together

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def test_a_burst_of_sixty_against_a_limit_of_twenty() -> None:
    """DRF's stock throttles let about twice the limit through a burst; one INCR per request lets exactly the limit."""
    ToolFactory(slug="alpha")
    with redis_server() as redis, gunicorn_server(workers=4, REDIS_URL=redis.url, THROTTLE_ANON="20/min") as base_url:
        results = run_together([lambda: http("GET", f"{base_url}/api/v1/tools/alpha/") for _ in range(60)])
    statuses = sorted(status for status, _ in results)
    assert statuses.count(200) == 20
    assert statuses.count(429) == 40
    refused = next(headers for status, headers in results if status == 429)
    assert refused["RateLimit-Limit"] == "20"
    assert refused["RateLimit-Remaining"] == "0"
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_reads_survive_redis_stopping_mid_run_and_caching_resumes() -> None:
    ToolFactory(slug="alpha"), ToolFactory(slug="beta")
    url = "/api/v1/comparisons/alpha-vs-beta/"
    with redis_server() as redis, gunicorn_server(workers=2, REDIS_URL=redis.url) as base_url:
        warm = [http("GET", base_url + url) for _ in range(4)]
        redis.stop()
        during = [http("GET", base_url + url) for _ in range(20)]
        redis.start()
        time.sleep(caching.breaker.RETRY_AFTER + 0.5)  # the servers leave Redis alone this long after a failure
        after = [http("GET", base_url + url) for _ in range(10)]
    for phase in (warm, during, after):
        assert [status for status, _ in phase] == [200] * len(phase)
        assert {json.loads(headers["body"])["slug"] for _, headers in phase} == {"alpha-vs-beta"}
    # While Redis is down nothing is rate-limited (fail open); once back, counting resumes.
    assert all("RateLimit-Limit" not in headers for _, headers in during[1:])
    assert "RateLimit-Limit" in after[-1][1]


def test_the_per_account_login_limit_is_shared_by_every_worker(settings) -> None:
    """Twenty wrong passwords for one account at once, across four workers: exactly five are checked."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # the server's
    UserFactory(username="Ada"), UserFactory(username="grace")
    wrong = {"username": "ada", "password": "not the password"}
    right = {"username": "ADA", "password": "correct horse battery staple"}
    limits = {"THROTTLE_LOGIN": "1000/min", "THROTTLE_LOGIN_ACCOUNT": "5/15min"}
    with redis_server() as redis, gunicorn_server(workers=4, REDIS_URL=redis.url, **limits) as base_url:
        token = f"{base_url}/api/v1/auth/token/"
        results = run_together([lambda: http("POST", token, wrong) for _ in range(20)])
        after = http("POST", token, right)
        other = http("POST", token, {"username": "grace", "password": "correct horse battery staple"})
    statuses = sorted(status for status, _ in results)
    assert (statuses.count(400), statuses.count(429)) == (5, 15)
    assert after[0] == 429 and 1 <= int(after[1]["Retry-After"]) <= 900
    assert other[0] == 200
