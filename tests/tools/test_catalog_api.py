"""The catalog a frontend browses: /api/v1/categories/, /api/v1/vendors/, /api/v1/tools/."""

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.http import HttpResponse
from rest_framework.test import APIClient

from tests.factories import CategoryFactory, ReviewerFactory, ReviewFactory, ToolFactory, VendorFactory
from tools.models import Category, PricingTier, Tool, Vendor, Verdict

pytestmark = pytest.mark.django_db

# No source and no verification date recorded for the pricing facts.
NO_PROVENANCE = {"source_url": None, "verified_at": None}

# A list is the count, then the page with its joins and annotations; a detail is one query.
LIST_QUERIES = 2
EMPTY_LIST_QUERIES = 1  # a count of 0 skips the page query
DETAIL_QUERIES = 1
TOOLS = "/api/v1/tools/"

CastVotes = Callable[..., None]

NO_DATA = {"ship": 0, "skip": 0, "total": 0, "ship_rate": None, "ci95": None}

PROMPT_FORGE = {
    "slug": "prompt-forge",
    "name": "Prompt Forge",
    "vendor": {"slug": "forge-labs", "name": "Forge Labs"},
    "category": {"slug": "prompting", "name": "Prompting"},
    "tagline": "Prompts under version control",
    "description": "Keeps every prompt, its versions and its evaluations in one place.",
    "pricing": {
        "tier": "paid",
        "label": "Paid",
        "price_from_usd": 19.5,
        "price_unit": "per seat per month",
        **NO_PROVENANCE,
    },
    "licence": None,
    "licence_source": {"url": None, "verified_at": None},
    "open_weights": False,
    "context_window_tokens": None,
    "homepage_url": None,
    "panel": {"ship": 3, "skip": 1, "total": 4, "ship_rate": 0.75, "ci95": [0.3006, 0.9544]},
    "community": {"ship": 2, "skip": 1, "total": 3, "ship_rate": 0.6667, "ci95": [0.2077, 0.9385]},
}


def not_found(detail: str) -> dict:
    return {"type": "client_error", "errors": [{"code": "not_found", "detail": detail, "attr": None}]}


def reviewed(tool: Tool, *, ship: int = 0, skip: int = 0) -> Tool:
    """Give `tool` reviews from fresh active panel reviewers."""
    for verdict, count in ((Verdict.SHIP, ship), (Verdict.SKIP, skip)):
        for _ in range(count):
            ReviewFactory(tool=tool, verdict=verdict)
    return tool


def slugs(response: HttpResponse) -> list[str]:
    return [tool["slug"] for tool in response.json()["results"]]


def busy_tools(count: int, cast_votes: CastVotes) -> list[Tool]:
    """`count` published tools, each with its own vendor and category, reviews and votes."""
    tools = [ToolFactory(name=f"Busy {n:02}", slug=f"busy-{n}") for n in range(count)]
    for tool in tools:
        reviewed(tool, ship=1, skip=1)
        cast_votes(tool, ship=1)
    return tools


@pytest.fixture
def prompt_forge(cast_votes: CastVotes) -> Tool:
    """A tool with every unknown fact left empty, a 3-1 panel (plus an inactive reviewer's skip) and 2-1 votes."""
    tool = ToolFactory(
        slug="prompt-forge",
        name="Prompt Forge",
        vendor=VendorFactory(slug="forge-labs", name="Forge Labs", homepage_url="https://forge.example"),
        category=CategoryFactory(slug="prompting", name="Prompting"),
        tagline="Prompts under version control",
        description="Keeps every prompt, its versions and its evaluations in one place.",
        pricing_tier=PricingTier.PAID,
        price_from_usd=Decimal("19.50"),
        price_unit="per seat per month",
    )
    reviewed(tool, ship=3, skip=1)
    ReviewFactory(tool=tool, reviewer=ReviewerFactory(is_active=False), verdict=Verdict.SHIP)
    cast_votes(tool, ship=2, skip=1)
    return tool


class TestToolDocument:
    def test_detail_is_the_whole_tool(self, api: APIClient, prompt_forge: Tool, django_assert_num_queries) -> None:
        ToolFactory.create_batch(2)
        with django_assert_num_queries(DETAIL_QUERIES):
            response = api.get(f"{TOOLS}prompt-forge/")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response.json() == PROMPT_FORGE

    def test_list_item_is_the_same_document(self, api: APIClient, prompt_forge: Tool) -> None:
        ToolFactory(name="Zeta")
        ToolFactory(name="Zulu")
        assert api.get(TOOLS).json()["results"][0] == PROMPT_FORGE

    def test_known_facts_and_a_pricing_label(self, api: APIClient) -> None:
        ToolFactory(
            slug="open-coder",
            name="Open Coder",
            pricing_tier=PricingTier.FREEMIUM,
            pricing_label="Free tier, then usage",
            licence="Apache-2.0",
            open_weights=True,
            context_window_tokens=128000,
            homepage_url="https://open-coder.example",
        )
        body = api.get(f"{TOOLS}open-coder/").json()
        assert body["pricing"] == {
            "tier": "freemium",
            "label": "Free tier, then usage",
            "price_from_usd": None,
            "price_unit": None,
            "source_url": None,
            "verified_at": None,
        }
        assert {key: body[key] for key in ("licence", "open_weights", "context_window_tokens", "homepage_url")} == {
            "licence": "Apache-2.0",
            "open_weights": True,
            "context_window_tokens": 128000,
            "homepage_url": "https://open-coder.example",
        }

    @pytest.mark.parametrize(
        ("tier", "label"),
        [("free", "Free"), ("freemium", "Freemium"), ("paid", "Paid"), ("contact", "Contact sales")],
    )
    def test_pricing_label_falls_back_to_the_tier(self, api: APIClient, tier: str, label: str) -> None:
        ToolFactory(slug="priced", pricing_tier=tier)
        assert api.get(f"{TOOLS}priced/").json()["pricing"] == {
            "tier": tier,
            "label": label,
            "price_from_usd": None,
            "price_unit": None,
            "source_url": None,
            "verified_at": None,
        }

    def test_no_reviews_and_no_votes_is_null_not_zero(self, api: APIClient) -> None:
        ToolFactory(slug="brand-new")
        body = api.get(f"{TOOLS}brand-new/").json()
        assert body["panel"] == NO_DATA
        assert body["community"] == NO_DATA
        assert '"ship_rate":null' in api.get(f"{TOOLS}brand-new/").content.decode()

    def test_only_active_reviewers_count_on_the_panel(self, api: APIClient) -> None:
        tool = reviewed(ToolFactory(slug="judged"), ship=1)
        ReviewFactory(tool=tool, reviewer=ReviewerFactory(is_active=False), verdict=Verdict.SKIP)
        ReviewFactory(tool=tool, reviewer=ReviewerFactory(is_active=False), verdict=Verdict.SHIP)
        assert api.get(f"{TOOLS}judged/").json()["panel"] == {
            "ship": 1,
            "skip": 0,
            "total": 1,
            "ship_rate": 1.0,
            "ci95": [0.2065, 1.0],
        }

    def test_community_follows_votes_cast_and_changed(self, api: APIClient, cast_votes: CastVotes) -> None:
        tool = ToolFactory(slug="voted")
        cast_votes(tool, ship=1, skip=1)
        assert api.get(f"{TOOLS}voted/").json()["community"] == {
            "ship": 1,
            "skip": 1,
            "total": 2,
            "ship_rate": 0.5,
            "ci95": [0.0945, 0.9055],
        }

    @pytest.mark.parametrize("rows", [3, 6])
    def test_list_query_count_does_not_grow(
        self, api: APIClient, cast_votes: CastVotes, django_assert_num_queries, rows: int
    ) -> None:
        busy_tools(rows, cast_votes)
        with django_assert_num_queries(LIST_QUERIES):
            response = api.get(TOOLS)
        assert response.json()["count"] == rows
        assert all(
            tool["panel"]["total"] == 2 and tool["community"]["total"] == 1 for tool in response.json()["results"]
        )

    @pytest.mark.parametrize("rows", [3, 6])
    def test_detail_query_count(
        self, api: APIClient, cast_votes: CastVotes, django_assert_num_queries, rows: int
    ) -> None:
        busy_tools(rows, cast_votes)
        with django_assert_num_queries(DETAIL_QUERIES):
            response = api.get(f"{TOOLS}busy-1/")
        assert response.json()["panel"]["total"] == 2


class TestPagination:
    @pytest.fixture
    def five(self) -> list[Tool]:
        return [ToolFactory(name=f"Page {letter}", slug=f"page-{letter.lower()}") for letter in "ABCDE"]

    def test_envelope(self, api: APIClient, five: list[Tool], django_assert_num_queries) -> None:
        with django_assert_num_queries(LIST_QUERIES):
            first = api.get(TOOLS, {"page_size": 2}).json()
        assert {key: first[key] for key in ("count", "next", "previous")} == {
            "count": 5,
            "next": "http://testserver/api/v1/tools/?page=2&page_size=2",
            "previous": None,
        }
        assert [tool["slug"] for tool in first["results"]] == ["page-a", "page-b"]

        middle = api.get(first["next"]).json()
        assert {key: middle[key] for key in ("count", "next", "previous")} == {
            "count": 5,
            "next": "http://testserver/api/v1/tools/?page=3&page_size=2",
            "previous": "http://testserver/api/v1/tools/?page_size=2",
        }
        assert [tool["slug"] for tool in middle["results"]] == ["page-c", "page-d"]

        last = api.get(middle["next"]).json()
        assert (last["next"], last["previous"]) == (None, "http://testserver/api/v1/tools/?page=2&page_size=2")
        assert [tool["slug"] for tool in last["results"]] == ["page-e"]

    def test_a_page_past_the_end_is_a_json_404(self, api: APIClient, five: list[Tool]) -> None:
        response = api.get(TOOLS, {"page": 9})
        assert response.status_code == 404
        assert response.json() == not_found("Invalid page.")

    def test_default_page_size_is_25(self, api: APIClient) -> None:
        ToolFactory.create_batch(26, vendor=VendorFactory(), category=CategoryFactory())
        body = api.get(TOOLS).json()
        assert (body["count"], len(body["results"])) == (26, 25)
        assert body["next"] == "http://testserver/api/v1/tools/?page=2"

    def test_page_size_goes_up_to_100(self, api: APIClient, django_assert_num_queries) -> None:
        ToolFactory.create_batch(101, vendor=VendorFactory(), category=CategoryFactory())
        with django_assert_num_queries(LIST_QUERIES):
            body = api.get(TOOLS, {"page_size": 100}).json()
        assert (body["count"], len(body["results"])) == (101, 100)
        assert body["next"] == "http://testserver/api/v1/tools/?page=2&page_size=100"
        assert api.get(TOOLS, {"page_size": 101}).status_code == 404


class TestFilters:
    @pytest.fixture
    def catalog(self) -> None:
        coding, chat = CategoryFactory(slug="coding"), CategoryFactory(slug="chat")
        meta, acme = VendorFactory(slug="meta"), VendorFactory(slug="acme")
        ToolFactory(
            slug="llama-coder",
            name="Llama Coder",
            tagline="Writes code",
            category=coding,
            vendor=meta,
            pricing_tier=PricingTier.FREE,
            open_weights=True,
        )
        ToolFactory(
            slug="acme-chat",
            name="Acme Chat",
            tagline="Talks to customers",
            category=chat,
            vendor=acme,
            pricing_tier=PricingTier.PAID,
        )
        ToolFactory(
            slug="acme-pair",
            name="Acme Pair",
            tagline="A pair programmer that writes code",
            category=coding,
            vendor=acme,
            pricing_tier=PricingTier.CONTACT,
        )
        ToolFactory(
            slug="hidden-coder",
            name="Hidden Coder",
            tagline="Writes code",
            category=coding,
            vendor=meta,
            pricing_tier=PricingTier.FREE,
            open_weights=True,
            is_published=False,
        )

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"category": "coding"}, ["acme-pair", "llama-coder"]),
            ({"category": "chat"}, ["acme-chat"]),
            ({"category": "no-such-category"}, []),
            ({"vendor": "acme"}, ["acme-chat", "acme-pair"]),
            ({"vendor": "meta"}, ["llama-coder"]),
            ({"pricing_tier": "free"}, ["llama-coder"]),
            ({"pricing_tier": "contact"}, ["acme-pair"]),
            ({"pricing_tier": "freemium"}, []),
            ({"open_weights": "true"}, ["llama-coder"]),
            ({"open_weights": "false"}, ["acme-chat", "acme-pair"]),
            ({"category": "coding", "vendor": "acme"}, ["acme-pair"]),
            ({"search": "llama"}, ["llama-coder"]),
            ({"search": "ACME"}, ["acme-chat", "acme-pair"]),
            ({"search": "writes code"}, ["acme-pair", "llama-coder"]),
            ({"search": "customers"}, ["acme-chat"]),
            ({"search": "hidden"}, []),
        ],
    )
    def test_filter_and_search(
        self, api: APIClient, catalog: None, django_assert_num_queries, query: dict, expected: list[str]
    ) -> None:
        with django_assert_num_queries(LIST_QUERIES if expected else EMPTY_LIST_QUERIES):
            response = api.get(TOOLS, query)
        assert response.status_code == 200
        assert slugs(response) == expected
        assert response.json()["count"] == len(expected)

    def test_an_unknown_pricing_tier_names_the_field(self, api: APIClient, catalog: None) -> None:
        response = api.get(TOOLS, {"pricing_tier": "cheap"})
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "errors": [
                {
                    "code": "invalid_choice",
                    "detail": "Select a valid choice. cheap is not one of the available choices.",
                    "attr": "pricing_tier",
                }
            ],
        }


class TestOrdering:
    @pytest.fixture
    def rated(self, cast_votes: CastVotes) -> dict[str, Tool]:
        """Two unrated tools and a tie, created in an order that differs from both name and rate order."""
        tools = {
            "delta": ToolFactory(name="Delta", slug="delta"),
            "bravo": ToolFactory(name="Bravo", slug="bravo"),
            "echo": ToolFactory(name="Echo", slug="echo"),
            "alpha": ToolFactory(name="Alpha", slug="alpha"),
            "charlie": ToolFactory(name="Charlie", slug="charlie"),
        }
        for slug, ship, skip in (("bravo", 1, 1), ("echo", 1, 0), ("alpha", 2, 2)):
            reviewed(tools[slug], ship=ship, skip=skip)
            cast_votes(tools[slug], ship=ship, skip=skip)
        return tools

    @pytest.mark.parametrize(
        ("ordering", "expected"),
        [
            (None, ["alpha", "bravo", "charlie", "delta", "echo"]),
            ("name", ["alpha", "bravo", "charlie", "delta", "echo"]),
            ("-name", ["echo", "delta", "charlie", "bravo", "alpha"]),
            ("panel_ship_rate", ["bravo", "alpha", "echo", "delta", "charlie"]),
            ("-panel_ship_rate", ["echo", "bravo", "alpha", "delta", "charlie"]),
            ("community_ship_rate", ["bravo", "alpha", "echo", "delta", "charlie"]),
            ("-community_ship_rate", ["echo", "bravo", "alpha", "delta", "charlie"]),
        ],
    )
    def test_unrated_last_both_ways_and_ties_by_id(
        self, api: APIClient, rated: dict[str, Tool], django_assert_num_queries, ordering: str | None, expected: list
    ) -> None:
        with django_assert_num_queries(LIST_QUERIES):
            response = api.get(TOOLS, {"ordering": ordering} if ordering else {})
        assert slugs(response) == expected

    @pytest.mark.parametrize("ordering", ["name", "-name"])
    def test_equal_names_keep_id_order(self, api: APIClient, ordering: str) -> None:
        first, second = ToolFactory(name="Twin", slug="twin-one"), ToolFactory(name="Twin", slug="twin-two")
        ToolFactory(name="Other", slug="other")
        twins = [slug for slug in slugs(api.get(TOOLS, {"ordering": ordering})) if slug.startswith("twin")]
        assert twins == [first.slug, second.slug]

    def test_ordering_pages_never_overlap(self, api: APIClient, rated: dict[str, Tool]) -> None:
        seen = []
        url: str | None = f"{TOOLS}?ordering=-panel_ship_rate&page_size=2"
        while url:
            body = api.get(url).json()
            seen += [tool["slug"] for tool in body["results"]]
            url = body["next"]
        assert seen == ["echo", "bravo", "alpha", "delta", "charlie"]


class TestVisibilityAndErrors:
    def test_unpublished_tools_are_invisible(self, api: APIClient, django_assert_num_queries) -> None:
        ToolFactory.create_batch(3)
        ToolFactory(slug="draft", is_published=False)
        body = api.get(TOOLS).json()
        assert body["count"] == 3
        assert "draft" not in [tool["slug"] for tool in body["results"]]
        with django_assert_num_queries(DETAIL_QUERIES):
            response = api.get(f"{TOOLS}draft/")
        assert response.status_code == 404
        assert response.json() == not_found("Not found.")

    @pytest.mark.parametrize("collection", ["tools", "categories", "vendors"])
    @pytest.mark.parametrize(
        ("slug", "queries", "detail"),
        [
            ("no-such-slug", 1, "Not found."),
            ("a" * 5000, 1, "Not found."),
            ("bad%00slug", 0, "No such resource."),
            ("%00", 0, "No such resource."),
            ("caf%C3%A9", 0, "No such resource."),
            ("café", 0, "No such resource."),
            ("%F0%9F%A4%96", 0, "No such resource."),
        ],
        ids=["unknown", "5000-chars", "nul", "only-nul", "encoded-unicode", "unicode", "emoji"],
    )
    def test_unknown_or_malformed_slug_is_a_json_404(
        self, api: APIClient, django_assert_num_queries, collection: str, slug: str, queries: int, detail: str
    ) -> None:
        ToolFactory.create_batch(3)
        with django_assert_num_queries(queries):
            response = api.get(f"/api/v1/{collection}/{slug}/")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == not_found(detail)


class TestCategoriesAndVendors:
    @pytest.fixture
    def catalog(self) -> None:
        coding = CategoryFactory(slug="coding", name="Coding", description="Tools that write code.")
        CategoryFactory(slug="art", name="Art")
        CategoryFactory(slug="chat", name="Chat")
        meta = VendorFactory(slug="meta", name="Meta", homepage_url="https://meta.example")
        VendorFactory(slug="acme", name="Acme")
        VendorFactory(slug="zed", name="Zed")
        ToolFactory.create_batch(2, category=coding, vendor=meta)
        ToolFactory(category=coding, vendor=meta, is_published=False)

    def test_category_list_counts_published_tools(
        self, api: APIClient, catalog: None, django_assert_num_queries
    ) -> None:
        with django_assert_num_queries(LIST_QUERIES):
            response = api.get("/api/v1/categories/")
        assert response.json() == {
            "count": 3,
            "next": None,
            "previous": None,
            "results": [
                {"slug": "art", "name": "Art", "description": None, "tool_count": 0},
                {"slug": "chat", "name": "Chat", "description": None, "tool_count": 0},
                {"slug": "coding", "name": "Coding", "description": "Tools that write code.", "tool_count": 2},
            ],
        }

    def test_category_detail(self, api: APIClient, catalog: None, django_assert_num_queries) -> None:
        with django_assert_num_queries(DETAIL_QUERIES):
            response = api.get("/api/v1/categories/coding/")
        assert response.json() == {
            "slug": "coding",
            "name": "Coding",
            "description": "Tools that write code.",
            "tool_count": 2,
        }

    def test_vendor_list_counts_published_tools(self, api: APIClient, catalog: None, django_assert_num_queries) -> None:
        with django_assert_num_queries(LIST_QUERIES):
            response = api.get("/api/v1/vendors/")
        assert response.json() == {
            "count": 3,
            "next": None,
            "previous": None,
            "results": [
                {"slug": "acme", "name": "Acme", "homepage_url": None, "tool_count": 0},
                {"slug": "meta", "name": "Meta", "homepage_url": "https://meta.example", "tool_count": 2},
                {"slug": "zed", "name": "Zed", "homepage_url": None, "tool_count": 0},
            ],
        }

    def test_vendor_detail(self, api: APIClient, catalog: None, django_assert_num_queries) -> None:
        with django_assert_num_queries(DETAIL_QUERIES):
            response = api.get("/api/v1/vendors/meta/")
        assert response.json() == {
            "slug": "meta",
            "name": "Meta",
            "homepage_url": "https://meta.example",
            "tool_count": 2,
        }

    @pytest.mark.parametrize("rows", [3, 6])
    @pytest.mark.parametrize(("url", "model"), [("/api/v1/categories/", Category), ("/api/v1/vendors/", Vendor)])
    def test_list_query_count_does_not_grow(
        self, api: APIClient, django_assert_num_queries, rows: int, url: str, model: type
    ) -> None:
        ToolFactory.create_batch(rows)
        ToolFactory.create_batch(rows, is_published=False)
        with django_assert_num_queries(LIST_QUERIES):
            body = api.get(url).json()
        assert body["count"] == model.objects.count() == 2 * rows
        assert sum(row["tool_count"] for row in body["results"]) == rows
