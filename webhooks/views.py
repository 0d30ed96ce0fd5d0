from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from compare_api.authentication import RejectUnknownAuthorization
from partners.auth import ApiKeyAuthentication
from partners.models import PartnerKey
from webhooks import services
from webhooks.models import Delivery, Endpoint
from webhooks.serializers import (
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
    WebhookSecretSerializer,
)

# Each key's endpoints are fanned out to on every event: a bound keeps one key from slowing every write.
MAX_ENDPOINTS_PER_KEY = 20

SIGNING = (
    "Each delivery is a POST of a JSON `WebhookMessage` (`{type, timestamp, data, event_id, schema_version}`) "
    "signed per the Standard Webhooks spec: headers `webhook-id` (the same on every attempt: deduplicate by it), "
    "`webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature` (space-separated `v1,<base64 "
    "HMAC-SHA256 of id.timestamp.body>`, one per live secret). Verify with any Standard Webhooks library and "
    "refuse timestamps more than 5 minutes off."
)


class IsPartner(BasePermission):
    """Only a partner key: a voter or staff token is no partner's."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, PartnerKey)


@extend_schema_view(
    list=extend_schema(
        summary="List your webhook endpoints",
        description="The endpoints registered with this partner key, oldest first (secrets are never shown again).",
    ),
    create=extend_schema(
        summary="Register a webhook endpoint",
        description="Events of the listed types (all types if none) are POSTed to `url` from now on. The answer "
        "holds the signing `secret`, shown this once. The URL must be http(s) at a public address: "
        f"loopback, private, link-local and reserved addresses are refused. At most {MAX_ENDPOINTS_PER_KEY} "
        f"endpoints per key. {SIGNING}",
        request=WebhookEndpointSerializer,
        responses={201: WebhookEndpointCreatedSerializer},
    ),
    retrieve=extend_schema(
        summary="Get a webhook endpoint",
        description="One of this key's endpoints; if disabled, `disabled_at` and `disabled_reason` say when and why.",
    ),
    partial_update=extend_schema(
        summary="Change a webhook endpoint",
        description="Change `url` or `event_types`; `enabled: true` resumes a disabled endpoint (the deliveries "
        "that waited go first, in order), `enabled: false` pauses it.",
    ),
    destroy=extend_schema(
        summary="Delete a webhook endpoint",
        description="Deletes the endpoint and its delivery history; nothing more is sent to it.",
    ),
)
@extend_validation_errors(["too_many"], field_name="non_field_errors", methods=["post"])
@extend_validation_errors(["scheme", "private_address"], field_name="url", methods=["post", "patch"])
@extend_validation_errors(["invalid", "duplicate"], field_name="event_types", methods=["post", "patch"])
class WebhookEndpointViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A partner's webhook endpoints: where events are delivered, signed with the endpoint's secret."""

    authentication_classes = [ApiKeyAuthentication, RejectUnknownAuthorization]
    permission_classes = [IsPartner]
    serializer_class = WebhookEndpointSerializer
    filter_backends: list = []
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9]{1,18}"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Endpoint]:
        return Endpoint.objects.filter(key=self.request.auth)

    def perform_create(self, serializer: BaseSerializer) -> None:
        if self.get_queryset().count() >= MAX_ENDPOINTS_PER_KEY:
            too_many = ErrorDetail(f"A key has at most {MAX_ENDPOINTS_PER_KEY} endpoints.", code="too_many")
            raise ValidationError({"non_field_errors": [too_many]})
        data = serializer.validated_data
        serializer.instance = services.endpoint_create(
            key=self.request.auth,
            url=data["url"],
            event_types=data.get("event_types", []),
            enabled=data.get("enabled", True),
        )

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(WebhookEndpointCreatedSerializer(serializer.instance).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: BaseSerializer) -> None:
        services.endpoint_update(endpoint=serializer.instance, **serializer.validated_data)

    @extend_schema(
        request=None,
        responses={200: WebhookSecretSerializer},
        operation_id="webhooks_endpoints_rotate_secret",
        summary="Rotate a webhook endpoint's secret",
        description="A new secret, shown this once. The previous one keeps signing beside it until "
        "`previous_secret_expires_at` (24 hours): each message then carries both signatures, so a receiver "
        "can switch secrets without rejecting a delivery.",
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret", serializer_class=WebhookSecretSerializer)
    def rotate_secret(self, request: Request, id: str) -> Response:  # noqa: A002 (the route's name)
        endpoint = services.endpoint_secret_rotate(endpoint=self.get_object())
        return Response(WebhookSecretSerializer(endpoint).data)

    @extend_schema(
        request=None,
        responses={202: WebhookDeliverySerializer},
        operation_id="webhooks_endpoints_test",
        summary="Send a test message to a webhook endpoint",
        description="Queues a `webhook.test` message (`data: {endpoint_id}`, `event_id: null`) to this endpoint "
        "only, signed like any other; follow it in the endpoint's deliveries.",
    )
    @action(detail=True, methods=["post"], serializer_class=WebhookDeliverySerializer)
    def test(self, request: Request, id: str) -> Response:  # noqa: A002 (the route's name)
        delivery = services.endpoint_test_send(endpoint=self.get_object())
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        responses=WebhookDeliverySerializer(many=True),
        operation_id="webhooks_endpoints_deliveries_list",
        summary="List a webhook endpoint's deliveries",
        description="Newest first, each with its attempts (time, the receiver's status code or the error, "
        "duration) and, while pending, when the next attempt is due.",
    )
    @action(detail=True, methods=["get"], serializer_class=WebhookDeliverySerializer)
    def deliveries(self, request: Request, id: str) -> Response:  # noqa: A002 (the route's name)
        endpoint = self.get_object()
        page = self.paginate_queryset(
            Delivery.objects.filter(endpoint=endpoint)
            .prefetch_related("attempts")
            .select_related("event")
            .order_by("-id")
        )
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
