"""A draft's preview: the document its public endpoint will serve once published, behind a signed,
short-lived link, never cached, and a 404 that says nothing for any link that is not one."""

import time

import pytest
from django.core import signing
from django.test import Client

from compare_api import caching
from compare_api.previews import preview_token
from reviews.services import comparison_publish
from tests.factories import ComparisonFactory, ReviewerFactory, ReviewFactory, ToolFactory
from tests.helpers import redis_server
from tests.test_admin import admin_url
from tools.services import tool_publish

pytestmark = pytest.mark.django_db

NOT_FOUND = {
    "type": "client_error",
    "errors": [
        {
            "code": "not_found",
            "detail": "No preview at this link: it is mistyped or has expired; open it again from the admin.",
            "attr": None,
        }
    ],
}


def preview_url(kind: str, pk: int) -> str:
    return f"/api/v1/previews/{preview_token(kind=kind, pk=pk)}/"


@pytest.fixture
def drafts() -> dict:
    """A draft curation of a draft tool and a published one, with reviews (one of them a draft)."""
    alpha = ToolFactory(slug="alpha", name="Alpha", is_published=False)
    beta = ToolFactory(slug="beta", name="Beta")
    builder, buyer = ReviewerFactory(slug="builder"), ReviewerFactory(slug="buyer")
    ReviewFactory(reviewer=builder, tool=alpha, verdict="ship", body="Ships.")
    ReviewFactory(reviewer=buyer, tool=alpha, verdict="skip", body="Not yet.", is_published=False)
    ReviewFactory(reviewer=builder, tool=beta, verdict="skip", body="No.")
    comparison = ComparisonFactory(left_tool=alpha, right_tool=beta, title="Alpha vs Beta", is_published=False)
    return {"alpha": alpha, "beta": beta, "comparison": comparison}


def test_a_tool_preview_is_the_document_it_will_be_published_as(api, drafts, django_assert_num_queries) -> None:
    assert api.get("/api/v1/tools/alpha/").status_code == 404
    with django_assert_num_queries(1):
        preview = api.get(preview_url("tool", drafts["alpha"].pk))
    assert preview.status_code == 200
    assert preview["Cache-Control"] == "private, no-store"
    assert "ETag" not in preview
    assert preview.json()["panel"] == {"ship": 1, "skip": 0, "total": 1, "ship_rate": 1.0, "ci95": [0.2065, 1.0]}

    tool_publish(tool=drafts["alpha"])
    published = api.get("/api/v1/tools/alpha/")
    assert published.status_code == 200
    assert preview.content == published.content


def test_a_comparison_preview_is_the_curated_document_it_will_be(api, drafts, django_assert_num_queries) -> None:
    assert api.get("/api/v1/comparisons/alpha-vs-beta/").status_code == 404  # alpha is a draft
    with django_assert_num_queries(
        5
    ):  # the curation, then the comparison's four (tools, scorecard, disclosures, curation)
        preview = api.get(preview_url("comparison", drafts["comparison"].pk))
    assert preview.status_code == 200
    assert preview["Cache-Control"] == "private, no-store"
    document = preview.json()
    assert (document["slug"], document["curated"], document["title"]) == ("alpha-vs-beta", True, "Alpha vs Beta")
    # The draft review stays out: it is published on its own.
    assert [[review["verdict"] for review in row["reviews"]] for row in document["scorecard"]] == [
        ["ship", "skip"],
        [None, None],
    ]

    tool_publish(tool=drafts["alpha"])
    comparison_publish(comparison=drafts["comparison"])
    published = api.get("/api/v1/comparisons/alpha-vs-beta/")
    assert published.status_code == 200
    assert preview.content == published.content
    # The other order is the same document as ever (canonical_slug names the curated order).
    assert api.get("/api/v1/comparisons/beta-vs-alpha/").json()["canonical_slug"] == "alpha-vs-beta"


def test_previewing_publishes_nothing(api, drafts) -> None:
    api.get(preview_url("comparison", drafts["comparison"].pk))
    assert api.get("/api/v1/comparisons/alpha-vs-beta/").status_code == 404
    assert api.get("/api/v1/comparisons/").json()["count"] == 0
    assert api.get("/api/v1/tools/").json()["count"] == 1


def _forged(kind: str, pk: int) -> str:
    token = preview_token(kind=kind, pk=pk)
    return token[:-1] + ("A" if token[-1] != "A" else "B")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda drafts: _forged("tool", drafts["alpha"].pk), id="altered signature"),
        pytest.param(lambda drafts: signing.dumps(["tool", drafts["alpha"].pk]), id="signed for something else"),
        pytest.param(lambda drafts: preview_token(kind="tool", pk=10**9), id="no such row"),
        pytest.param(lambda drafts: preview_token(kind="reviewer", pk=1), id="not previewable"),
        pytest.param(lambda drafts: "nonsense", id="nonsense"),
        pytest.param(lambda drafts: signing.dumps("tool", salt="compare_api.previews"), id="well signed, wrong shape"),
    ],
)
def test_anything_but_a_valid_link_is_the_same_json_404(api, drafts, token) -> None:
    response = api.get(f"/api/v1/previews/{token(drafts)}/")
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_a_link_expires_after_preview_seconds(api, drafts, settings, monkeypatch) -> None:
    settings.PREVIEW_SECONDS = 60
    url = preview_url("tool", drafts["alpha"].pk)
    signed_at = time.time()
    monkeypatch.setattr(time, "time", lambda: signed_at + 59)
    assert api.get(url).status_code == 200
    monkeypatch.setattr(time, "time", lambda: signed_at + 61)
    response = api.get(url)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_previews_never_enter_the_document_cache(api, drafts, settings, django_assert_num_queries) -> None:
    settings.DOCUMENT_CACHE = True
    url = preview_url("tool", drafts["alpha"].pk)
    for _ in range(2):
        with django_assert_num_queries(1):
            assert api.get(url).status_code == 200
    assert caching._cache().get(caching.doc_key_for(url)) is None


def test_the_fast_path_never_answers_a_preview(api, drafts, settings, django_capture_on_commit_callbacks) -> None:
    """Even with an entry planted under the preview's key and current tokens, the view answers."""
    with redis_server() as redis:
        settings.CACHES = {"default": {"BACKEND": "compare_api.cache.RedisCache", "LOCATION": redis.url}}
        settings.DOCUMENT_CACHE = True
        url = preview_url("tool", drafts["alpha"].pk)
        names = caching.versions_for(url)
        cache = caching._cache()
        for name in names:
            cache.set(caching.version_key(name), "token", timeout=60)
        cache.set(caching.doc_key_for(url), (["token"] * len(names), '"planted"', b'{"planted": true}'), timeout=60)
        response = api.get(url)
        assert response.status_code == 200
        assert response.json()["slug"] == "alpha"
        assert response["Cache-Control"] == "private, no-store"


class TestTheAdminShowsTheLink:
    @pytest.fixture
    def staff(self, client: Client, django_user_model) -> Client:
        client.force_login(django_user_model.objects.create_superuser("admin", "admin@example.com", "not-a-secret"))
        return client

    @pytest.mark.parametrize(("label", "row"), [("tools.tool", "alpha"), ("reviews.comparison", "comparison")])
    def test_a_draft_page_links_to_its_preview(self, staff: Client, api, drafts, label: str, row: str) -> None:
        page = staff.get(admin_url(label, "change", drafts[row].pk)).content.decode()
        start = page.index('href="/api/v1/previews/') + len('href="')
        link = page[start : page.index('"', start)]
        assert "(a private link, good for 15 minutes)" in page
        assert api.get(link).status_code == 200

    def test_a_published_page_has_no_link(self, staff: Client, drafts) -> None:
        page = staff.get(admin_url("tools.tool", "change", drafts["beta"].pk)).content.decode()
        assert "/api/v1/previews/" not in page
        assert "Published: the API serves it." in page
