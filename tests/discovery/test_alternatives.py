"""Alternatives to a tool: its category first, then what staff compared it with, by lower bound."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.discovery.test_leaderboards import tool_with_counts
from tests.factories import CategoryFactory, ComparisonFactory, ReviewerFactory, ReviewFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    editors, models = CategoryFactory(slug="editors"), CategoryFactory(slug="models")
    tools = {
        "asked": tool_with_counts("asked", editors, 50, 50),
        # Same category: bravo by its community bound [0.7672, 0.9069]; charlie has 3 votes (too few) but the
        # panel's 4/4, [0.5101, 1.0]; delta has 12 votes, 6/6 [0.2538, 0.7462]; echo nothing at all.
        "bravo": tool_with_counts("bravo", editors, 85, 15),
        "charlie": tool_with_counts("charlie", editors, 3, 0),
        "delta": tool_with_counts("delta", editors, 6, 6),
        "echo": tool_with_counts("echo", editors),
        # Curated against it from another category (staff's order puts the other tool first).
        "foxtrot": tool_with_counts("foxtrot", models, 10, 0),
        # Another category, not curated: not listed; nor is an unpublished tool of the same category.
        "golf": tool_with_counts("golf", models, 90, 10),
        "hidden": tool_with_counts("hidden", editors, 90, 10, is_published=False),
    }
    for reviewer in [ReviewerFactory() for _ in range(4)]:
        ReviewFactory(reviewer=reviewer, tool=tools["charlie"], verdict="ship")
    ComparisonFactory(left_tool=tools["foxtrot"], right_tool=tools["asked"])
    ComparisonFactory(left_tool=tools["asked"], right_tool=tools["delta"])
    ComparisonFactory(left_tool=tools["asked"], right_tool=tools["golf"], is_published=False)
    return tools


def _alternative(api, slug, reasons, comparison, ranked_by, lower_bound):
    return {
        "reasons": reasons,
        "comparison": comparison,
        "ranked_by": ranked_by,
        "lower_bound": lower_bound,
        "tool": api.get(f"/api/v1/tools/{slug}/").json(),
    }


def test_alternatives_list_the_category_then_the_curated_pairs(api, catalog) -> None:
    response = api.get("/api/v1/tools/asked/alternatives/")

    assert response.status_code == 200
    assert response.json() == {
        "count": 5,
        "next": None,
        "previous": None,
        "results": [
            _alternative(api, "bravo", ["same_category"], "asked-vs-bravo", "community", 0.7672),
            _alternative(api, "charlie", ["same_category"], "asked-vs-charlie", "panel", 0.5101),
            _alternative(api, "delta", ["same_category", "curated"], "asked-vs-delta", "community", 0.2538),
            _alternative(api, "echo", ["same_category"], "asked-vs-echo", None, None),
            _alternative(api, "foxtrot", ["curated"], "foxtrot-vs-asked", "community", 0.7225),
        ],
    }


def test_alternatives_are_four_queries_whatever_the_catalog(api, catalog) -> None:
    with CaptureQueriesContext(connection) as captured:
        api.get("/api/v1/tools/asked/alternatives/")
    assert len(captured) == 4
    for index in range(5):
        tool_with_counts(f"more-{index}", catalog["asked"].category, 20, index)
    with CaptureQueriesContext(connection) as captured:
        body = api.get("/api/v1/tools/asked/alternatives/?page_size=2").json()
    assert len(captured) == 4
    assert body["count"] == 10


@pytest.mark.parametrize("slug", ["nope", "hidden"])
def test_an_unknown_or_unpublished_tool_is_a_json_404(api, catalog, slug) -> None:
    response = api.get(f"/api/v1/tools/{slug}/alternatives/")

    assert response.status_code == 404
    assert response.json()["errors"][0]["detail"] == f"No published tool has the slug '{slug}'."


@pytest.mark.django_db(transaction=True)
def test_a_vote_reorders_the_cached_alternatives(api, settings) -> None:
    from tests.factories import UserFactory
    from tests.helpers import bearer

    settings.DOCUMENT_CACHE = True
    editors = CategoryFactory(slug="editors")
    tool_with_counts("asked", editors)
    tool_with_counts("bravo", editors, 9, 0)  # one vote short of ordering by its community bound
    tool_with_counts("charlie", editors, 50, 50)
    url = "/api/v1/tools/asked/alternatives/"
    before = api.get(url)
    assert [(entry["tool"]["slug"], entry["ranked_by"]) for entry in before.json()["results"]] == [
        ("charlie", "community"),
        ("bravo", None),
    ]

    api.put("/api/v1/tools/bravo/vote/", {"verdict": "ship"}, format="json", **bearer(UserFactory()))

    after = api.get(url, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert [(entry["tool"]["slug"], entry["ranked_by"]) for entry in after.json()["results"]] == [
        ("bravo", "community"),
        ("charlie", "community"),
    ]
