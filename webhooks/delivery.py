"""Sending one delivery: the address check (SSRF), the Standard Webhooks signature, the retry schedule.

A message is POSTed as JSON, signed with the endpoint's secret (`standardwebhooks`), to an
address that was resolved and checked here and is the one connected to (a DNS answer that
changes between the check and the connection cannot swap in an internal address). Redirects
are not followed. Any 2xx is a success; a 410 disables the endpoint; anything else is retried
on SCHEDULE, and a delivery that has failed every attempt (about a day) disables it too.
"""

import http.client
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from standardwebhooks.webhooks import Webhook

from webhooks import clock
from webhooks.models import Attempt, Delivery, DeliveryStatus, Endpoint
from webhooks.services import endpoint_disable

# Seconds to wait before each attempt, Svix's schedule: at once, then 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h and 10 h later; eight attempts over about 27.6 hours.
SCHEDULE = (0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
JITTER = 0.1  # each wait, give or take 10 %, so a burst of failures does not come back in lockstep
USER_AGENT = "AI-Tool-Verdicts-Webhooks/1"


class Refused(Exception):
    """The URL may not be called: a scheme other than http(s), or an address that is not public."""


def address_refusal(address: str) -> str | None:
    """Why this IP address may not receive webhooks (None: it may)."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or not ip.is_global:
        return f"{address} is not a public address"
    return None


def _checked_address(host: str, port: int) -> str:
    """Resolve `host` and return an address to connect to, every address it resolves to checked."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise Refused(f"cannot resolve {host}: {error.strerror}") from None
    addresses = [info[4][0] for info in infos]
    if not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        for address in addresses:
            if reason := address_refusal(address):
                raise Refused(f"refused: {host} resolves to {reason}")
    return addresses[0]


def _connected(address: str, port: int, timeout: float) -> socket.socket:
    sock = socket.create_connection((address, port), timeout)
    # No Nagle: on a kept-alive connection it would hold each small request for the receiver's delayed ACK (40 ms).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address, whatever the host name resolves to by now."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _connected(self._address, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = _connected(self._address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def message_body(delivery: Delivery) -> str:
    """The Standard Webhooks payload shape `{type, timestamp, data}`, with the event's id and schema version."""
    event = delivery.event
    if event is None:
        message = {
            "type": delivery.message_type,
            "timestamp": delivery.created_at,
            "data": {"endpoint_id": delivery.endpoint_id},
            "event_id": None,
            "schema_version": 1,
        }
    else:
        message = {
            "type": event.type,
            "timestamp": event.created_at,
            "data": event.payload,
            "event_id": event.pk,
            "schema_version": event.schema_version,
        }
    message["timestamp"] = message["timestamp"].isoformat().replace("+00:00", "Z")
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def signed_headers(*, endpoint: Endpoint, message_id: str, body: str, at: datetime) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` and `webhook-signature` (one `v1,` signature per live secret)."""
    signatures = [Webhook(secret).sign(message_id, at, body) for secret in endpoint.signing_secrets(now=at)]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str
    retry_after: float | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    """POSTs for one drain of one endpoint, over one kept-alive connection while the receiver allows.

    A new connection resolves and checks the host again; a kept one stays on the address that was
    checked when it was opened. Any failure closes it.
    """

    BODY_LIMIT = 64 * 1024  # the answer's body is not used; more than this and the connection is dropped

    def __init__(self) -> None:
        self._connection: http.client.HTTPConnection | None = None
        self._origin: tuple[str, str, int] | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = self._origin = None

    def post(self, *, url: str, body: str, headers: dict[str, str]) -> Outcome:
        """One POST, never raising: the status code, or what went wrong."""
        started = time.monotonic()
        try:
            status, retry_after = self._post(url, body.encode(), headers)
            error = ""
        except Refused as refused:
            status, retry_after, error = None, None, str(refused)
        except (OSError, http.client.HTTPException) as failure:
            self.close()
            status, retry_after, error = None, None, f"{type(failure).__name__}: {failure}"
        return Outcome(status, error[:500], retry_after, round((time.monotonic() - started) * 1000))

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, float | None]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Refused("refused: only http and https URLs with a host")
        origin = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT}
        if self._connection is not None and self._origin == origin:
            try:
                return self._exchange(target, body, headers)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()  # the receiver had closed the kept connection meanwhile: once more, on a new one
        self._open(*origin)
        return self._exchange(target, body, headers)

    def _exchange(self, target: str, body: bytes, headers: dict[str, str]) -> tuple[int, float | None]:
        self._connection.request("POST", target, body=body, headers=headers)
        response = self._connection.getresponse()
        response.read(self.BODY_LIMIT)
        if response.will_close or not response.isclosed():
            self.close()  # the receiver ends the connection, or its answer was longer than we read
        return response.status, _retry_after(response.getheader("Retry-After"))

    def _open(self, scheme: str, host: str, port: int) -> None:
        self.close()
        connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        address = _checked_address(host, port)
        self._connection = connection_class(host, port, address=address, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
        self._origin = (scheme, host, port)


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (it may be a number of seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - clock.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def retry_wait(*, attempt: int, retry_after: float | None) -> timedelta:
    """The wait after failed attempt `attempt` (from 1): the schedule's, with jitter; a receiver's
    Retry-After lengthens it, up to WEBHOOK_RETRY_AFTER_MAX_SECONDS, never shortens it."""
    nominal = SCHEDULE[attempt]
    wait = nominal * (1 - JITTER + 2 * JITTER * clock.jitter())
    if retry_after is not None:
        wait = max(wait, min(retry_after, settings.WEBHOOK_RETRY_AFTER_MAX_SECONDS))
    return timedelta(seconds=wait)


def delivery_send(delivery: Delivery, endpoint: Endpoint, sender: Sender) -> tuple[Outcome, datetime]:
    """Send `delivery` once (signed as of now); the outcome is for a Recorder to write."""
    at = clock.now()
    body = message_body(delivery)
    headers = signed_headers(endpoint=endpoint, message_id=delivery.message_id, body=body, at=at)
    return sender.post(url=endpoint.url, body=body, headers=headers), at


class Recorder:
    """Writes attempts: successes a few at a time (one transaction for up to RECORD_BATCH, or what
    RECORD_SECONDS gathered), a failure at once. A crash before a write only means those messages
    are sent again under the same webhook-id: delivery is at least once either way."""

    RECORD_BATCH = 25
    RECORD_SECONDS = 0.1

    def __init__(self) -> None:
        self._succeeded: list[tuple[Delivery, Outcome, datetime]] = []

    def succeeded(self, delivery: Delivery, outcome: Outcome, at: datetime) -> None:
        self._succeeded.append((delivery, outcome, at))
        waited = (clock.now() - self._succeeded[0][2]).total_seconds()
        if len(self._succeeded) >= self.RECORD_BATCH or waited >= self.RECORD_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self._succeeded:
            return
        with transaction.atomic():
            _commit_without_waiting_for_the_disk()
            Attempt.objects.bulk_create([_attempt(delivery, outcome, at) for delivery, outcome, at in self._succeeded])
            Delivery.objects.filter(pk__in=[delivery.pk for delivery, _, _ in self._succeeded]).update(
                status=DeliveryStatus.SUCCEEDED, attempt_count=F("attempt_count") + 1, next_attempt_at=None
            )
        self._succeeded = []

    @transaction.atomic
    def failed(self, delivery: Delivery, endpoint: Endpoint, outcome: Outcome, at: datetime) -> None:
        """Schedule the next attempt, or give up (and disable the endpoint) after a 410 or the last one."""
        self.flush()
        _attempt(delivery, outcome, at).save()
        delivery.attempt_count += 1
        if outcome.status_code == 410 or delivery.attempt_count >= len(SCHEDULE):
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            endpoint_disable(endpoint_id=endpoint.pk, reason=_disable_reason(delivery, outcome), at=at)
        else:
            delivery.next_attempt_at = at + retry_wait(attempt=delivery.attempt_count, retry_after=outcome.retry_after)
        delivery.save(update_fields=["status", "attempt_count", "next_attempt_at"])


def _attempt(delivery: Delivery, outcome: Outcome, at: datetime) -> Attempt:
    return Attempt(
        delivery=delivery,
        attempted_at=at,
        status_code=outcome.status_code,
        error=outcome.error,
        duration_ms=outcome.duration_ms,
    )


def _commit_without_waiting_for_the_disk() -> None:
    # A crash losing this record only means the messages are sent again, under the same webhook-id,
    # and the worker's commits need not queue on fsync.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _disable_reason(delivery: Delivery, outcome: Outcome) -> str:
    if outcome.status_code == 410:
        return f"The endpoint answered 410 Gone to {delivery.message_id}: it asked for no more deliveries."
    last = f"HTTP {outcome.status_code}" if outcome.status_code else outcome.error
    return (
        f"{delivery.message_id} failed all {len(SCHEDULE)} attempts since {delivery.created_at:%Y-%m-%d %H:%M} UTC "
        f"(the last: {last})."
    )
