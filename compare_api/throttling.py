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
keeps serving, the failure is logged, and the cache is left alone until it
answers again (compare_api.caching.breaker) so a dead or stalled Redis costs no latency.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse
from redis.exceptions import NoScriptError
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from compare_api import metrics
from compare_api.caching import breaker

if TYPE_CHECKING:  # DRF's views import this module through DEFAULT_THROTTLE_CLASSES
    from redis import Redis
    from redis.connection import Connection
    from rest_framework.request import Request
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

# As DRF reads rates: the period's first letter counts ("30/min", "30/minute", "1000/day"),
# optionally after a number of periods ("5/15min": five per fifteen minutes).
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PERIOD = re.compile(r"([0-9]*)([smhd])[a-z]*")


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


class RateLimitedCredential(Protocol):
    """What an authentication class may attach as `request.auth` to give its callers a
    limit of their own (partner keys do): the rate's name in DEFAULT_THROTTLE_RATES and
    the client the counter is kept for. Without one, a caller is a voter or anonymous."""

    rate_scope: str
    rate_client: str


@functools.cache
def parse_rate(rate: str) -> tuple[int, int]:
    """'60/min' -> (60, 60); '1000/day' -> (1000, 86400); '5/15min' -> (5, 900)."""
    count, _, period = rate.partition("/")
    match = _PERIOD.fullmatch(period)
    if match is None:
        raise ValueError(f"not a rate: {rate!r} (write e.g. '30/min' or '5/15min')")
    return int(count), int(match[1] or 1) * PERIODS[match[2]]


_PROXY_AWARE = BaseThrottle()  # stateless: only its get_ident is used


def client_ident(request: HttpRequest) -> str | None:
    """Who a per-client limit counts: the client's address, and for IPv6 its /64.

    An IPv6 client is usually given a whole /64, so counting single addresses
    would hand it 2**64 allowances. IPv4-mapped IPv6 addresses count as IPv4.
    X-Forwarded-For is trusted as DRF's NUM_PROXIES says (BaseThrottle.get_ident).
    """
    return _counted_as(_PROXY_AWARE.get_ident(request))  # None without REMOTE_ADDR


# ipaddress takes ~8 µs to parse and format an address, on every request; a few thousand
# addresses make most of a server's traffic.
@functools.lru_cache(maxsize=4096)
def _counted_as(raw: str | None) -> str | None:
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:  # not an address (a misconfigured proxy, none at all): count it as it is
        return raw
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def record(request: HttpRequest, limit: RateLimit) -> None:
    """Keep the tightest limit seen on this request, for the response headers."""
    current: RateLimit | None = getattr(request, "rate_limit", None)
    if current is None or limit.remaining < current.remaining:
        request.rate_limit = limit


def add_headers(request: HttpRequest, response: HttpResponse) -> None:
    """The RateLimit-* fields of the tightest limit `request` was counted against, if any."""
    limit: RateLimit | None = getattr(request, "rate_limit", None)
    if limit is not None:
        for name, value in limit.headers.items():
            response[name] = value


def window_key(scope: str, client: str, window: int) -> str:
    return f"ratelimit:{scope}:{client}:{window}"


def window_reset(now: float, period: int) -> int:
    """Seconds until the window containing `now` ends (at least 1)."""
    return max(1, math.ceil((int(now // period) + 1) * period - now))


def count_and_get(
    client: Redis, counters: list[str], timeout: int, keys: Sequence[str] = (), also: Sequence[tuple] = ()
) -> tuple[list, list]:
    """The one way a request is counted in its window counters on Redis, used by the
    throttles and the fast path alike: adds one to each counter and reads `keys` (None
    where missing), in one round trip, with the commands `also` (their replies unread).
    Returns the new counts and the values read.

    INCR, then EXPIRE NX: the expiry is set only where there is none, so the pair needs
    no MULTI or script to be safe under concurrency: if one request's EXPIRE were lost,
    the next request in the window sets it. (A script would do it in one command, but
    costs Redis 15 µs a call against 1.5 for the three commands.)

    The commands go out together on one of the pool's connections, with the pool's
    retry on a dropped connection, as a redis-py pipeline sends them; the pipeline's
    own objects and reply callbacks cost a cached read ~30 µs of Python for nothing.
    """
    commands = [command for key in counters for command in (("INCR", key), ("EXPIRE", key, timeout, "NX"))]
    commands += also
    if keys:
        commands.append(("MGET", *keys))
    replies = _round_trip(client, commands)
    return replies[0 : 2 * len(counters) : 2], replies[-1] if keys else []


def _round_trip(client: Redis, commands: list[tuple]) -> list:
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        return connection.retry.call_with_retry(
            lambda: _send_all(connection, commands), lambda error: connection.disconnect()
        )
    except BaseException:
        connection.disconnect()  # replies may be left unread on it
        raise
    finally:
        pool.release(connection)


def _rates(limits: Sequence[tuple[str, str]]) -> list[tuple[str, str, int, int]]:
    """(scope, client, limit, period) of each limit whose scope has a configured rate."""
    configured = api_settings.DEFAULT_THROTTLE_RATES
    return [(scope, client, *parse_rate(configured[scope])) for scope, client in limits if configured.get(scope)]


def _counted(request: HttpRequest, rates: list[tuple[str, str, int, int]], counts: Sequence[int], now: float) -> bool:
    """Keeps each limit's count on the request (`precounted`), so the throttles never count it a
    second time, and records its RateLimit for the headers; whether every count is within its limit."""
    precounted = request.__dict__.setdefault("precounted", {})
    within = True
    for (scope, client_key, limit, period), count in zip(rates, counts, strict=True):
        precounted[scope, client_key] = count
        record(request, RateLimit(limit=limit, remaining=max(0, limit - count), reset=window_reset(now, period)))
        within = within and count <= limit
    return within


def precount(
    request: HttpRequest,
    cache: RedisCache,
    limits: Sequence[tuple[str, str]],
    keys: Sequence[str] = (),
    also: Sequence[tuple] = (),
) -> tuple[bool, list]:
    """Counts a request against its (scope, client) limits before any view runs (the fast
    paths), reading `keys` (full cache keys) and sending the commands `also` in the same
    round trip. Returns whether the request is within every limit, and the values read.
    Raises what Redis raises."""
    now = time.time()
    rates = _rates(limits)
    # make_key, not make_and_validate_key: memcached's key checks only warn, and Redis takes any key.
    counters = [cache.make_key(window_key(scope, client, int(now // period))) for scope, client, _, period in rates]
    redis = cache._cache.get_client(write=True)
    counts, values = count_and_get(redis, counters, max((period for *_, period in rates), default=0) + 1, keys, also)
    return _counted(request, rates, counts, now), values


# The vote fast path keeps who owns a voter token in Redis ("<account id> <digest>" under the
# token's key): a routing hint, not a credential, since the vote's own statement checks the token
# again. With it the voter's counters are known in Redis itself, so this script counts the
# vote against them in the round trip that looks the owner up. A script costs Redis ~15 µs,
# where a query for the owner costs a round trip to PostgreSQL. (The counters' names are made
# here from the id: fine on one Redis, not on a cluster.)
_COUNT_FOR_OWNER = """
local owner = redis.call('GET', KEYS[1])
if not owner then return false end
local space = string.find(owner, ' ', 1, true)
if not space or string.sub(owner, space + 1) ~= ARGV[1] then return false end
local id = string.sub(owner, 1, space - 1)
local counts = {id}
for i = 3, #ARGV, 2 do
    local key = ARGV[i] .. id .. ARGV[i + 1]
    counts[#counts + 1] = redis.call('INCR', key)
    redis.call('EXPIRE', key, ARGV[2], 'NX')
end
return counts
"""
_COUNT_FOR_OWNER_SHA = hashlib.sha1(_COUNT_FOR_OWNER.encode()).hexdigest()
_ID = "\x00id\x00"  # where the account id goes in a counter's name


def owner_entry(account_id: int, digest: str) -> str:
    return f"{account_id} {digest}"


def precount_owner(
    request: HttpRequest, cache: RedisCache, owner_key: str, digest: str, scopes: Sequence[str]
) -> tuple[int, bool] | None:
    """The account Redis holds as the owner of the token whose digest is `digest` (under
    `owner_key`, a full cache key, as owner_entry() writes it), with the request counted
    against that account's `scopes` limits (client `user:<id>`), as precount() counts, in
    one round trip, and whether the request is within every limit. None, counting nothing,
    where Redis holds no owner or one for another digest. Raises what Redis raises."""
    now = time.time()
    rates = _rates([(scope, f"user:{_ID}") for scope in scopes])
    affixes = [
        part
        for scope, client, _, period in rates
        for part in cache.make_key(window_key(scope, client, int(now // period))).split(_ID)
    ]
    ttl = max((period for *_, period in rates), default=0) + 1
    redis = cache._cache.get_client(write=True)
    args = (1, owner_key, digest, ttl, *affixes)
    try:
        (reply,) = _round_trip(redis, [("EVALSHA", _COUNT_FOR_OWNER_SHA, *args)])
    except NoScriptError:  # a Redis that has not run it yet (or restarted): EVAL loads it
        (reply,) = _round_trip(redis, [("EVAL", _COUNT_FOR_OWNER, *args)])
    if reply is None:
        return None
    account_id, *counts = reply
    client = f"user:{int(account_id)}"
    rates = [(scope, client, limit, period) for scope, _, limit, period in rates]
    return int(account_id), _counted(request, rates, counts, now)


def _send_all(connection: Connection, commands: list[tuple]) -> list:
    connection.send_packed_command(connection.pack_commands(commands))
    return [connection.read_response() for _ in commands]


def _increment(cache: BaseCache, keys: list[str], timeout: int) -> list[int]:
    """Add one to each window counter, atomically, in one round trip; returns the new counts."""
    if isinstance(cache, RedisCache):  # Django's, or ours in compare_api.cache
        full_keys = [cache.make_key(key) for key in keys]  # ours: no need for memcached's key checks
        counts, _ = count_and_get(cache._cache.get_client(full_keys[0], write=True), full_keys, timeout)
        return counts
    counts = []
    for key in keys:
        cache.add(key, 0, timeout=timeout)
        counts.append(cache.incr(key))
    return counts


class WindowRateThrottle(BaseThrottle):
    """Counts each request against its limits, in fixed windows; all of them in one cache round trip."""

    cache_alias = "default"

    def get_ident(self, request: Request) -> str | None:
        return client_ident(request)

    def limits(self, request: Request, view: APIView | None) -> list[tuple[str, str]]:
        """The (scope, client) pairs this request counts against; an empty list exempts it."""
        raise NotImplementedError

    def allow_request(self, request: Request, view: APIView | None) -> bool:
        now = time.time()
        precounted = getattr(request._request, "precounted", {})
        counters = []  # (scope, client, limit, period)
        for scope, client in self.limits(request, view):
            rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
            if rate is not None:
                counters.append((scope, client, *parse_rate(rate)))
        # The fast path (compare_api.fastpath) may have counted this request already.
        uncounted = [c for c in counters if (c[0], c[1]) not in precounted]
        if uncounted and not breaker.available():
            return True
        counts = dict(precounted)
        try:
            # One period per request in practice; grouped so each script call shares its expiry.
            for period in {c[3] for c in uncounted}:
                batch = [c for c in uncounted if c[3] == period]
                window = int(now // period)
                keys = [window_key(scope, client, window) for scope, client, _, _ in batch]
                batch_counts = _increment(caches[self.cache_alias], keys, period + 1)
                for (scope, client, _, _), count in zip(batch, batch_counts, strict=True):
                    counts[scope, client] = count
        except Exception as exc:  # the cache is down: serve, don't limit
            breaker.failed(exc, "rate limits not enforced")
            return True
        allowed, self.reset = True, 0
        for scope, client, limit, period in counters:
            count = counts[scope, client]
            reset = window_reset(now, period)
            record(request._request, RateLimit(limit=limit, remaining=max(0, limit - count), reset=reset))
            if count > limit:
                metrics.count_rate_limited(scope)
                allowed, self.reset = False, max(self.reset, reset)
        return allowed

    def wait(self) -> float:
        return self.reset


# Badges are fetched by image proxies (GitHub's camo, shields.io, mail clients): a few addresses
# that carry every reader of every page embedding one, each fetch cheap (cached, max-age 300).
# Counted per IP as anonymous reads are, but against a limit of their own that such a proxy
# does not reach, and apart from the API's: a badge proxy never uses up a reader's reads.
BADGE_PATHS = "/api/v1/badges/"


def anonymous_scope(path: str) -> str:
    """The per-IP limit an anonymous request for `path` counts against (by the fast path too)."""
    return "badge" if path.startswith(BADGE_PATHS) else "anon"


class TierRateThrottle(WindowRateThrottle):
    """Every API request: per partner key (by its tier), per voter account, else per client IP.

    Subclasses add a limit of their own (`scope`, counted on `only_methods`) to the tier's.
    """

    scope: str | None = None
    only_methods: frozenset[str] | None = None  # None: every method counts

    def limits(self, request: Request, view: APIView | None) -> list[tuple[str, str]]:
        limits = [self._tier(request)]
        if self.scope is not None and (self.only_methods is None or request.method in self.only_methods):
            client = self.get_client_key(request)
            if client is not None:
                limits.append((self.scope, client))
        return limits

    def _tier(self, request: Request) -> tuple[str, str]:
        scope = getattr(request.auth, "rate_scope", None)
        if scope is not None:  # a RateLimitedCredential
            return scope, request.auth.rate_client
        if request.user.is_authenticated:
            return "voter", f"user:{request.user.pk}"
        return anonymous_scope(request.path), f"ip:{self.get_ident(request)}"

    def get_client_key(self, request: Request) -> str | None:
        """Who `scope` counts; None exempts the request."""
        return f"ip:{self.get_ident(request)}"


class _FailedAuthenticationThrottle(WindowRateThrottle):
    def limits(self, request: Request, view: APIView | None) -> list[tuple[str, str]]:
        return [("anon", f"ip:{self.get_ident(request)}")]


def count_failed_authentication(request: Request) -> None:
    """A refused credential still counts against the client's address (per-IP `anon` limit),
    so nobody can try keys or tokens without limit; past the limit the answer is a 429."""
    throttle = _FailedAuthenticationThrottle()
    if not throttle.allow_request(request, None):
        raise Throttled(wait=throttle.wait())


@dataclass(frozen=True)
class Attempt:
    """One attempt counted against a budget of failures (see `attempt_count`)."""

    key: str | None  # None: nothing was counted (no rate configured, or the cache unavailable)
    cache_alias: str = "default"

    def succeeded(self) -> None:
        """Give the attempt back: only failures use up the budget."""
        if self.key is None:
            return
        try:
            caches[self.cache_alias].decr(self.key)
        except Exception:  # expired meanwhile, or the cache is down: at worst one success counted as a failure
            logger.warning("attempt %s not given back", self.key, exc_info=True)


def attempt_count(*, scope: str, client: str) -> Attempt:
    """Count an attempt (a password check) against `client`'s failure budget in `scope`.

    The attempt is counted before it is made, so concurrent attempts cannot overrun the
    budget (N at once against a budget of L: at most L are made); a successful one is
    given back with `Attempt.succeeded()`. Past the budget this raises Throttled (429,
    Retry-After: the seconds until the window ends) without the attempt being made,
    whatever its outcome would have been. Fails open when the cache is unreachable.
    """
    rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
    if rate is None or not breaker.available():
        return Attempt(key=None)
    limit, period = parse_rate(rate)
    now = time.time()
    key = window_key(scope, client, int(now // period))
    try:
        (count,) = _increment(caches["default"], [key], period + 1)
    except Exception as exc:  # the cache is down: check the password, don't limit
        breaker.failed(exc, f"rate limit {scope} not enforced")
        return Attempt(key=None)
    if count > limit:
        raise Throttled(wait=window_reset(now, period))
    return Attempt(key=key)


def once_per_window(*, scope: str, client: str) -> bool:
    """Whether this is the first time in `scope`'s current window for `client` (mail limits).

    Fails closed when the cache is unreachable: an email not sent can be asked for again,
    an email sent cannot be taken back.
    """
    rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
    if rate is None:
        return True
    limit, period = parse_rate(rate)
    try:
        (count,) = _increment(caches["default"], [window_key(scope, client, int(time.time() // period))], period + 1)
    except Exception:
        logger.warning("%s not sent: cache unavailable to count it", scope, exc_info=True)
        return False
    return count <= limit


WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class VoteRateThrottle(TierRateThrottle):
    """The tier's limit, and vote writes per voter account."""

    scope = "votes"
    only_methods = WRITES

    def get_client_key(self, request: Request) -> str | None:
        return f"user:{request.user.pk}" if request.user.is_authenticated else None


class RegisterRateThrottle(TierRateThrottle):
    """The tier's limit, and registrations per client IP."""

    scope = "register"
    only_methods = WRITES


class LoginRateThrottle(TierRateThrottle):
    """The tier's limit, and logins per client IP."""

    scope = "login"
    only_methods = WRITES


class PasswordResetRateThrottle(TierRateThrottle):
    """The tier's limit, and password reset requests per client IP (/64 for IPv6)."""

    scope = "password_reset"
    only_methods = WRITES


class NewsletterRateThrottle(TierRateThrottle):
    """The tier's limit, and newsletter sign-ups per client IP."""

    scope = "newsletter"
    only_methods = WRITES


class VerifyResendRateThrottle(TierRateThrottle):
    """The tier's limit, and requests for a new verification link per voter account and per client IP."""

    def limits(self, request: Request, view: APIView | None) -> list[tuple[str, str]]:
        limits = [self._tier(request)]
        if request.method in WRITES:
            if request.user.is_authenticated:
                limits.append(("verify_resend", f"user:{request.user.pk}"))
            limits.append(("verify_resend_ip", f"ip:{self.get_ident(request)}"))
        return limits
