"""Fault drill: the API survives a PostgreSQL restart and a Redis outage, and loses no acknowledged vote.

    .venv/bin/python benchmarks/faults.py [--threads 8] [--voters 2000] [--workers 4]

Everything runs on loopback against PRIVATE services in a temporary directory,
torn down at the end even on failure: a PostgreSQL cluster (initdb + pg_ctl, run
as the `postgres` OS user when started as root) and a redis-server, both on free
ports. The script migrates, loads the seed comparison, creates voters with knox
tokens in bulk (as benchmarks/bench.py does) and starts the production server
(gunicorn.conf.py, 4 workers, rate limits raised out of the way). Client threads
then GET the seed comparison and PUT votes, each vote from a voter who never
voted before, with a verdict the client remembers, while:

1. PostgreSQL is restarted (`pg_ctl restart -m fast`) mid-load. Promises: every
   request started more than GRACE seconds after pg_ctl returned succeeds (no
   stale connection survives: CONN_MAX_AGE with CONN_HEALTH_CHECKS).
2. Redis is stopped. Promises: reads and votes keep succeeding, p99 latency
   under 1 s (0.25 s socket timeouts and the 2 s circuit breaker of
   compare_api/caching.py), conditional GET still answers 304, a vote shows on
   the next read (the document cache is bypassed; rate limits fail open).
3. Redis is started again on the same port. Promises: once the breaker's retry
   interval has passed every response carries RateLimit-* headers again, a
   repeated GET with If-None-Match is a 304 answered from the document cache
   (doc keys in Redis, keyspace hits), and a vote cast now shows on the next read.

Throughout, and checked against the database at the end: no vote acknowledged
with 200/201 is lost (each such voter has exactly that row with that verdict),
the tools' counters equal a recount of the rows (and `manage.py recount_votes`
agrees), and no successful read is older than a vote acknowledged before it was
sent. Prints the figures; exits 1 if any promise is broken. Runs in about a minute.

FAULTS_KEEP=1 keeps the temporary directory (gunicorn and PostgreSQL logs);
FAULTS_PG_BIN names the PostgreSQL server binaries (default: the newest under
/usr/lib/postgresql).
"""

import argparse
import bisect
import contextlib
import http.client
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
LEFT, RIGHT = "code-llama-4", "mistral-large-3"
COMPARISON = f"/api/v1/comparisons/{LEFT}-vs-{RIGHT}/"
GRACE = 3.0  # seconds after pg_ctl returns during which failures are still forgiven
BREAKER_RETRY = 2.0  # compare_api.caching._Breaker.RETRY_AFTER
P99_LIMIT = 1.0  # seconds, while Redis is down
REQUEST_TIMEOUT = 10.0
MAX_REQUESTS_PER_THREAD = 5000
HARD_LIMIT = 300.0  # seconds: no wait or load phase runs past this since the start


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
        return True
    return False


# --- private services ---------------------------------------------------------------------------


def _pg_bin() -> Path:
    if os.environ.get("FAULTS_PG_BIN"):
        return Path(os.environ["FAULTS_PG_BIN"])
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not versions:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql (set FAULTS_PG_BIN)")
    return versions[-1]


class PrivatePostgres:
    """A throw-away cluster on a free port; pg_ctl runs as `postgres` when we are root."""

    def __init__(self, workdir: Path) -> None:
        self.bin = _pg_bin()
        self.data = workdir / "pgdata"
        self.log = workdir / "postgres.log"
        self.sockets = workdir
        self.port = free_port()
        self.initialised = False

    def _run(self, *command: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=timeout)

    def _ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses={HOST}"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log), "-m", "fast",
            "-w", "-t", "30", action,
        )  # fmt: skip

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.initialised = True

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart")

    def stop(self) -> None:
        if self.initialised and (self.data / "postmaster.pid").exists():
            self._ctl("stop")

    def createdb(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')

    def url(self, database: str) -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{database}"


class PrivateRedis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir
        self.url = f"redis://{HOST}:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: port_open(self.port), timeout=10, what="redis-server")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def client(self):
        import redis

        return redis.Redis(host=HOST, port=self.port, socket_timeout=2)


class Server:
    """gunicorn with the production config, its output in a log file."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.log = workdir / "gunicorn.log"
        # XDG_RUNTIME_DIR: gunicorn's control socket goes here, not to the ~/.gunicorn/gunicorn.ctl every
        # other server on this machine uses.
        self.env = {**env, "BIND": f"{HOST}:{self.port}", "GUNICORN_ACCESSLOG": "", "XDG_RUNTIME_DIR": str(workdir)}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "compare_api.wsgi", "--config", "gunicorn.conf.py"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-2000:]}")
            return request(self.port, "GET", "/admin/login/").status == 200

        wait_for(ready, timeout=30, what="gunicorn", interval=0.2)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


# --- HTTP -----------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int  # 0: no HTTP answer (refused, reset, timed out)
    headers: dict[str, str]
    body: bytes
    start: float
    end: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def latency(self) -> float:
        return self.end - self.start

    def json(self) -> dict:
        return json.loads(self.body)


def request(
    port: int, method: str, path: str, *, token: str | None = None, body: dict | None = None, **headers: str
) -> Response:
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    start = time.monotonic()
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request(method, path, body=data, headers=headers)
        answer = connection.getresponse()
        payload = answer.read()
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, payload, start, time.monotonic())
    except (OSError, http.client.HTTPException) as error:
        return Response(0, {}, repr(error).encode(), start, time.monotonic())
    finally:
        connection.close()


# --- load -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Voter:
    user_id: int
    token: str


@dataclass
class Sample:
    phase: str
    kind: str  # "read" or "vote"
    response: Response
    voter: Voter | None = None
    tool: str | None = None
    verdict: str | None = None
    totals: dict[str, int] = field(default_factory=dict)  # community totals the answer shows, per tool

    @property
    def status(self) -> int:
        return self.response.status

    @property
    def ok(self) -> bool:
        return self.response.ok

    @property
    def start(self) -> float:
        return self.response.start

    @property
    def end(self) -> float:
        return self.response.end

    @property
    def rate_limited_headers(self) -> bool:
        return "ratelimit-limit" in self.response.headers


class Load:
    """Client threads: two GETs of the seed comparison, then a PUT vote from a fresh voter, paced."""

    def __init__(self, port: int, voters: list[Voter], tool_ids: dict[str, int], threads: int, pace: float) -> None:
        self.port = port
        self.voters = iter(voters)
        self.voter_lock = threading.Lock()
        self.tool_ids = tool_ids
        self.threads_count = threads
        self.pace = pace
        self.samples: list[Sample] = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.pool_exhausted = False
        self.phase = ""

    def next_voter(self) -> Voter | None:
        with self.voter_lock:
            voter = next(self.voters, None)
            self.pool_exhausted = self.pool_exhausted or voter is None
            return voter

    def start(self, phase: str, deadline: float) -> None:
        self.phase = phase
        self.stop_event.clear()
        self.threads = [
            threading.Thread(target=self._work, args=(index, deadline), daemon=True)
            for index in range(self.threads_count)
        ]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
        self.threads = []

    def record(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def _work(self, index: int, deadline: float) -> None:
        rng = random.Random(index)
        for n in range(MAX_REQUESTS_PER_THREAD):
            if self.stop_event.is_set() or time.monotonic() > deadline:
                return
            voter = self.next_voter() if n % 3 == 2 else None
            if voter is None:
                self.record(read_sample(self.port, self.phase))
            else:
                tool = (LEFT, RIGHT)[rng.randrange(2)]
                verdict = rng.choice(["ship", "skip"])
                response = request(self.port, "PUT", f"/api/v1/tools/{tool}/vote/", token=voter.token,
                                   body={"verdict": verdict})  # fmt: skip
                totals = {}
                if response.status in (200, 201):
                    totals = {tool: response.json()["community"]["total"]}
                self.record(Sample(self.phase, "vote", response, voter, tool, verdict, totals))
            self.stop_event.wait(self.pace)


def read_sample(port: int, phase: str, **headers: str) -> Sample:
    response = request(port, "GET", COMPARISON, **headers)
    totals = {}
    if response.status == 200:
        totals = {tool["slug"]: tool["community"]["total"] for tool in response.json()["tools"]}
    return Sample(phase, "read", response, totals=totals)


# --- figures --------------------------------------------------------------------------------------


def by_status(samples: list[Sample]) -> str:
    counts = Counter(s.status for s in samples)
    if not counts:
        return "none"
    return ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(counts.items()))


def latencies(samples: list[Sample]) -> str:
    values = sorted(s.response.latency * 1000 for s in samples)
    if not values:
        return "no requests"
    p50 = statistics.median(values)
    p99 = values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {values[-1]:.1f} ms (n={len(values)})"


def p99_seconds(samples: list[Sample]) -> float:
    values = sorted(s.response.latency for s in samples)
    return values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))] if values else 0.0


class Report:
    def __init__(self) -> None:
        self.broken: list[str] = []
        self.kept = 0

    def line(self, text: str = "") -> None:
        print(text, flush=True)

    def promise(self, ok: bool, text: str) -> None:
        print(f"  [{'ok' if ok else 'BROKEN'}] {text}", flush=True)
        if ok:
            self.kept += 1
        else:
            self.broken.append(text)


def stale_reads(samples: list[Sample]) -> list[tuple[Sample, str, int]]:
    """Successful reads that show fewer votes on a tool than a vote acknowledged before the read was sent.

    Votes are only ever added here (each voter votes once), so a tool's total only grows.
    """
    acked = sorted((s for s in samples if s.kind == "vote" and s.totals), key=lambda s: s.end)
    ends = [s.end for s in acked]
    running: dict[str, int] = {}
    prefix: list[dict[str, int]] = []
    for vote in acked:
        running = {**running, vote.tool: max(running.get(vote.tool, 0), vote.totals[vote.tool])}
        prefix.append(running)
    stale = []
    for read in (s for s in samples if s.kind == "read" and s.totals):
        position = bisect.bisect_left(ends, read.start)
        if position == 0:
            continue
        for tool, floor in prefix[position - 1].items():
            if read.totals.get(tool, 0) < floor:
                stale.append((read, tool, floor))
    return stale


# --- set-up ---------------------------------------------------------------------------------------


def prepare(database_url: str, redis_url: str, voters: int) -> tuple[list[Voter], dict[str, int]]:
    """Migrate, seed, and create `voters` accounts with knox tokens in bulk (as benchmarks/bench.py)."""
    os.environ.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="compare_api.settings",
        SECRET_KEY="faults-only-not-secret",
        DEBUG="0",
        PUBLIC_BASE_URL="http://127.0.0.1",
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from benchmarks.voters import voters_with_tokens
    from tools.models import Tool

    call_command("migrate", verbosity=0)
    call_command("seed", verbosity=0, stdout=io.StringIO())
    accounts = voters_with_tokens(prefix="fault-voter", count=voters)
    tool_ids = dict(Tool.objects.filter(slug__in=[LEFT, RIGHT]).values_list("slug", "id"))
    connections.close_all()  # the restart must not find this process holding a connection
    return [Voter(user.pk, token) for user, token in accounts], tool_ids


def server_env(database_url: str, redis_url: str, workers: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THROTTLE_", "GUNICORN_"))}
    for name in ("CONN_MAX_AGE", "DOCUMENT_CACHE", "CACHE_KEY_PREFIX", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    return {
        **env,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "faults-only-not-secret",
        "DEBUG": "0",
        "PUBLIC_BASE_URL": "http://127.0.0.1",
        "WEB_CONCURRENCY": str(workers),
        "THROTTLE_ANON": "1000000/min",
        "THROTTLE_VOTER": "1000000/min",
        "THROTTLE_VOTES": "1000000/min",
    }


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    workdir = Path(tempfile.mkdtemp(prefix="faults-"))
    if os.geteuid() == 0:
        shutil.chown(workdir, user="postgres")
    try:
        yield workdir
    finally:
        if os.environ.get("FAULTS_KEEP"):  # debugging: keep the logs (the services are stopped anyway)
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# --- the drill ------------------------------------------------------------------------------------


def fault_postgres(report: Report, load: Load, postgres: PrivatePostgres, seconds: float, hard_stop: float) -> None:
    report.line(f"\nFault 1: PostgreSQL restarted (pg_ctl restart -m fast) during reads and votes, {seconds:.0f} s")
    started = time.monotonic()
    load.start("pg", min(started + seconds, hard_stop))
    try:
        time.sleep(min(4.0, seconds / 4))
        restart_began = time.monotonic()
        postgres.restart()
        restarted = time.monotonic()
        time.sleep(max(0.0, started + seconds - time.monotonic()))
    finally:
        load.stop()
    samples = [s for s in load.samples if s.phase == "pg"]
    before = [s for s in samples if s.end < restart_began]
    outage = [s for s in samples if s.end >= restart_began and s.start <= restarted]
    grace = [s for s in samples if restarted < s.start <= restarted + GRACE]
    after = [s for s in samples if s.start > restarted + GRACE]
    first_ok = min((s.end for s in samples if s.ok and s.start > restarted), default=None)
    last_failure = max((s.end for s in samples if not s.ok and s.start > restarted), default=None)
    report.line(
        f"  pg_ctl restart took {restarted - restart_began:.2f} s, {restart_began - started:.1f} s into the load"
    )
    report.line(f"  before restart     : {by_status(before)}")
    report.line(f"  during restart     : {by_status(outage)}")
    report.line(f"  grace ({GRACE:.0f} s) after  : {by_status(grace)}")
    report.line(f"  after the grace    : {by_status(after)}  [{latencies(after)}]")
    report.line(
        "  first success " + (f"{first_ok - restarted:.3f} s after pg_ctl returned" if first_ok else "NEVER")
        + ("; last failure " + (f"{last_failure - restarted:.3f} s after" if last_failure else "none after it"))
    )  # fmt: skip
    report.promise(first_ok is not None, "requests succeed again after the restart")
    failed_after = [s for s in after if not s.ok]
    report.promise(
        bool(after) and not failed_after,
        f"every request after restart + {GRACE:.0f} s succeeds ({len(after) - len(failed_after)}/{len(after)})",
    )
    for sample in failed_after[:3]:
        report.line(
            f"    e.g. {sample.kind} {sample.status} at +{sample.start - restarted:.2f} s: "
            f"{sample.response.body[:200]!r}"
        )


def fault_redis_down(report: Report, load: Load, redis: PrivateRedis, port: int, hard_stop: float) -> None:
    report.line("\nFault 2: Redis stopped during reads and votes")
    started = time.monotonic()
    load.start("redis-down", hard_stop)
    try:
        time.sleep(2.0)
        stop_began = time.monotonic()
        redis.stop()
        stopped = time.monotonic()
        time.sleep(6.0)
    finally:
        load.stop()
    samples = [s for s in load.samples if s.phase == "redis-down"]
    baseline = [s for s in samples if s.end < stop_began and s.start > started + 0.5]
    down = [s for s in samples if s.start >= stop_began]
    report.line(f"  Redis up (baseline): {by_status(baseline)}  [{latencies(baseline)}]")
    report.line(f"  Redis down ({time.monotonic() - stopped:.1f} s)  : {by_status(down)}  [{latencies(down)}]")
    report.line(f"    reads : {latencies([s for s in down if s.kind == 'read'])}")
    report.line(f"    votes : {latencies([s for s in down if s.kind == 'vote'])}")
    without = sum(not s.rate_limited_headers for s in down)
    report.line(f"  responses without RateLimit-* headers while down: {without}/{len(down)} (limits fail open)")
    failed = [s for s in down if s.status not in (200, 201)]
    report.promise(
        bool(down) and not failed, f"reads and votes keep succeeding ({len(down) - len(failed)}/{len(down)})"
    )
    p99 = p99_seconds(down)
    report.promise(p99 < P99_LIMIT, f"p99 latency while Redis is down under {P99_LIMIT:.0f} s ({p99 * 1000:.0f} ms)")

    # Quiet checks, Redis still down: conditional GET from fresh bytes, and a vote visible on the next read.
    first = read_sample(port, "redis-down-quiet")
    etag = first.response.headers.get("etag", "")
    again = request(port, "GET", COMPARISON, If_None_Match=etag)
    report.promise(first.status == 200 and again.status == 304, f"If-None-Match still gets a 304 ({again.status})")
    vote_check(report, load, port, "redis-down-quiet", tool=RIGHT)


def vote_check(report: Report, load: Load, port: int, phase: str, *, tool: str) -> None:
    before = read_sample(port, phase)
    voter = load.next_voter()
    if voter is None or before.status != 200:
        report.promise(False, f"a vote shows on the next read (no voter left or read failed: {before.status})")
        return
    ship_before = {t["slug"]: t["community"]["ship"] for t in before.response.json()["tools"]}[tool]
    vote = request(port, "PUT", f"/api/v1/tools/{tool}/vote/", token=voter.token, body={"verdict": "ship"})
    totals = {tool: vote.json()["community"]["total"]} if vote.status in (200, 201) else {}
    load.record(Sample(phase, "vote", vote, voter, tool, "ship", totals))
    after = request(port, "GET", COMPARISON, If_None_Match=before.response.headers.get("etag", ""))
    ship_after = None
    if after.status == 200:
        ship_after = {t["slug"]: t["community"]["ship"] for t in after.json()["tools"]}[tool]
    report.promise(
        vote.status == 201 and after.status == 200 and ship_after == ship_before + 1,
        f"a vote shows on the next read (vote {vote.status}; {tool} ship {ship_before} -> {ship_after}, "
        f"old ETag now gets {after.status})",
    )


def fault_redis_back(report: Report, load: Load, redis: PrivateRedis, port: int, hard_stop: float) -> None:
    report.line("\nFault 3: Redis started again on the same port")
    started = time.monotonic()
    redis.start()
    up = time.monotonic()
    load.start("redis-back", hard_stop)
    try:
        time.sleep(6.0)
    finally:
        load.stop()
    samples = [s for s in load.samples if s.phase == "redis-back"]
    settled = [s for s in samples if s.start > up + BREAKER_RETRY + 1.0]
    first_header = min((s.end for s in samples if s.rate_limited_headers), default=None)
    report.line(f"  redis-server up in {up - started:.2f} s; load: {by_status(samples)}  [{latencies(samples)}]")
    report.line(
        "  first response with RateLimit-* headers "
        + (f"{first_header - up:.2f} s after Redis was up" if first_header else "NEVER")
    )
    missing = [s for s in settled if not s.rate_limited_headers or s.status not in (200, 201)]
    report.promise(
        bool(settled) and not missing,
        f"after the breaker interval (+{BREAKER_RETRY + 1:.0f} s) every response is 2xx with RateLimit-* headers "
        f"({len(settled) - len(missing)}/{len(settled)})",
    )

    # Quiet checks: the document cache answers again.
    client = redis.client()
    first = read_sample(port, "redis-back-quiet")
    etag = first.response.headers.get("etag", "")
    hits_before = client.info("stats")["keyspace_hits"]
    again = request(port, "GET", COMPARISON, If_None_Match=etag)
    hits = client.info("stats")["keyspace_hits"] - hits_before
    documents = sum(1 for _ in client.scan_iter(match="*:doc:*", count=1000))
    report.line(f"  Redis now holds {documents} cached documents; the repeated GET made {hits} keyspace hits")
    report.promise(
        first.status == 200 and again.status == 304 and documents > 0 and hits >= 2,
        f"a repeated GET with If-None-Match is a 304 from the document cache ({again.status})",
    )
    report.promise("ratelimit-limit" in again.headers, "the 304 carries RateLimit-* headers")
    vote_check(report, load, port, "redis-back-quiet", tool=LEFT)
    if missing or "ratelimit-limit" not in again.headers:
        # Diagnosis only: does the cache come back once nothing has been written for a breaker interval?
        time.sleep(BREAKER_RETRY + 0.5)
        warm = read_sample(port, "redis-back-diagnosis")
        repeat = request(port, "GET", COMPARISON, If_None_Match=warm.response.headers.get("etag", ""))
        documents = sum(1 for _ in client.scan_iter(match="*:doc:*", count=1000))
        back = "ratelimit-limit" in repeat.headers
        report.line(
            f"  diagnosis: after {BREAKER_RETRY + 0.5:.1f} s without writes, RateLimit-* headers "
            f"{'present' if back else 'still missing'}, {documents} cached documents"
            + (" (so the writes kept the breaker open: compare_api/caching.py bump_now)" if back else "")
        )


def check_database(report: Report, load: Load, database_url: str, tool_ids: dict[str, int], env) -> None:
    import psycopg

    report.line("\nThe database afterwards")
    votes = [s for s in load.samples if s.kind == "vote"]
    acked = {(s.voter.user_id, tool_ids[s.tool]): s.verdict for s in votes if s.status in (200, 201)}
    unacked = {(s.voter.user_id, tool_ids[s.tool]) for s in votes if s.status not in (200, 201)}
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT voter_id, tool_id, verdict FROM votes_vote WHERE voter_id = ANY(%s)",
            [sorted({voter for voter, _ in [*acked, *unacked]})],
        ).fetchall()
        counters = connection.execute(
            """SELECT t.slug, t.community_ship_count, t.community_skip_count,
                      count(v.id) FILTER (WHERE v.verdict = 'ship'), count(v.id) FILTER (WHERE v.verdict = 'skip')
               FROM tools_tool t LEFT JOIN votes_vote v ON v.tool_id = t.id GROUP BY t.id ORDER BY t.slug"""
        ).fetchall()
        total_rows = connection.execute("SELECT count(*) FROM votes_vote").fetchone()[0]
    found: dict[tuple[int, int], list[str]] = {}
    for voter, tool, verdict in rows:
        found.setdefault((voter, tool), []).append(verdict)
    lost = [key for key, verdict in acked.items() if found.get(key) != [verdict]]
    landed_anyway = sum(1 for key in unacked if key in found)
    report.line(
        f"  {len(votes)} vote requests: {len(acked)} acknowledged (200/201), {len(unacked)} not "
        f"({landed_anyway} of those committed anyway); {total_rows} vote rows in all"
    )
    report.promise(not lost, f"no acknowledged vote lost ({len(acked) - len(lost)}/{len(acked)} rows exact)")
    for key in lost[:5]:
        report.line(f"    voter {key[0]} tool {key[1]}: acknowledged {acked[key]!r}, rows {found.get(key)!r}")
    drift = [row for row in counters if (row[1], row[2]) != (row[3], row[4])]
    for slug, ship, skip, rows_ship, rows_skip in counters:
        report.line(f"  {slug}: counters ship={ship} skip={skip}, rows ship={rows_ship} skip={rows_skip}")
    report.promise(not drift, "tool counters equal a recount of the vote rows")
    recount = subprocess.run(
        [sys.executable, "manage.py", "recount_votes", "--no-progress"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    report.promise(
        recount.returncode == 0, f"manage.py recount_votes: {recount.stdout.strip() or recount.stderr[-300:]}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--voters", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--pg-seconds", type=float, default=20.0, help="length of the PostgreSQL fault's load")
    parser.add_argument("--pace", type=float, default=0.05, help="each client's pause between requests (s)")
    args = parser.parse_args()
    # A SIGTERM unwinds like Ctrl-C, so the private services are still torn down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    began = time.monotonic()
    hard_stop = began + HARD_LIMIT
    report = Report()
    with workspace() as workdir:
        postgres = PrivatePostgres(workdir)
        redis = PrivateRedis(workdir)
        server: Server | None = None
        try:
            postgres.init()
            postgres.start()
            postgres.createdb("faults")
            redis.start()
            database_url = postgres.url("faults")
            voters, tool_ids = prepare(database_url, redis.url, args.voters)
            env = server_env(database_url, redis.url, args.workers)
            server = Server(workdir, env)
            server.start()
            report.line(
                f"Private PostgreSQL :{postgres.port} ({postgres.bin.parent.name}), Redis :{redis.port}, "
                f"gunicorn :{server.port} with {args.workers} workers; {len(voters)} voters; "
                f"{args.threads} client threads; set up in {time.monotonic() - began:.1f} s"
            )
            load = Load(server.port, voters, tool_ids, args.threads, args.pace)

            fault_postgres(report, load, postgres, args.pg_seconds, hard_stop)
            fault_redis_down(report, load, redis, server.port, hard_stop)
            fault_redis_back(report, load, redis, server.port, hard_stop)

            report.line("\nThroughout")
            stale = stale_reads(load.samples)
            reads = [s for s in load.samples if s.kind == "read" and s.totals]
            report.promise(not stale, f"no read older than a vote acknowledged before it ({len(reads)} reads checked)")
            for read, tool, floor in stale[:3]:
                report.line(f"    {read.phase} read showed {tool} total {read.totals[tool]} < acknowledged {floor}")
            if load.pool_exhausted:
                report.line("  (the voter pool ran out: later rounds only read)")
            check_database(report, load, database_url, tool_ids, env)
        finally:
            if server is not None:
                server.stop()
            redis.stop()
            with contextlib.suppress(Exception):
                postgres.stop()
        log = server.log.read_text(errors="replace") if server is not None else ""
        logged_500s = len(re.findall(r"^(?:Internal Server Error|Server Error \(500\)): ", log, re.MULTILINE))
        report.line(
            f"\ngunicorn log: {logged_500s} logged 500s, "
            f"{log.count('WORKER TIMEOUT')} worker timeouts, {log.count('Booting worker')} worker boots"
        )

    elapsed = time.monotonic() - began
    if report.broken:
        report.line(f"\nFAIL: {len(report.broken)} promise(s) broken, {report.kept} kept ({elapsed:.0f} s)")
        for text in report.broken:
            report.line(f"  - {text}")
        return 1
    report.line(f"\nPASS: all {report.kept} promises kept ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
