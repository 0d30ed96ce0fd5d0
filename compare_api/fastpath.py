"""Anonymous reads of cached documents, answered before Django REST framework runs.

Most traffic is anonymous reads of documents that have not changed. With Redis,
this middleware answers them in one round trip: one batch of commands counts the
request against the client's per-IP limit (the same counter TierRateThrottle
uses) and fetches the current version tokens with the cached entry. A fresh
entry is the response (or a 304). A document kept as facts and tallies
(compare_api.caching) whose tallies a vote made stale is answered here too:
its tallies are read again (one small query) and stored. Anything else — a
miss, a stale entry, a request with credentials (Authorization or X-API-Key),
Redis or the database unreachable — goes on to the view as usual, which then
does not count the request a second time.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse

from compare_api import caching, metrics
from compare_api.cache import RedisCache
from compare_api.throttling import add_headers, anonymous_scope, client_ident, precount

CACHED_PREFIXES = ("/api/v1/",)
# Never from the cache: a draft's preview is built for each request (reviews.views.PreviewView).
UNCACHED_PREFIXES = ("/api/v1/previews/",)


# What a path's documents are, by its suffix: JSON unless it names another format (a badge's .svg).
_MEDIA_TYPES = {".svg": ("image/svg+xml", "image/*", "*/*")}
_JSON = ("application/json", "application/*", "*/*")


def accepts(path: str, accept: str | None) -> bool:
    # Anything else goes to the view, which answers 406 as DRF's content negotiation does
    # (an absent Accept means */*; a present but empty one accepts nothing).
    kinds = _MEDIA_TYPES.get(path[path.rfind(".") :], _JSON)  # no dot: the last character, so JSON
    return accept is None or any(kind in accept for kind in kinds)


class CachedReadMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method in ("GET", "HEAD")
            and request.path.startswith(CACHED_PREFIXES)
            and not request.path.startswith(UNCACHED_PREFIXES)
            # Any credential (a voter token, a partner key in either header) is the view's business:
            # it sets the caller's limit and may be refused; only anonymous reads are answered here.
            and "HTTP_AUTHORIZATION" not in request.META
            and "HTTP_X_API_KEY" not in request.META
            and accepts(request.path, request.META.get("HTTP_ACCEPT"))
            and settings.DOCUMENT_CACHE
            and caching.breaker.available()
        ):
            response = self._answer(request)
            if response is not None:
                return response
        return self.get_response(request)

    def _answer(self, request: HttpRequest) -> HttpResponse | None:
        cache = caches["default"]
        if not isinstance(cache, RedisCache) or settings.API_DEPRECATIONS:
            # Only Redis can count and fetch in one round trip; deprecation headers are the view path's business.
            return None
        # A document kept as facts and tallies (caching.tally_versions) is two entries, the facts under
        # the catalog's token alone; any other, one entry under every version it shows.
        tally_names = caching.tally_versions(request.path, request.GET)
        names = caching.versions_for(request.path) if tally_names is None else [caching.CATALOG, *tally_names]
        keys = [cache.make_key(caching.version_key(name)) for name in names]
        doc_key = caching.doc_key_for(request.get_full_path())
        entry_keys = [doc_key] if tally_names is None else [doc_key, caching.tallies_key_for(doc_key)]
        entry_keys = [cache.make_key(key) for key in entry_keys]
        limits = [(anonymous_scope(request.path), f"ip:{client_ident(request)}")]
        try:
            within, values = precount(request, cache, limits, [*keys, *entry_keys])
        except Exception as exc:
            # Open the breaker here, so the view that answers instead does not wait on Redis again.
            caching.breaker.failed(exc, "fast path skipped")
            return None
        if not within:
            return None  # the view answers the 429 in the usual shape
        loads = cache._cache._serializer.loads
        values = [None if value is None else loads(value) for value in values]
        tokens = values[: len(keys)]
        if None in tokens:
            return None
        result = "hit"
        if tally_names is None:
            (entry,) = values[len(keys) :]
            if entry is None or entry[0] != tokens:
                return None
            _, etag, body, *headers = entry  # headers: a non-JSON document's own (caching.cached_read)
        else:
            facts, tallies = values[len(keys) :]
            if facts is None or facts[0] != tokens[:1]:
                return None
            if tallies is None or tallies[0] != tokens[1:]:
                # A vote since: its tallies, read again here (one query), fill the cached facts.
                rendered = self._current_tallies(facts[2])
                if rendered is None:
                    return None
                caching.store({caching.tallies_key_for(doc_key): (tokens[1:], rendered)})
                tallies, result = (tokens[1:], rendered), "tallies"
            body, headers = caching.fill(facts[1], tallies[1]), []
            etag = caching.tallied_etag(facts[3], tallies[1])
        request.fast_path = True  # for the metrics' route label (compare_api.operations)
        metrics.count_cache_lookup("fastpath", result)
        response = caching.respond(request, body, etag, *headers)
        add_headers(request, response)
        return response

    @staticmethod
    def _current_tallies(slugs: tuple[str, ...]) -> tuple[bytes, ...] | None:
        try:
            return caching.current_tallies(slugs)
        except Exception:
            return None  # the database failing: the view answers, in the usual shape
