from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from rest_framework import exceptions


class BearerTokenAuthentication(TokenAuthentication):
    """Voter tokens (`Authorization: Bearer <token>`), stored hashed and expiring (django-rest-knox)."""

    def authenticate_credentials(self, token: bytes):
        # Knox decodes the header as UTF-8 itself; a stray byte must be a 401, not a 500.
        try:
            token.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
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
