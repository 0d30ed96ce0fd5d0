"""Server-side document cache and strong ETags for the read endpoints.

A read is cached under its path and the current *version tokens* of what it
shows: `catalog` (tools, reviews, reviewers, curation — any staff or seed
write), `votes` (any vote) and `tool:<slug>` (votes on one tool). A write
replaces the tokens it affects with new random ones after its transaction
commits, so the next read misses and is built fresh. Tokens are random, not
counters, so a cache that lost them (eviction, restart) can never hand out an
old document under a matching key.

The cached entry is the rendered JSON and its ETag (a hash of those bytes;
a document in another format, a badge's SVG, adds the headers it is sent with),
kept under the path with the tokens it was built under, so a hit, and a 304
for a matching If-None-Match, costs one cache round trip (tokens and entry in
one MGET) and no query. When the cache is unreachable, reads are built every time (the ETag
then comes from the fresh bytes, so conditional GET keeps working) and the
cache is left alone (its circuit breaker, below) until a probe finds it
answering; a process that saw it fail replaces every token before using it
again, so no invalidation lost to the outage can leave an old document served.
Documents expire after DOCUMENT_TTL, which bounds what a process that never saw
the outage could serve before the others' probes have run.

Reads that show votes only as the tools' community tallies (a two-tool
comparison, a tool, the tools list in an order votes cannot change; see
tally_versions) are kept in two entries: the facts (the rendered document with
a hole where each tally goes, under the `catalog` token alone) and the tallies
(the rendered tallies, under the tokens that votes replace). A vote then costs
the next read a lookup of a few counters, not a rebuild: the facts stay cached,
the tallies are read again (one small query) and the response is the facts with
the tallies filled in. Its ETag hashes the facts' hash with the tallies (not the
whole body again on every hit), on every path, cached or not, so it is the same
for the same bytes and changes when any byte does.
"""

import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request

from compare_api import failures, metrics
from compare_api.breakers import CircuitBreaker
from compare_api.renderers import render_json
from compare_api.slugs import split_comparison_slug

CATALOG = "catalog"
VOTES = "votes"
EVENTS = "events"  # the change feed: bumped by each commit that wrote an event
HISTORY = "history"  # score history: bumped by each commit that wrote history rows
DOCUMENT_TTL = 60  # bounds how long a document can outlive an invalidation lost to an outage


def tool_version(slug: str) -> str:
    return f"tool:{slug}"


_COMPARISON = re.compile(r"/api/v1/comparisons/([^/]+)/")
_TOOL = re.compile(r"/api/v1/tools/([^/]+)/")
_TOOL_HISTORY = re.compile(r"/api/v1/tools/[^/]+/history/")
# Reads that rank many tools by their tallies: any vote may move them.
_RANKED_BY_VOTES = re.compile(r"/api/v1/(?:tools/|leaderboards/(?:[^/]+/)?)|/api/v1/tools/[^/]+/alternatives/")
_BADGE = re.compile(r"/api/v1/badges/tools/([^/]+)\.(?:svg|json)")


def versions_for(path: str) -> list[str]:
    """What a cached read at `path` shows, as version names: the one mapping the views
    and the fast path (compare_api.fastpath) share."""
    if match := _COMPARISON.fullmatch(path):
        pair = split_comparison_slug(match.group(1))
        return [CATALOG, *map(tool_version, pair)] if pair else [CATALOG]
    if match := _TOOL.fullmatch(path):
        return [CATALOG, tool_version(match.group(1))]
    if _RANKED_BY_VOTES.fullmatch(path):
        return [CATALOG, VOTES]
    if path == "/api/v1/changes/":
        return [EVENTS]
    if _TOOL_HISTORY.fullmatch(path):
        return [CATALOG, HISTORY]
    if match := _BADGE.fullmatch(path):
        return [CATALOG, tool_version(match.group(1))]
    return [CATALOG]


TOOLS_LIST = "/api/v1/tools/"


def tally_versions(path: str, query: Mapping) -> list[str] | None:
    """For a read whose document shows votes only as tools' community tallies, the versions its
    tallies are cached under (its facts are under `catalog` alone); None for any other read.

    Three or four tools have a community pick, and a list ordered by a community figure an order,
    that votes move: those stay whole documents (versions_for)."""
    if match := _COMPARISON.fullmatch(path):
        pair = split_comparison_slug(match.group(1))
        return [*map(tool_version, pair)] if pair and len(pair) == 2 else None
    if match := _TOOL.fullmatch(path):
        return [tool_version(match.group(1))]
    if path == TOOLS_LIST and not any("community" in value for value in query.getlist("ordering")):
        return [VOTES]
    return None


def doc_key_for(full_path: str) -> str:
    return "doc:" + hashlib.blake2b(full_path.encode(), digest_size=16).hexdigest()


def tallies_key_for(doc_key: str) -> str:
    return "tallies:" + doc_key


def version_key(name: str) -> str:
    return f"version:{name}"


def _new_token() -> str:
    return secrets.token_hex(8)


def _cache():
    return caches["default"]


class _CacheBreaker(CircuitBreaker):
    """Redis's breaker (compare_api.breakers): while open, every cache call is skipped.

    A process that saw the cache fail cannot know which invalidations were lost
    meanwhile (its own bumps, skipped while open, or another process's), so its
    probe replaces every token before closing: documents cached before the
    outage are never served after it.
    """

    RETRY_AFTER = 1.0  # seconds between probes while open

    def __init__(self) -> None:
        super().__init__("redis", interval=self.RETRY_AFTER)

    def failed(self, exc: BaseException, what: str) -> None:  # type: ignore[override]
        failures.report("redis", exc, what)
        super().failed(_probe_and_restart_documents)


def _probe_and_restart_documents() -> None:
    # Runs in the probe thread, which has its own cache client (Django's caches are per thread).
    _cache().delete_many([version_key(CATALOG), version_key(VOTES)])


breaker = _CacheBreaker()


def bump_now(*names: str) -> None:
    """Invalidate now. Skipped while the breaker is open (a stalled Redis must not cost every
    vote a timeout): the probe replaces every token before the cache is used again."""
    if not breaker.available():
        return
    try:
        _cache().set_many({version_key(name): _new_token() for name in names}, timeout=None)
    except Exception as exc:
        breaker.failed(exc, "version bump lost, every document restarts when it is back")


def bump(*names: str) -> None:
    """New version tokens for `names` once the current transaction commits."""
    transaction.on_commit(lambda: bump_now(*names))


def _lookup(names: list[str], *entry_keys: str) -> tuple[list[str], list[tuple | None]] | None:
    """In one round trip, the version tokens of `names` (created when missing) and the
    cached entries under `entry_keys`; None when the cache is unavailable."""
    if not breaker.available():
        return None
    try:
        cache = _cache()
        keys = [version_key(name) for name in names]
        found = cache.get_many([*keys, *entry_keys])
        missing = [key for key in keys if key not in found]
        if missing:
            for key in missing:
                cache.add(key, _new_token(), timeout=None)
            found = {**found, **cache.get_many(missing)}
        tokens = [found.get(key) for key in keys]
        if None in tokens:  # deleted in between by another process's restart (see _CacheBreaker): build it uncached
            return None
        return tokens, [found.get(key) for key in entry_keys]
    except Exception as exc:
        breaker.failed(exc, "serving uncached")
        return None


def etag_for(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 If-None-Match: `*`, or any listed tag equal to ours by weak comparison."""
    if if_none_match.strip() == "*":
        return True
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return etag in tags


def respond(request: HttpRequest, body: bytes, etag: str, headers: dict[str, str] | None = None) -> HttpResponse:
    """The 200 (or 304) for a document; `headers` replace the JSON defaults (Content-Type,
    Cache-Control) and add others, on the 304 too (it must say what the 200 would)."""
    if _matches(request.headers.get("If-None-Match", ""), etag):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = settings.API_CACHE_CONTROL
    if headers:
        for name, value in headers.items():
            response[name] = value
    return response


@dataclass(frozen=True)
class Tallied:
    """How a document shows votes, for the reads tally_versions() names: only as the `community`
    tally of each tool dict `tools_of(document)` returns (in the order they are rendered)."""

    tools_of: Callable[[object], list[dict]]


_read_tallies: Callable[[list[str]], dict[str, dict]] | None = None


def read_tallies_with(read: Callable[[list[str]], dict[str, dict]]) -> None:
    """How to read tools' community tallies from the database now, {slug: tally}, in one query: set by
    the tools app (ToolsConfig.ready), as this module imports no app."""
    global _read_tallies
    _read_tallies = read


# Stands in for each tally while the facts are rendered: a string no document can hold
# (NUL is refused in every text field) with a per-process nonce on top.
_HOLE = f"\x00tally-{secrets.token_hex(8)}\x00"
_HOLE_BYTES = render_json(_HOLE)


def fill(segments: tuple[bytes, ...], tallies: tuple[bytes, ...]) -> bytes:
    """The document: the facts' segments with the rendered tallies in the holes between them."""
    parts = [segments[0]]
    for tally, segment in zip(tallies, segments[1:], strict=True):
        parts += (tally, segment)
    return b"".join(parts)


def tallied_etag(facts_digest: bytes, tallies: tuple[bytes, ...]) -> str:
    """A tallied document's strong ETag: rendered tallies are JSON objects, so their concatenation
    is unambiguous, and with the facts' hash it changes whenever any byte of the document does."""
    return etag_for(facts_digest + b"".join(tallies))


def _split(document: object, tallied: Tallied) -> tuple[tuple[bytes, ...], tuple[str, ...], tuple[bytes, ...], bytes]:
    """Render `document` as facts (segments around a hole per tally), the tools' slugs, the
    tallies, and the facts' hash."""
    tools = tallied.tools_of(document)
    communities = [tool["community"] for tool in tools]
    for tool in tools:
        tool["community"] = _HOLE
    try:
        segments = tuple(render_json(document).split(_HOLE_BYTES))
    finally:
        for tool, community in zip(tools, communities, strict=True):
            tool["community"] = community
    assert len(segments) == len(tools) + 1, "a tally hole appeared in the facts"
    # Joined with NUL, which rendered JSON never holds (it escapes it), not with the hole: the
    # hole's nonce differs between processes, and the same bytes must get the same ETag in every one.
    digest = hashlib.blake2b(b"\x00".join(segments), digest_size=16).digest()
    return segments, tuple(tool["slug"] for tool in tools), tuple(map(render_json, communities)), digest


def current_tallies(slugs: tuple[str, ...]) -> tuple[bytes, ...] | None:
    """The tools' tallies as they are now, rendered; None when one is gone (its facts are stale too)."""
    current = _read_tallies(list(slugs))
    if len(current) < len(set(slugs)):
        return None
    return tuple(render_json(current[slug]) for slug in slugs)


def store(entries: dict[str, tuple], timeout: int = DOCUMENT_TTL) -> None:
    try:
        if len(entries) == 1:
            _cache().set(*entries.popitem(), timeout=timeout)
        else:
            _cache().set_many(entries, timeout=timeout)
    except Exception as exc:
        breaker.failed(exc, "document not stored")


def _tallied_read(request: Request, build: Callable[[], object], tallied: Tallied, names: list[str]) -> HttpResponse:
    """cached_read() for a document kept as facts and tallies (see the module's docstring)."""
    doc_key = doc_key_for(request.get_full_path())
    tallies_key = tallies_key_for(doc_key)
    looked_up = _lookup([CATALOG, *names], doc_key, tallies_key) if settings.DOCUMENT_CACHE else None
    if looked_up is not None:
        (catalog, *tally_tokens), (facts, tallies) = looked_up
        if facts is not None and facts[0] == [catalog]:
            _, segments, slugs, digest = facts
            if tallies is not None and tallies[0] == tally_tokens:
                metrics.count_cache_lookup("view", "hit")
                return respond(request, fill(segments, tallies[1]), tallied_etag(digest, tallies[1]))
            rendered = current_tallies(slugs)
            if rendered is not None:
                metrics.count_cache_lookup("view", "tallies")
                store({tallies_key: (tally_tokens, rendered)})
                return respond(request, fill(segments, rendered), tallied_etag(digest, rendered))
        metrics.count_cache_lookup("view", "miss")
    segments, slugs, rendered, digest = _split(build(), tallied)
    if looked_up is not None:
        store({doc_key: ([catalog], segments, slugs, digest), tallies_key: (tally_tokens, rendered)})
    return respond(request, fill(segments, rendered), tallied_etag(digest, rendered))


def cached_read(
    request: Request,
    build: Callable[[], object],
    *,
    timeout: int = DOCUMENT_TTL,
    render: Callable[[object], bytes] = render_json,
    headers: dict[str, str] | None = None,
    tallied: Tallied | None = None,
) -> HttpResponse:
    """Answer a read from the document cache, or build, render and store it.

    The entry for a path holds the version tokens it was built under; it is
    served only while they are still current. `build` returns the data that
    `render` turns into bytes (JSON unless told otherwise); an exception it raises
    (a 404, a 400) is answered as usual and nothing is stored. `timeout` shortens how
    long an entry may be served for documents that can change without a write to
    invalidate them. `headers` (respond()) are kept in the entry, so the fast path
    sends the same ones; a JSON document's entry stays (tokens, etag, body).
    `tallied` says how a JSON document shows votes, for the reads tally_versions()
    names: those are kept as facts and tallies.
    """
    if tallied is not None:
        names = tally_versions(request.path, request.GET)
        if names is not None:
            return _tallied_read(request, build, tallied, names)
    doc_key = doc_key_for(request.get_full_path())
    looked_up = _lookup(versions_for(request.path), doc_key) if settings.DOCUMENT_CACHE else None
    if looked_up is not None:
        tokens, (entry,) = looked_up
        if entry is not None and entry[0] == tokens:
            _, etag, body, *stored_headers = entry
            metrics.count_cache_lookup("view", "hit")
            return respond(request, body, etag, *stored_headers)
        metrics.count_cache_lookup("view", "miss")
    body = render(build())
    etag = etag_for(body)
    if looked_up is not None:
        store({doc_key: (tokens, etag, body, *([headers] if headers else []))}, timeout)
    return respond(request, body, etag, headers)


# For read-only viewsets: list and retrieve go through cached_read(). A view
# changes what is built by overriding list_document / retrieve_document.
# (Comments, not a docstring: drf-spectacular would publish a docstring as the
# description of every operation that has none of its own.)
class CachedReadMixin:
    def list_document(self, request: Request, *args: object, **kwargs: str) -> object:
        return super().list(request, *args, **kwargs).data

    def retrieve_document(self, request: Request, *args: object, **kwargs: str) -> object:
        return super().retrieve(request, *args, **kwargs).data

    def list(self, request: Request, *args: object, **kwargs: str) -> HttpResponse:
        return cached_read(request, lambda: self.list_document(request, *args, **kwargs))

    def retrieve(self, request: Request, *args: object, **kwargs: str) -> HttpResponse:
        return cached_read(request, lambda: self.retrieve_document(request, *args, **kwargs))


def invalidate_catalog(**signal_kwargs: object) -> None:
    """post_save / post_delete receiver for the catalog models.

    A signal, against the house rule, because this is cache bookkeeping rather
    than domain logic, and it must follow every save: the admin, seeds, the shell.
    """
    bump(CATALOG)


def invalidate_catalog_on_change(*models: type) -> None:
    from django.db.models.signals import post_delete, post_save

    for model in models:
        post_save.connect(invalidate_catalog, sender=model, dispatch_uid=f"catalog-save-{model.__name__}")
        post_delete.connect(invalidate_catalog, sender=model, dispatch_uid=f"catalog-delete-{model.__name__}")
