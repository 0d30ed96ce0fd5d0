"""The uncached leaderboard at 0 and at 1M votes, in instructions: repeatable where wall-clock is not.

    .venv/bin/python benchmarks/board_instructions.py      (~2 min; not part of `make bench`)

Loads the scale catalogue in one category (as bench.py does, so the board ranks a category of
1,000 tools), copies it and adds 1,000,000 votes to the copy, then serves the uncached board
in-process under callgrind against each database: the whole middleware stack, then the board's
steps one by one. Prints instructions per call at 0 and 1M votes and the ratio: the discovery
issue's flatness target (>= 0.9x in `make bench`) seen without the machine's noise. PostgreSQL's
own work is not counted (it runs in its own process); only this process's.
"""

import gc
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench import BOARD, copy_database, drop_database, settle_database, setup_django, use_database  # noqa: E402
from benchmarks.instructions import counts_per_call  # noqa: E402

CALLS = 20
STEPS = ("request", "board_get", "columns", "intervals", "ranking", "page")  # the whole request, then its parts


def serve_under_callgrind() -> None:
    """The measured process (run by valgrind): warm each step, then count it."""
    import django

    django.setup()
    import numpy as np
    from django.test import Client, override_settings

    from compare_api.stats import wilson_columns
    from discovery.ranking import RankedBoard
    from discovery.selectors import COMMUNITY, board_get, counter_columns, min_total

    category = BOARD.rstrip("/").rsplit("/", 1)[1]
    board = board_get(category=category, metric=COMMUNITY)
    ships, totals = counter_columns(board.rows)
    enough = np.flatnonzero(totals >= min_total(COMMUNITY))
    lows, highs = wilson_columns(ships[enough], totals[enough])
    client = Client(HTTP_HOST="127.0.0.1")
    steps = {
        "request": lambda: client.get(BOARD),
        "board_get": lambda: board_get(category=category, metric=COMMUNITY),
        "columns": lambda: counter_columns(board.rows),
        "intervals": lambda: wilson_columns(ships[enough], totals[enough]),
        "ranking": lambda: RankedBoard(board.rows, lows, highs, members=enough),
        "page": lambda: board.page_document(list(range(min(25, len(board))))),
    }
    assert len(board) == 1000, len(board)
    pid = str(os.getpid())
    with override_settings(DOCUMENT_CACHE=False):
        for name, step in steps.items():
            for _ in range(5):
                step()
            gc.collect()
            subprocess.run(["callgrind_control", "--zero", pid], check=True, capture_output=True)
            for _ in range(CALLS):
                step()
            subprocess.run(["callgrind_control", f"--dump={name}", pid], check=True, capture_output=True)


def count(database_url: str) -> dict[str, float]:
    out_dir = Path(tempfile.mkdtemp(prefix="callgrind-board-"))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": "",  # local memory: no sockets in the counted path
        "THROTTLE_ANON": "100000000/min",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_dir}/callgrind.out", sys.executable,
         __file__, "--serve"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    return counts_per_call(out_dir, CALLS)


def main() -> None:
    url = setup_django(os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/"))
    from django.core.management import call_command

    from seeds.scale import ScaleSize, scale_catalog, scale_votes

    million = f"{url}_1m"
    try:
        call_command("migrate", verbosity=0)
        scale_catalog(size=ScaleSize(categories=1), progress=lambda n: None)
        settle_database()
        copy_database(url, million.rsplit("/", 1)[1])
        use_database(million)
        scale_votes(size=ScaleSize(categories=1), progress=lambda n: None)
        settle_database()
        from django.db import connections

        connections.close_all()
        none, many = count(url), count(million)
    finally:
        drop_database(url)
        drop_database(million)
    print(f"{'step':<12}{'0 votes':>14}{'1M votes':>14}{'0 / 1M':>9}")
    for step in STEPS:
        print(f"{step:<12}{none[step]:>14,.0f}{many[step]:>14,.0f}{none[step] / many[step]:>8.2f}x")


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve_under_callgrind()
    else:
        main()
