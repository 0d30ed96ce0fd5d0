"""Writes of the webhooks app: endpoints, and the deliveries the outbox's events become."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from events.models import Event
from partners.models import PartnerKey
from webhooks import clock
from webhooks.models import Delivery, DeliveryStatus, Endpoint, signing_secret_new


def deliveries_create_for(sender: type[Event], event: Event, **kwargs: object) -> None:
    """The `event_recorded` receiver: one delivery per enabled endpoint that takes the event's type.

    Written in the event's own transaction, so the deliveries commit with the change or not at
    all: a process dying after the commit loses nothing, as the delivery worker finds them in
    the table. Nothing is enqueued elsewhere: the rows are the queue.
    """
    live_keys = Q(key__revoked=False) & (Q(key__expiry_date__isnull=True) | Q(key__expiry_date__gt=clock.now()))
    endpoints = [
        endpoint_id
        for endpoint_id, event_types in Endpoint.objects.enabled().filter(live_keys).values_list("id", "event_types")
        if not event_types or event.type in event_types
    ]
    if endpoints:
        Delivery.objects.bulk_create(
            [Delivery(endpoint_id=endpoint_id, event=event, next_attempt_at=clock.now()) for endpoint_id in endpoints]
        )


def endpoint_create(*, key: PartnerKey, url: str, event_types: list[str], enabled: bool = True) -> Endpoint:
    disabled = {} if enabled else {"disabled_at": clock.now(), "disabled_reason": "Disabled by the partner."}
    return Endpoint.objects.create(key=key, url=url, event_types=event_types, **disabled)


@transaction.atomic
def endpoint_update(*, endpoint: Endpoint, **fields: object) -> Endpoint:
    """Change the URL or the event types; `enabled` re-enables (or disables) the endpoint."""
    enabled = fields.pop("enabled", None)
    for name, value in fields.items():
        setattr(endpoint, name, value)
    if enabled is True:
        endpoint.disabled_at, endpoint.disabled_reason = None, ""
    elif enabled is False and endpoint.enabled:
        endpoint.disabled_at, endpoint.disabled_reason = clock.now(), "Disabled by the partner."
    endpoint.save()
    return endpoint


def endpoint_disable(*, endpoint_id: int, reason: str, at: datetime) -> None:
    """Stop deliveries to the endpoint (its pending ones wait, and go when it is enabled again)."""
    Endpoint.objects.filter(pk=endpoint_id, disabled_at__isnull=True).update(
        disabled_at=at, disabled_reason=reason[:500]
    )


@transaction.atomic
def endpoint_secret_rotate(*, endpoint: Endpoint) -> Endpoint:
    """A new secret; the old one keeps signing beside it for WEBHOOK_SECRET_GRACE_HOURS (every
    message carries both signatures meanwhile), so the receiver can switch without losing one."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = clock.now() + timedelta(hours=settings.WEBHOOK_SECRET_GRACE_HOURS)
    endpoint.secret = signing_secret_new()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return endpoint


def endpoint_test_send(*, endpoint: Endpoint) -> Delivery:
    """Queue a `webhook.test` message to this endpoint only (no event: it is no change)."""
    return Delivery.objects.create(endpoint=endpoint, event=None, next_attempt_at=clock.now())


def deliveries_replay(*, deliveries: QuerySet[Delivery]) -> int:
    """Send the deliveries again, as new (a fresh retry schedule), under the same `webhook-id`."""
    return deliveries.update(status=DeliveryStatus.PENDING, attempt_count=0, next_attempt_at=clock.now())
