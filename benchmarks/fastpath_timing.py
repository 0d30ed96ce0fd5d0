"""Microseconds per request of the fast paths, in-process, against real PostgreSQL and Redis.

    .venv/bin/python benchmarks/fastpath_timing.py      (~1 min; not in `make bench`)

Prepares a fresh PostgreSQL database with the seed comparison and a private Redis,
then calls Django's WSGI handler directly (no server, no sockets but the database's
and Redis's) for the bare baseline view, the cached comparison, the cached
overall leaderboard and a vote (one voter changing their verdict on every request:
votes.fastpath), in interleaved batches of 1,000. Prints the best batch of each,
and each read's time over the bare view's: the fast path's own cost. Wall-clock
through a server drifts too much on a shared machine to show a change of ~10% of
that overhead; the best of interleaved in-process batches does.
"""

import io
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = {
    "baseline": "/bench/baseline/",
    "comparison_cached": "/api/v1/comparisons/code-llama-4-vs-mistral-large-3/",
    "leaderboard": "/api/v1/leaderboards/",
    "vote_write": "/api/v1/tools/code-llama-4/vote/",
}
BATCHES, BATCH = 9, 1000


def time_requests() -> None:
    """The measured process: warm each path, then time interleaved batches."""
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.client import RequestFactory

    from benchmarks.voters import voters_with_tokens

    handler, factory = WSGIHandler(), RequestFactory()
    ((_, token),) = voters_with_tokens(prefix="fastpath-voter", count=1)
    verdicts = itertools.cycle([b'{"verdict": "ship"}', b'{"verdict": "skip"}'])

    def call(path: str) -> None:
        body = next(verdicts) if path == PATHS["vote_write"] else b""
        headers = {"HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1"}
        if body:
            environ = factory.put(
                path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}", **headers
            ).environ
        else:
            environ = factory.get(path, **headers).environ
        environ["wsgi.input"] = io.BytesIO(body)
        statuses = []
        answer = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
        b"".join(answer)
        answer.close()
        assert statuses == ["200 OK"] or (body and statuses == ["201 Created"]), (path, statuses)

    for path in PATHS.values():
        for _ in range(100):  # the cached documents, compiled queries, prepared statements
            call(path)
    best = dict.fromkeys(PATHS, float("inf"))
    for _ in range(BATCHES):
        for name, path in PATHS.items():
            started = time.perf_counter()
            for _ in range(BATCH):
                call(path)
            best[name] = min(best[name], (time.perf_counter() - started) / BATCH * 1e6)
    print(f"{'case':<20}{'µs/request':>12}{'over baseline':>15}")
    for name, micros in best.items():
        print(f"{name:<20}{micros:>12.1f}{micros - best['baseline']:>15.1f}")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.seeded import SETTINGS, seeded_database

    os.environ.update(SETTINGS)  # tests.helpers (the private Redis) needs Django set up
    import django

    django.setup()
    from tests.helpers import RedisServer

    redis = RedisServer()
    redis.start()
    try:
        # PYTHONWARNINGS: no collected static files, which whitenoise says on start.
        with seeded_database("bench_fastpath", REDIS_URL=redis.url, PYTHONWARNINGS="ignore") as env:
            subprocess.run([sys.executable, __file__, "--time"], cwd=ROOT, env=env, check=True)
    finally:
        redis.stop()


if __name__ == "__main__":
    if sys.argv[1:] == ["--time"]:
        time_requests()
    else:
        main()
