"""Prometheus metrics: what the API counts, and the text served at /metrics.

prometheus-client, used directly. Under gunicorn every worker writes its values
to memory-mapped files in PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py sets it up,
wipes it at start and marks exited workers dead), and a scrape adds the files of
all workers together, so any worker's answer shows the whole server. Without that
directory (`make run`, the tests) the values live in this process.

Labels are bounded: the route is a URL name, never a path; a method outside the
HTTP set counts as "other". Each (route, method, status) keeps its label children
in a dict, so counting a request is a dict lookup and three increments.

Figures that live in another process's tables rather than in a request (the task
queue) are read at scrape time by collectors registered with
`register_scrape_collector`.
"""

import logging
import os
from collections.abc import Callable, Iterable
from functools import cache

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NAMESPACE = "verdicts"
METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
# Seconds. A cached read takes about a millisecond, a vote a few, a database wait
# hits its timeout in seconds: the buckets resolve each of those.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by route (URL name), method and status.",
    ["route", "method", "status"],
    namespace=NAMESPACE,
    registry=None,
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the first middleware to the response, by route and method.",
    ["route", "method"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
    registry=None,
)
VOTES = Counter(
    "votes",
    "Votes written, by outcome: created, changed, repeat (nothing written), withdrawn.",
    ["outcome"],
    namespace=NAMESPACE,
    registry=None,
)
DOCUMENT_CACHE = Counter(
    "document_cache_lookups",
    "Cached reads, by layer (fastpath, view) and result (hit, miss, or tallies: the facts from the "
    "cache, the tallies read again after a vote); a read the fast path passes on is counted once, by the view.",
    ["layer", "result"],
    namespace=NAMESPACE,
    registry=None,
)
RATE_LIMITED = Counter(
    "rate_limited",
    "Requests refused with a 429, by the limit (scope) they were over.",
    ["scope"],
    namespace=NAMESPACE,
    registry=None,
)
DEPENDENCY_FAILURES = Counter(
    "dependency_failures",
    "Failed calls to the database or Redis that the API answered around (a 503, uncached, unlimited), "
    "by dependency and the driver's exception class.",
    ["dependency", "error"],
    namespace=NAMESPACE,
    registry=None,
)
COLLECTED = (REQUESTS, LATENCY, VOTES, DOCUMENT_CACHE, RATE_LIMITED, DEPENDENCY_FAILURES)

_request_children: dict[tuple[str, str, int], tuple] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    if method not in METHODS:
        method = "other"  # a client's made-up method must not make a series (or a dict entry) of its own
    children = _request_children.get((route, method, status))
    if children is None:
        children = _request_children[route, method, status] = (
            REQUESTS.labels(route, method, str(status)),
            LATENCY.labels(route, method),
        )
    children[0].inc()
    children[1].observe(seconds)


@cache
def _vote_child(outcome: str) -> Counter:
    return VOTES.labels(outcome)


def count_vote(outcome: str) -> None:
    _vote_child(outcome).inc()


@cache
def _cache_child(layer: str, result: str) -> Counter:
    return DOCUMENT_CACHE.labels(layer, result)


def count_cache_lookup(layer: str, result: str) -> None:
    _cache_child(layer, result).inc()


def count_rate_limited(scope: str) -> None:
    RATE_LIMITED.labels(scope).inc()


def count_failure(dependency: str, error: str) -> None:
    """A database or Redis call failed (compare_api.failures.report, every breaker's and handler's one call)."""
    DEPENDENCY_FAILURES.labels(dependency, error).inc()


_scrape_collectors: list[Collector] = []


def register_scrape_collector(collector: Collector) -> None:
    """Add a collector run on every scrape (its `collect()` yields metric families).
    For figures kept outside request processes, such as the task queue's table."""
    if collector not in _scrape_collectors:
        _scrape_collectors.append(collector)


class CallbackCollector:
    """A collector from a function returning metric families; a failure drops its figures from
    that scrape (and is logged) instead of failing the scrape."""

    def __init__(self, name: str, collect: Callable[[], Iterable[Metric]]) -> None:
        self.name = name
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        try:
            return list(self._collect())
        except Exception as error:
            logger.warning("metrics: %s not collected: %s", self.name, error)
            return []


def task_queue() -> Iterable[Metric]:
    """The task queue, read from its table at scrape time (compare_api.tasks.queue_stats), so it
    shows every worker's progress, whichever process runs them."""
    from compare_api.tasks import queue_stats

    family = GaugeMetricFamily(
        f"{NAMESPACE}_tasks",
        "Tasks by state: due (the backlog), scheduled (retries waiting for their time), running, "
        "failed (kept until pruned).",
        labels=["state"],
    )
    for state, count in queue_stats().items():
        family.add_metric([state], count)
    return [family]


register_scrape_collector(CallbackCollector("task queue", task_queue))


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render() -> bytes:
    """The Prometheus text exposition of every metric, summed over all workers."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        for metric in COLLECTED:
            registry.register(metric)
    for collector in _scrape_collectors:
        registry.register(collector)
    return generate_latest(registry)
