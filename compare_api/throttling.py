"""Rate limits that count exactly, shared by every server process.

DRF's stock throttles read a list of timestamps, append and write it back, so
concurrent requests overwrite each other and a burst gets through at up to
twice the limit. Here each (scope, client, window) has one counter that the
cache increments atomically (Redis INCR; a lock in local memory), so N
concurrent requests against a limit of L let exactly min(N, L) through.

Windows are fixed (they start on multiples of the period), which is what the
IETF RateLimit header fields describe: `RateLimit-Reset` is the seconds until
the window ends, when the whole allowance comes back.

When the cache is unreachable the limit is not enforced (fail open): the API
keeps serving, the failure is logged, and the cache is left alone for a few
seconds (compare_api.caching.breaker) so a dead Redis costs no latency.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from compare_api.caching import breaker

if TYPE_CHECKING:  # DRF's views import this module through DEFAULT_THROTTLE_CLASSES
    from rest_framework.request import Request
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

# As DRF reads rates: the period's first letter counts ("30/min", "30/minute", "1000/day").
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class RateLimit:
    limit: int
    remaining: int
    reset: int  # seconds until the window ends

    @property
    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


def parse_rate(rate: str) -> tuple[int, int]:
    """'60/min' -> (60, 60); '1000/day' -> (1000, 86400)."""
    count, _, period = rate.partition("/")
    return int(count), PERIODS[period[0]]


def record(request: HttpRequest, limit: RateLimit) -> None:
    """Keep the tightest limit seen on this request, for the response headers."""
    current: RateLimit | None = getattr(request, "rate_limit", None)
    if current is None or limit.remaining < current.remaining:
        request.rate_limit = limit


def _increment(cache: BaseCache, key: str, timeout: int) -> int:
    """Add one to the window's counter, atomically; the first increment starts its expiry."""
    if isinstance(cache, RedisCache):  # Django's, or ours in compare_api.cache
        # One round trip: Django's add() + incr() would be three (incr checks existence first).
        full_key = cache.make_and_validate_key(key)
        with cache._cache.get_client(full_key, write=True).pipeline(transaction=False) as pipe:
            pipe.incr(full_key)
            pipe.expire(full_key, timeout, nx=True)
            count, _ = pipe.execute()
        return count
    cache.add(key, 0, timeout=timeout)
    return cache.incr(key)


class WindowRateThrottle(BaseThrottle):
    """Counts requests per `scope` and client in fixed windows."""

    scope: str = ""
    cache_alias = "default"
    only_methods: frozenset[str] | None = None  # None: every method counts

    def get_rate(self, request: Request, view: APIView) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_client_key(self, request: Request, view: APIView) -> str | None:
        """Who is counted; None exempts the request."""
        return f"ip:{self.get_ident(request)}"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.only_methods is not None and request.method not in self.only_methods:
            return True
        rate = self.get_rate(request, view)
        client = self.get_client_key(request, view)
        if rate is None or client is None:
            return True
        limit, period = parse_rate(rate)
        now = time.time()
        window = int(now // period)
        key = f"ratelimit:{self.scope}:{client}:{window}"
        precounted = getattr(request._request, "precounted", {}).get((self.scope, client))
        if precounted is None and not breaker.available():
            return True
        try:
            # The fast path (compare_api.fastpath) may have counted this request already.
            count = precounted or _increment(caches[self.cache_alias], key, period + 1)
        except Exception:  # the cache is down: serve, don't limit
            logger.warning("rate limit %s not enforced: cache unavailable", self.scope, exc_info=True)
            breaker.failed()
            return True
        self.reset = max(1, math.ceil((window + 1) * period - now))
        record(request._request, RateLimit(limit=limit, remaining=max(0, limit - count), reset=self.reset))
        return count <= limit

    def wait(self) -> float:
        return self.reset


class TierRateThrottle(WindowRateThrottle):
    """Every API request: per partner key (by its tier), per voter account, else per client IP."""

    def _client(self, request: Request) -> tuple[str, str]:
        from partners.models import PartnerKey

        if isinstance(request.auth, PartnerKey):
            return f"partner_{request.auth.tier}", f"key:{request.auth.pk}"
        if request.user.is_authenticated:
            return "voter", f"user:{request.user.pk}"
        return "anon", f"ip:{self.get_ident(request)}"

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.scope, self.client = self._client(request)
        return super().allow_request(request, view)

    def get_client_key(self, request: Request, view: APIView) -> str | None:
        return self.client


def count_failed_authentication(request: Request) -> None:
    """A refused credential still counts against the client's address (per-IP `anon` limit),
    so nobody can try keys or tokens without limit; past the limit the answer is a 429."""
    throttle = WindowRateThrottle()
    throttle.scope = "anon"
    if not throttle.allow_request(request, None):
        raise Throttled(wait=throttle.wait())


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class VoteRateThrottle(WindowRateThrottle):
    """Vote writes per voter account."""

    scope = "votes"
    only_methods = WRITES

    def get_client_key(self, request: Request, view: APIView) -> str | None:
        return f"user:{request.user.pk}" if request.user.is_authenticated else None


class RegisterRateThrottle(WindowRateThrottle):
    scope = "register"
    only_methods = WRITES


class LoginRateThrottle(WindowRateThrottle):
    scope = "login"
    only_methods = WRITES


class NewsletterRateThrottle(WindowRateThrottle):
    scope = "newsletter"
    only_methods = WRITES
