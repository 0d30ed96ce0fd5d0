"""Votes answered by votes.fastpath before DRF runs, against a real Redis: the same answers as the view's."""

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.views import APIView

from compare_api import caching
from tests.factories import UserFactory
from tests.helpers import bearer, redis_documents
from tools.models import Tool

pytestmark = pytest.mark.django_db
URL = "/api/v1/tools/alpha/vote/"
WITHOUT_FAST_PATH = [name for name in django_settings.MIDDLEWARE if name != "votes.fastpath.VoteWriteMiddleware"]
# What differs between any two answers: the request's own id, and the seconds left in the window.
PER_REQUEST = {"X-Request-ID", "RateLimit-Reset"}


@pytest.fixture
def redis_cache(settings, django_capture_on_commit_callbacks) -> Iterator[None]:
    with redis_documents(settings, django_capture_on_commit_callbacks, votes="3/min"):
        caching.breaker.reset()
        yield


@pytest.fixture
def no_view(monkeypatch) -> None:
    """Any request that reaches a DRF view fails the test."""
    monkeypatch.setattr(APIView, "dispatch", lambda *a, **k: (_ for _ in ()).throw(AssertionError("view ran")))


def _put(api, verdict: str, headers: dict, url: str = URL):
    return api.put(url, json.dumps({"verdict": verdict}), content_type="application/json", **headers)


def _shape(response) -> tuple:
    """An answer as a client compares it: status, headers but the per-request ones, and the JSON
    without the vote's timestamps (each answer's own)."""
    assert response["Content-Length"] == str(len(response.content))
    body = response.json()
    for stamp in ("created_at", "updated_at"):
        assert body.pop(stamp)
    # Content-Length too: a timestamp is as long as its microseconds need.
    headers = {name: value for name, value in response.headers.items() if name not in {*PER_REQUEST, "Content-Length"}}
    return response.status_code, headers, body


def test_a_vote_is_answered_without_the_view(api, redis_cache, no_view) -> None:
    voter = bearer(UserFactory())
    cast = _put(api, "ship", voter)
    assert cast.status_code == 201
    assert cast.json()["community"] == {"ship": 1, "skip": 0, "total": 1, "ship_rate": 1.0, "ci95": [0.2065, 1.0]}
    assert Tool.objects.get(slug="alpha").community_ship_count == 1
    changed = _put(api, "skip", voter)
    assert changed.status_code == 200
    assert changed.json()["verdict"] == "skip"
    assert changed.json()["created_at"] == cast.json()["created_at"]
    assert Tool.objects.values_list("community_ship_count", "community_skip_count").get(slug="alpha") == (0, 1)


def test_its_answers_are_the_views(api, redis_cache, settings) -> None:
    """The same steps, with and without the fast path, give the same statuses, headers and documents."""

    def steps(slug: str) -> list[tuple]:
        voter = bearer(UserFactory())
        url = f"/api/v1/tools/{slug}/vote/"
        return [_shape(_put(api, verdict, voter, url)) for verdict in ("ship", "ship", "skip")]

    fast = steps("alpha")
    settings.MIDDLEWARE = WITHOUT_FAST_PATH
    slow = steps("beta")
    for (f_status, f_headers, f_body), (s_status, s_headers, s_body) in zip(fast, slow, strict=True):
        assert (f_status, f_headers) == (s_status, s_headers)
        assert {**f_body, "tool": "beta"} == s_body
    assert [status for status, _, _ in fast] == [201, 200, 200]


def test_each_vote_is_counted_once_against_both_of_the_voters_limits(api, redis_cache, settings) -> None:
    voter = bearer(UserFactory())
    answers = [_put(api, verdict, voter) for verdict in ("ship", "skip", "ship", "skip")]
    assert [a.status_code for a in answers] == [201, 200, 200, 429]
    assert [a["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[-1].json()["errors"][0]["code"] == "throttled"
    assert Tool.objects.get(slug="alpha").community_ship_count == 1  # the refused vote changed nothing
    # The voter tier counted each of them once too (with the votes limit out of the way, it is the tightest).
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "votes": "100000/min"},
    }
    tier = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["voter"].split("/")[0])
    assert _put(api, "skip", voter)["RateLimit-Remaining"] == str(tier - 5)


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"HTTP_AUTHORIZATION": "Bearer 00"}, '{"verdict": "ship"}', 401),
        ({"HTTP_AUTHORIZATION": "Token abc"}, '{"verdict": "ship"}', 401),
        ({}, '{"verdict": "ship"}', 401),
        (None, '{"verdict": "maybe"}', 400),
        (None, '{"verdict": ["ship"]}', 400),
        (None, "[1, 2]", 400),
        (None, "{not json", 400),
        (None, '{"verdict": "ship"}' + " " * 300, 200),  # longer than the fast path reads: the view's
    ],
)
def test_anything_else_is_the_views_to_answer(api, redis_cache, headers, body, status) -> None:
    user = UserFactory()
    if headers is None:
        headers = bearer(user)
    first = api.put(URL, body, content_type="application/json", **headers)
    # A long body is a first vote (201); the rest are refused, and change nothing.
    assert first.status_code == (201 if status == 200 else status)
    assert first["Content-Type"] == "application/json"
    if status != 200:
        assert "errors" in first.json()
        assert Tool.objects.get(slug="alpha").community_ship_count == 0


def test_other_kinds_of_request_go_to_the_view(api, redis_cache) -> None:
    voter = bearer(UserFactory())
    assert _put(api, "ship", voter, "/api/v1/tools/nope/vote/").status_code == 404
    form = api.put(URL, "verdict=ship", content_type="application/x-www-form-urlencoded", **voter)
    assert form.status_code == 415
    assert _put(api, "ship", {**voter, "HTTP_ACCEPT": "text/csv"}).status_code == 406
    assert _put(api, "ship", {**voter, "HTTP_X_API_KEY": "x"}).status_code in (201, 401)
    assert api.get(URL, **voter).status_code in (200, 404)


def test_a_revoked_or_inactive_voters_token_is_refused(api, redis_cache) -> None:
    user = UserFactory()
    voter = bearer(user)
    assert _put(api, "ship", voter).status_code == 201
    user.is_active = False
    user.save()
    assert _put(api, "skip", voter).status_code == 401
    user.is_active = True
    user.save()
    assert api.post("/api/v1/auth/logout/", **voter).status_code == 204
    assert _put(api, "skip", voter).status_code == 401
    assert Tool.objects.values_list("community_ship_count", "community_skip_count").get(slug="alpha") == (1, 0)


def test_a_wrong_token_costs_one_query(api, redis_cache, django_assert_num_queries) -> None:
    """The fast path's look-up is the only one: the view refuses the token it found no row for."""
    user = UserFactory()
    real = bearer(user)["HTTP_AUTHORIZATION"]
    wrong = {"HTTP_AUTHORIZATION": real[:-4] + ("0000" if not real.endswith("0000") else "1111")}
    with django_assert_num_queries(1):
        answer = _put(api, "ship", wrong)
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["detail"] == "Invalid token."
    assert _put(api, "ship", {"HTTP_AUTHORIZATION": real}).status_code == 201  # the real one still works


def test_an_expired_token_is_refused_and_deleted(api, redis_cache) -> None:
    user = UserFactory()
    voter = bearer(user)
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(seconds=1))
    assert _put(api, "ship", voter).status_code == 401
    assert not AuthToken.objects.filter(user=user).exists()  # the view swept it, as knox does
    assert Tool.objects.get(slug="alpha").community_ship_count == 0


def test_with_redis_down_the_view_answers_and_the_vote_counts(api, redis_cache, settings) -> None:
    settings.CACHES = {"default": {"BACKEND": "compare_api.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    assert _put(api, "ship", bearer(UserFactory())).status_code == 201
    assert not caching.breaker.available()
    assert Tool.objects.get(slug="alpha").community_ship_count == 1
    caching.breaker.reset()


def test_the_next_anonymous_read_shows_the_vote(api, redis_cache, django_capture_on_commit_callbacks) -> None:
    before = api.get("/api/v1/comparisons/alpha-vs-beta/")
    voter = bearer(UserFactory())
    with django_capture_on_commit_callbacks(execute=True):  # the test's transaction stands for autocommit
        _put(api, "ship", voter)
    after = api.get("/api/v1/comparisons/alpha-vs-beta/")
    assert after["ETag"] != before["ETag"]
    assert after.json()["tools"][0]["community"]["total"] == 1


def test_the_metrics_count_it_under_the_vote_route(api, redis_cache, settings) -> None:
    settings.METRICS_TOKEN = "metrics-token"
    _put(api, "ship", bearer(UserFactory()))
    scrape = api.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token")
    lines = [line for line in scrape.content.decode().splitlines() if 'route="tool-vote"' in line]
    assert any('method="PUT"' in line and 'status="201"' in line for line in lines), lines


on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the vote's statement checks the token on PostgreSQL only",
)


@on_postgresql
def test_a_known_voters_vote_is_one_query(api, redis_cache, django_assert_num_queries) -> None:
    """Once Redis holds the token's owner, the vote's own statement is the only query, and it still
    counts against the voter's limits."""
    voter = bearer(UserFactory())
    with django_assert_num_queries(2):  # the token's owner, then the vote
        assert _put(api, "ship", voter)["RateLimit-Remaining"] == "2"
    with django_assert_num_queries(1):
        changed = _put(api, "skip", voter)
    assert (changed.status_code, changed["RateLimit-Remaining"]) == (200, "1")
    assert Tool.objects.values_list("community_ship_count", "community_skip_count").get(slug="alpha") == (0, 1)


@on_postgresql
@pytest.mark.parametrize("refusal", ["logout", "inactive", "expired"])
def test_a_token_refused_since_redis_learnt_its_owner_casts_nothing(api, redis_cache, refusal) -> None:
    user = UserFactory()
    voter = bearer(user)
    assert _put(api, "ship", voter).status_code == 201
    if refusal == "logout":
        assert api.post("/api/v1/auth/logout/", **voter).status_code == 204
    elif refusal == "inactive":
        type(user).objects.filter(pk=user.pk).update(is_active=False)
    else:
        AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(seconds=1))
    answer = _put(api, "skip", voter)
    assert answer.status_code == 401
    assert "errors" in answer.json()
    assert Tool.objects.values_list("community_ship_count", "community_skip_count").get(slug="alpha") == (1, 0)
    assert not caching._cache()._cache.get_client().keys("*voter-token*")  # the owner is forgotten


@on_postgresql
def test_an_owner_entry_for_another_digest_counts_nothing_against_its_account(api, redis_cache) -> None:
    """A token that shares a real token's key but not its digest is looked up in the database and
    refused; the real owner's limits are not touched."""
    user = UserFactory()
    real = bearer(user)["HTTP_AUTHORIZATION"]
    assert _put(api, "ship", {"HTTP_AUTHORIZATION": real})["RateLimit-Remaining"] == "2"
    forged = {"HTTP_AUTHORIZATION": real[:-4] + ("0000" if not real.endswith("0000") else "1111")}
    for _ in range(3):
        assert _put(api, "skip", forged).status_code == 401
    assert _put(api, "skip", {"HTTP_AUTHORIZATION": real})["RateLimit-Remaining"] == "1"


def test_redis_flushed_forgets_owners_and_votes_still_count(api, redis_cache, settings) -> None:
    voter = bearer(UserFactory())
    assert _put(api, "ship", voter).status_code == 201
    caching._cache()._cache.get_client().flushall()
    changed = _put(api, "skip", voter)
    assert (changed.status_code, changed["RateLimit-Remaining"]) == (200, "2")  # the window restarted
    assert Tool.objects.values_list("community_ship_count", "community_skip_count").get(slug="alpha") == (0, 1)


def _log_in(api) -> dict[str, str]:
    """Request headers with the token a new account's login answers."""
    user = UserFactory()
    credentials = {"username": user.username, "password": "correct horse battery staple"}
    login = api.post("/api/v1/auth/token/", json.dumps(credentials), content_type="application/json")
    assert login.status_code == 200
    return {"HTTP_AUTHORIZATION": f"Bearer {login.json()['token']}"}


@on_postgresql
def test_a_voters_first_vote_after_logging_in_is_one_query(api, redis_cache, django_assert_num_queries) -> None:
    """Logging in keeps the new token's owner in Redis: the first vote needs no look-up either."""
    voter = _log_in(api)
    with django_assert_num_queries(1):
        cast = _put(api, "ship", voter)
    assert (cast.status_code, cast["RateLimit-Remaining"]) == (201, "2")
    assert Tool.objects.get(slug="alpha").community_ship_count == 1


@on_postgresql
def test_a_token_logged_out_before_its_first_vote_casts_nothing(api, redis_cache) -> None:
    voter = _log_in(api)
    assert api.post("/api/v1/auth/logout/", **voter).status_code == 204
    assert _put(api, "ship", voter).status_code == 401
    assert Tool.objects.get(slug="alpha").community_ship_count == 0
    assert not caching._cache()._cache.get_client().keys("*voter-token*")  # the owner is forgotten


def test_logging_in_with_redis_down_still_answers_the_token(api, redis_cache, settings) -> None:
    settings.CACHES = {"default": {"BACKEND": "compare_api.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    assert _put(api, "ship", _log_in(api)).status_code == 201
    assert Tool.objects.get(slug="alpha").community_ship_count == 1
    caching.breaker.reset()
