"""Instructions per request, counted by valgrind's callgrind: repeatable where wall-clock is not.

    .venv/bin/python benchmarks/instructions.py      (run by `make bench`)

Prepares a fresh PostgreSQL database with the seed comparison, then runs one
Python process under callgrind that serves requests in-process through the
whole middleware stack: for each case, callgrind's counters are zeroed, N
requests are served, and the counters are dumped. Prints instructions per
request and the ratio to the bare baseline view, and exits 1 when a ratio
exceeds its bound in benchmarks/instruction_bounds.json (a regression).
"""

import gc
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOUNDS = ROOT / "benchmarks" / "instruction_bounds.json"
REQUESTS = 20
CASES = {
    "baseline": ("/bench/baseline/", False),
    "comparison_uncached": ("/api/v1/comparisons/code-llama-4-vs-mistral-large-3/", False),
    "comparison_cached": ("/api/v1/comparisons/code-llama-4-vs-mistral-large-3/", True),
    # A voter changing their vote on every request: the whole write, one statement on PostgreSQL.
    "vote_write": ("/api/v1/tools/code-llama-4/vote/", True),
    # The first read after a vote on one of the pair's tools: the cached facts, the tallies read
    # again (each request also replaces that tool's version token, as the vote would, in memory).
    "comparison_after_vote": ("/api/v1/comparisons/code-llama-4-vs-mistral-large-3/", True),
}


def serve_under_callgrind() -> None:
    """The measured process (run by valgrind): warm every case, then count each."""
    import django

    django.setup()
    from django.test import Client, override_settings

    from benchmarks.voters import voters_with_tokens
    from compare_api import caching

    client = Client(HTTP_HOST="127.0.0.1")
    pid = str(os.getpid())
    ((_, token),) = voters_with_tokens(prefix="instructions-voter", count=1)
    verdicts = itertools.cycle(["ship", "skip"])

    def request(name: str, path: str) -> int:
        if name == "comparison_after_vote":
            caching.bump_now(caching.tool_version("code-llama-4"))
        if name != "vote_write":
            return client.get(path).status_code
        body = f'{{"verdict": "{next(verdicts)}"}}'
        return client.put(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}").status_code

    for name, (path, cached) in CASES.items():
        with override_settings(DOCUMENT_CACHE=cached):
            for _ in range(30):  # compiled queries, prepared statements, the cached document
                assert request(name, path) in (200, 201)
            # Every case starts from the same garbage-collector state: otherwise a full
            # collection, due every few thousand requests, lands in one case's window or
            # another's depending on what ran before (it once added 1.9 M per request).
            gc.collect()
            subprocess.run(["callgrind_control", "--zero", pid], check=True, capture_output=True)
            for _ in range(REQUESTS):
                request(name, path)
            subprocess.run(["callgrind_control", f"--dump={name}", pid], check=True, capture_output=True)


def counts_per_call(out_dir: Path, calls: int) -> dict[str, float]:
    """Instructions per call of each dump `callgrind_control --dump=<name>` left in out_dir, by name."""
    counts = {}
    for dump in out_dir.glob("callgrind.out.*"):
        text = dump.read_text(errors="replace")
        trigger = re.search(r"^desc: Trigger: Client Request: (\S+)", text, re.MULTILINE) or re.search(
            r"^desc: Trigger: dump (\S+)", text, re.MULTILINE
        )
        if trigger:
            counts[trigger.group(1)] = int(re.search(r"^summary: (\d+)", text, re.MULTILINE).group(1)) / calls
    return counts


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.seeded import seeded_database

    out_dir = Path(tempfile.mkdtemp(prefix="callgrind-"))
    (out_dir / "metrics").mkdir()
    # REDIS_URL empty: local memory, no sockets in the counted path. Metrics as under gunicorn
    # (gunicorn.conf.py): written to per-process files, which costs more than counting in memory.
    with seeded_database("bench_instructions", REDIS_URL="", PROMETHEUS_MULTIPROC_DIR=str(out_dir / "metrics")) as env:
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_dir}/callgrind.out", sys.executable,
             __file__, "--serve"],
            cwd=ROOT, env=env, check=True, capture_output=True,
        )  # fmt: skip

    counts = {name: count for name, count in counts_per_call(out_dir, REQUESTS).items() if name in CASES}
    bounds = json.loads(BOUNDS.read_text())
    baseline = counts["baseline"]
    print(f"{'case':<22}{'instructions/request':>22}{'ratio':>9}{'bound':>9}")
    failed = []
    for case, per_request in counts.items():
        ratio = per_request / baseline
        bound = bounds.get(case)
        print(f"{case:<22}{per_request:>22,.0f}{ratio:>8.2f}x{(f'{bound:.2f}x' if bound else '-'):>9}")
        if bound and ratio > bound:
            failed.append(case)
    if failed:
        print(f"REGRESSION: {', '.join(failed)} past the bound in {BOUNDS.name}")
        sys.exit(1)


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve_under_callgrind()
    else:
        main()
