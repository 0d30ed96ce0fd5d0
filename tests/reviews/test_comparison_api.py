"""GET /api/v1/comparisons/{a}-vs-{b}/: the document a frontend renders the page from."""

import pytest
from django.db import connection

from tests.factories import ComparisonFactory, ReviewerFactory, ReviewFactory, ToolFactory
from tools.models import Tool, Verdict

SEED = "/api/v1/comparisons/code-llama-4-vs-mistral-large-3/"
# The comparison costs: both tools with panel counts; the scorecard; the panel's disclosures; the curation.
# On PostgreSQL all four are one statement.
COMPARISON_QUERIES = 1 if connection.vendor == "postgresql" else 4

pytestmark = pytest.mark.django_db

# No source and no verification date recorded for the pricing facts.
NO_PROVENANCE = {"source_url": None, "verified_at": None}

NOT_CORRECTED = {"correction": None, "updated_at": None}

BUYER_ON_CODE_LLAMA = (
    "There is no business here — Meta releases these weights to commoditize the inference layer and make cloud "
    "providers compete on price, which benefits Meta's ad business indirectly. The buyer for Code Llama 4 is not a "
    "company writing a check to Meta; it's every coding tool startup building on top of these weights, and Meta "
    "captures none of that value directly. For the companies building on top of it, the moat question is brutal: "
    "if your differentiation is 'we use Code Llama 4 fine-tuned on your codebase,' you are one Meta model release "
    "away from your core feature becoming table stakes. The businesses that survive this are the ones who use the "
    "weights as a cheap inference substrate and build switching costs through workflow integration, IDE plugins, "
    "and proprietary evaluation datasets — the model itself is not the moat. Skip as a standalone business bet; "
    "ship as infrastructure for someone else's product."
)


def _error(code: str, detail: str, attr: str | None = None, kind: str = "client_error") -> dict:
    return {"type": kind, "errors": [{"code": code, "detail": detail, "attr": attr}]}


class TestSeedComparison:
    """The seed comparison, number by number and word by word against the page."""

    @pytest.fixture
    def document(self, api, seeded, django_assert_num_queries) -> dict:
        with django_assert_num_queries(COMPARISON_QUERIES):
            response = api.get(SEED)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        return response.json()

    def test_editorial_fields_come_from_the_curated_comparison(self, document: dict) -> None:
        assert {
            key: document[key] for key in ("slug", "canonical_slug", "curated", "title", "headline", "summary")
        } == {
            "slug": "code-llama-4-vs-mistral-large-3",
            "canonical_slug": "code-llama-4-vs-mistral-large-3",
            "curated": True,
            "title": "Code Llama 4 vs Mistral Large 3",
            "headline": (
                "Which one should you ship with? Here is the side-by-side panel verdict, pricing read, "
                "reviewer split, and community vote comparison."
            ),
            "summary": None,  # staff wrote none: absent, as for an uncurated pair
        }

    def test_tools_side_by_side(self, document: dict) -> None:
        code_llama, mistral = document["tools"]
        assert code_llama == {
            "slug": "code-llama-4",
            "name": "Code Llama 4",
            "vendor": {"slug": "meta", "name": "Meta"},
            "category": {"slug": "developer-tools", "name": "Developer Tools"},
            "tagline": "Meta's open-weight code model fine-tuned for agentic, multi-step workflows",
            "description": (
                "Code Llama 4 is a family of open-weight code-specialized models (up to 70B parameters) released by "
                "Meta under the Llama 4 community license. The models are fine-tuned for agentic workflows including "
                "multi-step code generation, debugging, and tool use. All weights are freely available for "
                "self-hosting, fine-tuning, and commercial deployment within the license terms."
            ),
            "pricing": {"tier": "free", "label": "Free", "price_from_usd": None, "price_unit": None, **NO_PROVENANCE},
            "licence": "Llama 4 Community License",
            "licence_source": {"url": None, "verified_at": None},
            "open_weights": True,
            "context_window_tokens": None,
            "homepage_url": None,
            "panel": {"ship": 3, "skip": 1, "total": 4, "ship_rate": 0.75, "ci95": [0.3006, 0.9544]},
            "community": {"ship": 0, "skip": 0, "total": 0, "ship_rate": None, "ci95": None},
        }
        assert mistral["slug"] == "mistral-large-3"
        assert mistral["vendor"] == {"slug": "mistral-ai", "name": "Mistral AI"}
        assert mistral["tagline"] == "128K context, 30-language code gen, frontier performance at lower cost"
        assert mistral["pricing"] == {
            "tier": "paid",
            "label": "Paid",
            "price_from_usd": None,
            "price_unit": None,
            **NO_PROVENANCE,
        }
        assert mistral["context_window_tokens"] == 128000
        assert mistral["panel"] == {"ship": 4, "skip": 0, "total": 4, "ship_rate": 1.0, "ci95": [0.5101, 1.0]}
        assert mistral["community"] == {"ship": 0, "skip": 0, "total": 0, "ship_rate": None, "ci95": None}

    def test_ship_rates_are_json_numbers_and_community_is_null(self, api, seeded) -> None:
        body = api.get(SEED).content.decode()
        assert '"ship_rate":0.75' in body
        assert '"ship_rate":1.0' in body
        assert body.count('"ship_rate":null') == 2

    def test_scorecard_rows_line_up_with_the_requested_tools(self, document: dict) -> None:
        rows = document["scorecard"]
        assert [row["reviewer"]["slug"] for row in rows] == [
            "the-builder",
            "the-strategist",
            "the-futurist",
            "the-buyer",
        ]
        assert [row["reviewer"]["lens"] for row in rows] == [
            "Developer experience",
            "Competitive market",
            "Future thesis",
            "Business and buyer",
        ]
        assert [row["reviewer"]["position"] for row in rows] == [1, 2, 3, 4]
        for row in rows:
            assert [entry["tool"] for entry in row["reviews"]] == ["code-llama-4", "mistral-large-3"]
        verdicts = [[entry["verdict"] for entry in row["reviews"]] for row in rows]
        assert verdicts == [["ship", "ship"], ["ship", "ship"], ["ship", "ship"], ["skip", "ship"]]
        assert [row["split"] for row in rows] == [False, False, False, True]

    def test_review_bodies_word_for_word(self, document: dict) -> None:
        buyer = document["scorecard"][3]
        assert buyer["reviews"][0] == {
            "tool": "code-llama-4",
            "verdict": "skip",
            "body": BUYER_ON_CODE_LLAMA,
            "reviewed_at": None,
            "correction": None,
            "updated_at": None,
        }
        bodies = [entry["body"] for row in document["scorecard"] for entry in row["reviews"]]
        assert bodies[0].startswith("The primitive here is a code-specialized transformer")
        assert bodies[1].endswith("I'm shipping on the API design and positioning, not the benchmark claim.")
        assert bodies[4].startswith("The thesis Code Llama 4 is betting on: by 2027")
        assert bodies[7].endswith("but this business needs the EU regulatory tailwind to keep blowing.")
        assert not any(body.startswith("\u201c") or body.endswith("\u201d") for body in bodies)

    def test_split_and_pick(self, document: dict) -> None:
        assert document["reviewer_split"] == ["the-buyer"]
        assert document["panel_pick"] == "mistral-large-3"

    def test_reversed_order_mirrors_everything(self, api, seeded, document: dict) -> None:
        reversed_document = api.get("/api/v1/comparisons/mistral-large-3-vs-code-llama-4/").json()
        assert reversed_document["slug"] == "mistral-large-3-vs-code-llama-4"
        # Curated the other way round: the editorial text and its canonical order still apply.
        assert reversed_document["canonical_slug"] == "code-llama-4-vs-mistral-large-3"
        assert reversed_document["title"] == document["title"]
        assert reversed_document["tools"] == document["tools"][::-1]
        for row, mirrored in zip(document["scorecard"], reversed_document["scorecard"], strict=True):
            assert mirrored["reviewer"] == row["reviewer"]
            assert mirrored["reviews"] == row["reviews"][::-1]
        assert reversed_document["panel_pick"] == "mistral-large-3"


class TestAnyPair:
    def test_uncurated_pair_is_computed_with_null_editorial_fields(self, api, django_assert_num_queries) -> None:
        left, right = ToolFactory(slug="alpha"), ToolFactory(slug="beta")
        with django_assert_num_queries(COMPARISON_QUERIES):
            document = api.get("/api/v1/comparisons/alpha-vs-beta/").json()
        assert document["slug"] == document["canonical_slug"] == "alpha-vs-beta"
        assert (document["curated"], document["title"], document["headline"], document["summary"]) == (
            False,
            None,
            None,
            None,
        )
        assert [tool["slug"] for tool in document["tools"]] == [left.slug, right.slug]
        assert document["scorecard"] == []
        assert document["panel_pick"] is None

    def test_missing_reviews_get_null_entries_so_rows_line_up(self, api) -> None:
        left, right = ToolFactory(slug="alpha"), ToolFactory(slug="beta")
        reviewers = [ReviewerFactory(position=position) for position in (3, 1, 2)]
        ReviewFactory(reviewer=reviewers[0], tool=left, verdict=Verdict.SKIP, body="No.")
        ReviewFactory(reviewer=reviewers[1], tool=right, verdict=Verdict.SHIP, body="Yes.")
        document = api.get("/api/v1/comparisons/alpha-vs-beta/").json()
        rows = document["scorecard"]
        assert [row["reviewer"]["position"] for row in rows] == [1, 2, 3]
        assert rows[0]["reviews"] == [
            {"tool": "alpha", "verdict": None, "body": None, "reviewed_at": None, **NOT_CORRECTED},
            {"tool": "beta", "verdict": "ship", "body": "Yes.", "reviewed_at": None, **NOT_CORRECTED},
        ]
        assert rows[1]["reviews"] == [
            {"tool": "alpha", "verdict": None, "body": None, "reviewed_at": None, **NOT_CORRECTED},
            {"tool": "beta", "verdict": None, "body": None, "reviewed_at": None, **NOT_CORRECTED},
        ]
        assert rows[2]["reviews"][0]["verdict"] == "skip"
        assert [row["split"] for row in rows] == [False, False, False]
        assert document["tools"][0]["panel"]["ship_rate"] == 0.0
        assert document["tools"][1]["panel"]["ship_rate"] == 1.0
        assert document["panel_pick"] == "beta"

    def test_query_count_does_not_grow_with_reviewers_reviews_or_votes(
        self, api, cast_votes, django_assert_num_queries
    ) -> None:
        left, right = ToolFactory(slug="alpha"), ToolFactory(slug="beta")
        for _ in range(6):
            reviewer = ReviewerFactory()
            ReviewFactory(reviewer=reviewer, tool=left, verdict=Verdict.SHIP)
            ReviewFactory(reviewer=reviewer, tool=right, verdict=Verdict.SKIP)
        cast_votes(left, ship=4, skip=1)
        cast_votes(right, skip=3)
        with django_assert_num_queries(COMPARISON_QUERIES):
            document = api.get("/api/v1/comparisons/alpha-vs-beta/").json()
        assert len(document["scorecard"]) == 6
        assert document["tools"][0]["panel"] == {
            "ship": 6,
            "skip": 0,
            "total": 6,
            "ship_rate": 1.0,
            "ci95": [0.6097, 1.0],
        }
        assert document["tools"][0]["community"] == {
            "ship": 4,
            "skip": 1,
            "total": 5,
            "ship_rate": 0.8,
            "ci95": [0.3755, 0.9638],
        }
        assert document["tools"][1]["community"]["ship_rate"] == 0.0
        assert len(document["reviewer_split"]) == 6

    def test_equal_panel_rates_pick_nobody(self, api) -> None:
        left, right = ToolFactory(slug="alpha"), ToolFactory(slug="beta")
        reviewer = ReviewerFactory()
        ReviewFactory(reviewer=reviewer, tool=left)
        ReviewFactory(reviewer=reviewer, tool=right)
        assert api.get("/api/v1/comparisons/alpha-vs-beta/").json()["panel_pick"] is None

    def test_inactive_reviewers_leave_the_scorecard_and_the_counts(self, api) -> None:
        left, _ = ToolFactory(slug="alpha"), ToolFactory(slug="beta")
        retired = ReviewerFactory(is_active=False)
        ReviewFactory(reviewer=retired, tool=left, verdict=Verdict.SKIP)
        document = api.get("/api/v1/comparisons/alpha-vs-beta/").json()
        assert document["scorecard"] == []
        assert document["tools"][0]["panel"]["total"] == 0

    def test_unpublished_curation_adds_nothing(self, api) -> None:
        comparison = ComparisonFactory(is_published=False)
        document = api.get(f"/api/v1/comparisons/{comparison.slug}/").json()
        assert document["curated"] is False
        assert document["title"] is None


class TestErrors:
    def test_unknown_tool_is_a_json_404_naming_it(self, api, seeded) -> None:
        response = api.get("/api/v1/comparisons/code-llama-4-vs-nope/")
        assert response.status_code == 404
        assert response.json() == _error("not_found", "No published tool has the slug 'nope'.")

    def test_unpublished_tool_is_a_404(self, api) -> None:
        ToolFactory(slug="alpha")
        ToolFactory(slug="hidden", is_published=False)
        response = api.get("/api/v1/comparisons/alpha-vs-hidden/")
        assert response.status_code == 404
        assert response.json() == _error("not_found", "No published tool has the slug 'hidden'.")

    def test_a_tool_compared_with_itself_is_a_400(self, api, seeded) -> None:
        response = api.get("/api/v1/comparisons/code-llama-4-vs-code-llama-4/")
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "errors": [{"code": "invalid", "detail": "Compare two different tools.", "attr": "pair"}],
        }

    @pytest.mark.parametrize(
        "pair",
        [
            "code-llama-4",
            "code-llama-4-vs-",
            "-vs-mistral-large-3",
            "a-vs-b-vs-",
            "a-vs--vs-c",
            "a-vs-b-vs-C",
            "-vs-".join(["a" * 80] * 5),
            "Code-Llama-4-vs-mistral-large-3",
            "code_llama_4-vs-mistral-large-3",
            "code-llama-4%00-vs-mistral-large-3",
            "code-llama-4-vs-mistral-large-3%00",
            "%E2%80%AEcode-llama-4-vs-mistral-large-3",
            "code-llama-4-vs-%F0%9F%A6%99",
            "%ff%fe-vs-b",
            "a" * 5000 + "-vs-b",
            "x" * 2500 + "-vs-" + "y" * 2500,
            "'%3B%20DROP%20TABLE%20tools_tool%3B--vs-b",
        ],
    )
    def test_malformed_slugs_are_json_404s(self, api, seeded, pair: str) -> None:
        response = api.get(f"/api/v1/comparisons/{pair}/")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == _error(
            "not_found",
            "A comparison URL names two to four tool slugs joined by '-vs-', e.g. 'a-vs-b' or 'a-vs-b-vs-c'.",
        )
        assert Tool.objects.count() == 2

    def test_unknown_route_is_a_json_404(self, api) -> None:
        response = api.get("/api/v1/nothing-here/")
        assert response.status_code == 404
        assert response.json() == _error("not_found", "No such resource.")

    @pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
    def test_the_comparison_is_read_only(self, api, seeded, method: str) -> None:
        response = getattr(api, method)(SEED, {}, format="json")
        assert response.status_code == 405
        assert response.json()["errors"][0]["code"] == "method_not_allowed"
