import hashlib
from collections.abc import Callable

from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_standardized_errors.openapi_serializers import ValidationErrorResponseSerializer
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError
from rest_framework.fields import get_error_detail
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from compare_api.exceptions import DatabaseBusy
from compare_api.stats import Tally
from compare_api.throttling import (
    Attempt,
    LoginRateThrottle,
    NewsletterRateThrottle,
    PasswordResetRateThrottle,
    RegisterRateThrottle,
    VerifyResendRateThrottle,
    VoteRateThrottle,
    attempt_count,
)
from tools.models import Tool, Verdict
from votes import accounts, services, usernames
from votes.auth import BearerTokenAuthentication, remember_owner
from votes.models import Vote
from votes.serializers import (
    DetailSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetRequestSerializer,
    RegisterSerializer,
    SubscriptionRequestSerializer,
    SubscriptionTokenSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    VerificationTokenSerializer,
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
@extend_validation_errors(["unique", "disposable"], field_name="email", methods=["post"])
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
        description="One account per email address (compared case-folded, ignoring a `+tag`); addresses at "
        "disposable-mail domains are refused. A verification link is emailed; the account's votes are kept "
        "from the start but count in the community tallies only once it is followed.",
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(serializer.data, status=status.HTTP_201_CREATED)


INVALID_CREDENTIALS = "Unable to log in with the username and password given."


def _account_attempt(username: str) -> Attempt:
    """Count a password check against the account's failure budget (the `login_account` rate),
    from any address: every spelling of a username is one account (votes.usernames)."""
    account = hashlib.sha256(usernames.canonical(username).encode()).hexdigest()[:32]
    return attempt_count(scope="login_account", client=f"account:{account}")


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
        description="The username may be typed in any case or Unicode spelling of the account's (`ADA` logs in "
        "as `Ada`). Limited per client address (`THROTTLE_LOGIN`, IPv6 by /64) and per account from any "
        "address: after `THROTTLE_LOGIN_ACCOUNT` failures (default 5 per 15 minutes) every attempt for that "
        "account is a 429 with `Retry-After` until the window ends, even with the right password.",
    )
    def post(self, request: Request) -> Response:
        credentials = TokenRequestSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        username, password = credentials.validated_data["username"], credentials.validated_data["password"]
        attempt = _account_attempt(username)
        user = authenticate(request._request, username=username, password=password)
        if user is None:
            # The same answer for an unknown user and a wrong password.
            raise ValidationError({"non_field_errors": [ErrorDetail(INVALID_CREDENTIALS, code="invalid_credentials")]})
        attempt.succeeded()
        AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
        instance, token = AuthToken.objects.create(user=user)
        remember_owner(instance)  # its first vote is then one query (votes.fastpath)
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


class LogoutAllView(APIView):
    """Revoke every token of the account, on every device, this one included."""

    permission_classes = [IsAuthenticated]
    authentication_classes = [BearerTokenAuthentication]

    @extend_schema(
        request=None,
        responses={204: None},
        operation_id="auth_logout_all",
        summary="Log out everywhere",
        description="Revokes every bearer token of the account (this one too): every device must log in again.",
    )
    def post(self, request: Request) -> Response:
        accounts.tokens_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _password_errors(field: str, password: str, user: AbstractBaseUser) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as error:
        raise ValidationError({field: get_error_detail(error)}) from None


WRONG_PASSWORD = "Your old password was entered incorrectly."


@extend_validation_errors(PASSWORD_CODES, field_name="new_password", methods=["post"])
@extend_validation_errors(["invalid"], field_name="old_password", methods=["post"])
class PasswordChangeView(APIView):
    """Change the account's password (the old one proves it is you); every token is revoked."""

    permission_classes = [IsAuthenticated]
    authentication_classes = [BearerTokenAuthentication]

    @extend_schema(
        request=PasswordChangeSerializer,
        responses={204: None},
        operation_id="auth_password_change",
        summary="Change password",
        description="Checks `old_password`, validates `new_password` with the password validators, sets it and "
        "revokes every bearer token of the account, the one this request used included: log in again with "
        "the new password. Wrong old passwords count against the account's login limit "
        "(`THROTTLE_LOGIN_ACCOUNT`): a stolen token cannot be used to guess the password either.",
    )
    def post(self, request: Request) -> Response:
        payload = PasswordChangeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        user = request.user
        attempt = _account_attempt(user.get_username())
        if not user.check_password(payload.validated_data["old_password"]):
            raise ValidationError({"old_password": [ErrorDetail(WRONG_PASSWORD, code="invalid")]})
        attempt.succeeded()
        _password_errors("new_password", payload.validated_data["new_password"], user)
        accounts.password_change(user=user, password=payload.validated_data["new_password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


RESET_ACCEPTED = "If an account has that address, a link to set a new password is on its way."


class PasswordResetView(APIView):
    """Ask for a link to set a new password. The answer is the same whether or not the address is known."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [PasswordResetRateThrottle]

    @extend_schema(
        request=PasswordResetRequestSerializer,
        responses={202: DetailSerializer},
        operation_id="auth_password_reset",
        summary="Request a password reset email",
        description="Emails the account at that address (any case) a link to "
        "`<PUBLIC_BASE_URL>/api/v1/auth/password-reset/confirm/?token=...`, valid once and for "
        "`PASSWORD_RESET_TIMEOUT` seconds (default one hour). Always 202 with the same body, known address "
        "or not. At most one email per address per `THROTTLE_PASSWORD_RESET_EMAIL` (default 15 minutes); "
        "requests are limited per client address (`THROTTLE_PASSWORD_RESET`).",
    )
    def post(self, request: Request) -> Response:
        payload = PasswordResetRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        accounts.password_reset_request(email=payload.validated_data["email"])
        return Response({"detail": RESET_ACCEPTED}, status=status.HTTP_202_ACCEPTED)


BAD_RESET_LINK = "This link is invalid or has expired."


@extend_validation_errors(["invalid"], field_name="token", methods=["get", "post"])
@extend_validation_errors(PASSWORD_CODES, field_name="new_password", methods=["post"])
class PasswordResetConfirmView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [PasswordResetRateThrottle]

    @extend_schema(
        responses={200: DetailSerializer, 400: ValidationErrorResponseSerializer},
        parameters=[OpenApiParameter("token", str, required=True, description="The token from the email's link.")],
        operation_id="auth_password_reset_check",
        summary="Check a password reset link",
        description="What the emailed link answers when clicked: 200 while the token can still set a password "
        "(then POST it here with `new_password`), else 400 on `token`. Changes nothing.",
    )
    def get(self, request: Request) -> Response:
        payload = SubscriptionTokenSerializer(data={"token": request.query_params.get("token")})
        payload.is_valid(raise_exception=True)
        if not accounts.password_reset_check(token=payload.validated_data["token"]):
            raise ValidationError({"token": [ErrorDetail(BAD_RESET_LINK, code="invalid")]})
        return Response({"detail": "This link is valid: POST it here with `new_password` to set your password."})

    @extend_schema(
        request=PasswordResetConfirmSerializer,
        responses={200: DetailSerializer},
        operation_id="auth_password_reset_confirm",
        summary="Set a new password with a reset token",
        description="Sets `new_password` (checked by the password validators) on the account the token was "
        "emailed to and revokes every bearer token of that account. The token then stops working "
        "(it is single-use), as it does after `PASSWORD_RESET_TIMEOUT` seconds.",
    )
    def post(self, request: Request) -> Response:
        payload = PasswordResetConfirmSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            done = accounts.password_reset_confirm(
                token=payload.validated_data["token"], password=payload.validated_data["new_password"]
            )
        except DjangoValidationError as error:
            raise ValidationError({"new_password": get_error_detail(error)}) from None
        if not done:
            raise ValidationError({"token": [ErrorDetail(BAD_RESET_LINK, code="invalid")]})
        return Response({"detail": "Password changed. Log in with the new password."})


TOOL_BUSY = "Votes on this tool are waiting on another write; try again in a few seconds."


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
        return Response(vote_document(slug, vote, tool.community))

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
        except services.ToolBusy as busy:
            raise DatabaseBusy(TOOL_BUSY, wait=busy.retry_after) from busy
        created = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(vote_document(slug, result.vote, result.community), status=created)

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
        except services.ToolBusy as busy:
            raise DatabaseBusy(TOOL_BUSY, wait=busy.retry_after) from busy
        if result.vote is None:
            raise NotFound("You have not voted on this tool.")
        return Response(status=status.HTTP_204_NO_CONTENT)


def vote_document(slug: str, vote: Vote, community: Tally) -> dict:
    """VoteSerializer's shape, built directly: on the vote path the serializer cost more than the database."""
    return {
        "tool": slug,
        "verdict": vote.verdict,
        "counted": vote.counted,
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

        services.newsletter_subscribe(email=payload.validated_data["email"])
        return Response({"detail": ACCEPTED}, status=status.HTTP_202_ACCEPTED)


class _EmailLinkView(APIView):
    """The links in an email: GET (a click) and POST (a frontend) do the same."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    token_serializer: type[serializers.Serializer] = SubscriptionTokenSerializer
    apply_token: Callable[..., bool]
    done: str

    def _apply(self, token: str | None) -> Response:
        payload = self.token_serializer(data={"token": token})
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
class ConfirmSubscriptionView(_EmailLinkView):
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
class UnsubscribeView(_EmailLinkView):
    apply_token = staticmethod(services.newsletter_unsubscribe)
    done = "Unsubscribed. You will get no more email from us."


@extend_validation_errors(["invalid"], field_name="token", methods=["post"])
class VerifyEmailView(_EmailLinkView):
    token_serializer = VerificationTokenSerializer
    apply_token = staticmethod(services.voter_verify)
    done = "Email address verified: your votes count."

    @extend_schema(
        responses=_link_responses,
        parameters=[_token_param],
        operation_id="auth_verify_retrieve",
        summary="Verify an email address (the emailed link)",
        description="The link in the verification email. Valid for 48 hours; from then on the account's votes, "
        "past and future, count in the community tallies. Using the link again changes nothing.",
    )
    def get(self, request: Request) -> Response:
        return super().get(request)

    @extend_schema(
        request=VerificationTokenSerializer,
        responses={200: DetailSerializer},
        operation_id="auth_verify_create",
        summary="Verify an email address (token in the body)",
        description="The same as following the emailed link, for a frontend that takes the token from it.",
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


RESENT = "If your address may receive another email now, a new verification link is on its way."


@extend_validation_errors(["already_verified", "no_email"], field_name="non_field_errors", methods=["post"])
class VerifyResendView(APIView):
    """Email the caller a new verification link."""

    permission_classes = [IsAuthenticated]
    authentication_classes = [BearerTokenAuthentication]
    throttle_classes = [VerifyResendRateThrottle]

    @extend_schema(
        request=None,
        responses={202: DetailSerializer},
        operation_id="auth_verify_resend",
        summary="Resend the verification email",
        description="Limited per account and per client; and an address gets at most one email "
        "(verification or newsletter) a day, so within a day of the last one nothing is sent. "
        "The answer is the same whether or not an email went.",
    )
    def post(self, request: Request) -> Response:
        try:
            services.voter_resend_verification(user=request.user)
        except services.NothingToVerify as error:
            raise ValidationError({"non_field_errors": [ErrorDetail(str(error), code=error.code)]}) from None
        return Response({"detail": RESENT}, status=status.HTTP_202_ACCEPTED)
