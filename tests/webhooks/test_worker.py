"""The delivery worker: one holder per endpoint, leases that outlive a dead worker, the real loop on threads."""

import threading
import time

import pytest
from django.db import connections, transaction

from events.services import event_record
from tests.helpers import requires_postgres
from webhooks.models import Delivery, Endpoint
from webhooks.worker import DeliveryWorker, endpoints_claim


@pytest.mark.django_db
def test_two_workers_never_hold_one_endpoint_until_its_lease_runs_out(endpoint_for, clock, settings) -> None:
    endpoints = [endpoint_for(f"https://hooks.example/{n}") for n in range(3)]
    idle = endpoint_for("https://hooks.example/idle", ["review.updated"])
    event_record("tool.updated", {"slug": "alpha"})
    first = endpoints_claim(worker_id="a", limit=2, exclude=set())
    second = endpoints_claim(worker_id="b", limit=10, exclude=set())
    assert sorted(first + second) == [e.pk for e in endpoints] and not set(first) & set(second)
    assert idle.pk not in first + second, "nothing due, nothing to hold"
    clock.advance(seconds=settings.WEBHOOK_LEASE_SECONDS - 1)
    assert endpoints_claim(worker_id="c", limit=10, exclude=set()) == []
    clock.advance(seconds=2)  # the holders died: their leases ran out
    assert sorted(endpoints_claim(worker_id="c", limit=10, exclude=set())) == [e.pk for e in endpoints]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_the_worker_loop_delivers_committed_events_and_stops_on_request(receiver, partner_key) -> None:
    for n in range(3):
        Endpoint.objects.create(key=partner_key[0], url=f"{receiver.url}/{n}")
    worker = DeliveryWorker(threads=4, poll_seconds=0.05)
    loop = threading.Thread(target=worker.run)
    loop.start()
    try:
        for n in range(5):
            with transaction.atomic():
                event_record("tool.updated", {"slug": f"tool-{n}"})
        deadline = time.monotonic() + 20
        while len(receiver.received) < 15 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stopping.set()
        loop.join(timeout=30)
        connections.close_all()
    assert not loop.is_alive()
    assert sorted(request["path"] for request in receiver.received) == sorted(
        f"/hooks/{n}" for n in range(3) for _ in range(5)
    )
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}
    assert set(Endpoint.objects.values_list("leased_by", flat=True)) == {""}, "every lease released"
