"""Leaderboards ranked by interval overlap, on boards small enough to rank by hand."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from compare_api.stats import RANKING_METHOD
from tests.factories import CategoryFactory, ReviewerFactory, ReviewFactory, ToolFactory, UserFactory
from tests.helpers import bearer

pytestmark = pytest.mark.django_db


def tool_with_counts(slug: str, category, ship: int = 0, skip: int = 0, **fields):
    """A published tool with these community counters (set at creation, as the vote service would leave them)."""
    return ToolFactory(
        slug=slug, name=slug.title(), category=category, community_ship_count=ship, community_skip_count=skip, **fields
    )


@pytest.fixture
def editors():
    """A category of seven tools whose community intervals (Wilson 95%) are, by hand:
    alpha 90/10 [0.8256, 0.9448], bravo 85/15 [0.7672, 0.9069], foxtrot 10/0 [0.7225, 1.0]
    (all three overlap: rank 1), charlie 50/50 [0.4038, 0.5962] and golf 20/20 [0.352, 0.648]
    (below all three, overlapping each other: rank 4), delta 3/2 and echo 0/0 under the minimum."""
    category = CategoryFactory(slug="editors", name="Editors")
    tools = {
        slug: tool_with_counts(slug, category, ship, skip)
        for slug, ship, skip in [
            ("alpha", 90, 10),
            ("bravo", 85, 15),
            ("charlie", 50, 50),
            ("delta", 3, 2),
            ("echo", 0, 0),
            ("foxtrot", 10, 0),
            ("golf", 20, 20),
        ]
    }
    tool_with_counts("hidden", category, 99, 1, is_published=False)
    tool_with_counts("elsewhere", CategoryFactory(slug="other", name="Other"), 5, 5)
    return tools


def _entry(api, slug, rank, status, tied_with, tied_count, ship, skip, ci95, rate):
    return {
        "rank": rank,
        "status": status,
        "tied_with": tied_with,
        "tied_count": tied_count,
        "tally": {"ship": ship, "skip": skip, "total": ship + skip, "ship_rate": rate, "ci95": ci95},
        "tool": api.get(f"/api/v1/tools/{slug}/").json(),
    }


def test_the_community_board_shares_ranks_among_tools_it_cannot_tell_apart(api, editors) -> None:
    response = api.get("/api/v1/leaderboards/editors/")

    assert response.status_code == 200
    body = response.json()
    meta = body.pop("meta")
    assert meta.pop("as_of").endswith("Z")
    assert meta == {
        "metric": "community",
        "method": "wilson-overlap-v1",
        "min_total": 10,
        "category": {"slug": "editors", "name": "Editors"},
        "ranked_count": 5,
        "unranked_count": 2,
        "note": (
            "Ranked: tools with at least 10 counted votes. A tool's rank is 1 + the number of tools whose 95% "
            "interval lies entirely above its own, so tools that cannot be told apart share a rank; within a "
            "rank, the higher lower bound is listed first."
        ),
    }
    assert body == {
        "count": 7,
        "next": None,
        "previous": None,
        "results": [
            _entry(api, "alpha", 1, "ranked", ["bravo", "foxtrot"], 2, 90, 10, [0.8256, 0.9448], 0.9),
            _entry(api, "bravo", 1, "ranked", ["alpha", "foxtrot"], 2, 85, 15, [0.7672, 0.9069], 0.85),
            _entry(api, "foxtrot", 1, "ranked", ["bravo", "alpha"], 2, 10, 0, [0.7225, 1.0], 1.0),
            _entry(api, "charlie", 4, "ranked", ["golf"], 1, 50, 50, [0.4038, 0.5962], 0.5),
            _entry(api, "golf", 4, "ranked", ["charlie"], 1, 20, 20, [0.352, 0.648], 0.5),
            # Listed apart, never ranked at 0: the nearest to the minimum first.
            _entry(api, "delta", None, "not_enough_votes", [], 0, 3, 2, [0.2307, 0.8824], 0.6),
            _entry(api, "echo", None, "not_enough_votes", [], 0, 0, 0, None, None),
        ],
    }


def test_the_minimum_is_a_setting_and_the_board_says_what_it_was(api, editors, settings) -> None:
    settings.LEADERBOARD_MIN_TOTAL = 5

    body = api.get("/api/v1/leaderboards/editors/").json()

    assert body["meta"]["min_total"] == 5
    ranked = {entry["tool"]["slug"]: entry["rank"] for entry in body["results"]}
    # delta's [0.2307, 0.8824] overlaps everyone's: nobody lies above it, it lies above nobody.
    assert ranked == {"alpha": 1, "bravo": 1, "foxtrot": 1, "delta": 1, "charlie": 4, "golf": 4, "echo": None}
    assert body["meta"]["ranked_count"] == 6


def test_the_overall_board_ranks_every_publishedtool_with_counts(api, editors) -> None:
    body = api.get("/api/v1/leaderboards/").json()

    assert body["meta"]["category"] is None
    assert body["count"] == 8
    assert "hidden" not in [entry["tool"]["slug"] for entry in body["results"]]
    # elsewhere's 5/5 is [0.2366, 0.7634]: below alpha's and bravo's lower bounds, not foxtrot's, so 3rd;
    # no tool is 2nd (ranks count the tools surely above, as LMArena's do).
    assert [(entry["tool"]["slug"], entry["rank"]) for entry in body["results"]] == [
        ("alpha", 1),
        ("bravo", 1),
        ("foxtrot", 1),
        ("elsewhere", 3),
        ("charlie", 4),
        ("golf", 4),
        ("delta", None),
        ("echo", None),
    ]


@pytest.fixture
def panel_board():
    """Four reviewers: alpha 4/4 ship [0.5101, 1.0], bravo 3/4 [0.3006, 0.9544], delta 2/4 [0.15, 0.85],
    charlie 0/4 [0.0, 0.4899] (below alpha only), echo not reviewed."""
    category = CategoryFactory(slug="editors", name="Editors")
    reviewers = [ReviewerFactory() for _ in range(4)]
    tools = {slug: tool_with_counts(slug, category) for slug in ("alpha", "bravo", "charlie", "delta", "echo")}
    for slug, ships in (("alpha", 4), ("bravo", 3), ("charlie", 0), ("delta", 2)):
        for index, reviewer in enumerate(reviewers):
            ReviewFactory(reviewer=reviewer, tool=tools[slug], verdict="ship" if index < ships else "skip")
    return tools


def test_the_panel_board_ties_honestly(api, panel_board) -> None:
    body = api.get("/api/v1/leaderboards/editors/?metric=panel").json()

    meta = body["meta"]
    assert (meta["metric"], meta["min_total"], meta["ranked_count"], meta["unranked_count"]) == ("panel", 1, 4, 1)
    assert meta["note"] == (
        "The panel gives a tool at most one verdict per reviewer, so its intervals are wide and most tools share "
        "a rank: ranks separate only tools whose 95% intervals do not overlap, never by the raw ship rate. Even "
        "4 ship of 4 is only known to lie in [0.5101, 1.0]. Within a rank, the higher lower bound is listed first."
    )
    assert [
        (entry["tool"]["slug"], entry["rank"], entry["status"], entry["tied_with"], entry["tied_count"])
        for entry in body["results"]
    ] == [
        ("alpha", 1, "ranked", ["bravo", "delta"], 2),
        ("bravo", 1, "ranked", ["alpha", "delta", "charlie"], 3),
        ("delta", 1, "ranked", ["bravo", "charlie", "alpha"], 3),
        ("charlie", 2, "ranked", ["delta", "bravo"], 2),
        ("echo", None, "not_reviewed", [], 0),
    ]
    assert body["results"][0]["tally"] == {
        "ship": 4,
        "skip": 0,
        "total": 4,
        "ship_rate": 1.0,
        "ci95": [0.5101, 1.0],
    }


def test_boards_page_like_every_list(api, editors) -> None:
    first = api.get("/api/v1/leaderboards/editors/?page_size=4").json()
    second = api.get("/api/v1/leaderboards/editors/?page_size=4&page=2").json()

    assert [entry["tool"]["slug"] for entry in first["results"]] == ["alpha", "bravo", "foxtrot", "charlie"]
    assert first["next"] == "http://testserver/api/v1/leaderboards/editors/?page=2&page_size=4"
    # Ranks and ties are the whole board's: golf's tie, charlie, is on the page before.
    assert [(entry["tool"]["slug"], entry["rank"], entry["tied_with"]) for entry in second["results"]] == [
        ("golf", 4, ["charlie"]),
        ("delta", None, []),
        ("echo", None, []),
    ]
    assert second["meta"] == {**first["meta"], "as_of": second["meta"]["as_of"]}


@pytest.mark.parametrize(
    ("url", "status", "body"),
    [
        (
            "/api/v1/leaderboards/?metric=votes",
            400,
            {
                "type": "validation_error",
                "errors": [{"code": "invalid", "detail": "Use one of: community, panel.", "attr": "metric"}],
            },
        ),
        (
            "/api/v1/leaderboards/nope/",
            404,
            {
                "type": "client_error",
                "errors": [{"code": "not_found", "detail": "No category has the slug 'nope'.", "attr": None}],
            },
        ),
        (
            "/api/v1/leaderboards/editors/?page=9",
            404,
            {"type": "client_error", "errors": [{"code": "not_found", "detail": "Invalid page.", "attr": None}]},
        ),
    ],
)
def test_bad_input_is_a_clear_json_error(api, editors, url, status, body) -> None:
    response = api.get(url)

    assert (response.status_code, response.json()) == (status, body)


def test_a_board_is_a_fixed_number_of_queries(api, editors) -> None:
    for url, queries in (("/api/v1/leaderboards/editors/", 3), ("/api/v1/leaderboards/?metric=panel", 2)):
        with CaptureQueriesContext(connection) as captured:
            assert api.get(url).status_code == 200
        assert len(captured) == queries, url
    for slug in ("india", "juliet", "kilo"):
        tool_with_counts(slug, editors["alpha"].category, 30, 3)
    with CaptureQueriesContext(connection) as captured:
        api.get("/api/v1/leaderboards/editors/")
    assert len(captured) == 3


@pytest.mark.django_db(transaction=True)
def test_a_vote_moves_the_cached_board(api, settings, django_assert_num_queries) -> None:
    settings.DOCUMENT_CACHE = True
    category = CategoryFactory(slug="editors", name="Editors")
    tool = tool_with_counts("alpha", category, 9, 0)
    url = "/api/v1/leaderboards/editors/"
    before = api.get(url)
    assert before.json()["results"][0]["status"] == "not_enough_votes"
    with django_assert_num_queries(0):
        assert api.get(url, HTTP_IF_NONE_MATCH=before["ETag"]).status_code == 304

    api.put(f"/api/v1/tools/{tool.slug}/vote/", {"verdict": "ship"}, format="json", **bearer(UserFactory()))

    after = api.get(url, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after.json()["results"][0]["rank"] == 1
    assert after.json()["meta"]["method"] == RANKING_METHOD
