import re

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from compare_api.throttling import count_failed_authentication
from partners.models import PartnerKey
from partners.usage import usage_record

PREFIX = b"api-key"
HEADER = "HTTP_X_API_KEY"
# prefix.secret, as djangorestframework-api-key generates them.
KEY_RE = re.compile(rb"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}")


class ApiKeyAuthentication(BaseAuthentication):
    """Partners send `X-API-Key: <key>` or `Authorization: Api-Key <key>`; request.auth is then
    their PartnerKey.

    A partner is not a voter: request.user stays anonymous, so votes need a voter token.
    """

    # A revoked or expired key is a 403 (compare_api.openapi documents it on every operation that reads keys).
    may_refuse_with_403 = True

    def authenticate(self, request: Request) -> tuple[AnonymousUser, PartnerKey] | None:
        try:
            return self._authenticate(request)
        except exceptions.APIException:
            count_failed_authentication(request)
            raise

    def _authenticate(self, request: Request) -> tuple[AnonymousUser, PartnerKey] | None:
        header = request.META.get(HEADER)
        if header is not None:
            if "HTTP_AUTHORIZATION" in request.META:
                raise exceptions.AuthenticationFailed("Send one credential: `X-API-Key` or `Authorization`, not both.")
            # A client generated with the old `Authorization` scheme's prefix setting sends it here too.
            parts = header.encode("latin-1").split()
            if len(parts) == 2 and parts[0].lower() == PREFIX:
                parts = parts[1:]
        else:
            parts = get_authorization_header(request).split()
            if not parts or parts[0].lower() != PREFIX:
                return None
            parts = parts[1:]
        if len(parts) != 1 or not KEY_RE.fullmatch(parts[0]):
            raise exceptions.AuthenticationFailed(
                "Malformed API key: send `X-API-Key: <key>` or `Authorization: Api-Key <key>`."
            )
        key = parts[0].decode()
        try:
            partner_key = PartnerKey.objects.get(prefix=key.partition(".")[0])
        except PartnerKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Unknown API key.") from None
        if not partner_key.is_valid(key):
            raise exceptions.AuthenticationFailed("Unknown API key.")
        if partner_key.revoked or partner_key.has_expired:
            raise exceptions.PermissionDenied("This API key has been revoked or has expired.")
        usage_record(key_id=partner_key.pk)
        return AnonymousUser(), partner_key

    def authenticate_header(self, request: Request) -> str:
        return "Api-Key"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "partnerKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "A partner key, sent as `X-API-Key: <key>` (or, equivalently, as "
            "`Authorization: Api-Key <key>`; not both). Staff issue keys in the admin. A revoked or "
            "expired key is a 403.",
        }
