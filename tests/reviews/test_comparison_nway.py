"""GET /api/v1/comparisons/a-vs-b-vs-c(-vs-d)/: the two-tool document's shape with three or four tools."""

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.views import APIView

from compare_api.caching import versions_for
from compare_api.compiled import CompiledQuery, CompiledStatement
from compare_api.renderers import render_json
from compare_api.slugs import SLUG_MAX_LENGTH, split_comparison_slug
from reviews import selectors
from reviews.models import Reviewer
from tests.factories import (
    CategoryFactory,
    ComparisonFactory,
    ReviewerFactory,
    ReviewFactory,
    ToolFactory,
    UserFactory,
    VendorFactory,
)
from tests.helpers import bearer, redis_server
from tools.models import Tool, Verdict
from votes.services import vote_cast

pytestmark = pytest.mark.django_db

# No source and no verification date recorded for the pricing facts.
NO_PROVENANCE = {"source_url": None, "verified_at": None}

ROOT = Path(__file__).resolve().parents[2]
SEED = "/api/v1/comparisons/code-llama-4-vs-mistral-large-3/"
SEED_REVERSED = "/api/v1/comparisons/mistral-large-3-vs-code-llama-4/"
# Three or four tools: the tools, the scorecard and the panel's disclosures (no curation to look up);
# on PostgreSQL, one statement.
ONE_STATEMENT = connection.vendor == "postgresql"
NWAY_QUERIES = 1 if ONE_STATEMENT else 3
TWO_TOOL_KEYS = [
    "slug",
    "canonical_slug",
    "curated",
    "title",
    "headline",
    "summary",
    "tools",
    "scorecard",
    "reviewer_split",
    "panel_pick",
]


class TestTheTwoToolDocumentIsUnchanged:
    """The issue demands the two-tool document stay the same byte for byte. These are the bytes
    main served before comparisons of three and four tools existed (SQLite and PostgreSQL alike),
    pinned by length and SHA-256: a byte added, removed or changed anywhere fails here.

    Re-pinned on purpose once since (issue 16, history and provenance), for additions only: each
    tool's `pricing.source_url`, `pricing.verified_at` and `licence_source` `{url, verified_at}`;
    each scorecard reviewer's `disclosures`; each scorecard entry's `correction` and `updated_at`
    (all null or [] in the seed). Before: 11012 bytes, 40d93e18… and 9a52a7c8…."""

    @pytest.mark.parametrize(
        ("url", "length", "sha256"),
        [
            (SEED, 11540, "0745a2af764fa0d51b9342b9e057309e84b7c8f60d4678a33127f825cc4f5244"),
            (SEED_REVERSED, 11540, "dfcc08056e8184bd816ea17d81ce75283220203a66e1adc3a7c254313c723132"),
        ],
    )
    def test_the_seed_pair_serves_the_same_bytes_as_before(self, api, seeded, url, length, sha256) -> None:
        body = api.get(url).content
        assert (len(body), hashlib.sha256(body).hexdigest()) == (length, sha256)

    def test_the_bytes_are_the_schema_example_as_rendered(self, api, seeded) -> None:
        # The readable copy of the same bytes: the schema's example (`make examples`), rendered as served.
        example = json.loads((ROOT / "reviews/openapi_examples/comparison.json").read_text(encoding="utf-8"))
        assert api.get(SEED).content == render_json(example)
        assert "community_pick" not in example


# The tools and the panel every test below builds on, with factories.
def _tool(slug: str, name: str) -> Tool:
    return ToolFactory(
        slug=slug,
        name=name,
        vendor=VendorFactory(slug="acme", name="Acme"),
        category=CategoryFactory(slug="chat", name="Chat"),
        tagline=f"{name} in a line",
        description=f"What {name} does.",
    )


@pytest.fixture
def tools() -> dict[str, Tool]:
    return {slug: _tool(slug, slug.title()) for slug in ("alpha", "beta", "gamma", "delta")}


def _reviewer(position: int) -> Reviewer:
    return ReviewerFactory(slug=f"reviewer-{position}", name=f"Reviewer {position}", lens="Lens", position=position)


def _review(reviewer: Reviewer, tool: Tool, verdict: str) -> None:
    ReviewFactory(reviewer=reviewer, tool=tool, verdict=verdict, body=f"{reviewer.name}: {verdict} {tool.name}.")


@pytest.fixture
def panel(tools: dict[str, Tool]) -> None:
    """Five reviewers; who reviewed what (- = no review):

    reviewer   alpha beta gamma delta
    1          ship  ship ship  -      all agree
    2          ship  skip -     ship   split
    3          ship  ship -     -      agree (two verdicts)
    4          skip  -    skip  -      agree around a gap
    5          -     -    -     skip   one verdict: no split
    """
    reviewers = [_reviewer(position) for position in (1, 2, 3, 4, 5)]
    grid = {
        "alpha": ["ship", "ship", "ship", "skip", None],
        "beta": ["ship", "skip", "ship", None, None],
        "gamma": ["ship", None, None, "skip", None],
        "delta": [None, "ship", None, None, "skip"],
    }
    for slug, verdicts in grid.items():
        for reviewer, verdict in zip(reviewers, verdicts, strict=True):
            if verdict is not None:
                _review(reviewer, tools[slug], verdict)


def _tally(ship: int, skip: int, ci95: list[float] | None) -> dict:
    total = ship + skip
    return {
        "ship": ship,
        "skip": skip,
        "total": total,
        "ship_rate": round(ship / total, 4) if total else None,
        "ci95": ci95,
    }


NO_VOTES = _tally(0, 0, None)
PANELS = {
    "alpha": _tally(3, 1, [0.3006, 0.9544]),
    "beta": _tally(2, 1, [0.2077, 0.9385]),
    "gamma": _tally(1, 1, [0.0945, 0.9055]),
    "delta": _tally(1, 1, [0.0945, 0.9055]),
}


def _tool_document(slug: str, community: dict = NO_VOTES) -> dict:
    name = slug.title()
    return {
        "slug": slug,
        "name": name,
        "vendor": {"slug": "acme", "name": "Acme"},
        "category": {"slug": "chat", "name": "Chat"},
        "tagline": f"{name} in a line",
        "description": f"What {name} does.",
        "pricing": {
            "tier": "freemium",
            "label": "Freemium",
            "price_from_usd": None,
            "price_unit": None,
            **NO_PROVENANCE,
        },
        "licence": None,
        "licence_source": {"url": None, "verified_at": None},
        "open_weights": False,
        "context_window_tokens": None,
        "homepage_url": None,
        "panel": PANELS[slug],
        "community": community,
    }


GRID = {  # (reviewer position, tool) -> verdict, as the panel fixture wrote them
    (1, "alpha"): "ship", (1, "beta"): "ship", (1, "gamma"): "ship",
    (2, "alpha"): "ship", (2, "beta"): "skip", (2, "delta"): "ship",
    (3, "alpha"): "ship", (3, "beta"): "ship",
    (4, "alpha"): "skip", (4, "gamma"): "skip",
    (5, "delta"): "skip",
}  # fmt: skip


def _row(position: int, slugs: list[str], split: bool) -> dict:
    def entry(slug: str) -> dict:
        verdict = GRID.get((position, slug))
        body = None if verdict is None else f"Reviewer {position}: {verdict} {slug.title()}."
        return {
            "tool": slug,
            "verdict": verdict,
            "body": body,
            "reviewed_at": None,
            "correction": None,
            "updated_at": None,
        }

    reviewer = {"slug": f"reviewer-{position}", "name": f"Reviewer {position}", "lens": "Lens", "bio": None}
    return {
        "reviewer": {**reviewer, "position": position, "disclosures": []},
        "reviews": [entry(slug) for slug in slugs],
        "split": split,
    }


def _url(*slugs: str) -> str:
    return f"/api/v1/comparisons/{'-vs-'.join(slugs)}/"


class TestThreeAndFourTools:
    def test_three_tools_exact_document(self, api, panel, django_assert_num_queries) -> None:
        slugs = ["alpha", "beta", "gamma"]
        with django_assert_num_queries(NWAY_QUERIES):
            response = api.get(_url(*slugs))
        assert response.status_code == 200
        assert response.json() == {
            "slug": "alpha-vs-beta-vs-gamma",
            "canonical_slug": "alpha-vs-beta-vs-gamma",
            "curated": False,
            "title": None,
            "headline": None,
            "summary": None,
            "tools": [_tool_document(slug) for slug in slugs],
            "scorecard": [
                _row(1, slugs, split=False),
                _row(2, slugs, split=True),  # ship, skip, -
                _row(3, slugs, split=False),
                _row(4, slugs, split=False),  # skip, -, skip: the gap splits nothing
                _row(5, slugs, split=False),  # no review of any of the three
            ],
            "reviewer_split": ["reviewer-2"],
            "panel_pick": "alpha",  # 0.75 against 0.6667 and 0.5
            "community_pick": None,  # nobody voted: no usable interval
        }
        # The keys in the two-tool document's order, community_pick last.
        assert list(response.json()) == [*TWO_TOOL_KEYS, "community_pick"]

    def test_four_tools_exact_document(self, api, panel, django_assert_num_queries) -> None:
        slugs = ["delta", "gamma", "beta", "alpha"]
        with django_assert_num_queries(NWAY_QUERIES):
            document = api.get(_url(*slugs)).json()
        assert document == {
            "slug": "delta-vs-gamma-vs-beta-vs-alpha",
            "canonical_slug": "delta-vs-gamma-vs-beta-vs-alpha",
            "curated": False,
            "title": None,
            "headline": None,
            "summary": None,
            "tools": [_tool_document(slug) for slug in slugs],
            "scorecard": [
                _row(1, slugs, split=False),  # -, ship, ship, ship
                _row(2, slugs, split=True),  # ship, -, skip, ship
                _row(3, slugs, split=False),
                _row(4, slugs, split=False),
                _row(5, slugs, split=False),  # skip on delta alone
            ],
            "reviewer_split": ["reviewer-2"],
            "panel_pick": "alpha",
            "community_pick": None,
        }

    def test_the_same_tools_in_another_order_mirror_the_document(self, api, panel) -> None:
        forward = api.get(_url("alpha", "beta", "gamma", "delta")).json()
        order = [2, 0, 3, 1]  # gamma, alpha, delta, beta
        shuffled = api.get(_url("gamma", "alpha", "delta", "beta")).json()
        assert shuffled["slug"] == shuffled["canonical_slug"] == "gamma-vs-alpha-vs-delta-vs-beta"
        assert shuffled["tools"] == [forward["tools"][index] for index in order]
        for row, mirrored in zip(forward["scorecard"], shuffled["scorecard"], strict=True):
            assert mirrored["reviewer"] == row["reviewer"]
            assert mirrored["reviews"] == [row["reviews"][index] for index in order]
            assert mirrored["split"] == row["split"]
        for key in ("reviewer_split", "panel_pick", "community_pick", "curated", "title"):
            assert shuffled[key] == forward[key]

    def test_a_curated_pair_among_three_tools_adds_no_editorial_text(
        self, api, tools, django_assert_num_queries
    ) -> None:
        ComparisonFactory(left_tool=tools["alpha"], right_tool=tools["beta"], title="Alpha vs Beta")
        assert api.get(_url("alpha", "beta")).json()["curated"] is True
        with django_assert_num_queries(NWAY_QUERIES):
            document = api.get(_url("alpha", "beta", "gamma")).json()
        assert {
            key: document[key] for key in ("slug", "canonical_slug", "curated", "title", "headline", "summary")
        } == {
            "slug": "alpha-vs-beta-vs-gamma",
            "canonical_slug": "alpha-vs-beta-vs-gamma",
            "curated": False,
            "title": None,
            "headline": None,
            "summary": None,
        }

    def test_no_panel_yet(self, api, tools) -> None:
        document = api.get(_url("alpha", "beta", "gamma")).json()
        assert (document["scorecard"], document["reviewer_split"], document["panel_pick"]) == ([], [], None)
        assert document["community_pick"] is None


class TestQueryCounts:
    """A fixed number of queries whatever the number of tools, reviewers, reviews or votes."""

    @pytest.mark.parametrize(
        ("slugs", "queries"),
        [
            # the tools, the scorecard, the panel's disclosures, the curation of the pair (PostgreSQL: one statement)
            (("alpha", "beta"), 1 if ONE_STATEMENT else 4),
            (("alpha", "beta", "gamma"), NWAY_QUERIES),  # no curation to look up for three or four tools
            (("alpha", "beta", "gamma", "delta"), NWAY_QUERIES),
        ],
    )
    def test_exact_count(self, api, panel, cast_votes, tools, django_assert_num_queries, slugs, queries) -> None:
        for reviewer in [_reviewer(position) for position in (6, 7, 8)]:
            for tool in tools.values():
                _review(reviewer, tool, "ship")
        cast_votes(tools["gamma"], ship=2, skip=1)
        with django_assert_num_queries(queries):
            response = api.get(_url(*slugs))
        assert response.status_code == 200
        assert len(response.json()["scorecard"]) == 8

    def test_each_statement_is_compiled_once_per_process(self, api, panel, monkeypatch) -> None:
        documents = list(selectors.DOCUMENT.values()) if ONE_STATEMENT else []
        if ONE_STATEMENT:  # one statement per number of tools, of the tools, scorecard, disclosures, curation
            statements = list(dict.fromkeys(part for document in documents for part in document.parts.values()))
        else:
            statements = [
                *selectors.TOOLS.values(),
                *selectors.SCORECARD.values(),
                selectors.DISCLOSURES,
                selectors.EDITORIAL,
            ]
        for statement in statements:  # as in a fresh process
            monkeypatch.setattr(statement, "_by_vendor", {})
        for document in documents:
            monkeypatch.setattr(document, "_compiled", None)
        compiled: list[object] = []
        compile_sql = CompiledQuery._compile
        compile_statement = CompiledStatement._compile

        def counting(self: CompiledQuery, alias: str) -> object:
            compiled.append(self)
            return compile_sql(self, alias)

        def counting_statement(self: CompiledStatement, alias: str) -> object:
            compiled.append(self)
            return compile_statement(self, alias)

        monkeypatch.setattr(CompiledQuery, "_compile", counting)
        monkeypatch.setattr(CompiledStatement, "_compile", counting_statement)
        for _ in range(3):
            for slugs in (("alpha", "beta"), ("alpha", "beta", "gamma"), ("delta", "gamma", "beta", "alpha")):
                assert api.get(_url(*slugs)).status_code == 200
        assert Counter(compiled) == dict.fromkeys([*statements, *documents], 1)

    @pytest.mark.skipif(not ONE_STATEMENT, reason="PostgreSQL's one statement (set DATABASE_URL)")
    @pytest.mark.parametrize("count", selectors.TOOL_COUNTS)
    def test_the_one_statement_fits_psycopgs_parse_cache(self, count: int) -> None:
        """Longer text is parsed again on every run (psycopg's MAX_CACHED_STATEMENT_LENGTH): ~20 us a request."""
        from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

        document = selectors.DOCUMENT[count]
        assert len(document._compile("default").sql.encode()) <= MAX_CACHED_STATEMENT_LENGTH

    @pytest.mark.skipif(not ONE_STATEMENT, reason="PostgreSQL's one statement (set DATABASE_URL)")
    @pytest.mark.parametrize(
        "slugs", [("alpha", "beta"), ("alpha", "beta", "gamma"), ("delta", "gamma", "beta", "alpha")]
    )
    def test_the_one_statement_is_prepared_once_per_connection(self, api, panel, slugs) -> None:
        """psycopg prepares it server-side after prepare_threshold runs, then executes that statement."""
        threshold = connection.connection.prepare_threshold
        assert threshold is not None
        runs = threshold + 4
        for _ in range(runs):
            assert api.get(_url(*slugs)).status_code == 200
        placeholders = ", ".join(f"${index}" for index in range(1, len(slugs) + 1))  # the tools' slugs come first
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT generic_plans + custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE 'SELECT (SELECT coalesce(json_agg(%%' AND statement LIKE %s",
                [f'%"tools_tool"."slug" IN ({placeholders})%'],
            )
            executions = cursor.fetchall()
        # One prepared statement, run by every request from the one that prepared it on.
        assert len(executions) == 1
        assert executions[0][0] >= runs - threshold


class TestPanelPick:
    def _rates(self, tools: dict[str, Tool], verdicts: dict[str, list[str]]) -> None:
        reviewers = [_reviewer(position) for position in range(1, 5)]
        for slug, tool_verdicts in verdicts.items():
            for reviewer, verdict in zip(reviewers, tool_verdicts, strict=False):
                _review(reviewer, tools[slug], verdict)

    def test_unique_highest_rate_is_picked_wherever_it_stands(self, api, tools) -> None:
        self._rates(tools, {"alpha": ["ship", "skip"], "beta": ["skip"], "gamma": ["ship", "ship", "ship", "skip"]})
        assert api.get(_url("alpha", "beta", "gamma")).json()["panel_pick"] == "gamma"  # 0.75 > 0.5 > 0
        assert api.get(_url("gamma", "beta", "alpha")).json()["panel_pick"] == "gamma"

    def test_a_tie_for_the_top_picks_nobody(self, api, tools) -> None:
        self._rates(tools, {"alpha": ["ship", "skip"], "beta": ["skip"], "gamma": ["skip", "ship"]})
        assert api.get(_url("alpha", "beta", "gamma")).json()["panel_pick"] is None  # 0.5, 0, 0.5

    def test_a_tie_below_the_top_still_picks(self, api, tools) -> None:
        self._rates(tools, {"alpha": ["ship"], "beta": ["skip"], "gamma": ["skip"], "delta": ["ship", "skip"]})
        assert api.get(_url("beta", "gamma", "alpha")).json()["panel_pick"] == "alpha"  # 0, 0, 1
        assert api.get(_url("alpha", "beta", "gamma", "delta")).json()["panel_pick"] == "alpha"  # 1, 0, 0, 0.5

    def test_a_tool_without_panel_reviews_picks_nobody(self, api, tools) -> None:
        self._rates(tools, {"alpha": ["ship"], "beta": ["skip"]})  # gamma: no review, no rate
        document = api.get(_url("alpha", "beta", "gamma")).json()
        assert [tool["panel"]["ship_rate"] for tool in document["tools"]] == [1.0, 0.0, None]
        assert document["panel_pick"] is None


class TestCommunityPick:
    """The tool whose community ci95 lies entirely above every other tool's; settings.LEADERBOARD_MIN_TOTAL
    (10 here, the default) counted votes before a tool's interval counts."""

    @pytest.fixture(autouse=True)
    def minimum(self, settings) -> None:
        settings.LEADERBOARD_MIN_TOTAL = 10

    def test_an_interval_above_all_others_is_picked(self, api, tools, cast_votes) -> None:
        cast_votes(tools["alpha"], ship=1, skip=9)  # [0.0179, 0.4042]
        cast_votes(tools["beta"], ship=3, skip=7)  # [0.1078, 0.6032]
        cast_votes(tools["gamma"], ship=10)  # [0.7225, 1.0]: its low is above both highs
        document = api.get(_url("alpha", "beta", "gamma")).json()
        assert [tool["community"] for tool in document["tools"]] == [
            _tally(1, 9, [0.0179, 0.4042]),
            _tally(3, 7, [0.1078, 0.6032]),
            _tally(10, 0, [0.7225, 1.0]),
        ]
        assert document["community_pick"] == "gamma"
        assert document["panel_pick"] is None  # nobody reviewed: the picks are independent
        assert api.get(_url("gamma", "beta", "alpha")).json()["community_pick"] == "gamma"

    def test_an_interval_overlapping_any_other_picks_nobody(self, api, tools, cast_votes) -> None:
        cast_votes(tools["alpha"], ship=1, skip=9)  # [0.0179, 0.4042]
        cast_votes(tools["beta"], ship=3, skip=7)  # [0.1078, 0.6032]
        cast_votes(tools["gamma"], ship=9, skip=1)  # [0.5958, 0.9821]: above alpha's, overlaps beta's
        document = api.get(_url("alpha", "beta", "gamma")).json()
        assert document["tools"][2]["community"]["ci95"] == [0.5958, 0.9821]
        assert document["tools"][2]["community"]["ship_rate"] == 0.9  # the highest rate, not clear of beta
        assert document["community_pick"] is None

    def test_a_tool_under_the_minimum_can_be_neither_picked_nor_ruled_out(self, api, tools, cast_votes) -> None:
        cast_votes(tools["alpha"], ship=1, skip=9)
        cast_votes(tools["beta"], ship=10)  # clear of alpha ...
        cast_votes(tools["gamma"], ship=9)  # ... but gamma has 9 counted votes: no usable interval
        vote_cast(voter=UserFactory(verified=False), slug="gamma", verdict=Verdict.SKIP)  # kept, not counted
        document = api.get(_url("alpha", "beta", "gamma")).json()
        assert document["tools"][2]["community"] == _tally(9, 0, [0.7009, 1.0])
        assert document["community_pick"] is None
        # Under the minimum, a tool clear of the others is not picked either.
        assert api.get(_url("gamma", "alpha", "delta")).json()["community_pick"] is None

    def test_four_tools(self, api, tools, cast_votes, settings) -> None:
        cast_votes(tools["alpha"], ship=1, skip=9)  # [0.0179, 0.4042]
        cast_votes(tools["beta"], ship=3, skip=7)  # [0.1078, 0.6032]
        cast_votes(tools["gamma"], skip=10)  # [0.0, 0.2775]
        cast_votes(tools["delta"], ship=10)  # [0.7225, 1.0]
        assert api.get(_url("alpha", "beta", "gamma", "delta")).json()["community_pick"] == "delta"
        settings.LEADERBOARD_MIN_TOTAL = 11  # the minimum is the setting's: now nobody has enough votes
        assert api.get(_url("alpha", "beta", "gamma", "delta")).json()["community_pick"] is None

    def test_two_tools_have_no_community_pick(self, api, tools, cast_votes) -> None:
        cast_votes(tools["alpha"], ship=1, skip=9)
        cast_votes(tools["beta"], ship=10)
        assert list(api.get(_url("alpha", "beta")).json()) == TWO_TOOL_KEYS


class TestBadInput:
    def test_more_than_four_tools_is_a_400(self, api, tools) -> None:
        response = api.get(_url("alpha", "beta", "gamma", "delta", "epsilon"))
        assert response.status_code == 400
        assert response.json() == _invalid("Compare two to four tools, not 5.")

    @pytest.mark.parametrize(
        ("slugs", "detail"),
        [
            (("alpha", "alpha"), "Compare two different tools."),
            (("alpha", "beta", "alpha"), "Name each tool once: 'alpha' appears more than once."),
            (("alpha", "beta", "gamma", "beta"), "Name each tool once: 'beta' appears more than once."),
            (("nope", "beta", "nope"), "Name each tool once: 'nope' appears more than once."),  # before any query
        ],
    )
    def test_a_tool_named_twice_is_a_400(self, api, tools, django_assert_num_queries, slugs, detail) -> None:
        with django_assert_num_queries(0):
            response = api.get(_url(*slugs))
        assert response.status_code == 400
        assert response.json() == _invalid(detail)

    @pytest.mark.parametrize("slugs", [("alpha", "beta", "nope"), ("nope", "alpha", "beta", "gamma")])
    def test_an_unknown_tool_is_a_404_naming_it(self, api, tools, slugs) -> None:
        response = api.get(_url(*slugs))
        assert response.status_code == 404
        assert response.json() == {
            "type": "client_error",
            "errors": [{"code": "not_found", "detail": "No published tool has the slug 'nope'.", "attr": None}],
        }

    def test_the_length_bound_is_four_slugs(self) -> None:
        longest = "-vs-".join(["a" * SLUG_MAX_LENGTH] * 4)
        assert split_comparison_slug(longest) == ("a" * SLUG_MAX_LENGTH,) * 4
        assert split_comparison_slug(longest + "b") is None
        assert split_comparison_slug("a-vs-b-vs-c-vs-d-vs-e") == ("a", "b", "c", "d", "e")  # the view refuses five


def _invalid(detail: str) -> dict:
    return {"type": "validation_error", "errors": [{"code": "invalid", "detail": detail, "attr": "pair"}]}


class TestCaching:
    """The same caching and invalidation as two tools: a vote on any of the tools renews the document."""

    def test_the_versions_of_a_comparison_are_the_catalog_and_each_tool(self) -> None:
        assert versions_for("/api/v1/comparisons/a-vs-b-vs-c/") == ["catalog", "tool:a", "tool:b", "tool:c"]
        assert versions_for("/api/v1/comparisons/a-vs-b-vs-c-vs-d/") == [
            "catalog",
            "tool:a",
            "tool:b",
            "tool:c",
            "tool:d",
        ]

    @pytest.fixture
    def redis_cache(self, settings, django_capture_on_commit_callbacks, tools) -> Iterator[None]:
        with redis_server() as redis:
            settings.CACHES = {"default": {"BACKEND": "compare_api.cache.RedisCache", "LOCATION": redis.url}}
            settings.DOCUMENT_CACHE = True
            with django_capture_on_commit_callbacks(execute=True):
                for tool in tools.values():  # committed: the catalog's version moves past them
                    tool.save()
            yield

    def test_a_vote_on_the_third_tool_renews_a_cached_read(
        self, api, redis_cache, django_capture_on_commit_callbacks, monkeypatch
    ) -> None:
        url = _url("alpha", "beta", "gamma")
        first = api.get(url)
        assert first.status_code == 200
        with monkeypatch.context() as patched:  # the fast path answers: no view, no query
            patched.setattr(APIView, "dispatch", lambda *a, **k: (_ for _ in ()).throw(AssertionError("view ran")))
            cached = api.get(url)
            assert (cached.content, cached["ETag"]) == (first.content, first["ETag"])
            assert api.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
        with django_capture_on_commit_callbacks(execute=True):
            voted = api.put("/api/v1/tools/gamma/vote/", {"verdict": "ship"}, format="json", **bearer(UserFactory()))
        assert voted.status_code in (200, 201)
        after = api.get(url)
        assert after.status_code == 200
        assert after["ETag"] != first["ETag"]
        assert [tool["community"]["total"] for tool in after.json()["tools"]] == [0, 0, 1]
        assert api.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200
