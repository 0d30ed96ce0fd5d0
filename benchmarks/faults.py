"""Fault drills: the API keeps every wait bounded, answers JSON when one is hit, and loses no acknowledged vote.

    .venv/bin/python benchmarks/faults.py [--threads 8] [--voters 8000] [--workers 4] [--only lock pause ...]

Everything runs on loopback against PRIVATE services in a temporary directory,
torn down at the end even on failure: a PostgreSQL cluster (initdb + pg_ctl, run
as the `postgres` OS user when started as root; MAX_CONNECTIONS slots) and a
redis-server, both on free ports. The script migrates, loads the seed comparison,
creates voters with knox tokens in bulk (as benchmarks/bench.py does) and starts
the production server (gunicorn.conf.py, 4 workers, rate limits raised out of
the way). Client threads then GET the seed comparison and PUT votes (most from
voters who never voted before, with a verdict the client remembers), while:

1. PostgreSQL is restarted (`pg_ctl restart -m fast`) mid-load. Promises: every
   request started more than GRACE seconds after pg_ctl returned succeeds (no
   stale connection survives: CONN_MAX_AGE with CONN_HEALTH_CHECKS).
2. Redis is stopped. Promises: reads and votes keep succeeding, p99 latency
   under 1 s (0.25 s socket timeouts and the circuit breaker of
   compare_api/caching.py), conditional GET still answers 304, a vote shows on
   the next read (the document cache is bypassed; rate limits fail open).
3. Redis is started again on the same port. Promises: once the breaker's probe
   has run every response carries RateLimit-* headers again, a repeated GET
   with If-None-Match is a 304 answered from the document cache (doc keys in
   Redis, keyspace hits), and a vote cast now shows on the next read.
4. A row lock is held on one tool (`SELECT ... FOR UPDATE`, 60 s) under reads,
   votes on that tool and votes on the other. Promises: votes on the locked tool
   are JSON 503 `lock_timeout` within 5 s each; reads and votes elsewhere all
   succeed with p99 under 250 ms; votes on the tool succeed again after it.
5. Redis is paused (`CLIENT PAUSE 15000 ALL`: it accepts and does not answer).
   Promises: after the first second votes keep p99 under 100 ms; no 429 (limits
   fail open); after the pause every response carries RateLimit-* headers again.
6. A second server is started on a database address that accepts connections
   and never answers (a socket here), sharing the Redis. Promises: every request
   that needs the database is a JSON 503 with Retry-After within 5 s; cached
   reads are 200; /healthz 200; /readyz, probed once a second from the start as a
   load balancer does, 503 within 2 s and from then on, where those routes exist.
7. Every connection slot is taken by idle connections (the server's own ended)
   for 20 s, then freed. Promises: every answer meanwhile is 2xx or a JSON 503
   within 5 s; 100% success within 5 s of the slots freeing; the server log grows
   by kilobytes, with no traceback.

Throughout, and checked against the database at the end: every error answer is
JSON, no worker timeout, no 500; no vote acknowledged with 200/201 by a fresh
voter is lost (each such voter has exactly that row with that verdict), the
tools' counters equal a recount of the rows (and `manage.py recount_votes`
agrees), and no successful read is older than a vote acknowledged before it was
sent. Prints the figures and a table of every promise; exits 1 if any is broken.
Runs in about five minutes (load average printed: on a shared machine the
latency figures are only as good as it is).

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
BREAKER_RETRY = 1.0  # compare_api.caching._CacheBreaker.RETRY_AFTER: its probe's interval
P99_LIMIT = 1.0  # seconds, while Redis is down
REQUEST_TIMEOUT = 10.0
MAX_REQUESTS_PER_THREAD = 5000
HARD_LIMIT = 480.0  # seconds: no wait or load phase runs past this since the start
MAX_CONNECTIONS = 30  # the private PostgreSQL's slots, few enough for the exhaustion drill to fill


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
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses={HOST} -c max_connections={MAX_CONNECTIONS}"
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

    def __init__(self, workdir: Path, env: dict[str, str], name: str = "gunicorn") -> None:
        self.port = free_port()
        self.log = workdir / f"{name}.log"
        # XDG_RUNTIME_DIR: gunicorn's control socket goes here, not to the ~/.gunicorn/gunicorn.ctl every
        # other server on this machine uses.
        self.env = {**env, "BIND": f"{HOST}:{self.port}", "GUNICORN_ACCESSLOG": "", "XDG_RUNTIME_DIR": str(workdir)}
        self.process: subprocess.Popen | None = None

    def start(self, ready_path: str = "/admin/login/", ready_status: int = 200) -> None:
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
            return request(self.port, "GET", ready_path).status == ready_status

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
        self.drill = ""
        self.rows: list[tuple[str, str, str, bool]] = []  # drill, promise, measured, ok

    def line(self, text: str = "") -> None:
        print(text, flush=True)

    def promise(self, ok: bool, text: str, measured: str | None = None) -> None:
        """`measured` defaults to the text's closing parenthesis, where the older checks put their figures."""
        print(f"  [{'ok' if ok else 'BROKEN'}] {text}" + (f" ({measured})" if measured else ""), flush=True)
        if measured is None and (match := re.fullmatch(r"(.*?)\s*\(([^()]*)\)", text)):
            text, measured = match.groups()
        self.rows.append((self.drill, text, measured or "", ok))
        if ok:
            self.kept += 1
        else:
            self.broken.append(f"{self.drill}: {text}")

    def table(self) -> None:
        widths = [max(len(row[i]) for row in self.rows) for i in range(3)]
        widths = [min(w, limit) for w, limit in zip(widths, (24, 72, 56), strict=True)]
        print()
        header = ("drill", "promise", "measured")
        print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " | ok")
        print("-+-".join("-" * w for w in widths) + "-+---")
        for drill, promise, measured, ok in self.rows:
            cells = [drill, promise, measured]
            print(" | ".join(c[:w].ljust(w) for c, w in zip(cells, widths, strict=True)) + f" | {'ok' if ok else 'NO'}")


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
    report.drill = "PostgreSQL restart"
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
    report.drill = "Redis stopped"
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
    if first.status == 200 and again.status == 200:
        same = again.body == first.response.body
        report.line(f"    ETag {etag}, then {again.headers.get('etag')}; the same bytes: {same}")
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
    report.drill = "Redis started again"
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

    report.drill = "the database afterwards"
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


# --- bounded waits: the drills of issue 11 ------------------------------------------------------

LOCKED = "lock_timeout"  # the error code of a vote that met the lock (compare_api.exceptions.DatabaseBusy)
LOCK_ANSWER_LIMIT = 5.0  # seconds: a vote on the locked tool is answered within this
ELSEWHERE_P99 = 0.25  # seconds: reads and votes on other tools, under the lock
PAUSED_VOTE_P99 = 0.10  # seconds: votes while Redis is paused, after the pause's first second
BLACK_HOLE_LIMIT = 5.0  # seconds: a request that needs the database, when its address never answers
READY_LIMIT = 2.0  # seconds: /readyz turns 503
RECOVERY_LIMIT = 5.0  # seconds after the slots are freed: 100% success again
LOG_GROWTH_LIMIT = 64 * 1024  # bytes of server log during the exhaustion drill: kilobytes, not megabytes


def is_json(response: Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")


def error_code(response: Response) -> str | None:
    with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
        return response.json()["errors"][0]["code"]
    return None


def max_seconds(samples: list[Sample]) -> float:
    return max((s.response.latency for s in samples), default=0.0)


def codes(samples: list[Sample]) -> str:
    counts = Counter(f"{s.status} {error_code(s.response) or ''}".strip() for s in samples)
    return ", ".join(f"{code}: {n}" for code, n in sorted(counts.items())) or "none"


@contextlib.contextmanager
def clients(threads: int, step, pace: float, hard_stop: float) -> Iterator[None]:
    """`threads` client threads, each calling step(thread_index, n) then pausing `pace`, until the block ends."""
    stop = threading.Event()

    def work(index: int) -> None:
        for n in range(MAX_REQUESTS_PER_THREAD * 4):
            if stop.is_set() or time.monotonic() > hard_stop:
                return
            step(index, n)
            stop.wait(pace)

    workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=REQUEST_TIMEOUT + 5)


def vote(load: Load, phase: str, tool: str, voter: Voter, verdict: str, kind: str = "vote") -> Sample:
    """A PUT vote, recorded. kind "vote": a fresh voter, checked against the database at the end;
    "revote": a voter who votes again and again (only the counters are checked)."""
    response = request(load.port, "PUT", f"/api/v1/tools/{tool}/vote/", token=voter.token, body={"verdict": verdict})
    totals = {tool: response.json()["community"]["total"]} if response.status in (200, 201) else {}
    sample = Sample(phase, kind, response, voter, tool, verdict, totals if kind == "vote" else {})
    load.record(sample)
    return sample


def fresh_vote(load: Load, phase: str, tool: str, rng: random.Random) -> None:
    voter = load.next_voter()
    if voter is None:
        load.record(read_sample(load.port, phase))
    else:
        vote(load, phase, tool, voter, rng.choice(["ship", "skip"]))


def fault_row_lock(report: Report, load: Load, database_url: str, threads: int, seconds: float, hard_stop: float):
    import psycopg

    report.drill = "row lock"
    report.line(f"\nFault 4: a row lock held {seconds:.0f} s on {LEFT} (SELECT ... FOR UPDATE) under mixed load")
    phase = "lock"
    revoters = [load.next_voter() for _ in range(threads)]
    if None in revoters:
        report.promise(False, "enough voters for the drill")
        return
    rngs = [random.Random(100 + i) for i in range(threads)]

    def step(index: int, n: int) -> None:
        kind = n % 3
        if kind == 0:
            load.record(read_sample(load.port, phase))
        elif kind == 1:  # on the locked tool: the same voter each time, alternating its verdict
            vote(load, phase, LEFT, revoters[index], ("ship", "skip")[(n // 3) % 2], kind="revote")
        else:
            fresh_vote(load, phase, RIGHT, rngs[index])

    with clients(threads, step, 0.05, hard_stop):
        time.sleep(2.0)
        with psycopg.connect(database_url) as holder:
            holder.execute("SELECT 1 FROM tools_tool WHERE slug = %s FOR UPDATE", [LEFT])
            locked = time.monotonic()
            time.sleep(max(0.0, min(seconds, hard_stop - time.monotonic() - 15)))
            holder.rollback()
            released = time.monotonic()
        time.sleep(8.0)
    samples = [s for s in load.samples if s.phase == phase]
    during = [s for s in samples if s.start >= locked and s.end <= released]
    on_locked = [s for s in during if s.tool == LEFT]
    elsewhere = [s for s in during if s.tool != LEFT]
    baseline = [s for s in samples if s.end < locked and s.tool != LEFT]
    after = [s for s in samples if s.tool == LEFT and s.start > released]
    report.line(f"  before the lock: {by_status(baseline)}  [{latencies(baseline)}]")
    report.line(f"  lock held {released - locked:.1f} s")
    report.line(f"  votes on {LEFT} under the lock: {codes(on_locked)}  [{latencies(on_locked)}]")
    report.line(f"  reads and votes elsewhere     : {by_status(elsewhere)}  [{latencies(elsewhere)}]")
    report.line(f"    reads : {latencies([s for s in elsewhere if s.kind == 'read'])}")
    report.line(f"    votes : {latencies([s for s in elsewhere if s.kind != 'read'])}")
    refused = [
        s for s in on_locked if s.status == 503 and is_json(s.response) and error_code(s.response) == "lock_timeout"
    ]
    report.promise(
        bool(on_locked) and len(refused) == len(on_locked) and max_seconds(on_locked) < LOCK_ANSWER_LIMIT,
        f"votes on the locked tool: JSON 503 lock_timeout, each within {LOCK_ANSWER_LIMIT:.0f} s",
        f"{len(refused)}/{len(on_locked)}, max {max_seconds(on_locked):.2f} s",
    )
    failed = [s for s in elsewhere if not s.ok]
    p99 = p99_seconds(elsewhere)
    report.promise(
        bool(elsewhere) and not failed and p99 < ELSEWHERE_P99,
        f"reads and votes elsewhere succeed, p99 under {ELSEWHERE_P99 * 1000:.0f} ms",
        f"{len(elsewhere) - len(failed)}/{len(elsewhere)} ok, p99 {p99 * 1000:.0f} ms"
        f" (before: {p99_seconds(baseline) * 1000:.0f} ms)",
    )
    first_ok = min((s.end for s in after if s.ok), default=None)
    settle = float(os.environ.get("VOTE_BUSY_SECONDS", "5")) + 1.0
    late_failures = [s for s in after if s.start > released + settle and not s.ok]
    report.promise(
        first_ok is not None and not late_failures,
        f"votes on that tool succeed again once it is released (all after +{settle:.0f} s)",
        f"first success +{first_ok - released:.2f} s" if first_ok else "none",
    )


def fault_redis_pause(report: Report, load: Load, redis: PrivateRedis, threads: int, seconds: float, hard_stop: float):
    report.drill = "Redis paused"
    report.line(f"\nFault 5: Redis paused (CLIENT PAUSE {seconds:.0f} s, ALL) under vote load")
    phase = "pause"
    rngs = [random.Random(200 + i) for i in range(threads)]

    def step(index: int, n: int) -> None:
        if n % 2:
            load.record(read_sample(load.port, phase))
        else:
            fresh_vote(load, phase, (LEFT, RIGHT)[rngs[index].randrange(2)], rngs[index])

    with clients(threads, step, 0.05, hard_stop):
        time.sleep(2.0)
        paused = time.monotonic()
        redis.client().execute_command("CLIENT", "PAUSE", int(seconds * 1000), "ALL")
        time.sleep(seconds)
        resumed = time.monotonic()
        time.sleep(BREAKER_RETRY + 4.0)
    samples = [s for s in load.samples if s.phase == phase]
    baseline = [s for s in samples if s.end < paused]
    during = [s for s in samples if s.start >= paused + 1.0 and s.end <= resumed]
    votes = [s for s in during if s.kind == "vote"]
    settled = [s for s in samples if s.start > resumed + BREAKER_RETRY + 2.0]
    report.line(f"  before the pause : {by_status(baseline)}  [{latencies(baseline)}]")
    report.line(f"  paused (after 1 s): {by_status(during)}")
    report.line(f"    votes : {latencies(votes)}")
    report.line(f"    reads : {latencies([s for s in during if s.kind == 'read'])}")
    without = sum(not s.rate_limited_headers for s in during)
    report.line(f"  responses without RateLimit-* headers while paused: {without}/{len(during)} (limits fail open)")
    failed = [s for s in during if not s.ok]
    p99 = p99_seconds(votes)
    report.promise(
        bool(votes) and not failed and p99 < PAUSED_VOTE_P99,
        f"after the first second, votes succeed with p99 under {PAUSED_VOTE_P99 * 1000:.0f} ms (reads succeed too)",
        f"{len(during) - len(failed)}/{len(during)} ok, vote p99 {p99 * 1000:.0f} ms"
        f" (before: {p99_seconds([s for s in baseline if s.kind == 'vote']) * 1000:.0f} ms)",
    )
    limited = [s for s in samples if s.status == 429]
    report.promise(not limited, "limits fail open: no 429 while the limits cannot be counted", f"{len(limited)} 429s")
    missing = [s for s in settled if not s.ok or not s.rate_limited_headers]
    report.promise(
        bool(settled) and not missing,
        f"after the pause (+{BREAKER_RETRY + 2:.0f} s) every response is 2xx with RateLimit-* headers again",
        f"{len(settled) - len(missing)}/{len(settled)}",
    )


class BlackHole:
    """A TCP address that accepts connections and never answers (a database behind a dead NAT, a hung host)."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind((HOST, 0))
        self.server.listen(128)
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.server.settimeout(0.2)
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                self.held.append(self.server.accept()[0])

    def __enter__(self) -> "BlackHole":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join()
        for sock in self.held:
            sock.close()
        self.server.close()


def fault_black_hole(report: Report, load: Load, workdir: Path, redis_url: str, workers: int, threads: int,
                     hard_stop: float) -> None:  # fmt: skip
    report.drill = "database black-holed"
    report.line("\nFault 6: the database address accepts connections and never answers (a second server on it)")
    # The document the cached reads ask for, in Redis now (the black-holed server shares this Redis).
    for _ in range(2):
        read_sample(load.port, "black-hole-warm")
    revoters = [load.next_voter() for _ in range(threads)]
    if None in revoters:
        report.promise(False, "enough voters for the drill")
        return
    with BlackHole() as hole:
        url = f"postgres://postgres@{HOST}:{hole.port}/faults"
        server = Server(workdir, server_env(url, redis_url, workers), name="gunicorn-black-hole")
        try:
            server.start(ready_path="/no-such-page/", ready_status=404)  # answered without the database
            port = server.port
            routes = {path: request(port, "GET", path).status != 404 for path in ("/healthz", "/readyz")}
            phase = "black-hole"
            samples: list[tuple[str, Response]] = []
            lock = threading.Lock()

            def step(index: int, n: int) -> None:
                kind = ("cached read", "vote", "uncached read", "healthz")[n % 4]
                if kind == "cached read":
                    response = request(port, "GET", COMPARISON)
                elif kind == "vote":
                    response = request(port, "PUT", f"/api/v1/tools/{LEFT}/vote/", token=revoters[index].token,
                                       body={"verdict": "ship"})  # fmt: skip
                elif kind == "uncached read":
                    response = request(port, "GET", f"/api/v1/tools/{RIGHT}/?n={index}-{n}")
                elif routes[f"/{kind}"]:
                    response = request(port, "GET", f"/{kind}")
                else:
                    return
                with lock:
                    samples.append((kind, response))

            def probe_readiness() -> None:  # as a load balancer does: one probe a second, from the start
                while time.monotonic() - began < 10.0:
                    sent = time.monotonic()
                    response = request(port, "GET", "/readyz")
                    with lock:
                        samples.append(("readyz", response))
                    time.sleep(max(0.0, sent + 1.0 - time.monotonic()))

            began = time.monotonic()
            prober = threading.Thread(target=probe_readiness) if routes["/readyz"] else None
            if prober:
                prober.start()
            with clients(threads, step, 0.05, hard_stop):
                time.sleep(10.0)
            if prober:
                prober.join()
        finally:
            server.stop()
    by_kind = {
        kind: [r for k, r in samples if k == kind]
        for kind in ("cached read", "vote", "uncached read", "healthz", "readyz")
    }
    for kind, responses in by_kind.items():
        if responses:
            report.line(f"  {kind:13}: {codes([Sample(phase, kind, r) for r in responses])}  "
                        f"[{latencies([Sample(phase, kind, r) for r in responses])}]")  # fmt: skip
    needing = by_kind["vote"] + by_kind["uncached read"]
    clean = [r for r in needing if r.status == 503 and is_json(r) and "retry-after" in r.headers]
    slowest = max((r.latency for r in needing), default=0.0)
    report.promise(
        bool(needing) and len(clean) == len(needing) and slowest < BLACK_HOLE_LIMIT,
        f"every request that needs the database: JSON 503 with Retry-After within {BLACK_HOLE_LIMIT:.0f} s",
        f"{len(clean)}/{len(needing)}, max {slowest:.2f} s",
    )
    cached = by_kind["cached read"]
    report.promise(
        bool(cached) and all(r.status == 200 for r in cached),
        "cached reads are still served from Redis",
        f"{sum(r.status == 200 for r in cached)}/{len(cached)} 200",
    )
    if routes["/healthz"]:
        health = by_kind["healthz"]
        report.promise(bool(health) and all(r.status == 200 for r in health), "/healthz stays 200",
                       f"{sum(r.status == 200 for r in health)}/{len(health)}")  # fmt: skip
    else:
        report.line("  (no /healthz route in this build: that check is skipped)")
    if routes["/readyz"]:
        ready = by_kind["readyz"]
        turned = min((r.end - began for r in ready if r.status == 503), default=None)
        report.promise(
            turned is not None and turned < READY_LIMIT and all(r.status == 503 for r in ready),
            f"/readyz (probed every second) turns 503 within {READY_LIMIT:.0f} s, and stays 503",
            f"first 503 at +{turned:.2f} s, {len(ready)} probes, max {max(r.latency for r in ready):.2f} s"
            if turned is not None
            else "never 503",
        )
    else:
        report.line("  (no /readyz route in this build: that check is skipped)")


def fault_exhaustion(report: Report, load: Load, server: Server, database_url: str, threads: int, seconds: float,
                     hard_stop: float) -> None:  # fmt: skip
    import psycopg

    report.drill = "connection slots exhausted"
    report.line(f"\nFault 7: every PostgreSQL connection slot ({MAX_CONNECTIONS}) taken by idle connections "
                f"for {seconds:.0f} s, the server's own connections ended, then the slots freed")  # fmt: skip
    phase = "exhaustion"
    rngs = [random.Random(300 + i) for i in range(threads)]

    def step(index: int, n: int) -> None:
        if n % 3 == 0:
            fresh_vote(load, phase, (LEFT, RIGHT)[rngs[index].randrange(2)], rngs[index])
        elif n % 3 == 1:
            load.record(read_sample(load.port, phase))
        else:  # a read no cache holds: it needs the database
            load.record(Sample(phase, "uncached", request(load.port, "GET", f"/api/v1/tools/{RIGHT}/?n={index}-{n}")))

    fillers: list = []

    def fill() -> None:
        while True:
            try:
                fillers.append(psycopg.connect(database_url, autocommit=True, connect_timeout=3))
            except psycopg.OperationalError:
                return

    log_before = server.log.stat().st_size
    with clients(threads, step, 0.05, hard_stop):
        time.sleep(2.0)
        try:
            fill()
            if not fillers:
                raise RuntimeError("could not open a single connection to fill the slots")
            # The server's own connections would carry it through; end them and take their slots.
            with contextlib.suppress(psycopg.OperationalError):
                fillers[0].execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE backend_type = 'client backend' AND pid <> ALL(%s)",
                    [[f.info.backend_pid for f in fillers]],
                )
            for _ in range(20):  # grab each slot the ended connections free
                fill()
                time.sleep(0.05)
            exhausted = time.monotonic()
            time.sleep(max(0.0, seconds - 1.0))
        finally:
            for filler in fillers:
                filler.close()
        freed = time.monotonic()
        time.sleep(RECOVERY_LIMIT + 4.0)
    log = server.log.read_bytes()[log_before:]
    samples = [s for s in load.samples if s.phase == phase]
    during = [s for s in samples if s.start >= exhausted and s.end <= freed]
    report.line(f"  {len(fillers)} idle connections held the slots for {freed - exhausted:.1f} s")
    report.line(f"  while exhausted: {codes(during)}  [{latencies(during)}]")
    bad = [s for s in during if not (s.ok or (s.status == 503 and is_json(s.response)))]
    report.promise(
        bool(during) and not bad and max_seconds(during) < BLACK_HOLE_LIMIT,
        f"while it lasts: every answer 2xx or JSON 503, within {BLACK_HOLE_LIMIT:.0f} s",
        f"{len(during) - len(bad)}/{len(during)}, {sum(s.status == 503 for s in during)} 503s, "
        f"max {max_seconds(during):.2f} s",
    )
    failures_after = [s for s in samples if s.start > freed and not s.ok]
    last = max((s.end - freed for s in failures_after), default=0.0)
    after = [s for s in samples if s.start > freed + RECOVERY_LIMIT]
    report.promise(
        bool(after) and last < RECOVERY_LIMIT and all(s.ok for s in after),
        f"back to 100% success within {RECOVERY_LIMIT:.0f} s of the slots freeing",
        f"last failure +{last:.2f} s" if failures_after else "no failure after freeing",
    )
    tracebacks = log.count(b"Traceback")
    lines = log.count(b"\n")
    report.line(f"  server log grew {len(log)} bytes, {lines} lines, {tracebacks} tracebacks:")
    for line in log.decode(errors="replace").splitlines()[:8]:
        report.line(f"    | {line[:160]}")
    report.promise(
        len(log) < LOG_GROWTH_LIMIT and tracebacks == 0,
        f"the log grows by kilobytes (under {LOG_GROWTH_LIMIT // 1024} kB), no traceback per request",
        f"{len(log) / 1024:.1f} kB, {tracebacks} tracebacks",
    )


def no_html_anywhere(report: Report, load: Load) -> None:
    errors = [s for s in load.samples if s.status >= 400]
    html = [s for s in errors if not is_json(s.response)]
    report.promise(not html, "every error answer is JSON (no HTML page, no traceback)",
                   f"{len(errors) - len(html)}/{len(errors)} JSON")  # fmt: skip
    for sample in html[:3]:
        report.line(f"    e.g. {sample.phase} {sample.kind} {sample.status}: {sample.response.body[:120]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--voters", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--pg-seconds", type=float, default=20.0, help="length of the PostgreSQL fault's load")
    parser.add_argument("--pace", type=float, default=0.05, help="each client's pause between requests (s)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["restart", "redis-down", "lock", "pause", "black-hole", "exhaustion"],
        help="run only these drills (default: all); the checks on the database afterwards always run",
    )
    parser.add_argument("--lock-seconds", type=float, default=60.0, help="how long the row lock is held")
    parser.add_argument("--pause-seconds", type=float, default=15.0, help="how long Redis is paused")
    parser.add_argument("--exhaust-seconds", type=float, default=20.0, help="how long the connection slots are taken")
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
                f"{args.threads} client threads; set up in {time.monotonic() - began:.1f} s; "
                f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (latencies are only as good as that)"
            )
            load = Load(server.port, voters, tool_ids, args.threads, args.pace)

            drills = {
                "restart": lambda: fault_postgres(report, load, postgres, args.pg_seconds, hard_stop),
                "redis-down": lambda: (
                    fault_redis_down(report, load, redis, server.port, hard_stop),
                    fault_redis_back(report, load, redis, server.port, hard_stop),
                ),
                "lock": lambda: fault_row_lock(report, load, database_url, args.threads, args.lock_seconds, hard_stop),
                "pause": lambda: fault_redis_pause(report, load, redis, args.threads, args.pause_seconds, hard_stop),
                "black-hole": lambda: fault_black_hole(
                    report, load, workdir, redis.url, args.workers, args.threads, hard_stop
                ),
                "exhaustion": lambda: fault_exhaustion(
                    report, load, server, database_url, args.threads, args.exhaust_seconds, hard_stop
                ),
            }
            for name, drill in drills.items():
                if not args.only or name in args.only:
                    drill()

            report.drill = "throughout"
            report.line("\nThroughout")
            no_html_anywhere(report, load)
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
        report.drill = "throughout"
        timeouts = sum(
            path.read_text(errors="replace").count("WORKER TIMEOUT") for path in workdir.glob("gunicorn*.log")
        )
        report.promise(timeouts == 0, "no gunicorn worker timeout (any server)", f"{timeouts}")
        report.promise(logged_500s == 0, "no 500 logged", f"{logged_500s}")
        report.table()

    report.line(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
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
