import base64
import secrets
from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone

from events.models import Event
from partners.models import PartnerKey

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def signing_secret_new() -> str:
    """`whsec_` + base64 of 32 random bytes, as the Standard Webhooks spec writes secrets."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class EndpointQuerySet(models.QuerySet):
    def enabled(self) -> "EndpointQuerySet":
        return self.filter(disabled_at__isnull=True)


class Endpoint(models.Model):
    """A partner's URL that receives events, signed with the endpoint's own secret.

    The secret is an HMAC key, so it is stored as it is (a hash could not sign): it is
    shown once to the partner, never again by the API or the admin. After a rotation the
    previous secret keeps signing beside the new one until `previous_secret_expires_at`,
    so a receiver can switch without dropping a message.
    """

    key = models.ForeignKey(PartnerKey, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    # Event types to deliver; empty: every type.
    event_types = models.JSONField(default=list, blank=True)
    secret = models.CharField(max_length=100, default=signing_secret_new, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Which delivery worker is sending this endpoint's deliveries, until when (one at a time keeps them in order).
    leased_by = models.CharField(max_length=100, blank=True, editable=False)
    leased_until = models.DateTimeField(null=True, blank=True, editable=False)

    objects = EndpointQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.url} (#{self.pk})"

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    def signing_secrets(self, *, now: datetime) -> list[str]:
        """The secrets a message is signed with now: the current one, and the previous one in its grace period."""
        keep_previous = (
            self.previous_secret and self.previous_secret_expires_at and now < self.previous_secret_expires_at
        )
        return [self.secret, self.previous_secret] if keep_previous else [self.secret]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One event for one endpoint: written in the event's transaction (the outbox), sent at least once.

    `event` is null for a test message (`webhook.test`), which is no change and stays out of the feed.
    """

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="one_delivery_per_event_per_endpoint")
        ]
        # The worker's read: an endpoint's pending deliveries, oldest first.
        indexes = [
            models.Index(fields=["endpoint", "id"], condition=Q(status="pending"), name="webhooks_delivery_pending")
        ]

    def __str__(self) -> str:
        return f"{self.message_type} to endpoint #{self.endpoint_id} ({self.status})"

    @property
    def message_id(self) -> str:
        """The `webhook-id`: the same on every attempt (and replay), so a receiver can deduplicate."""
        return f"msg_{self.pk}"

    @property
    def message_type(self) -> str:
        return self.event.type if self.event_id else TEST_EVENT_TYPE


TEST_EVENT_TYPE = "webhook.test"


class Attempt(models.Model):
    """One try at sending a delivery: the receiver's status code, or why there was none."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
