"""Anonymous reads of cached documents answered by compare_api.fastpath, against a real Redis."""

from collections.abc import Iterator

import pytest
import redis
from rest_framework.views import APIView

from compare_api import caching
from tests.factories import UserFactory
from tests.helpers import bearer, redis_documents

pytestmark = pytest.mark.django_db
URL = "/api/v1/comparisons/alpha-vs-beta/"


@pytest.fixture
def redis_cache(settings, django_capture_on_commit_callbacks) -> Iterator[None]:
    with redis_documents(settings, django_capture_on_commit_callbacks, anon="5/min"):
        yield


def test_a_fresh_document_is_served_without_the_view_or_a_query(api, redis_cache, monkeypatch) -> None:
    first = api.get(URL)
    assert first.status_code == 200
    monkeypatch.setattr(APIView, "dispatch", lambda *a, **k: (_ for _ in ()).throw(AssertionError("view ran")))
    second = api.get(URL)
    assert second.status_code == 200
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]
    assert second["Cache-Control"] == "public, no-cache"
    assert api.get(URL, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_each_request_is_counted_once_whichever_path_answers(api, redis_cache) -> None:
    answers = [api.get(URL) for _ in range(6)]  # a miss through the view, then hits
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 200, 429]
    assert [a["RateLimit-Remaining"] for a in answers] == ["4", "3", "2", "1", "0", "0"]
    assert answers[-1].json()["errors"][0]["code"] == "throttled"
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60


def test_connections_redis_dropped_are_replaced_and_the_request_counted_once(api, redis_cache, settings) -> None:
    assert [api.get(URL)["RateLimit-Remaining"] for _ in range(2)] == ["4", "3"]
    with redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]) as admin:
        # As after a Redis restart or an idle timeout: the pooled connections are dead.
        assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
    after = api.get(URL)
    assert after.status_code == 200
    assert after["RateLimit-Remaining"] == "2"
    assert caching.breaker.available()  # the pool made a new connection: Redis did not fail


def test_a_vote_makes_the_next_read_fresh(api, redis_cache, django_capture_on_commit_callbacks) -> None:
    before = api.get(URL)
    with django_capture_on_commit_callbacks(execute=True):
        api.put("/api/v1/tools/alpha/vote/", {"verdict": "ship"}, format="json", **bearer(UserFactory()))
    after = api.get(URL)
    assert after["ETag"] != before["ETag"]
    assert after.json()["tools"][0]["community"]["total"] == 1


def test_requests_with_credentials_go_to_the_view(api, redis_cache) -> None:
    api.get(URL)
    caching.breaker.reset()
    response = api.get(URL, HTTP_AUTHORIZATION="Bearer 00")
    assert response.status_code == 401  # the view authenticated it


def test_partner_keys_in_x_api_key_go_to_the_view(api, redis_cache) -> None:
    """A cached document must not be served to a partner as anonymous: its tier's limit applies,
    and a revoked key is refused."""
    from partners.models import PartnerKey

    owner = UserFactory()
    _, premium = PartnerKey.objects.create_key(name="premium", owner=owner, tier="premium")
    revoked, revoked_key = PartnerKey.objects.create_key(name="revoked", owner=owner)
    PartnerKey.objects.filter(pk=revoked.pk).update(revoked=True)
    api.get(URL)  # cached now
    response = api.get(URL, HTTP_X_API_KEY=premium)
    assert (response.status_code, response["RateLimit-Limit"]) == (200, "5000")
    assert api.get(URL, HTTP_X_API_KEY=revoked_key).status_code == 403
    assert api.get(URL, HTTP_X_API_KEY="garbage").status_code == 401


def test_a_client_that_refuses_json_goes_to_the_view(api, redis_cache) -> None:
    api.get(URL)
    assert api.get(URL, HTTP_ACCEPT="text/html").status_code == 406
    assert api.get(URL, HTTP_ACCEPT="").status_code == 406  # present but empty: accepts nothing
    assert api.get(URL, HTTP_ACCEPT="text/html,*/*;q=0.8").status_code == 200
