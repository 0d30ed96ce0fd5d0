import re
from urllib.parse import urlsplit

from django.conf import settings
from rest_framework import serializers

from webhooks.delivery import address_refusal
from webhooks.models import Attempt, Delivery, Endpoint

EVENT_TYPE = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
MAX_EVENT_TYPES = 50


class EventTypesField(serializers.ListField):
    """A list of event type names, checked as a whole: its errors name `event_types`, not an index."""

    child = serializers.RegexField(EVENT_TYPE, max_length=64)
    default_error_messages = {
        "invalid": "Event types are dotted lowercase names such as `review.updated`, at most 64 characters each.",
        "duplicate": "List each event type once.",
    }

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_length=MAX_EVENT_TYPES, **kwargs)

    def to_internal_value(self, data: object) -> list[str]:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        if len(data) > MAX_EVENT_TYPES:
            self.fail("max_length", max_length=MAX_EVENT_TYPES)
        if not all(isinstance(item, str) and len(item) <= 64 and re.fullmatch(EVENT_TYPE, item) for item in data):
            self.fail("invalid")
        if len(set(data)) != len(data):
            self.fail("duplicate")
        return sorted(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only (DRF's BooleanField also takes 0, "yes", "on", ...)."""

    def to_internal_value(self, data: object) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    url = serializers.URLField(
        max_length=2000,
        help_text="Where deliveries are POSTed: an http(s) URL at a public address (redirects are not followed).",
    )
    event_types = EventTypesField(
        required=False,
        help_text="The event types to deliver, such as `review.updated`; empty or absent: every type.",
    )
    enabled = StrictBooleanField(
        required=False,
        help_text="False once the endpoint is disabled (by a 410, a day of failures, or you); "
        "set true to resume deliveries, which wait meanwhile.",
    )
    disabled_reason = serializers.CharField(
        read_only=True, allow_null=True, help_text="Why the endpoint was disabled; null while it is enabled."
    )

    class Meta:
        model = Endpoint
        fields = ["id", "url", "event_types", "enabled", "disabled_at", "disabled_reason", "created_at"]
        read_only_fields = ["id", "disabled_at", "created_at"]

    def to_representation(self, endpoint: Endpoint) -> dict:
        data = super().to_representation(endpoint)
        data["disabled_reason"] = endpoint.disabled_reason or None
        return data

    def validate_url(self, url: str) -> str:
        """http(s) only; a host that is an inner address, or `localhost`, is refused here. Names are
        resolved and checked again at each delivery, where it counts (their answers may change)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise serializers.ValidationError("Use an http or https URL.", code="scheme")
        if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
            return url
        host = (parts.hostname or "").rstrip(".")
        try:
            refusal = address_refusal(host)
        except ValueError:  # a name, not an address
            refusal = "localhost is this server" if host == "localhost" or host.endswith(".localhost") else None
        if refusal:
            raise serializers.ValidationError(f"Use a public address: {refusal}.", code="private_address")
        return url


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret (`whsec_` + base64 of 32 bytes). Shown only now: store it to verify signatures.",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookSecretSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(read_only=True, help_text="The new signing secret, shown only now.")
    previous_secret_expires_at = serializers.DateTimeField(
        read_only=True, help_text="Until then, messages carry a signature by the previous secret too."
    )

    class Meta:
        model = Endpoint
        fields = ["secret", "previous_secret_expires_at"]


class WebhookAttemptSerializer(serializers.ModelSerializer):
    status_code = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        min_value=100,
        max_value=599,
        help_text="The receiver's HTTP status; null if none.",
    )
    error = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="Why there was no status (refused, timeout, connection); null if none.",
    )
    duration_ms = serializers.IntegerField(read_only=True, min_value=0, max_value=2147483647)

    class Meta:
        model = Attempt
        fields = ["attempted_at", "status_code", "error", "duration_ms"]
        read_only_fields = fields

    def to_representation(self, attempt: Attempt) -> dict:
        data = super().to_representation(attempt)
        data["error"] = attempt.error or None
        return data


class WebhookDeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(
        source="message_id", read_only=True, help_text="The `webhook-id` header: the same on every attempt."
    )
    event_type = serializers.CharField(source="message_type", read_only=True)
    event_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The event delivered; null for a `webhook.test` message."
    )
    attempt_count = serializers.IntegerField(read_only=True, min_value=0, max_value=32767)
    attempts = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook_id",
            "event_type",
            "event_id",
            "status",
            "attempt_count",
            "next_attempt_at",
            "created_at",
            "attempts",
        ]
        read_only_fields = fields
