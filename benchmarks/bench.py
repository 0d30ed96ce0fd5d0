"""Load benchmark: the API's hot paths against a bare Django view, same server, same run.

    make bench            (= .venv/bin/python benchmarks/bench.py)

Creates a fresh PostgreSQL database (BENCH_DATABASE_URL names the server,
default postgres://postgres@127.0.0.1:5432/) and a private Redis, loads the
seed comparison plus the scale catalogue (1,000 tools, 20,000 reviews, 100,000
voters), copies that database and adds 1,000,000 votes to the copy: one phase
with no votes, one with 1M. Each phase gets the production server
(gunicorn.conf.py, 2 workers, Redis) twice: as configured ("cached"), and with
the document cache off ("uncached", so every comparison is built from the
database, as on the first read after a write). wrk drives each case on
loopback; every run goes through every case of both phases in turn (a slow
minute on a shared machine falls on all of them; every other run takes the
phases the other way round) and each figure is the median of --runs runs. The
1M-against-0 flatness checks are measured after each run in one-second turns
taken alternately on both phases (flatness_in_turns), median of the runs. The
`*_nginx` cases go through the production stack's nginx
(deploy/nginx.conf.template, rendered by deploy/stack.py) in front of the same
cached server, and their ratios are to the baseline through that nginx. That
nginx runs with EDGE_CACHE_SECONDS=0; `comparison_edge_nginx` goes through a
second one from the same template with the edge cache on (EDGE_CACHE_SECONDS=1),
and its ratio is to the same baseline_nginx: the bare view behind an nginx with
the edge cache off.
The benchmark voters have logged in (what TokenView leaves in Redis is written for
each of their tokens, votes.auth.remember_owner), so `vote_write` and the mix cases'
votes are those of voters who logged in within the hour (votes.fastpath: one query).
`vote_write_cold` votes with tokens Redis knows nothing of (a login more than an
hour before and no vote since, or Redis restarted): each vote its token's first,
looked up in the database.
Prints req/s, p50 and p99 latency, the ratio to the baseline view (same
server, same phase, same route), SQL queries per request, and each worker's
peak memory; then the checks against the targets. Exits 1 when a target is
missed. --cases runs some of them (e.g. `--cases comparison_cached_nginx`).
"""

import argparse
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PAIR = "code-llama-4-vs-mistral-large-3"
# The scale catalogue in one category, so the leaderboard cases rank a category of 1,000 tools.
BOARD = "/api/v1/leaderboards/scale-category-01/"
IMG_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


@dataclass(frozen=True)
class Case:
    name: str
    server: str  # "cached" or "uncached"
    path: str
    route: str  # its URL name: the route label /metrics counts it under
    script: str | None = None  # a wrk Lua script in benchmarks/
    revalidate: bool = False  # send If-None-Match with the document's current ETag
    via_nginx: bool = False  # through the stack's nginx in front of the server
    accept: str | None = None  # the Accept header sent (none: wrk sends none)
    edge: bool = False  # through the stack's nginx with its edge cache on (EDGE_CACHE_SECONDS)
    mix_every: int = 0  # mix.lua: one request in this many is a vote on one of PAIR's tools, the rest read PAIR
    cold: bool = False  # votes.lua with voters Redis holds no owner for: each request a voter of its own

    @property
    def routes(self) -> tuple[str, ...]:
        """What /metrics counts this case's requests under (a mix also votes)."""
        return (self.route, "tool-vote") if self.mix_every else (self.route,)

    @property
    def baseline(self) -> str:
        """The case its ratio is taken to: the bare view on the same route."""
        return "baseline_nginx" if self.via_nginx else "baseline"


CASES = [
    Case("baseline", "cached", "/bench/baseline/", "bench-baseline"),
    Case("comparison_cached", "cached", f"/api/v1/comparisons/{PAIR}/", "comparison-detail"),
    Case("comparison_304", "cached", f"/api/v1/comparisons/{PAIR}/", "comparison-detail", revalidate=True),
    # No target: what comparison_uncached's round trips alone allow (benchmarks/urls.py, comparison_floor).
    Case("comparison_floor", "uncached", "/bench/comparison-floor/", "bench-comparison-floor"),
    Case("comparison_uncached", "uncached", f"/api/v1/comparisons/{PAIR}/", "comparison-detail"),
    Case("tools_list", "cached", "/api/v1/tools/?page_size=25", "tool-list"),
    Case("tools_list_uncached", "uncached", "/api/v1/tools/?page_size=25", "tool-list"),
    Case("tool_detail", "cached", "/api/v1/tools/code-llama-4/", "tool-detail"),
    Case("tool_detail_uncached", "uncached", "/api/v1/tools/code-llama-4/", "tool-detail"),
    # A badge as pages embed it: an <img> request (its Accept is a browser's), from the cache.
    Case("badge_svg_cached", "cached", "/api/v1/badges/tools/code-llama-4.svg", "badge-svg", accept=IMG_ACCEPT),
    Case("vote_write", "cached", "/", "tool-vote", script="votes.lua"),
    Case("vote_write_cold", "cached", "/", "tool-vote", script="votes.lua", cold=True),
    Case("leaderboard", "cached", BOARD, "leaderboard-category"),
    Case("leaderboard_uncached", "uncached", BOARD, "leaderboard-category"),
    Case("alternatives", "cached", "/api/v1/tools/scale-tool-0001/alternatives/", "tool-alternatives"),
    # The comparison on a day people vote on it: one request in 10 (or 4) flips a verdict on one of its tools.
    Case("mix_1_in_10", "cached", "/", "comparison-detail", script="mix.lua", mix_every=10),
    Case("mix_1_in_4", "cached", "/", "comparison-detail", script="mix.lua", mix_every=4),
    Case("baseline_nginx", "cached", "/bench/baseline/", "bench-baseline", via_nginx=True),
    Case("comparison_cached_nginx", "cached", f"/api/v1/comparisons/{PAIR}/", "comparison-detail", via_nginx=True),
    # Anonymous reads answered by nginx's own copy (README, "Edge cache"); gunicorn sees a few a second.
    Case(
        "comparison_edge_nginx",
        "cached",
        f"/api/v1/comparisons/{PAIR}/",
        "comparison-detail",
        via_nginx=True,
        edge=True,
    ),
]
CASE_BY_NAME = {case.name: case for case in CASES}
# (case, minimum ratio to the baseline), from the performance issue.
TARGETS = [
    ("comparison_cached", 0.6),
    ("comparison_304", 0.6),
    ("comparison_uncached", 0.4),  # the speed-under-voting-load issue (0.2 in the performance issue)
    ("badge_svg_cached", 0.6),  # as the cached comparison (the discovery issue)
    ("tools_list", 0.15),
    ("vote_write", 0.3),  # the speed-under-voting-load issue (0.15 in the performance issue)
    ("leaderboard", 0.6),
    ("alternatives", 0.6),
    ("mix_1_in_10", 0.42),  # the speed-under-voting-load issue
    ("mix_1_in_4", 0.36),
    ("comparison_edge_nginx", 10.0),  # the edge cache issue: >= 10x the bare view behind nginx, edge cache off
]
EDGE_CACHE_SECONDS = 1  # the edge nginx's; its copies live up to 1 s (to the next second boundary)
# The discovery issue: an uncached board of 1,000 tools costs at most 2x the uncached tools list page.
MIN_BOARD_TO_LIST = 0.5
MAX_COMPARISON_QUERIES = 1  # one statement on PostgreSQL (reviews/selectors.py, DOCUMENT)
MAX_BOARD_QUERIES = 3
MAX_WORKER_MB = 150
# /metrics must count what wrk sent, within 1%. wrk reports the requests answered before it
# stopped; those in flight then (at most one per connection) the server still answers and
# counts, so on a slow run the allowance is the connections, never fewer than wrk's count.
METRICS_TOKEN = "benchmark-metrics-token"
MAX_METRICS_GAP = 0.01


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0  # as wrk counted them
    counted: int | None = None  # as the server's /metrics counted them under the case's route


@dataclass
class Phase:
    name: str
    database: str  # the phase's own database (a copy of the catalogue, with or without 1M votes)
    redis_db: int  # and its own Redis database, so the phases' cached documents stay apart
    ports: dict[str, int]  # server kind ("cached", "uncached") -> port
    nginx_port: int = 0  # the stack's nginx, in front of the cached server
    edge_port: int = 0  # the same with its edge cache on
    results: dict[str, list[Result]] = field(default_factory=dict)
    # The 1M-vote phase: per run, its req/s over the 0-vote phase's, measured in turns (flatness_in_turns).
    flatness: dict[str, list[float]] = field(default_factory=dict)
    metrics_hidden: dict[str, int] = field(default_factory=dict)  # server kind -> status of /metrics without the token
    queries: dict[str, int] = field(default_factory=dict)
    peak_mb: list[float] = field(default_factory=list)

    def redis_url(self, env: dict[str, str]) -> str:
        return f"{env['REDIS_URL'].rsplit('/', 1)[0]}/{self.redis_db}"

    def rps(self, case: str) -> float:
        return statistics.median(r.rps for r in self.results[case])

    def ratio(self, case: str) -> float:
        return self.rps(case) / self.rps(CASE_BY_NAME[case].baseline)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


# mix.lua's voters: each run of a mix case has MIX_VOTERS of its own, who voted ship on both of
# PAIR's tools before the benchmark (load_catalogue), so every vote in the run flips a verdict.
MIX_VOTERS = 200
MIX_SLUGS = PAIR.split("-vs-")
_MIX_FIRST_VOTERS = itertools.count(0, MIX_VOTERS)


def mix_voters_needed(args: argparse.Namespace) -> int:
    phases = 2 if args.votes == "both" else 1
    return MIX_VOTERS * args.runs * phases * sum(1 for case in CASES if case.mix_every)


# Each wrk run of votes.lua starts this far into the sequence of (voter, tool) pairs:
# every vote is new, in every run and phase.
_VOTE_OFFSETS = itertools.count(0, 1_000_000)
# vote_write_cold's voters: each run has COLD_BLOCK of its own, each voting once (more
# requests than that in a run would repeat voters, whose owners Redis then holds: a check).
COLD_BLOCK = 12_000
_COLD_OFFSETS = itertools.count(0, COLD_BLOCK)


def cold_voters_needed(args: argparse.Namespace, cases: list[Case]) -> int:
    phases = 2 if args.votes == "both" else 1
    return COLD_BLOCK * args.runs * phases * sum(1 for case in cases if case.cold)


def run_wrk(url: str, case: Case, args: argparse.Namespace, env: dict[str, str], duration: int = 0) -> Result:
    env = {**env, "BENCH_VOTE_OFFSET": str(next(_VOTE_OFFSETS))}
    if case.cold:  # consecutive voters of a block of their own (votes.lua: a stride of wrk's two threads)
        env |= {"BENCH_TOKENS": env["BENCH_COLD_TOKENS"], "BENCH_VOTE_OFFSET": str(next(_COLD_OFFSETS))}
        env["BENCH_VOTE_STRIDE"] = "2"
    if case.mix_every:
        env |= {
            "BENCH_MIX_EVERY": str(case.mix_every),
            "BENCH_MIX_SLUGS": ",".join(MIX_SLUGS),
            "BENCH_MIX_VOTERS": str(MIX_VOTERS),
            "BENCH_MIX_FIRST": str(next(_MIX_FIRST_VOTERS)),
        }
    # A generous timeout: a request wrk gives up on is still answered (and counted by /metrics),
    # and a healthy run never comes near it.
    seconds = duration or args.duration
    command = ["wrk", "-t2", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    if case.revalidate:
        with urllib.request.urlopen(url) as response:
            command += ["-H", f"If-None-Match: {response.headers['ETag']}"]
    if case.accept:
        command += ["-H", f"Accept: {case.accept}"]
    if case.script:
        command += ["-s", str(ROOT / "benchmarks" / case.script)]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, env={**os.environ, **env}
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return Result(
        requests=int(re.search(r"^\s+(\d+) requests in", output, re.MULTILINE).group(1)),
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_ms=_ms(latency["50"]),
        p99_ms=_ms(latency["99"]),
        errors=(int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket.groups())) if socket else 0),
    )


def setup_django(server_url: str) -> str:
    """A fresh database; this process's Django points at it."""
    import psycopg

    name = f"bench_{os.getpid()}"
    with psycopg.connect(server_url + "postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server_url + name
    os.environ.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        SECRET_KEY="benchmark-only",
        DEBUG="0",
        PUBLIC_BASE_URL="http://127.0.0.1",
        DB_REQUEST_TIMEOUTS="0",  # this process loads a million rows, as manage.py would (the servers keep theirs)
    )
    import django

    django.setup()
    return url


def drop_database(url: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    server_url, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _token_file(tokens: list[str]) -> Path:
    path = Path(tempfile.mkstemp(prefix="bench-tokens-")[1])
    path.write_text("\n".join(tokens) + "\n")
    return path


def load_catalogue(voters: int, mix_voters: int, cold_voters: int) -> tuple[Path, Path]:
    """Seed, scale catalogue, and `voters` benchmark voters with tokens (for vote_write and the mix
    cases, the first `mix_voters` of them having voted ship on both of PAIR's tools), and
    `cold_voters` more (vote_write_cold); returns the two token files."""
    from django.core.management import call_command

    from benchmarks.voters import voters_with_tokens
    from seeds.scale import ScaleSize, scale_catalog
    from votes.services import vote_cast

    call_command("migrate", verbosity=0)
    call_command("seed", verbosity=0)
    scale_catalog(size=ScaleSize(categories=1), progress=lambda n: None)  # see BOARD
    accounts = voters_with_tokens(prefix="bench-voter", count=max(voters, mix_voters))
    for user, _ in accounts[:mix_voters]:
        for slug in MIX_SLUGS:
            vote_cast(voter=user, slug=slug, verdict="ship")
    cold = voters_with_tokens(prefix="bench-cold-voter", count=max(cold_voters, 1))
    return _token_file([token for _, token in accounts]), _token_file([token for _, token in cold])


def add_million_votes() -> float:
    from seeds.scale import ScaleSize, scale_votes

    started = time.monotonic()
    scale_votes(size=ScaleSize(categories=1), progress=lambda n: None)
    return time.monotonic() - started


def queries_per_request(cases: list[Case]) -> dict[str, int]:
    """SQL queries each case costs, counted in-process through the whole middleware stack."""
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext
    from knox.models import AuthToken

    from votes.models import Vote
    from votes.services import votes_remove

    client = Client(HTTP_HOST="127.0.0.1")
    voter = AuthToken.objects.exclude(user__votes__tool__slug="code-llama-4").select_related("user").first().user
    _, token = AuthToken.objects.create(user=voter)
    counts: dict[str, int] = {}
    for case in cases:
        if case.mix_every:
            continue  # reads and votes, each counted in its own case
        if case.script:
            request = lambda: client.put(  # noqa: E731
                "/api/v1/tools/code-llama-4/vote/",
                '{"verdict":"ship"}',
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
        else:
            request = lambda path=case.path: client.get(path)  # noqa: E731
        with override_settings(DOCUMENT_CACHE=case.server == "cached"):
            headers = {"HTTP_ACCEPT": case.accept} if case.accept else {}
            if case.revalidate:
                headers["HTTP_IF_NONE_MATCH"] = client.get(case.path)["ETag"]
            elif case.server == "cached":
                client.get(case.path, **headers)  # warm
            with CaptureQueriesContext(connection) as captured:
                response = client.get(case.path, **headers) if not case.script else request()
            assert response.status_code in (200, 201, 304), (case.name, response.status_code)
        counts[case.name] = len([q for q in captured.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")])
    votes_remove(votes=list(Vote.objects.filter(voter=voter)))  # through the service: counters stay exact
    return counts


def log_in_voters(phase: Phase, env: dict[str, str]) -> None:
    """The bench voters' logins, as the phase's servers keep them in Redis (benchmarks.voters.log_in),
    written with the servers' own settings: the cold voters stay unknown to Redis."""
    script = "import django; django.setup(); from benchmarks.voters import log_in; print(log_in(prefix='bench-voter'))"
    server_env = {**os.environ, **env, "DATABASE_URL": phase.database, "REDIS_URL": phase.redis_url(env)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=server_env, capture_output=True, text=True)
    if done.returncode != 0 or int(done.stdout.split()[-1]) == 0:
        raise RuntimeError(f"the voters' logins were not kept in Redis: {done.stderr[-2000:]}")
    print(f"  {phase.name}: {done.stdout.split()[-1]} voters logged in", file=sys.stderr)


def check_counters() -> str:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = StringIO()
    try:
        call_command("recount_votes", "--no-progress", stdout=out)
        return out.getvalue().strip()
    except CommandError as error:
        return f"COUNTERS DRIFTED: {error}"


SERVERS = {
    # gunicorn.conf.py as deployed; the others for choosing it (--server).
    "gunicorn-sync": {},
    "gunicorn-gthread": {"GUNICORN_WORKER_CLASS": "gthread", "GUNICORN_THREADS": "4"},
    "granian": None,
}


def requests_counted(port: int, routes: tuple[str, ...]) -> int:
    """The server's own count of answered requests on `routes` (every method and status), from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "verdicts_http_requests_total" and sample.labels["route"] in routes
        )
    )


def metrics_hidden_status(port: int) -> int:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
    except urllib.error.HTTPError as error:
        return error.code
    return 200


def start_server(port: int, env: dict[str, str], kind: str = "gunicorn-sync") -> subprocess.Popen:
    if kind == "granian":
        command = [
            str(Path(sys.executable).parent / "granian"), "--interface", "wsgi", "--host", "127.0.0.1",
            "--port", str(port), "--workers", env["WEB_CONCURRENCY"], "--no-ws", "compare_api.wsgi:application",
        ]  # fmt: skip
    else:
        command = [sys.executable, "-m", "gunicorn", "compare_api.wsgi", "--config", "gunicorn.conf.py"]
        env = {**env, **SERVERS[kind]}
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={
            **os.environ,
            "BIND": f"127.0.0.1:{port}",
            "GUNICORN_ACCESSLOG": "",
            "METRICS_TOKEN": METRICS_TOKEN,
            "DB_REQUEST_TIMEOUTS": "1",  # the production configuration
            **env,
        },
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90  # a busy shared machine can take a while to boot four servers
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/baseline/", timeout=2)
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def worker_peak_rss_mb(master: subprocess.Popen) -> list[float]:
    children = subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True, text=True).stdout.split()
    children = children or [str(master.pid)]
    return [
        int(re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1)) / 1024
        for pid in children
    ]


def use_database(url: str) -> None:
    """Point this process's Django at another database of the same server."""
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = url.rsplit("/", 1)[1]


def settle_database() -> None:
    """VACUUM ANALYZE, as autovacuum does within a minute of a bulk load in production: measured
    straight after one, the planner has no statistics for the new rows and the tools table holds
    a dead version of every tool the vote recount rewrote (a 1,000-tool scan then took 11 ms, not 1)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def copy_database(source_url: str, name: str) -> str:
    """CREATE DATABASE ... TEMPLATE: a copy in seconds (nobody may be connected to the source)."""
    import psycopg
    from django.db import connections

    connections.close_all()
    server_url, source = source_url.rsplit("/", 1)
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return f"{server_url}/{name}"


def start_nginx(phase: Phase, run_dir: Path, *, edge_seconds: int = 0) -> subprocess.Popen:
    """The production stack's nginx (deploy/stack.py) in front of the phase's cached server,
    with its edge cache off (the phase's nginx_port) or on for edge_seconds (its edge_port)."""
    from deploy.stack import start_nginx as start_stack_nginx
    from tests.helpers import free_port

    port = free_port()
    if edge_seconds:
        phase.edge_port = port
    else:
        phase.nginx_port = port
    process = start_stack_nginx(
        run_dir=run_dir,
        listen=f"127.0.0.1:{port}",
        upstream=f"127.0.0.1:{phase.ports['cached']}",
        env={**os.environ, "EDGE_CACHE_SECONDS": str(edge_seconds)},
        log_dir=run_dir,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/baseline/", timeout=2)
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"nginx did not start: {(run_dir / 'nginx-error.log').read_text()}") from None
            time.sleep(0.1)


# Whose cost must not grow with votes: 1M votes against 0, each run measured in turns of
# FLAT_TURN_SECONDS, FLAT_TURNS a phase. This machine's speed drifts by a third from one
# 5-second run to the next; turns of a second, taken in the order 0, 1M, 1M, 0, 0, 1M, ...,
# put the drift on both phases alike.
FLAT_CASES = ("comparison_uncached", "leaderboard_uncached")
FLAT_TURNS = 6
FLAT_TURN_SECONDS = 1


def flatness_in_turns(zero: Phase, million: Phase, case: Case, args: argparse.Namespace, env: dict[str, str]) -> float:
    served = dict.fromkeys((zero.name, million.name), 0)
    for turn in range(FLAT_TURNS):
        for phase in (zero, million) if turn % 2 == 0 else (million, zero):
            url = f"http://127.0.0.1:{phase.ports[case.server]}{case.path}"
            served[phase.name] += run_wrk(url, case, args, env, duration=FLAT_TURN_SECONDS).requests
    return served[million.name] / served[zero.name]


def measure(phases: list[Phase], cases: list[Case], args: argparse.Namespace, env: dict[str, str]) -> None:
    """Both phases' servers run side by side and every run goes through every case of
    every phase in turn, so a slow minute on a shared machine falls on all of them."""
    servers = {
        (phase.name, kind): start_server(
            port,
            {
                **env,
                "DATABASE_URL": phase.database,
                "REDIS_URL": phase.redis_url(env),
                "DOCUMENT_CACHE": "1" if kind == "cached" else "0",
            },
            args.server,
        )
        for phase in phases
        for kind, port in phase.ports.items()
    }
    nginx_dir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    nginx_dir.chmod(0o755)  # nginx's workers (`nobody` under root) keep the edge cache in it
    proxies = []
    try:
        if any(case.via_nginx for case in cases):
            proxies = [start_nginx(phase, nginx_dir / str(index)) for index, phase in enumerate(phases)]
        if any(case.edge for case in cases):
            proxies += [
                start_nginx(phase, nginx_dir / f"edge-{index}", edge_seconds=EDGE_CACHE_SECONDS)
                for index, phase in enumerate(phases)
            ]
        for phase in phases:
            phase.metrics_hidden = {kind: metrics_hidden_status(port) for kind, port in phase.ports.items()}
        for run in range(args.runs):
            # Every other run takes the phases the other way round: on a machine whose speed drifts
            # from minute to minute, the phase measured first would otherwise be the favoured one.
            for phase in phases if run % 2 == 0 else phases[::-1]:
                for case in cases:
                    # /metrics is scraped from the server itself, also for the cases through nginx.
                    port = phase.ports[case.server]
                    front = phase.edge_port if case.edge else phase.nginx_port if case.via_nginx else port
                    url = f"http://127.0.0.1:{front}{case.path}"
                    if case.edge:  # the copy exists, as on a live site: the run measures answering from it
                        urllib.request.urlopen(url, timeout=10).read()
                    before = requests_counted(port, case.routes)
                    result = run_wrk(url, case, args, env)
                    time.sleep(0.5)  # the requests wrk left in flight finish
                    result.counted = requests_counted(port, case.routes) - before - (1 if case.revalidate else 0)
                    phase.results.setdefault(case.name, []).append(result)
                    print(
                        f"  run {run + 1} {phase.name} {case.name:<22} {result.rps:9.1f} req/s; "
                        f"wrk sent {result.requests}, /metrics counted {result.counted}",
                        file=sys.stderr,
                    )
            if len(phases) == 2:
                zero, million = phases
                for case in (case for case in cases if case.name in FLAT_CASES):
                    flat = flatness_in_turns(zero, million, case, args, env)
                    million.flatness.setdefault(case.name, []).append(flat)
                    print(f"  run {run + 1} {case.name} 1M / 0 votes, in turns: {flat:.3f}x", file=sys.stderr)
        for phase in phases:
            phase.peak_mb = [mb for kind in phase.ports for mb in worker_peak_rss_mb(servers[phase.name, kind])]
    finally:
        for server in [*proxies, *servers.values()]:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(nginx_dir, ignore_errors=True)


def metrics_gap_ok(result: Result, connections: int) -> bool:
    extra = result.counted - result.requests
    return 0 <= extra <= max(MAX_METRICS_GAP * result.requests, connections)


def report(phases: list[Phase], connections: int, duration: int) -> list[str]:
    """Print the table; return the targets missed."""
    for phase in phases:
        print(f"\n{phase.name}")
        print(
            f"{'case':<24}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'ratio':>9}{'queries':>9}"
            f"{'wrk sent':>10}{'/metrics':>10}"
        )
        for name, runs in phase.results.items():
            ratio = f"{phase.ratio(name):>8.3f}x" if CASE_BY_NAME[name].baseline in phase.results else f"{'-':>9}"
            print(
                f"{name:<24}{phase.rps(name):>10.1f}{statistics.median(r.p50_ms for r in runs):>9.2f}"
                f"{statistics.median(r.p99_ms for r in runs):>9.2f}{sum(r.errors for r in runs):>8}"
                f"{ratio}{phase.queries.get(name, '-'):>9}"
                f"{sum(r.requests for r in runs):>10}{sum(r.counted for r in runs):>10}"
            )
        print(f"peak RSS per worker: {', '.join(f'{mb:.0f} MB' for mb in phase.peak_mb)}")
    checks = [
        (f"{case} >= {bound}x at {phase.name}", phase.ratio(case) >= bound, f"{phase.ratio(case):.3f}x")
        for phase in phases
        for case, bound in TARGETS
        if case in phase.results and CASE_BY_NAME[case].baseline in phase.results
    ]
    for case, runs in phases[-1].flatness.items():
        flat = statistics.median(runs)
        each = ", ".join(f"{run:.3f}" for run in runs)
        checks.append((f"{case} at 1M votes >= 0.9x of 0 votes (in turns)", flat >= 0.9, f"{flat:.3f}x ({each})"))
    for phase in phases:
        bounds = (("comparison_uncached", MAX_COMPARISON_QUERIES), ("leaderboard_uncached", MAX_BOARD_QUERIES))
        for case, most in bounds:
            if case in phase.queries:
                queries = phase.queries[case]
                checks.append((f"{case} queries <= {most} at {phase.name}", queries <= most, str(queries)))
        if "leaderboard_uncached" in phase.results and "tools_list_uncached" in phase.results:
            share = phase.rps("leaderboard_uncached") / phase.rps("tools_list_uncached")
            checks.append(
                (
                    f"leaderboard_uncached (1,000 tools) >= {MIN_BOARD_TO_LIST}x of tools_list_uncached "
                    f"at {phase.name}",
                    share >= MIN_BOARD_TO_LIST,
                    f"{share:.3f}x",
                )
            )
        peak = max(phase.peak_mb)
        checks.append(
            (f"peak worker memory < {MAX_WORKER_MB} MB at {phase.name}", peak < MAX_WORKER_MB, f"{peak:.0f} MB")
        )
        errors = sum(r.errors for runs in phase.results.values() for r in runs)
        checks.append((f"no errors at {phase.name}", errors == 0, str(errors)))
        # The server counted what the load sent (every run of every case but those nginx answers from
        # its copy), and hides /metrics without the token.
        results = [r for name, runs in phase.results.items() for r in runs if not CASE_BY_NAME[name].edge]
        gap = max(abs(r.counted - r.requests) / r.requests for r in results)
        extra = max(r.counted - r.requests for r in results)
        checks.append(
            (
                f"/metrics counts what wrk sent (within 1%, or the {connections} in flight) at {phase.name}",
                all(metrics_gap_ok(r, connections) for r in results),
                f"{gap:.3%}, at most {extra} more",
            )
        )
        # Through the edge cache gunicorn sees about one request per copy's life, plus the first.
        for name in (name for name in phase.results if CASE_BY_NAME[name].edge):
            most = duration // EDGE_CACHE_SECONDS + 2
            upstream = max(r.counted for r in phase.results[name])
            sent = min(r.requests for r in phase.results[name])
            checks.append(
                (
                    f"{name}: gunicorn saw <= {most} requests a run at {phase.name}",
                    upstream <= most,
                    f"{upstream} of {sent}",
                )
            )
        for name in (name for name in phase.results if CASE_BY_NAME[name].cold):
            most = max(r.requests for r in phase.results[name])
            # Each of wrk's two threads takes every other voter of the block: room for them to run unevenly.
            fits = most <= 0.9 * COLD_BLOCK
            checks.append((f"{name}: every vote its token's first at {phase.name}", fits, f"{most} a run at most"))
        hidden = sorted(set(phase.metrics_hidden.values()))
        checks.append((f"/metrics without the token is a 404 at {phase.name}", hidden == [404], str(hidden)))
    print("\ntargets")
    for label, ok, value in checks:
        print(f"  {'ok  ' if ok else 'MISS'} {label}: {value}")
    return [label for label, ok, _ in checks if not ok]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs per case (the median is reported)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--voters", type=int, default=60_000, help="benchmark voters for vote_write")
    parser.add_argument("--server", choices=list(SERVERS), default="gunicorn-sync")
    parser.add_argument("--votes", choices=["both", "0"], default="both", help="0: skip the 1M-vote phase")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--cases", help="comma-separated case names to run (their baselines are added)")
    args = parser.parse_args()
    cases = CASES
    if args.cases:
        chosen = set(args.cases.split(","))
        if unknown := chosen - set(CASE_BY_NAME):
            parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
        chosen |= {CASE_BY_NAME[name].baseline for name in chosen}
        cases = [case for case in CASES if case.name in chosen]
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk (make bench installs it)")

    database_url = setup_django(os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/"))
    from tests.helpers import RedisServer, free_port

    redis = RedisServer()
    redis.start()
    started = time.monotonic()
    try:
        token_file, cold_file = load_catalogue(args.voters, mix_voters_needed(args), cold_voters_needed(args, cases))
        settle_database()
        env = {
            "WEB_CONCURRENCY": str(args.workers),
            "REDIS_URL": redis.url,
            # The limits stay on the path, out of the way of a load test.
            **{f"THROTTLE_{kind}": "100000000/min" for kind in ("ANON", "BADGE", "VOTER", "VOTES")},
            "BENCH_TOKENS": str(token_file),
            "BENCH_COLD_TOKENS": str(cold_file),
            "BENCH_SLUGS": ",".join(f"scale-tool-{i:04}" for i in range(1, 999, 7)),
        }
        # Free ports: other servers (another benchmark, the tests) may share the machine.
        phases = [Phase("0 votes", database_url, 0, {"cached": free_port(), "uncached": free_port()})]
        if args.votes == "both":
            million = copy_database(database_url, f"{database_url.rsplit('/', 1)[1]}_1m")
            phases.append(Phase("1M votes", million, 1, {"cached": free_port(), "uncached": free_port()}))
            use_database(million)
            print(f"  added 1,000,000 votes in {add_million_votes():.0f} s", file=sys.stderr)
            settle_database()
        for phase in phases:
            use_database(phase.database)
            phase.queries = queries_per_request(cases)
        for phase in phases:
            log_in_voters(phase, env)
        measure(phases, cases, args, env)
        for phase in phases:
            use_database(phase.database)
            print(f"\n{phase.name}: {check_counters()}")
        missed = report(phases, args.connections, args.duration)
        print(f"\n{args.server}, {args.workers} workers; benchmark took {time.monotonic() - started:.0f} s")
        if args.json:
            args.json.write_text(
                json.dumps({p.name: {c: p.rps(c) for c in p.results} for p in phases}, indent=2) + "\n"
            )
    finally:
        redis.stop()
        drop_database(database_url)
        drop_database(f"{database_url}_1m")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
