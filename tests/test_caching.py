"""Conditional GET and the server-side document cache: fresh after every write, 304 without building."""

import time

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from compare_api import caching
from reviews.models import Review
from tests.factories import ReviewerFactory, ReviewFactory, ToolFactory, UserFactory
from tests.helpers import bearer

pytestmark = pytest.mark.django_db
URL = "/api/v1/comparisons/alpha-vs-beta/"


@pytest.fixture
def pair(settings, django_capture_on_commit_callbacks) -> tuple:
    settings.DOCUMENT_CACHE = True
    with django_capture_on_commit_callbacks(execute=True):
        left, right = ToolFactory(slug="alpha"), ToolFactory(slug="beta")
        reviewer = ReviewerFactory()
        ReviewFactory(reviewer=reviewer, tool=left, verdict="ship", body="Good.")
    return left, right, reviewer


def test_reads_carry_a_strong_etag_and_cache_control(api, pair) -> None:
    for url in (URL, "/api/v1/tools/", "/api/v1/tools/alpha/", "/api/v1/categories/", "/api/v1/reviewers/"):
        response = api.get(url)
        assert response.status_code == 200
        assert response["ETag"].startswith('"') and not response["ETag"].startswith("W/")
        assert response["Cache-Control"] == "public, no-cache"
        assert response["Content-Type"] == "application/json"


def test_a_repeated_read_is_served_from_the_cache_without_a_query(api, pair, django_assert_num_queries) -> None:
    first = api.get(URL)
    with django_assert_num_queries(0):
        second = api.get(URL)
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]


@pytest.mark.parametrize("if_none_match", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_a_matching_if_none_match_is_a_304_without_building(
    api, pair, django_assert_num_queries, if_none_match: str
) -> None:
    etag = api.get(URL)["ETag"]
    with django_assert_num_queries(0):
        response = api.get(URL, HTTP_IF_NONE_MATCH=if_none_match.format(etag=etag))
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


def test_a_stale_etag_gets_the_full_document(api, pair) -> None:
    response = api.get(URL, HTTP_IF_NONE_MATCH='"stale"')
    assert response.status_code == 200
    assert response.json()["slug"] == "alpha-vs-beta"


def test_a_vote_changes_the_etag_and_content_on_the_next_read(api, pair, django_capture_on_commit_callbacks) -> None:
    before = api.get(URL)
    with django_capture_on_commit_callbacks(execute=True):
        api.put("/api/v1/tools/alpha/vote/", {"verdict": "ship"}, format="json", **bearer(UserFactory()))
    after = api.get(URL, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert after.json()["tools"][0]["community"]["total"] == 1
    assert api.get("/api/v1/tools/alpha/").json()["community"]["total"] == 1
    assert api.get("/api/v1/tools/").json()["results"][0]["community"]["total"] == 1


@pytest.mark.parametrize("edit", ["review", "reviewer", "tool", "new review"])
def test_a_staff_edit_changes_the_etag_and_content(api, pair, django_capture_on_commit_callbacks, edit: str) -> None:
    left, right, reviewer = pair
    before = api.get(URL)
    with django_capture_on_commit_callbacks(execute=True):
        if edit == "review":
            review = Review.objects.get(tool=left)
            review.verdict = "skip"
            review.save()
        elif edit == "reviewer":
            reviewer.name = "Renamed"
            reviewer.save()
        elif edit == "tool":
            left.tagline = "A new tagline"
            left.save()
        else:
            ReviewFactory(reviewer=reviewer, tool=right, verdict="skip")
    after = api.get(URL, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert after.content != before.content


def test_errors_are_not_cached(api, pair, django_capture_on_commit_callbacks) -> None:
    assert api.get("/api/v1/comparisons/alpha-vs-gamma/").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        ToolFactory(slug="gamma")
    assert api.get("/api/v1/comparisons/alpha-vs-gamma/").status_code == 200


def test_an_unreachable_cache_means_uncached_reads_not_errors(api, pair, settings, monkeypatch) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    first = api.get(URL)
    assert first.status_code == 200
    assert first.json()["slug"] == "alpha-vs-beta"
    # The ETag comes from the built bytes, so revalidation still works.
    assert api.get(URL, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert not caching.breaker.available()


def _failing_cache(monkeypatch) -> list[str]:
    """The cache fails every call (as a stopped or paused Redis does); returns the list of attempts."""
    attempts: list[str] = []

    def down() -> None:
        attempts.append("call")
        raise ConnectionError("cache down")

    monkeypatch.setattr(caching, "_cache", down)
    return attempts


def test_a_failing_cache_is_tried_once_not_on_every_vote(pair, monkeypatch) -> None:
    """A stalled Redis cost every vote a timeout (and a retry) in the post-commit bump."""
    monkeypatch.setattr(caching.breaker, "interval", 60.0)  # no probe during this test
    attempts = _failing_cache(monkeypatch)
    for _ in range(20):
        caching.bump_now(caching.VOTES, caching.tool_version("alpha"))
    assert len(attempts) == 1
    assert not caching.breaker.available()


def test_lost_invalidations_are_made_good_before_the_cache_is_used_again(api, pair, monkeypatch) -> None:
    monkeypatch.setattr(caching.breaker, "interval", 0.05)
    before = api.get(URL)
    attempts = _failing_cache(monkeypatch)
    caching.bump_now(caching.CATALOG)  # a write while the cache is down: its bump is lost
    monkeypatch.setattr(caching, "_cache", lambda: cache)  # the cache answers again
    review = Review.objects.get(tool=pair[0])
    review.verdict = "skip"
    review.save()  # the write itself; its own invalidation would run at commit, which never comes here
    deadline = time.monotonic() + 5
    while not caching.breaker.available() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert caching.breaker.available()  # the probe found the cache answering, and replaced every token first
    after = api.get(URL)
    assert attempts == ["call"]
    assert after["ETag"] != before["ETag"]
    assert after.json()["tools"][0]["panel"]["skip"] == 1
    cache.clear()


def test_a_database_outage_is_a_503_with_retry_after(api, monkeypatch) -> None:
    from django.db import OperationalError

    from reviews import views

    def down(**kwargs: str) -> dict:
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(views, "comparison_get", down)
    response = APIClient(raise_request_exception=False).get("/api/v1/comparisons/alpha-vs-beta/")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json() == {
        "type": "server_error",
        "errors": [
            {
                "code": "service_unavailable",
                "detail": "The database is briefly unavailable; try again in a moment.",
                "attr": None,
            }
        ],
    }
