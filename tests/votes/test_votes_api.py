"""PUT / GET / DELETE /api/v1/tools/{slug}/vote/: a voter's own vote, and the counts it moves."""

import pytest
from django.core.cache import cache, caches
from django.db import connection

from compare_api.cache import RedisCache
from tests.factories import ToolFactory, UserFactory
from tests.helpers import bearer
from tools.models import Tool
from votes.models import Vote

pytestmark = pytest.mark.django_db

EMPTY = {"ship": 0, "skip": 0, "total": 0, "ship_rate": None, "ci95": None}


@pytest.fixture(autouse=True)
def fresh_throttles() -> None:
    cache.clear()


@pytest.fixture
def tool() -> Tool:
    return ToolFactory(slug="alpha")


def _url(slug: str) -> str:
    return f"/api/v1/tools/{slug}/vote/"


def _recount(tool: Tool) -> tuple[int, int]:
    return Vote.objects.filter(tool=tool, verdict="ship").count(), Vote.objects.filter(
        tool=tool, verdict="skip"
    ).count()


def _counters(tool: Tool) -> tuple[int, int]:
    tool.refresh_from_db()
    return tool.community_ship_count, tool.community_skip_count


class TestCasting:
    def test_a_new_vote_is_201_with_the_new_community_tally(self, api, tool: Tool) -> None:
        response = api.put(_url("alpha"), {"verdict": "ship"}, format="json", **bearer(UserFactory()))
        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"tool", "verdict", "counted", "created_at", "updated_at", "community"}
        assert (body["tool"], body["verdict"], body["counted"]) == ("alpha", "ship", True)
        assert body["community"] == {"ship": 1, "skip": 0, "total": 1, "ship_rate": 1.0, "ci95": [0.2065, 1.0]}

    def test_repeating_a_vote_is_200_and_leaves_one_row(self, api, tool: Tool) -> None:
        auth = bearer(UserFactory())
        api.put(_url("alpha"), {"verdict": "ship"}, format="json", **auth)
        response = api.put(_url("alpha"), {"verdict": "ship"}, format="json", **auth)
        assert response.status_code == 200
        assert response.json()["community"]["total"] == 1
        assert Vote.objects.count() == 1

    def test_changing_a_vote_moves_it_between_counters(self, api, tool: Tool, cast_votes) -> None:
        cast_votes(tool, ship=2)
        auth = bearer(UserFactory())
        api.put(_url("alpha"), {"verdict": "ship"}, format="json", **auth)
        response = api.put(_url("alpha"), {"verdict": "skip"}, format="json", **auth)
        assert response.status_code == 200
        assert response.json()["community"] == {
            "ship": 2,
            "skip": 1,
            "total": 3,
            "ship_rate": 0.6667,
            "ci95": [0.2077, 0.9385],
        }
        assert _counters(tool) == _recount(tool) == (2, 1)

    def test_get_returns_the_callers_own_vote(self, api, tool: Tool) -> None:
        auth = bearer(UserFactory())
        cast = api.put(_url("alpha"), {"verdict": "skip"}, format="json", **auth).json()
        response = api.get(_url("alpha"), **auth)
        assert response.status_code == 200
        assert response.json() == cast

    def test_get_without_a_vote_is_404(self, api, tool: Tool) -> None:
        response = api.get(_url("alpha"), **bearer(UserFactory()))
        assert response.status_code == 404
        assert response.json()["errors"][0]["detail"] == "You have not voted on this tool."

    def test_delete_withdraws_the_vote(self, api, tool: Tool) -> None:
        auth = bearer(UserFactory())
        api.put(_url("alpha"), {"verdict": "ship"}, format="json", **auth)
        response = api.delete(_url("alpha"), **auth)
        assert response.status_code == 204
        assert response.content == b""
        assert _counters(tool) == _recount(tool) == (0, 0)
        assert api.delete(_url("alpha"), **auth).status_code == 404

    def test_the_next_read_of_every_document_shows_the_vote(self, api, tool: Tool) -> None:
        ToolFactory(slug="beta")
        api.put(_url("alpha"), {"verdict": "ship"}, format="json", **bearer(UserFactory()))
        comparison = api.get("/api/v1/comparisons/alpha-vs-beta/").json()
        detail = api.get("/api/v1/tools/alpha/").json()
        listed = api.get("/api/v1/tools/").json()["results"][0]
        expected = {"ship": 1, "skip": 0, "total": 1, "ship_rate": 1.0, "ci95": [0.2065, 1.0]}
        assert comparison["tools"][0]["community"] == detail["community"] == listed["community"] == expected
        assert comparison["tools"][1]["community"] == EMPTY

    @pytest.mark.parametrize(
        ("verdicts", "postgresql", "elsewhere", "elsewhere_uncounted"),
        [
            # PostgreSQL: the token, then the whole vote in one statement (voter check included);
            # with Redis, once it holds the token's owner (a vote before), the statement alone.
            # Elsewhere: the token, the voter's row, the tool's row lock (with the counters), the
            # vote lookup, the insert or update, the counter update (none for an uncounted vote),
            # and a savepoint pair (tests run in a transaction).
            (["ship"], 2, 8, 7),
            (["ship", "skip"], 2, 8, 7),  # a change
            (["ship", "ship"], 2, 6, 6),  # a repeat writes nothing
        ],
    )
    @pytest.mark.parametrize("verified", [True, False])
    def test_a_write_costs_a_fixed_number_of_queries(
        self,
        api,
        tool: Tool,
        django_assert_num_queries,
        verdicts: list[str],
        postgresql: int,
        elsewhere: int,
        elsewhere_uncounted: int,
        verified: bool,
    ) -> None:
        auth = bearer(UserFactory(verified=verified))
        *earlier, last = verdicts
        for verdict in earlier:
            api.put(_url("alpha"), {"verdict": verdict}, format="json", **auth)
        owner_known = bool(earlier) and isinstance(caches["default"], RedisCache)
        if connection.vendor == "postgresql":
            expected = postgresql - owner_known
        else:
            expected = elsewhere if verified else elsewhere_uncounted
        with django_assert_num_queries(expected):
            response = api.put(_url("alpha"), {"verdict": last}, format="json", **auth)
        assert response.status_code in (200, 201)
        assert response.json()["counted"] is verified
        assert _counters(tool) == ((1, 0) if last == "ship" else (0, 1)) if verified else (0, 0)


class TestRefusals:
    def test_anonymous_is_401_with_a_bearer_challenge(self, api, tool: Tool) -> None:
        for method in ("get", "put", "delete"):
            response = getattr(api, method)(_url("alpha"), {"verdict": "ship"}, format="json")
            assert response.status_code == 401
            assert response["WWW-Authenticate"] == "Bearer"
            assert response.json()["errors"][0]["code"] == "not_authenticated"
        assert Vote.objects.count() == 0

    @pytest.mark.parametrize("slug", ["nope", "hidden", "a" * 5000, "alpha%00"])
    def test_unknown_or_unpublished_tools_are_404(self, api, tool: Tool, slug: str) -> None:
        ToolFactory(slug="hidden", is_published=False)
        response = api.put(_url(slug), {"verdict": "ship"}, format="json", **bearer(UserFactory()))
        assert response.status_code == 404
        assert Vote.objects.count() == 0

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"verdict": "maybe"}, "invalid_choice"),
            ({"verdict": None}, "null"),
            ({}, "required"),
            ({"verdict": ["ship"]}, "invalid_choice"),
        ],
    )
    def test_a_bad_verdict_is_400_naming_the_field(self, api, tool: Tool, body: dict, code: str) -> None:
        response = api.put(_url("alpha"), body, format="json", **bearer(UserFactory()))
        assert response.status_code == 400
        assert response.json()["type"] == "validation_error"
        assert response.json()["errors"][0]["attr"] == "verdict"
        assert response.json()["errors"][0]["code"] == code
        assert _counters(tool) == (0, 0)

    def test_malformed_and_non_json_bodies(self, api, tool: Tool) -> None:
        auth = bearer(UserFactory())
        malformed = api.generic("PUT", _url("alpha"), b'{"verdict": ', content_type="application/json", **auth)
        assert (malformed.status_code, malformed.json()["errors"][0]["code"]) == (400, "parse_error")
        form = api.generic(
            "PUT", _url("alpha"), b"verdict=ship", content_type="application/x-www-form-urlencoded", **auth
        )
        assert (form.status_code, form.json()["errors"][0]["code"]) == (415, "unsupported_media_type")
        array = api.put(_url("alpha"), [{"verdict": "ship"}], format="json", **auth)
        assert array.status_code == 400
        assert Vote.objects.count() == 0

    def test_fields_other_than_verdict_are_ignored(self, api, tool: Tool) -> None:
        victim = UserFactory()
        response = api.put(
            _url("alpha"),
            {
                "verdict": "ship",
                "voter": victim.pk,
                "tool": "other",
                "community": {"ship": 1000},
                "community_ship_count": 1000,
            },
            format="json",
            **bearer(UserFactory()),
        )
        assert response.status_code == 201
        assert response.json()["community"]["ship"] == 1
        assert not Vote.objects.filter(voter=victim).exists()
        assert _counters(tool) == (1, 0)


class TestOnlyYourOwnVote:
    def test_voter_a_cannot_read_change_or_delete_voter_bs_vote(self, api, tool: Tool) -> None:
        voter_a, voter_b = UserFactory(), UserFactory()
        api.put(_url("alpha"), {"verdict": "ship"}, format="json", **bearer(voter_b))
        b_vote = Vote.objects.get(voter=voter_b)
        as_a = bearer(voter_a)
        assert api.get(_url("alpha"), **as_a).status_code == 404
        assert api.delete(_url("alpha"), **as_a).status_code == 404
        assert (
            api.put(_url("alpha"), {"verdict": "skip", "voter": voter_b.pk}, format="json", **as_a).status_code == 201
        )
        b_vote_after = Vote.objects.get(voter=voter_b)
        assert (b_vote_after.pk, b_vote_after.verdict, b_vote_after.updated_at) == (
            b_vote.pk,
            "ship",
            b_vote.updated_at,
        )
        assert _counters(tool) == _recount(tool) == (1, 1)


class TestThrottle:
    def test_vote_writes_are_limited_per_voter(self, api, tool: Tool, settings) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "votes": "3/min"},
        }
        auth = bearer(UserFactory())
        answers = [api.put(_url("alpha"), {"verdict": v}, format="json", **auth) for v in ("ship", "skip", "ship")]
        assert [a.status_code for a in answers] == [201, 200, 200]
        assert [a["RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
        assert {a["RateLimit-Limit"] for a in answers} == {"3"}
        refused = api.put(_url("alpha"), {"verdict": "skip"}, format="json", **auth)
        assert refused.status_code == 429
        assert 1 <= int(refused["Retry-After"]) <= 60
        assert refused.json()["errors"][0]["code"] == "throttled"
        assert Vote.objects.get().verdict == "ship"
        # Reading your vote is not a write, and another voter has their own allowance.
        assert api.get(_url("alpha"), **auth).status_code == 200
        assert api.put(_url("alpha"), {"verdict": "skip"}, format="json", **bearer(UserFactory())).status_code == 201
