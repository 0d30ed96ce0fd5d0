"""A voter's standing (verified, active, deleted) changing while votes are cast: threads on PostgreSQL.

The counters must always equal a recount of the votes that count, and a vote cast while
its voter is being verified or deactivated must end up counted by the voter's final standing.
"""

import random
import threading
import time
from collections.abc import Callable
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import IntegrityError, connections, transaction

from tests.factories import ToolFactory, UserFactory
from tests.helpers import requires_postgres, run_together
from tools.models import Tool
from votes import services
from votes.models import Vote, Voter

User = get_user_model()

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


def _counters(tool: Tool) -> tuple[int, int]:
    tool.refresh_from_db()
    return tool.community_ship_count, tool.community_skip_count


def _token(user) -> str:
    return services.verification_token(voter=Voter.objects.get(user=user))


def _recount_output() -> str:
    out = StringIO()
    call_command("recount_votes", "--no-progress", stdout=out)  # raises CommandError on any drift
    return out.getvalue()


def _while_holding(hold: Callable[[], object], then: Callable[[], object]) -> object:
    """Run `hold` in a transaction kept open while `then` starts in another thread and has to
    wait for its locks; commit; return what `then` returned."""
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
        hold()
        holding.set()
        started.wait()
        time.sleep(0.3)  # `then` is now blocked on a row lock this transaction holds
    thread.join(timeout=30)
    assert not thread.is_alive()
    (result,) = finished
    if isinstance(result, BaseException):
        raise result
    return result


class TestOneVoterRacingItsOwnStanding:
    def test_a_vote_waiting_on_a_verification_counts(self) -> None:
        # The vote's statement starts before the verification commits: its snapshot still
        # sees the voter unverified; it must count from the row it waited for.
        tool, voter = ToolFactory(), UserFactory(verified=False)
        token = _token(voter)
        result = _while_holding(
            lambda: services.voter_verify(token=token),
            lambda: services.vote_cast(voter=voter, slug=tool.slug, verdict="ship"),
        )
        assert (result.created, result.vote.counted) == (True, True)
        assert _counters(tool) == (1, 0)

    def test_a_verification_waiting_on_a_vote_counts_it(self) -> None:
        tool, voter = ToolFactory(), UserFactory(verified=False)
        token = _token(voter)
        assert _while_holding(
            lambda: services.vote_cast(voter=voter, slug=tool.slug, verdict="ship"),
            lambda: services.voter_verify(token=token),
        )
        assert Vote.objects.get(voter=voter).counted
        assert _counters(tool) == (1, 0)

    def test_a_vote_waiting_on_a_deactivation_does_not_count(self, cast_votes) -> None:
        tool, voter = ToolFactory(), UserFactory()
        cast_votes(tool, ship=1)
        result = _while_holding(
            lambda: services.voter_set_active(user=voter, active=False),
            lambda: services.vote_cast(voter=voter, slug=tool.slug, verdict="skip"),
        )
        assert result.vote.counted is False
        assert _counters(tool) == (1, 0)

    def test_a_deactivation_waiting_on_a_vote_takes_it_out(self) -> None:
        tool, voter = ToolFactory(), UserFactory()
        _while_holding(
            lambda: services.vote_cast(voter=voter, slug=tool.slug, verdict="ship"),
            lambda: services.voter_set_active(user=voter, active=False),
        )
        assert not Vote.objects.get(voter=voter).counted
        assert _counters(tool) == (0, 0)


def test_casting_verifying_deactivating_deleting_and_moderating_at_once_keep_counters_exact(settings) -> None:
    """Every kind of write at once, over three tools: no error, no deadlock, no drift.

    The vote's short lock wait (VOTE_LOCK_TIMEOUT) and its per-tool cooldown guard the site
    against a row held for seconds; here every write waits its turn, as counters are the point."""
    settings.VOTE_LOCK_TIMEOUT, settings.VOTE_BUSY_SECONDS = "10s", 0
    rng = random.Random(20261201)
    tools = [ToolFactory() for _ in range(3)]
    verified = [UserFactory() for _ in range(16)]
    unverified = [UserFactory(verified=False) for _ in range(16)]
    everyone = verified + unverified
    # A first wave so there is something to flip, delete and moderate.
    first = [
        lambda v=v, t=t: services.vote_cast(voter=v, slug=t.slug, verdict=rng.choice(["ship", "skip"]))
        for v in everyone
        for t in tools
        if rng.random() < 0.7
    ]
    assert [r for r in run_together(first) if isinstance(r, BaseException)] == []

    tokens = {v.pk: _token(v) for v in unverified}
    doomed = set(rng.sample([v.pk for v in everyone], 4))
    calls: list[Callable[[], object]] = []
    for voter in everyone:
        for tool in tools:
            verdict = rng.choice(["ship", "skip"])
            calls.append(lambda v=voter, t=tool, d=verdict: services.vote_cast(voter=v, slug=t.slug, verdict=d))
            if rng.random() < 0.2:
                calls.append(lambda v=voter, t=tool: services.vote_withdraw(voter=v, slug=t.slug))
        if voter.pk in tokens and rng.random() < 0.6:
            calls.append(lambda token=tokens[voter.pk]: services.voter_verify(token=token))
        if rng.random() < 0.3:
            calls.append(lambda v=voter: services.voter_set_active(user=v, active=False))
            calls.append(lambda v=voter: services.voter_set_active(user=v, active=True))
        if voter.pk in doomed:  # a request of its own, with its own copy of the account
            calls.append(lambda pk=voter.pk: services.voter_delete(voter=User.objects.get(pk=pk)))
    vote_ids = list(Vote.objects.values_list("pk", flat=True))
    bursts = [rng.sample(vote_ids, 10) for _ in range(4)]  # staff removing bursts: some votes of some tools
    calls += [lambda ids=ids: services.votes_remove(votes=list(Vote.objects.filter(pk__in=ids))) for ids in bursts]
    rng.shuffle(calls)
    results = run_together(calls)

    def acceptable(error: BaseException) -> bool:
        # A vote by an account deleted while the vote waited has no voter left to belong to.
        return isinstance(error, IntegrityError) and "votes_vote_voter_id" in str(error)

    assert [r for r in results if isinstance(r, BaseException) and not acceptable(r)] == []
    assert "all 3 tools match their vote rows" in _recount_output()
    for voter in Voter.objects.select_related("user"):
        assert voter.votes_count == (voter.user.is_active and voter.email_verified_at is not None)
    assert not Vote.objects.filter(voter_id__in=doomed).exists()
    assert sum(sum(_counters(tool)) for tool in tools) == Vote.objects.filter(counted=True).count() > 0
