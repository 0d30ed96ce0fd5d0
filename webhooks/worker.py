"""The delivery worker: `manage.py webhooks_deliver`. The deliveries table is its queue.

Each endpoint is sent to by one worker thread at a time, under a lease on the endpoint's
row (`leased_by`, `leased_until`), which sends its pending deliveries oldest first and
stops at the first failure: that delivery's retry holds the later ones back, so a receiver
sees one endpoint's events in order. A worker killed mid-send leaves its leases to expire
(WEBHOOK_LEASE_SECONDS); the next worker sends what was not recorded as sent, again under
the same `webhook-id` (at least once: a receiver deduplicates by it).
"""

import logging
import os
import queue
import socket
import threading
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, connections
from django.db.models import OuterRef, Q, Subquery

from webhooks import clock
from webhooks import delivery as sending
from webhooks.models import Delivery, DeliveryStatus, Endpoint

logger = logging.getLogger(__name__)

BATCH = 100  # deliveries read at a time for one endpoint


def _pending_head() -> Subquery:
    """When the oldest pending delivery of the outer endpoint is due: what decides whether it has work."""
    pending = Delivery.objects.filter(endpoint=OuterRef("pk"), status=DeliveryStatus.PENDING).order_by("id")
    return Subquery(pending.values("next_attempt_at")[:1])


def endpoints_claim(*, worker_id: str, limit: int, exclude: set[int]) -> list[int]:
    """Lease up to `limit` enabled endpoints whose oldest pending delivery is due and that no live worker holds."""
    now = clock.now()
    free = Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    candidates = list(
        Endpoint.objects.enabled()
        .filter(free)
        .exclude(pk__in=exclude)
        .annotate(head_due_at=_pending_head())
        .filter(head_due_at__lte=now)
        .order_by("head_due_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not candidates:
        return []
    until = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    # The lease condition is checked again by the UPDATE (PostgreSQL re-reads a row it waited for), so
    # of two workers racing for an endpoint, one gets it.
    Endpoint.objects.filter(free, pk__in=candidates).update(leased_by=worker_id, leased_until=until)
    return list(
        Endpoint.objects.filter(pk__in=candidates, leased_by=worker_id, leased_until=until).values_list("pk", flat=True)
    )


def _renew_after() -> float:
    """Seconds into a lease when it is renewed: while two whole timeouts are left, so it never lapses mid-send."""
    return settings.WEBHOOK_LEASE_SECONDS - 2 * settings.WEBHOOK_TIMEOUT_SECONDS


def _lease_renew(endpoint_id: int, worker_id: str) -> bool:
    until = clock.now() + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
    return bool(Endpoint.objects.filter(pk=endpoint_id, leased_by=worker_id).update(leased_until=until))


def _lease_release(endpoint_id: int, worker_id: str) -> None:
    Endpoint.objects.filter(pk=endpoint_id, leased_by=worker_id).update(leased_by="", leased_until=None)


def endpoint_drain(endpoint_id: int, *, worker_id: str, stopping: threading.Event | None = None) -> int:
    """Send the endpoint's due deliveries in order until one fails, none is due, or the worker stops;
    returns how many were sent successfully. The lease is released at the end."""
    sent = 0
    sender, recorder = sending.Sender(), sending.Recorder()
    try:
        renewed_at = clock.now()
        while not (stopping and stopping.is_set()):
            endpoint = Endpoint.objects.filter(pk=endpoint_id, leased_by=worker_id).first()
            if endpoint is None or not endpoint.enabled:
                break
            batch = list(
                Delivery.objects.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING)
                .select_related("event")
                .order_by("id")[:BATCH]
            )
            if not batch:
                break
            for delivery in batch:
                now = clock.now()
                if delivery.next_attempt_at > now or (stopping and stopping.is_set()):
                    return sent
                if (now - renewed_at).total_seconds() > _renew_after():
                    if not _lease_renew(endpoint_id, worker_id):
                        return sent
                    renewed_at = now
                outcome, at = sending.delivery_send(delivery, endpoint, sender)
                if not outcome.succeeded:
                    recorder.failed(delivery, endpoint, outcome, at)
                    return sent
                recorder.succeeded(delivery, outcome, at)
                sent += 1
            recorder.flush()  # before the next read, which would find these still pending
    finally:
        sender.close()
        recorder.flush()
        _lease_release(endpoint_id, worker_id)
    return sent


def deliveries_send_due(*, worker_id: str = "inline") -> int:
    """Send every due delivery in this thread, endpoint after endpoint (tests, and `--once`)."""
    sent = 0
    for endpoint_id in endpoints_claim(worker_id=worker_id, limit=10**6, exclude=set()):
        sent += endpoint_drain(endpoint_id, worker_id=worker_id)
    return sent


class DeliveryWorker:
    """Claims endpoints with due deliveries and drains each on one of its sending threads."""

    def __init__(self, *, threads: int, poll_seconds: float) -> None:
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.threads = threads
        self.poll_seconds = poll_seconds
        self.stopping = threading.Event()
        self._busy: set[int] = set()  # endpoints claimed and not yet drained
        self._lock = threading.Lock()

    def run(self) -> None:
        logger.info("webhook delivery worker %s: %d threads", self.worker_id, self.threads)
        jobs: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        senders = [threading.Thread(target=self._send, args=(jobs,), name=f"webhooks-{n}") for n in range(self.threads)]
        for sender in senders:
            sender.start()
        try:
            while not self.stopping.is_set():
                claimed = self._claim()
                with self._lock:
                    self._busy.update(claimed)
                for endpoint_id in claimed:
                    jobs.put(endpoint_id)
                if not claimed:
                    self.stopping.wait(self.poll_seconds)
        finally:
            self.stopping.set()
            for _ in senders:
                jobs.put(None)  # after the endpoints queued before it, which each return at once (stopping)
            for sender in senders:
                sender.join()
            for endpoint_id in self._busy:  # claimed, never started: let another worker have them now
                _lease_release(endpoint_id, self.worker_id)
            connections.close_all()
        logger.info("webhook delivery worker %s stopped", self.worker_id)

    def _send(self, jobs: "queue.SimpleQueue[int | None]") -> None:
        """A sending thread: drains the endpoints it is handed until it is handed None; then closes its connection."""
        try:
            while (endpoint_id := jobs.get()) is not None:
                try:
                    self._drain(endpoint_id)
                finally:
                    with self._lock:
                        self._busy.discard(endpoint_id)
        finally:
            connections.close_all()

    def _claim(self) -> list[int]:
        with self._lock:
            busy = set(self._busy)
        if len(busy) >= self.threads:
            return []
        try:
            return endpoints_claim(worker_id=self.worker_id, limit=self.threads - len(busy), exclude=busy)
        except DatabaseError as error:
            # The database went away (a restart): say so, drop the connection, and go on polling.
            logger.warning("webhook worker cannot claim endpoints: %s", error)
            connection.close()
            self.stopping.wait(1)
            return []

    def _drain(self, endpoint_id: int) -> None:
        close_old_connections()
        try:
            endpoint_drain(endpoint_id, worker_id=self.worker_id, stopping=self.stopping)
        except DatabaseError as error:
            logger.warning("webhook worker lost the database draining endpoint #%d: %s", endpoint_id, error)
            connection.close()
        except Exception:
            logger.exception("webhook worker failed draining endpoint #%d", endpoint_id)
