"""Votes under real concurrency: threads on PostgreSQL, each released together by a barrier.

Every test ends by comparing the tool's counters with a recount of the vote rows.
"""

import random

import pytest

from reviews.models import Verdict
from tests.factories import ToolFactory, UserFactory
from tests.helpers import requires_postgres, run_together
from tools.models import Tool
from votes.models import Vote
from votes.services import vote_cast, vote_withdraw

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def _counters_and_recount(tool: Tool) -> tuple[tuple[int, int], tuple[int, int]]:
    tool.refresh_from_db()
    rows = Vote.objects.filter(tool=tool)
    return (
        (tool.community_ship_count, tool.community_skip_count),
        (rows.filter(verdict="ship").count(), rows.filter(verdict="skip").count()),
    )


def _errors(results: list) -> list[BaseException]:
    return [result for result in results if isinstance(result, BaseException)]


def test_fifty_distinct_voters_at_once() -> None:
    tool = ToolFactory()
    voters = [UserFactory() for _ in range(50)]
    results = run_together([lambda v=v: vote_cast(voter=v, tool=tool, verdict="ship") for v in voters])
    assert _errors(results) == []
    assert all(result.created for result in results)
    assert Vote.objects.filter(tool=tool).count() == 50
    assert _counters_and_recount(tool) == ((50, 0), (50, 0))


def test_one_voter_sending_forty_votes_at_once() -> None:
    tool = ToolFactory()
    voter = UserFactory()
    verdicts = [Verdict.SHIP, Verdict.SKIP] * 20
    results = run_together([lambda v=v: vote_cast(voter=voter, tool=tool, verdict=v) for v in verdicts])
    assert _errors(results) == []
    assert sum(result.created for result in results) == 1
    assert Vote.objects.filter(tool=tool, voter=voter).count() == 1
    counters, recount = _counters_and_recount(tool)
    assert counters == recount
    assert sum(counters) == 1


def test_waves_of_flips_and_withdrawals_keep_counters_exact() -> None:
    tools = [ToolFactory(), ToolFactory()]
    voters = [UserFactory() for _ in range(30)]
    rng = random.Random(20261127)
    first = [lambda v=v, t=t: vote_cast(voter=v, tool=t, verdict="ship") for v in voters for t in tools]
    assert _errors(run_together(first)) == []

    def second_wave_call(voter, tool):
        if rng.random() < 0.4:
            return lambda: vote_withdraw(voter=voter, tool=tool)
        verdict = rng.choice([Verdict.SHIP, Verdict.SKIP])
        return lambda: vote_cast(voter=voter, tool=tool, verdict=verdict)

    second = [second_wave_call(v, t) for v in voters for t in tools]
    # The same voters again at once: flips, repeats and withdrawals interleave with each other.
    third = [lambda v=v, t=t: vote_cast(voter=v, tool=t, verdict="skip") for v in voters[::3] for t in tools]
    assert _errors(run_together(second + third)) == []
    for tool in tools:
        counters, recount = _counters_and_recount(tool)
        assert counters == recount
        assert Vote.objects.filter(tool=tool).values("voter").distinct().count() == sum(recount)
