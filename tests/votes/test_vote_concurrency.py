"""Votes under real concurrency: threads on PostgreSQL, each released together by a barrier.

Every test ends by comparing the tool's counters with a recount of the vote rows.
"""

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest
from django.db import connection, connections, transaction

from compare_api.stats import Tally
from tests.factories import ToolFactory, UserFactory
from tests.helpers import requires_postgres, run_together
from tools.models import Tool, Verdict
from votes.models import Vote
from votes.services import vote_cast, vote_withdraw

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

T = TypeVar("T")


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
    results = run_together([lambda v=v: vote_cast(voter=v, slug=tool.slug, verdict="ship") for v in voters])
    assert _errors(results) == []
    assert all(result.created for result in results)
    assert Vote.objects.filter(tool=tool).count() == 50
    assert _counters_and_recount(tool) == ((50, 0), (50, 0))


def test_one_voter_sending_forty_votes_at_once() -> None:
    tool = ToolFactory()
    voter = UserFactory()
    verdicts = [Verdict.SHIP, Verdict.SKIP] * 20
    results = run_together([lambda v=v: vote_cast(voter=voter, slug=tool.slug, verdict=v) for v in verdicts])
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
    first = [lambda v=v, t=t: vote_cast(voter=v, slug=t.slug, verdict="ship") for v in voters for t in tools]
    assert _errors(run_together(first)) == []

    def second_wave_call(voter, tool):
        if rng.random() < 0.4:
            return lambda: vote_withdraw(voter=voter, slug=tool.slug)
        verdict = rng.choice([Verdict.SHIP, Verdict.SKIP])
        return lambda: vote_cast(voter=voter, slug=tool.slug, verdict=verdict)

    second = [second_wave_call(v, t) for v in voters for t in tools]
    # The same voters again at once: flips, repeats and withdrawals interleave with each other.
    third = [lambda v=v, t=t: vote_cast(voter=v, slug=t.slug, verdict="skip") for v in voters[::3] for t in tools]
    assert _errors(run_together(second + third)) == []
    for tool in tools:
        counters, recount = _counters_and_recount(tool)
        assert counters == recount
        assert Vote.objects.filter(tool=tool).values("voter").distinct().count() == sum(recount)


def _while_holding_the_tool_row(tool: Tool, hold: Callable[[], object], then: Callable[[], T]) -> T:
    """Run `hold` in a transaction that keeps the tool row locked while `then` starts in
    another thread and has to wait for it; commit; return what `then` returned."""
    holding, started = threading.Event(), threading.Event()
    finished: list = []

    def waiter() -> None:
        holding.wait()
        started.set()
        try:
            finished.append(then())
        except BaseException as error:
            finished.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=waiter)
    thread.start()
    with transaction.atomic():
        Tool.objects.select_for_update().get(pk=tool.pk)
        hold()
        holding.set()
        started.wait()
        time.sleep(0.3)  # `then` is now blocked on the row lock
    thread.join(timeout=30)
    assert not thread.is_alive()
    (result,) = finished
    if isinstance(result, BaseException):
        raise result
    return result


def test_a_change_waiting_for_the_tool_row_counts_from_the_vote_committed_meanwhile() -> None:
    # The change's statement starts before the first vote commits: its snapshot sees
    # neither the vote nor the counters the first vote moved.
    tool, voter = ToolFactory(), UserFactory()
    result = _while_holding_the_tool_row(
        tool,
        lambda: vote_cast(voter=voter, slug=tool.slug, verdict="skip"),
        lambda: vote_cast(voter=voter, slug=tool.slug, verdict="ship"),
    )
    assert (result.created, result.vote.verdict, result.community) == (False, "ship", Tally(1, 0))
    assert _counters_and_recount(tool) == ((1, 0), (1, 0))


def test_a_repeat_waiting_for_the_tool_row_answers_with_the_vote_committed_meanwhile() -> None:
    tool, voter = ToolFactory(), UserFactory()
    result = _while_holding_the_tool_row(
        tool,
        lambda: vote_cast(voter=voter, slug=tool.slug, verdict="ship"),
        lambda: vote_cast(voter=voter, slug=tool.slug, verdict="ship"),
    )
    vote = Vote.objects.get(tool=tool, voter=voter)
    assert (result.created, result.vote.pk, result.vote.created_at) == (False, vote.pk, vote.created_at)
    assert result.community == Tally(1, 0)
    assert _counters_and_recount(tool) == ((1, 0), (1, 0))


def test_a_vote_waiting_for_the_tool_row_keeps_an_edit_committed_meanwhile() -> None:
    tool, voter = ToolFactory(name="Before"), UserFactory()

    def edit() -> None:
        Tool.objects.filter(pk=tool.pk).update(name="After")

    _while_holding_the_tool_row(tool, edit, lambda: vote_cast(voter=voter, slug=tool.slug, verdict="ship"))
    tool.refresh_from_db()
    assert tool.name == "After"
    assert _counters_and_recount(tool) == ((1, 0), (1, 0))


@pytest.mark.parametrize("mode", ["off", "on"])
def test_the_vote_statement_sets_its_own_commit_mode(settings, mode: str) -> None:
    settings.VOTE_SYNCHRONOUS_COMMIT = mode
    tool, voter = ToolFactory(), UserFactory()
    with transaction.atomic():  # to look at the setting inside the vote's transaction
        vote_cast(voter=voter, slug=tool.slug, verdict="ship")
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == (mode,)
    with connection.cursor() as cursor:  # and only there
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone() == ("on",)
