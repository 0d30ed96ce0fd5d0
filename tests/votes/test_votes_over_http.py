"""100 voters at once against the production server (gunicorn, 4 workers) on PostgreSQL."""

import json

import pytest

from tests.factories import ToolFactory, UserFactory
from tests.helpers import bearer, gunicorn_server, http, requires_postgres, run_together
from votes.models import Vote

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def test_a_hundred_concurrent_votes_all_count() -> None:
    alpha, _ = ToolFactory(slug="alpha"), ToolFactory(slug="beta")
    tokens = [bearer(UserFactory())["HTTP_AUTHORIZATION"] for _ in range(100)]
    with gunicorn_server(workers=4) as base_url:
        url = f"{base_url}/api/v1/tools/alpha/vote/"
        verdicts = ["ship"] * 70 + ["skip"] * 30
        results = run_together(
            [
                lambda t=t, v=v: http("PUT", url, {"verdict": v}, {"Authorization": t})
                for t, v in zip(tokens, verdicts, strict=True)
            ]
        )
        status, comparison = http("GET", f"{base_url}/api/v1/comparisons/alpha-vs-beta/")
    statuses = [result[0] for result in results]
    assert statuses == [201] * 100
    assert Vote.objects.filter(tool=alpha).count() == 100
    alpha.refresh_from_db()
    assert (alpha.community_ship_count, alpha.community_skip_count) == (70, 30)
    assert status == 200
    community = json.loads(comparison["body"])["tools"][0]["community"]
    assert community == {"ship": 70, "skip": 30, "total": 100, "ship_rate": 0.7, "ci95": [0.6042, 0.7811]}
