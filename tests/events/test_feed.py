"""The change feed: exact pages, cursors, filters, errors, pruning; and on PostgreSQL, real
writer threads committing out of order while a reader pages, with nothing skipped or repeated."""

import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from events.models import Event
from events.selectors import _SNAPSHOT_XMIN, Position, cursor_encode
from events.services import event_record
from events.tasks import events_prune
from tests.helpers import requires_postgres

pytestmark = pytest.mark.django_db(transaction=True)  # PostgreSQL shows only what every older transaction finished

URL = "/api/v1/changes/"


@pytest.fixture(autouse=True)
def high_limits(settings) -> None:
    """A follower polls many times here; the feed's rate limit is the reads' (tests/test_throttling.py)."""
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": dict.fromkeys(rates, "100000/min")}


def write(count: int, type: str = "tool.updated", *, settle: bool = True) -> list[Event]:
    """Events in one committed transaction, once the feed can show them (on PostgreSQL, when every
    older transaction on the server has finished: other sessions' tests may hold one a moment)."""
    with transaction.atomic():
        events = [event_record(type, {"id": n, "slug": f"tool-{n}", "changes": {}}) for n in range(count)]
    if settle and connection.vendor == "postgresql":
        deadline = time.monotonic() + 30
        while Event.objects.filter(txid__gte=_SNAPSHOT_XMIN).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    return events


def document(event: Event) -> dict:
    event.refresh_from_db()
    return {
        "id": event.pk,
        "type": event.type,
        "schema_version": 1,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.payload,
    }


def error(attr: str | None, code: str, detail: str, type: str = "validation_error") -> dict:
    return {"type": type, "errors": [{"code": code, "detail": detail, "attr": attr}]}


def test_an_empty_feed_gives_a_cursor_to_poll_with(api: APIClient) -> None:
    response = api.get(URL)
    assert response.status_code == 200
    assert response.json() == {"results": [], "next": cursor_encode(Position(0, 0)), "has_more": False}


def test_pages_oldest_first_and_a_poll_after_the_last_page(api: APIClient) -> None:
    events = write(3)
    first = api.get(URL, {"limit": 2}).json()
    assert first == {
        "results": [document(events[0]), document(events[1])],
        "next": cursor_encode(Position.of(events[1])),
        "has_more": True,
    }
    second = api.get(URL, {"limit": 2, "after": first["next"]}).json()
    last = cursor_encode(Position.of(events[2]))
    assert second == {"results": [document(events[2])], "next": last, "has_more": False}
    assert api.get(URL, {"after": second["next"]}).json() == {"results": [], "next": second["next"], "has_more": False}
    later = write(1)
    assert api.get(URL, {"after": second["next"]}).json()["results"] == [document(later[0])]


def test_types_filter(api: APIClient) -> None:
    write(1, "tool.updated")
    wanted = write(2, "review.published")
    body = api.get(URL, {"types": "review.published,reviewer.left"}).json()
    assert [event["id"] for event in body["results"]] == [event.pk for event in wanted]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"after": "not a cursor!"}, error("after", "invalid", "Not a cursor this feed gave out.")),
        ({"after": "LTEuMg"}, error("after", "invalid", "Not a cursor this feed gave out.")),  # "-1.2"
        ({"after": "MS4yLjM"}, error("after", "invalid", "Not a cursor this feed gave out.")),  # "1.2.3"
        ({"limit": "0"}, error("limit", "invalid", "A whole number from 1 to 500.")),
        ({"limit": "501"}, error("limit", "invalid", "A whole number from 1 to 500.")),
        ({"limit": "²"}, error("limit", "invalid", "A whole number from 1 to 500.")),
        ({"types": "tool.updated,vote.cast"}, error("types", "invalid", "Unknown event type(s): vote.cast.")),
    ],
)
def test_bad_parameters_are_a_400_in_the_one_error_shape(api: APIClient, params: dict, expected: dict) -> None:
    response = api.get(URL, params)
    assert (response.status_code, response.json()) == (400, expected)


def test_a_cursor_from_before_pruned_events_is_gone(api: APIClient, settings) -> None:
    settings.EVENT_RETENTION_DAYS = 30
    old, kept = write(2), write(1)
    old_ids = [event.pk for event in old]
    Event.objects.filter(pk__in=old_ids).update(created_at=timezone.now() - timedelta(days=30, minutes=1))
    Event.objects.filter(pk=kept[0].pk).update(created_at=timezone.now() - timedelta(days=29, hours=23))
    before_the_first = api.get(URL, {"limit": 1}).json()["next"]
    assert events_prune.call() == 2
    response = api.get(URL, {"after": before_the_first})
    assert response.status_code == 410
    assert response.json() == error(
        None,
        "cursor_expired",
        "Events after this cursor have been pruned (events are kept for EVENT_RETENTION_DAYS days). Restart from "
        "a snapshot: read the documents again, then follow the feed from its start (no `after`).",
        type="client_error",
    )
    assert [event["id"] for event in api.get(URL).json()["results"]] == [kept[0].pk]
    at_the_horizon = cursor_encode(Position.of(old[1]))
    assert api.get(URL, {"after": at_the_horizon}).json()["results"] == [document(kept[0])]


def test_pruning_never_takes_the_young(settings) -> None:
    settings.EVENT_RETENTION_DAYS = 30
    write(2)
    Event.objects.update(created_at=timezone.now() - timedelta(days=29, hours=23, minutes=59))
    assert events_prune.call() == 0
    assert Event.objects.count() == 2


def _page(api: APIClient, after: str | None) -> tuple[list[int], str, bool]:
    body = api.get(URL, {"limit": 7, **({"after": after} if after else {})}).json()
    return [event["id"] for event in body["results"]], body["next"], body["has_more"]


def _follow(api: APIClient, after: str, *, until: int) -> tuple[list[dict], str]:
    """Poll until `until` events came (other sessions on the server may hold the horizon back a moment)."""
    read: list[dict] = []
    deadline = time.monotonic() + 30
    while len(read) < until and time.monotonic() < deadline:
        body = api.get(URL, {"after": after}).json()
        read, after = read + body["results"], body["next"]
    return read, after


@requires_postgres
def test_a_transaction_that_started_first_and_commits_last_is_not_skipped(api: APIClient) -> None:
    first_wrote, second_committed = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with transaction.atomic():
            event_record("tool.updated", {"n": "slow"})  # the lower transaction id
            first_wrote.set()
            second_committed.wait(10)
        connections.close_all()

    slow = threading.Thread(target=slow_writer)
    slow.start()
    first_wrote.wait(10)
    (fast,) = write(1, settle=False)  # a higher transaction id, committed first
    # Until the slow one finishes, neither shows: showing the fast one would move readers past the slow one.
    seen = api.get(URL).json()
    second_committed.set()
    slow.join(10)
    assert seen["results"] == []
    read, _ = _follow(api, seen["next"], until=2)
    assert [event["data"] for event in read] == [{"n": "slow"}, fast.payload]


@requires_postgres
def test_writers_committing_out_of_order_while_a_reader_pages(api: APIClient) -> None:
    """8 writer threads, each committing transactions of 1-3 events after random pauses (so later
    transaction ids often commit first), while the main thread follows the feed; every event is read
    exactly once, in the feed's order."""
    stop = threading.Event()
    written: list[int] = []
    lock = threading.Lock()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not stop.is_set():
                with transaction.atomic():
                    ids = [event_record("tool.updated", {"writer": seed}).pk for _ in range(rng.randint(1, 3))]
                    time.sleep(rng.random() * 0.02)
                with lock:
                    written.extend(ids)
        finally:
            connections.close_all()

    writers = [threading.Thread(target=writer, args=(seed,)) for seed in range(8)]
    for thread in writers:
        thread.start()
    read: list[int] = []
    after = None
    deadline = time.monotonic() + 3
    try:
        while time.monotonic() < deadline:
            page, after, _ = _page(api, after)
            read += page
    finally:
        stop.set()
        for thread in writers:
            thread.join(10)
    drain_until = time.monotonic() + 30  # other sessions on the server may hold the horizon back for a moment
    while len(read) < len(written) and time.monotonic() < drain_until:
        page, after, _ = _page(api, after)
        read += page
    assert len(written) > 100
    assert len(read) == len(set(read)), "an event was read twice"
    assert sorted(read) == sorted(written), "an event was skipped"
    feed_order = list(Event.objects.order_by("txid", "id").values_list("id", flat=True))
    assert read == feed_order


def test_a_page_is_two_queries_however_many_events(api: APIClient, django_assert_num_queries) -> None:
    write(5)
    for limit in (3, 100):
        with django_assert_num_queries(2):  # the horizon, then the page
            assert len(api.get(URL, {"limit": limit}).json()["results"]) == min(limit, 5)
