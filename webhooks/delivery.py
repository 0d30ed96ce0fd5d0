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
from django.db import transaction
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


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address, whatever the host name resolves to by now."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
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


def post(*, url: str, body: str, headers: dict[str, str]) -> Outcome:
    """One POST, never raising: the status code, or what went wrong."""
    started = time.monotonic()
    try:
        status, retry_after = _post(url, body.encode(), headers)
        error = ""
    except Refused as refused:
        status, retry_after, error = None, None, str(refused)
    except (OSError, http.client.HTTPException) as failure:
        status, retry_after, error = None, None, f"{type(failure).__name__}: {failure}"
    return Outcome(status, error[:500], retry_after, round((time.monotonic() - started) * 1000))


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, float | None]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("refused: only http and https URLs with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(
        parts.hostname,
        port,
        address=_checked_address(parts.hostname, port),
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
    )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            "POST",
            target,
            body=body,
            headers={**headers, "Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        response = connection.getresponse()
        response.read(64 * 1024)  # the body is not used; read a little so the server is not cut off mid-answer
        return response.status, _retry_after(response.getheader("Retry-After"))
    finally:
        connection.close()


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


def delivery_attempt(delivery: Delivery, endpoint: Endpoint) -> bool:
    """Send `delivery` once and record the attempt; True if the receiver took it (any 2xx)."""
    at = clock.now()
    body = message_body(delivery)
    outcome = post(
        url=endpoint.url,
        body=body,
        headers=signed_headers(endpoint=endpoint, message_id=delivery.message_id, body=body, at=at),
    )
    _record(delivery, endpoint, outcome, at=at)
    return outcome.succeeded


@transaction.atomic
def _record(delivery: Delivery, endpoint: Endpoint, outcome: Outcome, *, at: datetime) -> None:
    Attempt.objects.create(
        delivery=delivery,
        attempted_at=at,
        status_code=outcome.status_code,
        error=outcome.error,
        duration_ms=outcome.duration_ms,
    )
    delivery.attempt_count += 1
    if outcome.succeeded:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, None
    elif outcome.status_code == 410 or delivery.attempt_count >= len(SCHEDULE):
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        endpoint_disable(endpoint_id=endpoint.pk, reason=_disable_reason(delivery, outcome), at=at)
    else:
        delivery.next_attempt_at = at + retry_wait(attempt=delivery.attempt_count, retry_after=outcome.retry_after)
    delivery.save(update_fields=["status", "attempt_count", "next_attempt_at"])


def _disable_reason(delivery: Delivery, outcome: Outcome) -> str:
    if outcome.status_code == 410:
        return f"The endpoint answered 410 Gone to {delivery.message_id}: it asked for no more deliveries."
    last = f"HTTP {outcome.status_code}" if outcome.status_code else outcome.error
    return (
        f"{delivery.message_id} failed all {len(SCHEDULE)} attempts since {delivery.created_at:%Y-%m-%d %H:%M} UTC "
        f"(the last: {last})."
    )
