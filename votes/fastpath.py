"""Votes cast with a voter token, answered before Django REST framework runs.

A vote is the API's hot write, and most of its Python went to DRF's machinery
(the request wrapper, negotiation, the authentication, permission and throttle
classes, exception handling, rendering) rather than to the vote. This middleware
does for a well-formed `PUT /api/v1/tools/<slug>/vote/` what VoteView.put does:
the token, the voter's limits (the counters the throttles keep), the vote
(votes.services.vote_cast_by_id: one statement on PostgreSQL), and the same
document with the same headers.

On PostgreSQL a voter's vote is one query: a Redis script finds the token's owner
(kept there for an hour from login, TokenView, or from the token's last look-up:
votes.auth.OWNER_SECONDS) and counts the vote against the owner's limits, in one
round trip; then the vote's statement checks the token itself (knox's checks) and
casts the vote only if it holds; then the documents' versions are bumped (a second
Redis round trip, after the commit). The owner in Redis only says whose counters to
count: a wrong one costs the caller a refused vote, never a vote cast. A token Redis
holds no owner for (and every token on SQLite) is looked up first
(votes.auth.token_owner, knox's check in one query of four columns); on PostgreSQL
its owner is kept in the limits' round trip. Anything else goes on to the view,
which answers it in the usual shape and does not count the request a second time:
another method, a body other than a JSON object with a valid `verdict`, a token it
does not accept, a limit reached, an unknown or busy tool, Redis or the database
failing.
"""

import functools
import re
from collections.abc import Callable

import orjson
from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from knox.crypto import hash_token
from knox.settings import CONSTANTS

from compare_api import caching
from compare_api.cache import RedisCache
from compare_api.fastpath import accepts
from compare_api.renderers import render_json
from compare_api.throttling import VoteRateThrottle, add_headers, precount, precount_owner
from tools.models import Tool, Verdict
from votes import services
from votes.auth import (
    TOKEN_RE,
    TokenRefused,
    owner_cache_key,
    owners_route_votes,
    remember_owner_command,
    token_owner,
)
from votes.views import VoteView, vote_document

# Django's <slug:slug>, as votes/urls.py routes it.
VOTE_PATH = re.compile(r"/api/v1/tools/([-a-zA-Z0-9_]+)/vote/")
# A vote's body is `{"verdict": "ship"}`: anything longer is not one this path takes.
MAX_BODY = 256
# What VoteRateThrottle counts a voter's vote against: the voter tier and the votes limit.
SCOPES = ("voter", VoteRateThrottle.scope)
JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8", "application/json;charset=utf-8"})


@functools.cache
def _allow() -> str:
    """The view's Allow header (HEAD comes with GET when a view is set up for a request)."""
    view = VoteView()
    view.setup(HttpRequest())
    return ", ".join(view.allowed_methods)


def _verdict(request: HttpRequest) -> str | None:
    """The verdict a vote's JSON body names, or None for any body the view should judge."""
    meta = request.META
    length = meta.get("CONTENT_LENGTH", "")
    if meta.get("CONTENT_TYPE", "").lower() not in JSON_TYPES or not length.isdigit() or int(length) > MAX_BODY:
        return None
    try:
        payload = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return None
    verdict = payload.get("verdict") if type(payload) is dict else None
    return verdict if type(verdict) is str and verdict in Verdict.values else None


def _forget(cache: RedisCache, owner_key: str) -> None:
    try:
        cache._cache.get_client(write=True).delete(owner_key)
    except Exception as exc:
        caching.breaker.failed(exc, "a voter token's owner not forgotten")


class VoteWriteMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "PUT" and (match := VOTE_PATH.fullmatch(request.path_info)):
            response = self._answer(request, match[1])
            if response is not None:
                return response
        return self.get_response(request)

    def _answer(self, request: HttpRequest, slug: str) -> HttpResponse | None:
        meta = request.META
        scheme, _, token = meta.get("HTTP_AUTHORIZATION", "").partition(" ")
        cache = caches["default"]
        if (
            scheme != "Bearer"
            # A partner key beside the token is the view's to judge, as on every other path.
            or "HTTP_X_API_KEY" in meta
            or not accepts(request.path, meta.get("HTTP_ACCEPT"))
            # Only Redis counts the limits in one round trip; deprecation headers are the view path's business.
            or not isinstance(cache, RedisCache)
            or settings.API_DEPRECATIONS
            or not caching.breaker.available()
        ):
            return None
        verdict = _verdict(request)
        if verdict is None:
            return None
        try:
            credential = token.encode("latin-1")
        except UnicodeEncodeError:
            return None
        if not TOKEN_RE.fullmatch(credential):
            return None  # the view refuses it
        text = credential.decode()
        token_key, digest = text[: CONSTANTS.TOKEN_KEY_LENGTH], hash_token(text)
        owner_key = owner_cache_key(cache, token_key)
        statement_checks = owners_route_votes()
        try:
            owned = precount_owner(request, cache, owner_key, digest, SCOPES) if statement_checks else None
        except Exception as exc:
            # Open the breaker here, so the view that answers instead does not wait on Redis again.
            caching.breaker.failed(exc, "vote fast path skipped")
            return None
        if owned is not None:
            voter_id, within = owned
            checked_by_statement = (token_key, digest)
        else:
            try:
                voter_id = token_owner(credential)
            except TokenRefused:
                request.refused_token = credential  # the view refuses it without a second query
                return None
            except DatabaseError:
                return None
            if voter_id is None:  # expired or inactive: the view answers the 401 and counts the failure
                return None
            limits = [(scope, f"user:{voter_id}") for scope in SCOPES]
            remember = [remember_owner_command(cache, token_key, voter_id, digest)] if statement_checks else []
            try:
                within, _ = precount(request, cache, limits, also=remember)
            except Exception as exc:
                caching.breaker.failed(exc, "vote fast path skipped")
                return None
            checked_by_statement = None
        if not within:
            return None  # the view answers the 429 in the usual shape
        try:
            result = services.vote_cast_by_id(voter_id=voter_id, slug=slug, verdict=verdict, token=checked_by_statement)
        except (Tool.DoesNotExist, services.ToolBusy, DatabaseError) as refused:
            # A vote that did not happen (it is one statement, or one transaction): the view tries it
            # again and answers the 404 or 503, as PUT may be repeated; or, for a token the statement
            # refused (revoked, expired, its account inactive), the 401. Either way (the statement does
            # not say which) the owner Redis held goes: the token's next request is looked up in the
            # database, which refuses a dead token in one query.
            if checked_by_statement is not None and isinstance(refused, Tool.DoesNotExist):
                _forget(cache, owner_key)
            return None
        body = render_json(vote_document(slug, result.vote, result.community))
        response = HttpResponse(body, status=201 if result.created else 200, content_type="application/json")
        # What the view's answer carries from DRF and the middleware after this one.
        response["Allow"] = _allow()
        response["X-Frame-Options"] = settings.X_FRAME_OPTIONS
        response["Content-Length"] = str(len(body))
        add_headers(request, response)
        request.fast_path = True  # for the metrics' route label (compare_api.operations)
        return response
