"""What the schema says about the messages partners receive (not operations of this API, so added by hand)."""

MESSAGE = {
    "type": "object",
    "description": "The body of every webhook delivery, POSTed as JSON (the Standard Webhooks payload shape). "
    "Verify the signature headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`) before trusting it.",
    "properties": {
        "type": {"type": "string", "maxLength": 64, "example": "review.updated", "description": "The event type."},
        "timestamp": {"type": "string", "format": "date-time", "description": "When the change happened (UTC)."},
        "data": {
            "type": "object",
            "additionalProperties": True,
            "description": "The event's payload, as the change feed holds it: its shape is fixed by `type` and "
            "`schema_version`.",
        },
        "event_id": {
            "type": "integer",
            "format": "int64",
            "minimum": 1,
            "maximum": 9223372036854775807,
            "nullable": True,
            "description": "The event's id in the change feed; null for a `webhook.test` message.",
        },
        "schema_version": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 32767},
    },
    "required": ["type", "timestamp", "data", "event_id", "schema_version"],
}

HEADERS = {
    "webhook-id": {
        "description": "Sent with each webhook delivery: the message id (`msg_<n>`), the same on every attempt at "
        "it, so a receiver deduplicates by it.",
        "schema": {"type": "string", "maxLength": 64, "example": "msg_2041"},
    },
    "webhook-timestamp": {
        "description": "Sent with each webhook delivery: Unix seconds of this attempt; refuse a message more than "
        "5 minutes off (a replay).",
        "schema": {"type": "string", "maxLength": 20, "example": "1796083200"},
    },
    "webhook-signature": {
        "description": "Sent with each webhook delivery: space-separated `v1,<base64 HMAC-SHA256>` signatures of "
        "`{webhook-id}.{webhook-timestamp}.{body}` with the endpoint's secret (the base64 after `whsec_`); two "
        "during the grace period after a rotation. Any one matching is valid.",
        "schema": {"type": "string", "maxLength": 500, "example": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="},
    },
}


def postprocess_webhook_message(result: dict, **kwargs: object) -> dict:
    """The `WebhookMessage` component and the three signature headers (after compare_api's header hook)."""
    result["components"]["schemas"]["WebhookMessage"] = MESSAGE
    result["components"]["schemas"] = dict(sorted(result["components"]["schemas"].items()))
    result["components"]["headers"].update(HEADERS)
    return result
