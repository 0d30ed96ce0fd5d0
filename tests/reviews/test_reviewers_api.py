"""The panel and its reviews (/api/v1/reviewers/, /api/v1/tools/{slug}/reviews/) and /api/v1/comparisons/."""

import datetime

import pytest
from rest_framework.test import APIClient

from reviews.models import Comparison, Reviewer
from tests.factories import ComparisonFactory, ReviewerFactory, ReviewFactory, ToolFactory
from tools.models import Tool, Verdict

pytestmark = pytest.mark.django_db

# A paginated list: the count, then the page. A detail: one query.
LIST_QUERIES = 2
DETAIL_QUERIES = 1
# The panel adds one query for the disclosures of the whole page (or of the one reviewer).
PANEL_LIST_QUERIES = LIST_QUERIES + 1
PANEL_DETAIL_QUERIES = DETAIL_QUERIES + 1
# The reviewer, the count of their reviews, the page.
REVIEWER_REVIEWS_QUERIES = 3
# The tool (published?), then its reviews with their reviewers; not paginated.
TOOL_REVIEWS_QUERIES = 2

BUILDER = {
    "slug": "the-builder",
    "name": "The Builder",
    "lens": "Developer experience",
    "bio": "Judges the primitive a tool exposes.",
    "position": 1,
}


def not_found(detail: str) -> dict:
    return {"type": "client_error", "errors": [{"code": "not_found", "detail": detail, "attr": None}]}


@pytest.fixture
def panel() -> dict[str, Reviewer]:
    """Three active reviewers created out of panel order, and a retired one placed first."""
    return {
        "buyer": ReviewerFactory(slug="the-buyer", name="The Buyer", lens="Business and buyer", position=4),
        "builder": ReviewerFactory(**{key: BUILDER[key] for key in ("slug", "name", "lens", "bio", "position")}),
        "futurist": ReviewerFactory(slug="the-futurist", name="The Futurist", lens="Future thesis", position=3),
        "retired": ReviewerFactory(
            slug="the-retired", name="The Retired", lens="Nostalgia", position=0, is_active=False
        ),
    }


@pytest.fixture
def tools(panel: dict[str, Reviewer]) -> dict[str, Tool]:
    """Two published tools every reviewer reviewed, and a draft the builder reviewed."""
    tools = {
        "coder": ToolFactory(slug="coder", name="Coder"),
        "assistant": ToolFactory(slug="assistant", name="Assistant"),
        "draft": ToolFactory(slug="draft", name="Draft", is_published=False),
    }
    verdicts = {
        ("builder", "coder"): (Verdict.SHIP, datetime.date(2025, 3, 1)),
        ("builder", "assistant"): (Verdict.SKIP, datetime.date(2025, 5, 1)),
        ("builder", "draft"): (Verdict.SHIP, datetime.date(2025, 6, 1)),
        ("futurist", "coder"): (Verdict.SHIP, datetime.date(2025, 4, 1)),
        ("futurist", "assistant"): (Verdict.SHIP, datetime.date(2025, 4, 1)),
        ("buyer", "coder"): (Verdict.SKIP, datetime.date(2025, 4, 2)),
        ("buyer", "assistant"): (Verdict.SKIP, datetime.date(2025, 4, 2)),
        ("retired", "coder"): (Verdict.SHIP, datetime.date(2025, 1, 1)),
    }
    for (reviewer, tool), (verdict, day) in verdicts.items():
        ReviewFactory(
            reviewer=panel[reviewer],
            tool=tools[tool],
            verdict=verdict,
            body=f"{panel[reviewer].name} says {verdict} to {tools[tool].name}.",
            reviewed_at=day,
        )
    return tools


class TestReviewerList:
    def test_active_reviewers_in_panel_order(
        self, api: APIClient, tools: dict[str, Tool], django_assert_num_queries
    ) -> None:
        with django_assert_num_queries(PANEL_LIST_QUERIES):
            response = api.get("/api/v1/reviewers/")
        assert response.status_code == 200
        assert response.json() == {
            "count": 3,
            "next": None,
            "previous": None,
            "results": [
                {**BUILDER, "review_count": 2, "ship_count": 1, "disclosures": []},
                {
                    "slug": "the-futurist",
                    "name": "The Futurist",
                    "lens": "Future thesis",
                    "bio": None,
                    "position": 3,
                    "review_count": 2,
                    "ship_count": 2,
                    "disclosures": [],
                },
                {
                    "slug": "the-buyer",
                    "name": "The Buyer",
                    "lens": "Business and buyer",
                    "bio": None,
                    "position": 4,
                    "review_count": 2,
                    "ship_count": 0,
                    "disclosures": [],
                },
            ],
        }

    @pytest.mark.parametrize("rows", [3, 6])
    def test_query_count_does_not_grow(self, api: APIClient, django_assert_num_queries, rows: int) -> None:
        for reviewer in ReviewerFactory.create_batch(rows):
            ReviewFactory(reviewer=reviewer, verdict=Verdict.SHIP)
            ReviewFactory(reviewer=reviewer, verdict=Verdict.SKIP)
        with django_assert_num_queries(PANEL_LIST_QUERIES):
            body = api.get("/api/v1/reviewers/").json()
        assert [(row["review_count"], row["ship_count"]) for row in body["results"]] == [(2, 1)] * rows

    def test_paginated(self, api: APIClient, panel: dict[str, Reviewer]) -> None:
        body = api.get("/api/v1/reviewers/", {"page_size": 2}).json()
        assert (body["count"], body["next"], body["previous"]) == (
            3,
            "http://testserver/api/v1/reviewers/?page=2&page_size=2",
            None,
        )
        assert [row["slug"] for row in body["results"]] == ["the-builder", "the-futurist"]


class TestReviewerDetail:
    def test_detail(self, api: APIClient, tools: dict[str, Tool], django_assert_num_queries) -> None:
        with django_assert_num_queries(PANEL_DETAIL_QUERIES):
            response = api.get("/api/v1/reviewers/the-builder/")
        assert response.status_code == 200
        assert response.json() == {**BUILDER, "review_count": 2, "ship_count": 1, "disclosures": []}

    @pytest.mark.parametrize(
        ("slug", "queries", "detail"),
        [
            ("the-retired", 1, "Not found."),
            ("no-such-reviewer", 1, "Not found."),
            ("bad%00slug", 0, "No such resource."),
            ("caf%C3%A9", 0, "No such resource."),
        ],
    )
    @pytest.mark.parametrize("suffix", ["", "reviews/"])
    def test_inactive_unknown_or_malformed_is_a_json_404(
        self,
        api: APIClient,
        tools: dict[str, Tool],
        django_assert_num_queries,
        slug: str,
        queries: int,
        detail: str,
        suffix: str,
    ) -> None:
        with django_assert_num_queries(queries):
            response = api.get(f"/api/v1/reviewers/{slug}/{suffix}")
        assert response.status_code == 404
        assert response.json() == not_found(detail)


class TestReviewerReviews:
    def test_reviews_of_published_tools_newest_first(
        self, api: APIClient, tools: dict[str, Tool], django_assert_num_queries
    ) -> None:
        with django_assert_num_queries(REVIEWER_REVIEWS_QUERIES):
            response = api.get("/api/v1/reviewers/the-builder/reviews/")
        assert response.status_code == 200
        assert response.json() == {
            "count": 2,
            "next": None,
            "previous": None,
            "results": [
                {
                    "reviewer": BUILDER,
                    "tool": "assistant",
                    "tool_name": "Assistant",
                    "verdict": "skip",
                    "body": "The Builder says skip to Assistant.",
                    "reviewed_at": "2025-05-01",
                    "correction": None,
                    "updated_at": None,
                },
                {
                    "reviewer": BUILDER,
                    "tool": "coder",
                    "tool_name": "Coder",
                    "verdict": "ship",
                    "body": "The Builder says ship to Coder.",
                    "reviewed_at": "2025-03-01",
                    "correction": None,
                    "updated_at": None,
                },
            ],
        }

    @pytest.mark.parametrize("rows", [3, 6])
    def test_paginated_and_query_count_does_not_grow(
        self, api: APIClient, django_assert_num_queries, rows: int
    ) -> None:
        reviewer = ReviewerFactory(slug="prolific")
        for day in range(1, rows + 1):
            ReviewFactory(reviewer=reviewer, reviewed_at=datetime.date(2025, 1, day))
        with django_assert_num_queries(REVIEWER_REVIEWS_QUERIES):
            body = api.get("/api/v1/reviewers/prolific/reviews/", {"page_size": 2}).json()
        assert (body["count"], body["next"], body["previous"]) == (
            rows,
            "http://testserver/api/v1/reviewers/prolific/reviews/?page=2&page_size=2",
            None,
        )
        assert [review["reviewed_at"] for review in body["results"]] == [f"2025-01-0{rows}", f"2025-01-0{rows - 1}"]

    def test_undated_reviews_come_after_dated_ones_on_every_database(self, api: APIClient) -> None:
        reviewer = ReviewerFactory(slug="forgetful")
        for slug, day in (
            ("undated", None),
            ("dated", datetime.date(2025, 1, 1)),
            ("older", datetime.date(2024, 1, 1)),
        ):
            ReviewFactory(reviewer=reviewer, tool=ToolFactory(slug=slug), reviewed_at=day)
        body = api.get("/api/v1/reviewers/forgetful/reviews/").json()
        assert [review["tool"] for review in body["results"]] == ["dated", "older", "undated"]


class TestToolReviews:
    def test_panel_order_active_reviewers_only(
        self, api: APIClient, tools: dict[str, Tool], django_assert_num_queries
    ) -> None:
        with django_assert_num_queries(TOOL_REVIEWS_QUERIES):
            response = api.get("/api/v1/tools/coder/reviews/")
        assert response.status_code == 200
        assert response.json() == [
            {
                "reviewer": BUILDER,
                "tool": "coder",
                "tool_name": "Coder",
                "verdict": "ship",
                "body": "The Builder says ship to Coder.",
                "reviewed_at": "2025-03-01",
                "correction": None,
                "updated_at": None,
            },
            {
                "reviewer": {
                    "slug": "the-futurist",
                    "name": "The Futurist",
                    "lens": "Future thesis",
                    "bio": None,
                    "position": 3,
                },
                "tool": "coder",
                "tool_name": "Coder",
                "verdict": "ship",
                "body": "The Futurist says ship to Coder.",
                "reviewed_at": "2025-04-01",
                "correction": None,
                "updated_at": None,
            },
            {
                "reviewer": {
                    "slug": "the-buyer",
                    "name": "The Buyer",
                    "lens": "Business and buyer",
                    "bio": None,
                    "position": 4,
                },
                "tool": "coder",
                "tool_name": "Coder",
                "verdict": "skip",
                "body": "The Buyer says skip to Coder.",
                "reviewed_at": "2025-04-02",
                "correction": None,
                "updated_at": None,
            },
        ]

    @pytest.mark.parametrize("rows", [3, 6])
    def test_not_paginated_and_query_count_does_not_grow(
        self, api: APIClient, django_assert_num_queries, rows: int
    ) -> None:
        tool = ToolFactory(slug="popular")
        for reviewer in reversed(ReviewerFactory.create_batch(rows)):
            ReviewFactory(reviewer=reviewer, tool=tool)
        with django_assert_num_queries(TOOL_REVIEWS_QUERIES):
            body = api.get("/api/v1/tools/popular/reviews/", {"page_size": 2}).json()
        positions = [review["reviewer"]["position"] for review in body]
        assert len(positions) == rows
        assert positions == sorted(positions)

    def test_a_tool_nobody_reviewed_has_an_empty_list(self, api: APIClient, tools: dict[str, Tool]) -> None:
        ToolFactory(slug="ignored")
        response = api.get("/api/v1/tools/ignored/reviews/")
        assert (response.status_code, response.json()) == (200, [])

    @pytest.mark.parametrize(
        ("slug", "queries", "detail"),
        [
            ("draft", 1, "Not found."),
            ("no-such-tool", 1, "Not found."),
            ("a" * 5000, 1, "Not found."),
            ("bad%00slug", 0, "No such resource."),
            ("caf%C3%A9", 0, "No such resource."),
        ],
        ids=["unpublished", "unknown", "5000-chars", "nul", "unicode"],
    )
    def test_unpublished_unknown_or_malformed_tool_is_a_json_404(
        self, api: APIClient, tools: dict[str, Tool], django_assert_num_queries, slug: str, queries: int, detail: str
    ) -> None:
        with django_assert_num_queries(queries):
            response = api.get(f"/api/v1/tools/{slug}/reviews/")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == not_found(detail)


class TestCuratedComparisons:
    @pytest.fixture
    def curated(self) -> list[Comparison]:
        coder = ToolFactory(slug="coder", name="Coder")
        assistant = ToolFactory(slug="assistant", name="Assistant")
        pilot = ToolFactory(slug="pilot", name="Pilot")
        draft = ToolFactory(slug="draft", name="Draft", is_published=False)
        return [
            ComparisonFactory(
                left_tool=coder,
                right_tool=assistant,
                title="Coder vs Assistant",
                headline="Which one should you ship with?",
                summary="Coder for code, Assistant for the rest.",
            ),
            ComparisonFactory(left_tool=pilot, right_tool=coder, title="Pilot vs Coder", headline=""),
            ComparisonFactory(left_tool=assistant, right_tool=pilot, title="Assistant vs Pilot"),
            ComparisonFactory(left_tool=coder, right_tool=draft, title="Coder vs Draft"),
            ComparisonFactory(left_tool=pilot, right_tool=draft, title="Hidden", is_published=False),
            ComparisonFactory(left_tool=assistant, right_tool=draft, title="Unpublished pair", is_published=False),
        ]

    def test_published_pairs_of_published_tools_newest_first(
        self, api: APIClient, curated: list[Comparison], django_assert_num_queries
    ) -> None:
        with django_assert_num_queries(LIST_QUERIES):
            response = api.get("/api/v1/comparisons/")
        assert response.status_code == 200
        assert response.json() == {
            "count": 3,
            "next": None,
            "previous": None,
            "results": [
                {
                    "slug": "assistant-vs-pilot",
                    "title": "Assistant vs Pilot",
                    "headline": "Which one should you ship with?",
                    "summary": None,
                    "tools": ["assistant", "pilot"],
                },
                {
                    "slug": "pilot-vs-coder",
                    "title": "Pilot vs Coder",
                    "headline": None,
                    "summary": None,
                    "tools": ["pilot", "coder"],
                },
                {
                    "slug": "coder-vs-assistant",
                    "title": "Coder vs Assistant",
                    "headline": "Which one should you ship with?",
                    "summary": "Coder for code, Assistant for the rest.",
                    "tools": ["coder", "assistant"],
                },
            ],
        }

    def test_unpublishing_a_tool_hides_its_comparisons(self, api: APIClient, curated: list[Comparison]) -> None:
        Tool.objects.filter(slug="pilot").update(is_published=False)
        assert [row["slug"] for row in api.get("/api/v1/comparisons/").json()["results"]] == ["coder-vs-assistant"]

    @pytest.mark.parametrize("rows", [3, 6])
    def test_query_count_does_not_grow(self, api: APIClient, django_assert_num_queries, rows: int) -> None:
        ComparisonFactory.create_batch(rows)
        with django_assert_num_queries(LIST_QUERIES):
            body = api.get("/api/v1/comparisons/").json()
        assert body["count"] == rows
        assert all(len(row["tools"]) == 2 for row in body["results"])

    def test_the_seed_comparison_is_listed(self, api: APIClient, seeded: None) -> None:
        assert api.get("/api/v1/comparisons/").json()["results"] == [
            {
                "slug": "code-llama-4-vs-mistral-large-3",
                "title": "Code Llama 4 vs Mistral Large 3",
                "headline": (
                    "Which one should you ship with? Here is the side-by-side panel verdict, pricing read, "
                    "reviewer split, and community vote comparison."
                ),
                "summary": None,
                "tools": ["code-llama-4", "mistral-large-3"],
            }
        ]
