"""Reads that survive votes: facts and tallies cached apart (compare_api.caching), against a real Redis.

A vote changes two counters of one tool; the next read of a document that shows
that tool must show the vote, with a new ETag, at the cost of reading the
tallies again, not of rebuilding the document.
"""

import time
from collections.abc import Iterator

import pytest
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework.views import APIView

from compare_api import caching
from tests.factories import ReviewerFactory, ReviewFactory, ToolFactory, UserFactory
from tests.helpers import bearer, redis_server

pytestmark = pytest.mark.django_db
COMPARISON = "/api/v1/comparisons/alpha-vs-beta/"
# Every read kept as facts and tallies, and what votes on alpha show in each.
TALLIED = {
    COMPARISON: lambda document: document["tools"][0]["community"],
    "/api/v1/tools/alpha/": lambda document: document["community"],
    "/api/v1/tools/": lambda document: document["results"][0]["community"],
    "/api/v1/tools/?ordering=-panel_ship_rate&page_size=1": lambda document: document["results"][0]["community"],
}


@pytest.fixture
def redis(settings, django_capture_on_commit_callbacks) -> Iterator[object]:
    with redis_server() as server:
        settings.CACHES = {"default": {"BACKEND": "compare_api.cache.RedisCache", "LOCATION": server.url}}
        settings.DOCUMENT_CACHE = True
        with django_capture_on_commit_callbacks(execute=True):
            alpha = ToolFactory(slug="alpha", name="Alpha")
            ToolFactory(slug="beta", name="Beta")
            ToolFactory(slug="gamma", name="Gamma")
            ReviewFactory(reviewer=ReviewerFactory(), tool=alpha, verdict="ship", body="Good.")
        yield server


def _vote(api, django_capture_on_commit_callbacks, slug: str, verdict: str, voter=None) -> object:
    voter = voter or UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.put(f"/api/v1/tools/{slug}/vote/", {"verdict": verdict}, format="json", **bearer(voter))
    assert response.status_code in (200, 201)
    return voter


def _fresh(api, url: str):
    """The document as built from the database, with the cache out of the way."""
    with override_settings(DOCUMENT_CACHE=False):
        return api.get(url)


@pytest.mark.parametrize("url", TALLIED)
def test_after_a_vote_the_next_read_reads_the_tallies_only(
    api, redis, django_capture_on_commit_callbacks, django_assert_num_queries, url: str
) -> None:
    before = api.get(url)
    _vote(api, django_capture_on_commit_callbacks, "alpha", "ship")
    with django_assert_num_queries(1):  # the tallies; the facts stay cached
        after = api.get(url)
    assert after.status_code == 200
    assert TALLIED[url](after.json())["total"] == TALLIED[url](before.json())["total"] + 1
    assert after["ETag"] != before["ETag"]
    # Byte for byte the document built from scratch, with the same ETag.
    fresh = _fresh(api, url)
    assert after.content == fresh.content
    assert after["ETag"] == fresh["ETag"]
    with django_assert_num_queries(0):
        assert api.get(url).content == after.content


@pytest.mark.parametrize("url", TALLIED)
def test_the_fast_path_serves_facts_and_tallies_together(api, redis, monkeypatch, url: str) -> None:
    first = api.get(url)
    monkeypatch.setattr(APIView, "dispatch", lambda *a, **k: (_ for _ in ()).throw(AssertionError("view ran")))
    second = api.get(url)
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]
    assert api.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_the_fast_path_reads_stale_tallies_itself(
    api, redis, django_capture_on_commit_callbacks, django_assert_num_queries, monkeypatch
) -> None:
    api.get(COMPARISON)
    _vote(api, django_capture_on_commit_callbacks, "alpha", "ship")
    monkeypatch.setattr(APIView, "dispatch", lambda *a, **k: (_ for _ in ()).throw(AssertionError("view ran")))
    with django_assert_num_queries(1):
        after = api.get(COMPARISON)
    assert after.json()["tools"][0]["community"]["total"] == 1
    monkeypatch.undo()
    assert after.content == _fresh(api, COMPARISON).content


def test_the_database_failing_on_a_tally_read_is_the_views_answer(
    api, redis, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    """The fast path does not answer for the database: the view does, in the usual shape."""
    api.get(COMPARISON)
    _vote(api, django_capture_on_commit_callbacks, "alpha", "ship")

    def down(slugs):
        from django.db import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(caching, "_read_tallies", down)
    response = APIClient(raise_request_exception=False).get(COMPARISON)
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["code"] == "service_unavailable"


@pytest.mark.parametrize("url", TALLIED)
def test_the_same_bytes_have_the_same_etag_in_every_process(api, redis, monkeypatch, url: str) -> None:
    # Each process renders the facts around a hole of its own; a document another worker builds
    # (Redis down, an entry expired) must still answer an ETag this one gave with a 304.
    here = _fresh(api, url)
    monkeypatch.setattr(caching, "_HOLE", "\x00tally-another-process\x00")
    monkeypatch.setattr(caching, "_HOLE_BYTES", caching.render_json(caching._HOLE))
    there = _fresh(api, url)
    assert there.content == here.content
    assert there["ETag"] == here["ETag"]


def test_an_old_etag_is_never_a_304_after_a_vote(api, redis, django_capture_on_commit_callbacks) -> None:
    first = api.get(COMPARISON)
    seen = [(first["ETag"], first.content)]
    voter = UserFactory()
    for verdict in ("ship", "skip", "ship"):  # a new vote, then two flips (the last brings back the first's bytes)
        _vote(api, django_capture_on_commit_callbacks, "alpha", verdict, voter)
        current = _fresh(api, COMPARISON).content
        for etag, content in seen:
            response = api.get(COMPARISON, HTTP_IF_NONE_MATCH=etag)
            # A 304 only for the bytes the client already has.
            assert response.status_code == (304 if content == current else 200), verdict
        response = api.get(COMPARISON)
        assert response.content == current
        seen.append((response["ETag"], response.content))
    assert len({etag for etag, _ in seen}) == len({content for _, content in seen}) == 3


def test_a_vote_on_another_tool_leaves_a_comparison_whole(
    api, redis, django_capture_on_commit_callbacks, django_assert_num_queries
) -> None:
    first = api.get(COMPARISON)
    _vote(api, django_capture_on_commit_callbacks, "gamma", "ship")
    with django_assert_num_queries(0):
        assert api.get(COMPARISON).content == first.content


def test_a_catalog_write_rebuilds_the_facts(api, redis, django_capture_on_commit_callbacks) -> None:
    api.get(COMPARISON)
    from tools.models import Tool

    with django_capture_on_commit_callbacks(execute=True):
        tool = Tool.objects.get(slug="alpha")
        tool.tagline = "Now with a tagline."
        tool.save()
    assert api.get(COMPARISON).json()["tools"][0]["tagline"] == "Now with a tagline."
    assert api.get(COMPARISON).content == _fresh(api, COMPARISON).content


@pytest.mark.parametrize(
    "url", ["/api/v1/comparisons/alpha-vs-beta-vs-gamma/", "/api/v1/tools/?ordering=-community_ship_rate"]
)
def test_documents_votes_can_reorder_stay_whole(api, redis, django_capture_on_commit_callbacks, url: str) -> None:
    """A community pick and an order by a community figure move with votes: rebuilt after any vote."""
    api.get(url)
    _vote(api, django_capture_on_commit_callbacks, "gamma", "ship")
    after = api.get(url)
    assert after.content == _fresh(api, url).content
    assert caching.tally_versions(url.split("?")[0], after.wsgi_request.GET) is None


def test_lost_keys_never_serve_a_stale_tally(api, redis, django_capture_on_commit_callbacks) -> None:
    """Whichever keys Redis loses (eviction, a flush, a restart), the tallies shown are the database's."""
    cache = caching._cache()
    doc_key = caching.doc_key_for(COMPARISON)
    for lost in (
        [caching.version_key(caching.tool_version("alpha"))],
        [caching.tallies_key_for(doc_key)],
        [doc_key],
        [caching.version_key(caching.CATALOG)],
        "flush",
    ):
        api.get(COMPARISON)
        _vote(api, django_capture_on_commit_callbacks, "alpha", "ship")
        if lost == "flush":
            cache.clear()
        else:
            cache.delete_many(lost)
        assert api.get(COMPARISON).content == _fresh(api, COMPARISON).content, lost


def test_a_stopped_redis_means_fresh_tallies_and_none_stale_after_it_returns(
    api, redis, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    monkeypatch.setattr(caching.breaker, "interval", 0.05)
    api.get(COMPARISON)
    redis.stop()
    try:
        _vote(api, django_capture_on_commit_callbacks, "alpha", "ship")  # its invalidation is lost
        during = api.get(COMPARISON)
        assert during.status_code == 200
        assert during.json()["tools"][0]["community"]["total"] == 1
    finally:
        redis.start()  # empty, as a restarted Redis without persistence is
    deadline = time.monotonic() + 10
    while not caching.breaker.available() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert caching.breaker.available()
    after = api.get(COMPARISON)
    assert after.json()["tools"][0]["community"]["total"] == 1
    assert after.content == _fresh(api, COMPARISON).content
