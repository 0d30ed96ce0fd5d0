"""The last authenticator: an `Authorization` header no earlier authenticator took is refused."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from compare_api.throttling import count_failed_authentication


class RejectUnknownAuthorization(BaseAuthentication):
    """Reached only when every authenticator before it passed over the request. An `Authorization`
    header then is in a scheme nobody knows (`Token ...`, a bare key): a 401 that names the known
    schemes, never anonymous service a client would take for its own tier."""

    def authenticate(self, request: Request) -> None:
        if "HTTP_AUTHORIZATION" not in request.META:
            return None
        count_failed_authentication(request)
        known = [
            scheme
            for authenticator in request.authenticators
            if authenticator is not self and (scheme := authenticator.authenticate_header(request))
        ]
        scheme = get_authorization_header(request).split()[:1]
        named = f"'{scheme[0].decode('latin-1')}'" if scheme else "(empty)"
        raise exceptions.AuthenticationFailed(
            f"Unknown authorization scheme {named}: use {' or '.join(f'`{name}`' for name in known)}."
        )


class RejectUnknownAuthorizationScheme(OpenApiAuthenticationExtension):
    """No security scheme of its own: it only refuses."""

    target_class = RejectUnknownAuthorization
    name: list[str] = []

    def get_security_requirement(self, auto_schema) -> None:
        return None

    def get_security_definition(self, auto_schema) -> list:
        return []
