from collections.abc import Callable

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_standardized_errors.openapi_serializers import ValidationErrorResponseSerializer
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from compare_api.stats import Tally
from compare_api.throttling import (
    LoginRateThrottle,
    NewsletterRateThrottle,
    RegisterRateThrottle,
    VoteRateThrottle,
)
from tools.models import Tool, Verdict
from votes import services
from votes.auth import BearerTokenAuthentication
from votes.models import Vote
from votes.serializers import (
    DetailSerializer,
    RegisterSerializer,
    SubscriptionRequestSerializer,
    SubscriptionTokenSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    VoteRequestSerializer,
    VoteSerializer,
)

PASSWORD_CODES = [
    "password_too_similar",
    "password_too_short",
    "password_too_common",
    "password_entirely_numeric",
]


@extend_validation_errors(PASSWORD_CODES, field_name="password", methods=["post"])
class RegisterView(APIView):
    """Create a voter account. Passwords are checked by Django's password validators."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [RegisterRateThrottle]

    @extend_schema(
        request=RegisterSerializer,
        responses={201: RegisterSerializer},
        operation_id="auth_register",
        summary="Register a voter account",
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data, status=status.HTTP_201_CREATED)


@extend_validation_errors(["invalid_credentials"], field_name="non_field_errors", methods=["post"])
class TokenView(APIView):
    """Exchange a username and password for a bearer token."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: TokenSerializer},
        operation_id="auth_token_create",
        summary="Log in (get a bearer token)",
    )
    def post(self, request: Request) -> Response:
        credentials = TokenRequestSerializer(data=request.data, context={"request": request})
        credentials.is_valid(raise_exception=True)
        user = credentials.validated_data["user"]
        AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
        instance, token = AuthToken.objects.create(user=user)
        return Response(TokenSerializer({"token": token, "expiry": instance.expiry}).data)


class LogoutView(APIView):
    """Revoke the token this request was made with."""

    permission_classes = [IsAuthenticated]
    authentication_classes = [BearerTokenAuthentication]

    @extend_schema(
        request=None, responses={204: None}, operation_id="auth_logout", summary="Log out (revoke this token)"
    )
    def post(self, request: Request) -> Response:
        request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


def _published_tool(slug: str) -> Tool:
    return get_object_or_404(
        Tool.objects.published().only("id", "slug", "community_ship_count", "community_skip_count"), slug=slug
    )


class VoteView(APIView):
    """The caller's own vote on a tool. Nobody can see or change another voter's vote."""

    permission_classes = [IsAuthenticated]
    # Votes need a voter account: a partner key is not one.
    authentication_classes = [BearerTokenAuthentication]
    throttle_classes = [VoteRateThrottle]

    @extend_schema(
        responses={200: VoteSerializer},
        operation_id="tools_vote_retrieve",
        summary="Get your vote on a tool",
        description="Your own vote on the tool, with its community tally; 404 when you have not voted.",
    )
    def get(self, request: Request, slug: str) -> Response:
        tool = _published_tool(slug)
        vote = Vote.objects.filter(voter=request.user, tool=tool).first()
        if vote is None:
            raise NotFound("You have not voted on this tool.")
        return Response(_vote_document(slug, vote, tool.community))

    @extend_schema(
        request=VoteRequestSerializer,
        responses={200: VoteSerializer, 201: VoteSerializer},
        operation_id="tools_vote_update",
        summary="Cast or change your vote on a tool",
        description="Cast (201) or change (200) your vote. Repeating a vote changes nothing (200). "
        "Fields other than `verdict` are ignored.",
    )
    def put(self, request: Request, slug: str) -> Response:
        verdict = request.data.get("verdict") if isinstance(request.data, dict) else None
        if not (type(verdict) is str and verdict in Verdict.values):
            # Only a bad body meets the serializer, which words the error (building one
            # costs more than the rest of a vote's Python).
            payload = VoteRequestSerializer(data=request.data)
            if not payload.is_valid():
                _published_tool(slug)  # an unknown tool is a 404 before a bad body is a 400
                raise ValidationError(payload.errors)
            verdict = payload.validated_data["verdict"]
        try:
            result = services.vote_cast(voter=request.user, slug=slug, verdict=verdict)
        except Tool.DoesNotExist:
            raise NotFound from None
        created = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(_vote_document(slug, result.vote, result.community), status=created)

    @extend_schema(
        responses={204: None},
        operation_id="tools_vote_destroy",
        summary="Withdraw your vote on a tool",
        description="Deletes your vote; the tool's community tally drops it. 404 when you have not voted.",
    )
    def delete(self, request: Request, slug: str) -> Response:
        try:
            result = services.vote_withdraw(voter=request.user, slug=slug)
        except Tool.DoesNotExist:
            raise NotFound from None
        if result.vote is None:
            raise NotFound("You have not voted on this tool.")
        return Response(status=status.HTTP_204_NO_CONTENT)


def _vote_document(slug: str, vote: Vote, community: Tally) -> dict:
    """VoteSerializer's shape, built directly: on the vote path the serializer cost more than the database."""
    return {
        "tool": slug,
        "verdict": vote.verdict,
        "created_at": _DATETIME.to_representation(vote.created_at),
        "updated_at": _DATETIME.to_representation(vote.updated_at),
        "community": community.as_dict(),
    }


_DATETIME = serializers.DateTimeField()


ACCEPTED = "If that address can receive mail, a confirmation link is on its way."


class SubscriptionView(APIView):
    """Sign up for Weekly AI Tool Verdicts. The answer is the same whether or not the address was known."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [NewsletterRateThrottle]

    @extend_schema(
        request=SubscriptionRequestSerializer,
        responses={202: DetailSerializer},
        operation_id="newsletter_subscribe",
        summary="Subscribe to the newsletter",
    )
    def post(self, request: Request) -> Response:
        payload = SubscriptionRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)

        def link(kind: str, token: str) -> str:
            return request.build_absolute_uri(f"{reverse(f'newsletter-{kind}')}?token={token}")

        services.newsletter_subscribe(email=payload.validated_data["email"], link=link)
        return Response({"detail": ACCEPTED}, status=status.HTTP_202_ACCEPTED)


class _SubscriptionLinkView(APIView):
    """The links in the email: GET (a click) and POST (a frontend) do the same."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    apply_token: Callable[..., bool]
    done: str

    def _apply(self, token: str | None) -> Response:
        payload = SubscriptionTokenSerializer(data={"token": token})
        payload.is_valid(raise_exception=True)
        if not self.apply_token(token=payload.validated_data["token"]):
            raise ValidationError({"token": ["This link is invalid or has expired."]})
        return Response({"detail": self.done})

    def get(self, request: Request) -> Response:
        return self._apply(request.query_params.get("token"))

    def post(self, request: Request) -> Response:
        return self._apply(request.data.get("token") if isinstance(request.data, dict) else None)


_token_param = OpenApiParameter("token", str, required=True, description="The token from the email's link.")


_link_responses = {200: DetailSerializer, 400: ValidationErrorResponseSerializer}


@extend_schema(
    responses=_link_responses,
    parameters=[_token_param],
    methods=["GET"],
    summary="Confirm a subscription (email link)",
    description="The confirmation link in the email, as clicked.",
)
@extend_schema(
    request=SubscriptionTokenSerializer,
    responses={200: DetailSerializer},
    methods=["POST"],
    summary="Confirm a subscription",
    description="The same as the email's link, for a frontend that posts the link's token.",
)
@extend_validation_errors(["invalid"], field_name="token", methods=["post"])
class ConfirmSubscriptionView(_SubscriptionLinkView):
    apply_token = staticmethod(services.newsletter_confirm)
    done = "Subscription confirmed."


@extend_schema(
    responses=_link_responses,
    parameters=[_token_param],
    methods=["GET"],
    summary="Unsubscribe (email link)",
    description="The unsubscribe link in every newsletter email, as clicked.",
)
@extend_schema(
    request=SubscriptionTokenSerializer,
    responses={200: DetailSerializer},
    methods=["POST"],
    summary="Unsubscribe",
    description="The same as the email's link, for a frontend that posts the link's token.",
)
@extend_validation_errors(["invalid"], field_name="token", methods=["post"])
class UnsubscribeView(_SubscriptionLinkView):
    apply_token = staticmethod(services.newsletter_unsubscribe)
    done = "Unsubscribed. You will get no more email from us."
