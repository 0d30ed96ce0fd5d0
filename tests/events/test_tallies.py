"""Coalesced tally events: a periodic comparison of every published tool's counters with the
tallies last emitted, never a cost on the vote path."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from compare_api.stats import Tally
from events.models import Event, TallySnapshot
from events.tasks import tallies_emit
from reviews.models import Reviewer
from tests.factories import ReviewFactory, ToolFactory
from tools.models import Tool
from votes.models import Vote
from votes.services import votes_remove

pytestmark = pytest.mark.django_db


def tally_events() -> list[dict]:
    events = [event.payload for event in Event.objects.filter(type="tool.tallies_changed").order_by("id")]
    Event.objects.all().delete()
    return events


def expected(tool: Tool, panel: tuple[int, int], community: tuple[int, int]) -> dict:
    tallies = {"panel": Tally(*panel).as_dict(), "community": Tally(*community).as_dict()}
    return {"id": tool.pk, "slug": tool.slug, **tallies}


@pytest.fixture
def tools(cast_votes) -> list[Tool]:
    first, second = ToolFactory(slug="first"), ToolFactory(slug="second")
    ToolFactory(slug="hidden", is_published=False)
    ReviewFactory(tool=first, verdict="ship")
    cast_votes(second, ship=2, skip=1)
    return [first, second]


def test_the_first_run_tells_every_published_tool_then_only_what_moved(tools, cast_votes, run_periodic) -> None:
    first, second = tools
    now = timezone.now()
    run_periodic(now=now)
    assert tally_events() == [expected(first, (1, 0), (0, 0)), expected(second, (0, 0), (2, 1))]
    run_periodic(now=now + timedelta(seconds=5))
    assert tally_events() == []
    cast_votes(second, ship=30, skip=7)
    assert run_periodic(now=now + timedelta(seconds=9)) == []  # not due yet: the burst waits
    run_periodic(now=now + timedelta(seconds=10))
    assert tally_events() == [expected(second, (0, 0), (32, 8))]  # one event for 37 votes


def test_todays_history_row_follows_the_tallies(tools, cast_votes) -> None:
    first, second = tools
    tallies_emit.call()
    cast_votes(second, ship=4)
    tallies_emit.call()
    rows = TallySnapshot.objects.filter(date=timezone.localdate()).order_by("tool_id")
    assert [(row.tool_id, row.panel_ship, row.community_ship, row.community_skip) for row in rows] == [
        (first.pk, 1, 0, 0),
        (second.pk, 0, 6, 1),
    ]


def test_moderation_and_the_panel_move_tallies_too(tools, run_periodic) -> None:
    first, second = tools
    tallies_emit.call()
    tally_events()
    votes_remove(votes=list(Vote.objects.filter(tool=second, verdict="skip")))
    Reviewer.objects.get().delete()
    assert tallies_emit.call() == 2
    assert tally_events() == [expected(first, (0, 0), (0, 0)), expected(second, (0, 0), (2, 0))]


def test_the_job_takes_one_query_to_find_what_moved_however_many_tools(tools, django_assert_num_queries) -> None:
    ToolFactory.create_batch(5)
    tallies_emit.call()
    # Its savepoint (inside the test's transaction) and release, the advisory lock (PostgreSQL),
    # and the one comparison; nothing moved, so nothing written.
    with django_assert_num_queries(4 if connection.vendor == "postgresql" else 3):
        assert tallies_emit.call() == 0
