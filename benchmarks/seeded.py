"""A fresh PostgreSQL database with the seed comparison, for the in-process measurements."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The benchmark settings, with the limits out of the way of a measurement.
SETTINGS = {
    "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
    "SECRET_KEY": "benchmark-only",
    "DEBUG": "0",
    "PUBLIC_BASE_URL": "http://127.0.0.1",
    **{f"THROTTLE_{kind}": "100000000/min" for kind in ("ANON", "BADGE", "VOTER", "VOTES")},
    "PYTHONPATH": str(ROOT),
}


@contextmanager
def seeded_database(prefix: str, **env: str) -> Iterator[dict[str, str]]:
    """Creates `<prefix>_<pid>` on BENCH_DATABASE_URL's server, migrates and seeds it, and yields
    the environment for processes that use it (SETTINGS, then `env`); drops it afterwards."""
    import psycopg

    server_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/")
    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(server_url + "postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    environment = {**os.environ, **SETTINGS, "DATABASE_URL": server_url + name, **env}
    try:
        for command in (["migrate", "--verbosity", "0"], ["seed", "--verbosity", "0"]):
            subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=environment, check=True)
        yield environment
    finally:
        with psycopg.connect(server_url + "postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
