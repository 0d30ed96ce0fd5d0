import re
from hmac import compare_digest

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS, connection
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS, knox_settings
from rest_framework import exceptions

from compare_api import caching
from compare_api.cache import RedisCache
from compare_api.compiled import CompiledQuery
from compare_api.throttling import count_failed_authentication, owner_entry

TOKEN_RE = re.compile(rb"[0-9a-f]{1,256}")

User = get_user_model()
_TOKEN_FIELDS = [field.attname for field in AuthToken._meta.concrete_fields]
_USER_FIELDS = [field.attname for field in User._meta.concrete_fields]
# Every request with a bearer token runs this: compiled once (compare_api.compiled).
_TOKENS_WITH_USER = CompiledQuery(
    lambda key: (
        AuthToken.objects.filter(token_key=key)
        .order_by()
        .values_list(*_TOKEN_FIELDS, *(f"user__{name}" for name in _USER_FIELDS))
    ),
    key="\x00token-key",
)


def _expired(auth_token: AuthToken) -> bool:
    # Knox also sweeps all the user's other expired tokens here, a query on every
    # request; expired tokens are swept at login instead (TokenView).
    if auth_token.expiry is not None and auth_token.expiry < timezone.now():
        auth_token.delete()
        return True
    return False


def valid_token(token: bytes) -> AuthToken | None:
    """The unexpired token `token` is (its `user` loaded with it, in one query), else None.

    Knox's own check, over a compiled query instead of a QuerySet built per request.
    """
    # Knox tokens are hex. Anything else (a stray non-UTF-8 byte, a NUL that
    # PostgreSQL would refuse) is refused before it reaches a query.
    if not TOKEN_RE.fullmatch(token):
        return None
    text = token.decode()
    for row in _TOKENS_WITH_USER.rows(key=text[: CONSTANTS.TOKEN_KEY_LENGTH]):
        auth_token = AuthToken.from_db(DEFAULT_DB_ALIAS, _TOKEN_FIELDS, row[: len(_TOKEN_FIELDS)])
        auth_token.user = User.from_db(DEFAULT_DB_ALIAS, _USER_FIELDS, row[len(_TOKEN_FIELDS) :])
        if not _expired(auth_token) and compare_digest(hash_token(text), auth_token.digest):
            return auth_token
    return None


# The vote fast path needs only whose token it is: no models, no password hash or other columns.
_TOKEN_OWNERS = CompiledQuery(
    lambda key: (
        AuthToken.objects.filter(token_key=key).order_by().values_list("digest", "expiry", "user_id", "user__is_active")
    ),
    key="\x00token-key",
)


class TokenRefused(Exception):
    """No token is this one: BearerTokenAuthentication may refuse it without looking again."""


def token_owner(token: bytes) -> int | None:
    """The id of the active account whose unexpired token `token` is; raises TokenRefused when
    no token is `token`; None when the view must judge it (an expired token, which the view
    deletes; an inactive account, whose refusal the view words; a malformed one, no query).

    valid_token's check, for a caller that needs no models (votes.fastpath).
    """
    if not TOKEN_RE.fullmatch(token):
        return None
    text = token.decode()
    now = timezone.now()
    expired = False
    for digest, expiry, user_id, is_active in _TOKEN_OWNERS.rows(key=text[: CONSTANTS.TOKEN_KEY_LENGTH]):
        if expiry is not None and expiry < now:
            expired = True
        elif compare_digest(hash_token(text), digest):
            return user_id if is_active else None
    if expired:
        return None
    raise TokenRefused


# How long Redis keeps a token's owner after the token was made (TokenView) or last looked up in
# the database (votes.fastpath): a routing hint for the vote's limits, not a credential
# (compare_api.throttling.precount_owner). About 200 bytes per token.
OWNER_SECONDS = 3600


def owners_route_votes() -> bool:
    """Whether Redis's copy of a token's owner is used: only where the vote's own statement
    checks the token (PostgreSQL: votes.services._CAST_SQL)."""
    return connection.vendor == "postgresql"


def owner_cache_key(cache: RedisCache, token_key: str) -> str:
    return cache.make_key(f"voter-token:{token_key}")


def remember_owner_command(cache: RedisCache, token_key: str, account_id: int, digest: str) -> tuple:
    """The Redis command that keeps a token's owner, to send with others in one round trip."""
    return ("SET", owner_cache_key(cache, token_key), owner_entry(account_id, digest), "EX", OWNER_SECONDS)


def remember_owner(auth_token: AuthToken) -> bool:
    """Keep a new token's owner in Redis, so that its first vote is already the fast path's one
    query; whether it was kept. Only where that path uses it (Redis, and PostgreSQL, whose vote
    statement checks the token); a Redis that fails costs the first vote a look-up, nothing else."""
    cache = caches["default"]
    if not isinstance(cache, RedisCache) or not owners_route_votes() or not caching.breaker.available():
        return False
    command = remember_owner_command(cache, auth_token.token_key, auth_token.user_id, auth_token.digest)
    try:
        cache._cache.get_client(write=True).execute_command(*command)
    except Exception as exc:
        caching.breaker.failed(exc, "a new token's owner not kept")
        return False
    return True


class BearerTokenAuthentication(TokenAuthentication):
    """Voter tokens (`Authorization: Bearer <token>`), stored hashed and expiring (django-rest-knox)."""

    def authenticate(self, request):
        # A token the vote fast path already found no row for (votes.fastpath): no second query.
        self.refused = getattr(request._request, "refused_token", None)
        try:
            return super().authenticate(request)
        except exceptions.APIException:
            count_failed_authentication(request)
            raise

    def authenticate_credentials(self, token: bytes):
        auth_token = None if token == getattr(self, "refused", None) else valid_token(token)
        if auth_token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if knox_settings.AUTO_REFRESH and auth_token.expiry:
            self.renew_token(auth_token)
        return self.validate_user(auth_token)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "voterToken"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A voter token from POST /api/v1/auth/token/, sent as `Authorization: Bearer <token>`.",
        }
