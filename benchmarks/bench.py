"""Load benchmark: the API's hot paths against a bare Django view, same server, same run.

    .venv/bin/python benchmarks/bench.py [--duration 8] [--runs 3] [--cases baseline,comparison,...]

Creates a fresh PostgreSQL database (BENCH_DATABASE_URL names the server,
default postgres://postgres@127.0.0.1:5432/), loads the seed comparison and
voters with tokens, starts the production server (gunicorn.conf.py, 2 workers)
and drives each case with wrk on loopback. Cases are interleaved and each
figure is the median of --runs runs. Prints req/s, p50 and p99 latency and
the ratio to the baseline, and each worker's peak memory.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    script: str | None = None  # a wrk Lua script in benchmarks/
    headers: tuple[str, ...] = ()


CASES = {
    case.name: case
    for case in [
        Case("baseline", "/bench/baseline/"),
        Case("comparison", "/api/v1/comparisons/code-llama-4-vs-mistral-large-3/"),
        Case("tools_list", "/api/v1/tools/?page_size=25"),
        Case("tool_detail", "/api/v1/tools/code-llama-4/"),
        Case("vote_write", "/", script="votes.lua"),
    ]
}


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(base_url: str, case: Case, duration: int, connections: int, env: dict[str, str]) -> Result:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    for header in case.headers:
        command += ["-H", header]
    if case.script:
        command += ["-s", str(ROOT / "benchmarks" / case.script)]
    output = subprocess.run(
        [*command, base_url + case.path], capture_output=True, text=True, check=True, env={**os.environ, **env}
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return Result(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_ms=_ms(latency["50"]),
        p99_ms=_ms(latency["99"]),
        errors=(int(errors.group(1)) if errors else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
    )


def prepare_database(server_url: str, voters: int) -> tuple[str, Path]:
    """A fresh database with the seed comparison and `voters` accounts; returns its URL and a token file."""
    import psycopg

    name = f"bench_{os.getpid()}"
    with psycopg.connect(server_url + "postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server_url + name
    os.environ.update(
        DATABASE_URL=url, DJANGO_SETTINGS_MODULE="benchmarks.settings", SECRET_KEY="benchmark-only", DEBUG="0"
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from knox.crypto import create_token_string, hash_token
    from knox.models import AuthToken
    from knox.settings import CONSTANTS

    call_command("migrate", verbosity=0)
    call_command("seed", verbosity=0)
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"bench-voter-{i}", password="!") for i in range(voters)], batch_size=2000
    )
    tokens = [create_token_string() for _ in users]
    AuthToken.objects.bulk_create(
        [
            AuthToken(digest=hash_token(token), token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH], user=user, expiry=None)
            for token, user in zip(tokens, users, strict=True)
        ],
        batch_size=2000,
    )
    token_file = Path(tempfile.mkstemp(prefix="bench-tokens-")[1])
    token_file.write_text("\n".join(tokens) + "\n")
    return url, token_file


def drop_database(url: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    server_url, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def start_server(port: int, env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "compare_api.wsgi", "--config", "gunicorn.conf.py"],
        cwd=ROOT,
        env={**os.environ, "BIND": f"127.0.0.1:{port}", "GUNICORN_ACCESSLOG": "", **env},
    )
    deadline = time.monotonic() + 30
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
    peaks = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024)
    return peaks


def check_vote_counters() -> str:
    from django.db.models import Count, Q

    from tools.models import Tool

    tools = Tool.objects.annotate(
        ship=Count("votes", filter=Q(votes__verdict="ship")), skip=Count("votes", filter=Q(votes__verdict="skip"))
    )
    drifted = [t.slug for t in tools if (t.ship, t.skip) != (t.community_ship_count, t.community_skip_count)]
    total = sum(t.ship + t.skip for t in tools)
    return f"{total} vote rows; counters {'EXACT' if not drifted else 'DRIFTED on ' + ', '.join(drifted)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs per case (the median is reported)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--voters", type=int, default=50_000)
    parser.add_argument("--cases", default=",".join(CASES))
    args = parser.parse_args()
    cases = [CASES[name] for name in args.cases.split(",")]

    server_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/")
    database_url, token_file = prepare_database(server_url, args.voters)
    server_env = {
        "WEB_CONCURRENCY": str(args.workers),
        # Abuse limits stay on the path but out of the way of a load test.
        "THROTTLE_VOTES": "1000000/min",
        "BENCH_TOKENS": str(token_file),
        "BENCH_SLUGS": "code-llama-4,mistral-large-3",
    }
    port = 8765
    server = start_server(port, server_env)
    results: dict[str, list[Result]] = {case.name: [] for case in cases}
    try:
        for run in range(args.runs):
            for case in cases:
                result = run_wrk(f"http://127.0.0.1:{port}", case, args.duration, args.connections, server_env)
                results[case.name].append(result)
                print(f"run {run + 1} {case.name:<12} {result.rps:9.1f} req/s", file=sys.stderr)
        peaks = worker_peak_rss_mb(server)
    finally:
        server.terminate()
        server.wait(timeout=30)

    baseline = statistics.median(r.rps for r in results["baseline"]) if "baseline" in results else None
    print(f"\n{'case':<14}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'ratio':>8}")
    for name, runs in results.items():
        rps = statistics.median(r.rps for r in runs)
        ratio = f"{rps / baseline:.3f}x" if baseline else "-"
        print(
            f"{name:<14}{rps:>10.1f}{statistics.median(r.p50_ms for r in runs):>9.2f}"
            f"{statistics.median(r.p99_ms for r in runs):>9.2f}{sum(r.errors for r in runs):>8}{ratio:>8}"
        )
    print(f"\npeak RSS per worker: {', '.join(f'{mb:.0f} MB' for mb in peaks)}")
    print(check_vote_counters())
    drop_database(database_url)


if __name__ == "__main__":
    main()
