import re

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from rest_framework import exceptions

from compare_api.throttling import count_failed_authentication

TOKEN_RE = re.compile(rb"[0-9a-f]{1,256}")


class BearerTokenAuthentication(TokenAuthentication):
    """Voter tokens (`Authorization: Bearer <token>`), stored hashed and expiring (django-rest-knox)."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except exceptions.APIException:
            count_failed_authentication(request)
            raise

    def _cleanup_token(self, auth_token) -> bool:
        # Knox also sweeps all the user's other expired tokens here, a query on
        # every request; expired tokens are swept at login instead (TokenView).
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False

    def authenticate_credentials(self, token: bytes):
        # Knox tokens are hex. Anything else (a stray non-UTF-8 byte, a NUL that
        # PostgreSQL would refuse) is a 401 before it reaches a query.
        if not TOKEN_RE.fullmatch(token):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "voterToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A voter token from POST /api/v1/auth/token/, sent as `Authorization: Bearer <token>`.",
        }
