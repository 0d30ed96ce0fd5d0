"""Drafts are invisible everywhere readers look, until published; then they show everywhere at once.

One catalog, with a published and a draft row of each kind: a draft tool (with votes and reviews),
a draft review of a published tool, a draft curation of two published tools.
"""

import pytest

from events.models import Event
from reviews.services import comparison_publish, review_publish
from tests.factories import (
    CategoryFactory,
    ComparisonFactory,
    ReviewerFactory,
    ReviewFactory,
    ToolFactory,
    VendorFactory,
)
from tools.services import tool_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(settings) -> dict:
    settings.LEADERBOARD_MIN_TOTAL = 1
    editors, acme = CategoryFactory(slug="editors"), VendorFactory(slug="acme")
    # The community counters as the vote service keeps them (a draft takes no votes, but may have had some).
    votes = {"vendor": acme, "community_ship_count": 2, "community_skip_count": 1}
    alpha = ToolFactory(slug="alpha", name="Alpha", category=editors, **votes)
    beta = ToolFactory(slug="beta", name="Beta", category=editors, **votes)
    other = ToolFactory(slug="other", name="Other", **votes)  # another category: an alternative only by curation
    draft = ToolFactory(slug="draft", name="Draft", category=editors, is_published=False, **votes)
    builder = ReviewerFactory(slug="builder")
    ReviewFactory(reviewer=builder, tool=alpha, verdict="ship", body="Ships.")
    ReviewFactory(reviewer=builder, tool=draft, verdict="ship", body="Of the draft.")
    draft_review = ReviewFactory(reviewer=builder, tool=beta, verdict="skip", body="Draft.", is_published=False)
    draft_curation = ComparisonFactory(left_tool=alpha, right_tool=other, title="Alpha vs Other", is_published=False)
    return {"draft": draft, "review": draft_review, "curation": draft_curation}


def slugs(results: list[dict], key: str = "slug") -> list[str]:
    return [row[key] for row in results]


def test_tools_categories_and_vendors(api, catalog) -> None:
    assert slugs(api.get("/api/v1/tools/").json()["results"]) == ["alpha", "beta", "other"]
    assert api.get("/api/v1/tools/draft/").status_code == 404
    assert api.get("/api/v1/tools/draft/reviews/").status_code == 404
    assert api.get("/api/v1/categories/editors/").json()["tool_count"] == 2
    assert api.get("/api/v1/vendors/acme/").json()["tool_count"] == 3


def test_reviews_and_reviewers(api, catalog) -> None:
    assert api.get("/api/v1/tools/beta/").json()["panel"]["total"] == 0
    assert api.get("/api/v1/tools/beta/reviews/").json() == []
    builder = api.get("/api/v1/reviewers/builder/").json()
    assert (builder["review_count"], builder["ship_count"]) == (1, 1)
    assert [review["tool"] for review in api.get("/api/v1/reviewers/builder/reviews/").json()["results"]] == ["alpha"]


def test_comparisons(api, catalog) -> None:
    for pair in ("alpha-vs-draft", "draft-vs-alpha", "alpha-vs-beta-vs-draft", "draft-vs-alpha-vs-beta-vs-other"):
        response = api.get(f"/api/v1/comparisons/{pair}/")
        assert response.status_code == 404, pair
        assert response.json()["errors"][0]["detail"] == "No published tool has the slug 'draft'."
    assert api.get("/api/v1/comparisons/").json()["results"] == []
    uncurated = api.get("/api/v1/comparisons/alpha-vs-other/").json()
    assert (uncurated["curated"], uncurated["title"]) == (False, None)
    scorecard = api.get("/api/v1/comparisons/alpha-vs-beta/").json()["scorecard"]
    assert [[review["verdict"] for review in row["reviews"]] for row in scorecard] == [["ship", None]]


def test_discovery(api, catalog) -> None:
    for metric in ("community", "panel"):
        board = api.get(f"/api/v1/leaderboards/?metric={metric}").json()["results"]
        assert "draft" not in [entry["tool"]["slug"] for entry in board], metric
        board = api.get(f"/api/v1/leaderboards/editors/?metric={metric}").json()["results"]
        assert sorted(entry["tool"]["slug"] for entry in board) == ["alpha", "beta"], metric
    alternatives = api.get("/api/v1/tools/alpha/alternatives/").json()["results"]
    assert [alternative["tool"]["slug"] for alternative in alternatives] == ["beta"]  # not other: a draft curation
    assert api.get("/api/v1/tools/draft/alternatives/").status_code == 404
    for url in ("/api/v1/badges/tools/draft.svg", "/api/v1/badges/tools/draft.json", "/api/v1/badges/tools/draft/"):
        assert api.get(url).status_code == 404, url


def feed() -> list[tuple[str, dict]]:
    """What the change feed serves: its events, oldest first (read from the table, because on PostgreSQL
    the feed shows only committed transactions, and this test's is not; tests/events/test_feed.py
    serves them over HTTP)."""
    return list(Event.objects.order_by("id").values_list("type", "payload"))


def test_the_change_feed_and_history(api, catalog) -> None:
    events = feed()
    assert {type for type, _ in events} == {"tool.published", "reviewer.joined", "review.published"}
    assert [payload for _, payload in events if "draft" in str(payload) or "alpha-vs-other" in str(payload)] == []
    assert api.get("/api/v1/tools/draft/history/").status_code == 404


def test_published_they_show_everywhere(api, catalog) -> None:
    Event.objects.all().delete()
    tool_publish(tool=catalog["draft"])
    review_publish(review=catalog["review"])
    comparison_publish(comparison=catalog["curation"])
    assert slugs(api.get("/api/v1/tools/").json()["results"]) == ["alpha", "beta", "draft", "other"]
    assert api.get("/api/v1/categories/editors/").json()["tool_count"] == 3
    assert api.get("/api/v1/tools/beta/").json()["panel"]["total"] == 1
    assert api.get("/api/v1/reviewers/builder/").json()["review_count"] == 3
    assert api.get("/api/v1/comparisons/alpha-vs-other/").json()["title"] == "Alpha vs Other"
    assert api.get("/api/v1/comparisons/alpha-vs-beta-vs-draft/").status_code == 200
    assert api.get("/api/v1/badges/tools/draft.json").status_code == 200
    assert api.get("/api/v1/tools/draft/history/").status_code == 200
    board = api.get("/api/v1/leaderboards/editors/").json()["results"]
    assert "draft" in [entry["tool"]["slug"] for entry in board]
    assert [type for type, _ in feed()] == [
        "tool.published",
        "review.published",
        "comparison.published",
    ]
