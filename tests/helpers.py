"""Small helpers shared by test modules (fixtures live in conftest.py)."""

import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, connections
from knox.models import AuthToken

T = TypeVar("T")

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL row locks and real concurrency (set DATABASE_URL)"
)


def bearer(user: AbstractBaseUser) -> dict[str, str]:
    """Request headers carrying a fresh voter token for `user`."""
    _, token = AuthToken.objects.create(user=user)
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# Each thread may hold a PostgreSQL connection; the server allows 100 in all, and a test's own
# server processes need some of them.
MAX_THREADS = 32


def run_together(calls: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run the calls on up to MAX_THREADS threads, all released at once by a barrier, each thread
    taking the next call as it finishes one; return the results or exceptions in call order."""
    pending = queue.SimpleQueue()
    for item in enumerate(calls):
        pending.put(item)
    barrier = threading.Barrier(min(MAX_THREADS, len(calls)))
    results: list[T | BaseException] = [RuntimeError("not run")] * len(calls)

    def worker() -> None:
        barrier.wait()
        while True:
            try:
                index, call = pending.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = call()
            except BaseException as error:  # reported to the test, not swallowed
                results[index] = error
            finally:
                connections.close_all()  # each call on a connection of its own, as before

    pool = [threading.Thread(target=worker) for _ in range(barrier.parties)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    return results


def database_url() -> str:
    """The URL of the database the tests run on (the test database), for a server process."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def gunicorn_server(*, workers: int = 4, log_file: Path | None = None, **env: str) -> Iterator[str]:
    """The production server (gunicorn.conf.py) on the test database; yields its base URL.

    Needs a transactional test: the server's processes only see committed rows.
    `log_file` receives the server's stderr and stdout (its log); otherwise stderr is kept for a failed start.
    """
    port = free_port()
    server_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": "test-only-not-secret",
        "DEBUG": "0",
        "PUBLIC_BASE_URL": "http://testserver",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_ACCESSLOG": "",
        **env,
    }
    log = open(log_file, "wb") if log_file else None  # noqa: SIM115 (closed with the server)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "compare_api.wsgi", "--config", "gunicorn.conf.py"],
        cwd=settings.BASE_DIR,
        env=server_env,
        stdout=log or subprocess.DEVNULL,
        stderr=log or subprocess.PIPE,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base_url}/admin/login/", timeout=2)  # not rate-limited
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = log_file.read_text() if log_file else process.stderr.read().decode()
                    raise RuntimeError(f"gunicorn did not start: {output[-2000:]}") from None
                time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            log.close()


def http(method: str, url: str, body: dict | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """One real HTTP request; returns (status, headers) and never raises for an HTTP error status."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {"body": response.read(), **dict(response.headers)}
    except urllib.error.HTTPError as error:
        return error.code, {"body": error.read(), **dict(error.headers)}


class RedisServer:
    """A private redis-server on a free port, which a test may stop and start again."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def redis_documents(settings, capture_on_commit, **rates: str) -> Iterator[RedisServer]:
    """A private Redis as the document cache and the limits' store, with `rates` (scope=rate)
    over the configured ones, and the tools `alpha` and `beta` (the comparison alpha-vs-beta)."""
    from tests.factories import ToolFactory

    with redis_server() as redis:
        settings.CACHES = {"default": {"BACKEND": "compare_api.cache.RedisCache", "LOCATION": redis.url}}
        settings.DOCUMENT_CACHE = True
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
        }
        with capture_on_commit(execute=True):
            ToolFactory(slug="alpha"), ToolFactory(slug="beta")
        yield redis


class WebhookReceiver:
    """A real HTTP server on a free loopback port, in a thread, that records every request.

    It answers with the statuses queued in `answers` ((status, headers) pairs), then with
    `default` (204), keeping the connection open unless `drop_connections` (then it closes it
    after each answer without saying so, as a receiver's idle timeout does). `url` is where to
    register it.
    """

    def __init__(self, default: int = 204) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[dict] = []
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.default = default
        self.drop_connections = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keeps connections alive, as most receivers do
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body, "client": self.client_address}
                )
                status, headers = receiver.answers.pop(0) if receiver.answers else (receiver.default, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.close_connection = receiver.drop_connections

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
