"""The production stack (deploy/stack.py): Debian's nginx in front of real gunicorn, over real sockets.

Every server here is a real process on a free port or a UNIX socket in a temp
dir, serving the seeded test database (committed for them, flushed at the
end; on SQLite, a file copy of the in-memory test database). Requests are
written byte by byte on raw sockets, so malformed ones really are malformed.
"""

import contextlib
import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from deploy.stack import (
    ROOT,
    Stack,
    nginx_binary,
    render_nginx_config,
    start_nginx,
    start_stack,
    wait_until_answering,
)
from tests.helpers import database_url, free_port, redis_server

pytestmark = [
    pytest.mark.stack,
    # Each test's own transaction is never used by the servers; the mark makes pytest-django set up the test
    # database, which server_env seeds and commits once for the whole module.
    pytest.mark.django_db,
    pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed (apt-get install nginx; .ci/run does)"),
]

COMPARISON = "/api/v1/comparisons/code-llama-4-vs-mistral-large-3/"
CATEGORIES = "/api/v1/categories/"
REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def error(kind: str, code: str, detail: str) -> dict:
    return {"type": kind, "errors": [{"code": code, "detail": detail, "attr": None}]}


BAD_REQUEST = error("client_error", "bad_request", "The request could not be parsed.")
URI_TOO_LONG = error("client_error", "uri_too_long", "The request URL is too long.")
HEADERS_TOO_LARGE = error("client_error", "request_header_fields_too_large", "The request headers are too large.")
TOO_LARGE = error("client_error", "request_too_large", "The request body is too large.")
NOT_FOUND = error("client_error", "not_found", "No such resource.")
THROTTLED_CONNECTIONS = error("client_error", "throttled", "Too many simultaneous connections from this address.")
BAD_GATEWAY = error("server_error", "bad_gateway", "The application server is not answering; try again in a moment.")
SERVER_ERROR = error("server_error", "error", "A server error occurred.")


@pytest.fixture(scope="module")
def server_env(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict[str, str]]:
    """The environment of a server process: the seeded test database, no Redis, limits out of the way."""
    # Not under pytest's private tmp dir: nginx's workers run as `nobody` when the tests run as root.
    static_root = Path(tempfile.mkdtemp(prefix="stack-static-"))
    static_root.chmod(0o755)
    (static_root / "probe.css").write_text("body { color: black; }\n")
    with django_db_blocker.unblock():
        call_command("seed", verbosity=0)
        if connection.vendor == "sqlite":
            # The test database lives in this process's memory: the servers get a file copy.
            path = tmp_path_factory.mktemp("database") / "db.sqlite3"
            connection.ensure_connection()
            with contextlib.closing(sqlite3.connect(path)) as copy:
                connection.connection.backup(copy)
            url = f"sqlite:///{path}"
        else:
            url = database_url()
        try:
            yield {
                **os.environ,
                "DATABASE_URL": url,
                "SECRET_KEY": "test-only-not-secret",
                "DEBUG": "0",
                "REDIS_URL": "",
                "STATIC_ROOT": str(static_root),
                "WEB_CONCURRENCY": "2",
                "THROTTLE_ANON": "1000000/min",
                "THROTTLE_NEWSLETTER": "3/day",
            }
        finally:
            call_command("flush", interactive=False, verbosity=0)
            shutil.rmtree(static_root)


@pytest.fixture(scope="module")
def stack(server_env, tmp_path_factory) -> Iterator[Stack]:
    """The stack as deployed: two gunicorn workers sharing a (private) Redis for limits and cached documents."""
    logs = tmp_path_factory.mktemp("stack-logs")
    with redis_server() as redis:
        env = {**server_env, "REDIS_URL": redis.url}
        with start_stack(port=free_port(), env=env, worker=False, log_dir=logs) as running:
            yield running


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response: status, headers (lower-case names; repeated ones joined by ', '), body."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {buffer[:200]!r}")
        buffer += chunk
    head, _, body = buffer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    # Without a Content-Length (runserver, for one), the body ends when the connection does.
    length = int(headers.get("content-length", sys.maxsize if status_line.split()[1] != "304" else 0))
    while len(body) < length and (chunk := sock.recv(65536)):
        body += chunk
    return int(status_line.split()[1]), headers, body


def send_raw(port: int, data: bytes, *, source: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as sock:
        with contextlib.suppress(OSError):  # a server may answer, and close, before reading it all
            sock.sendall(data)
        return read_response(sock)


def get(port: int, path: str, *headers: str, source: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    host = [] if any(header.lower().startswith("host:") for header in headers) else ["Host: 127.0.0.1"]
    lines = [f"GET {path} HTTP/1.1", *host, "Connection: close", *headers]
    return send_raw(port, ("\r\n".join(lines) + "\r\n\r\n").encode(), source=source)


def assert_json_error(answer: tuple[int, dict[str, str], bytes], status: int, document: dict) -> None:
    got_status, headers, body = answer
    assert (got_status, headers.get("content-type")) == (status, "application/json"), body[:300]
    assert json.loads(body) == document


OVERSIZE = {
    "malformed request line": (b"GARBAGE\r\n\r\n", 400, BAD_REQUEST),
    "10 kB URL": (f"GET /api/v1/{'a' * 10_000}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode(), 414, URI_TOO_LONG),
    "one 20 kB header": (
        f"GET {CATEGORIES} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {'a' * 20_000}\r\n\r\n".encode(),
        431,
        HEADERS_TOO_LARGE,
    ),
}


# gunicorn has no limit on all headers together: a line limit and a field count.
PADDING = "".join(f"X-Padding-{i}: {'a' * 1000}\r\n" for i in range(20))
NGINX_REFUSES = {
    **OVERSIZE,
    "20 headers of 1 kB": (f"GET {CATEGORIES} HTTP/1.1\r\nHost: x\r\n{PADDING}\r\n".encode(), 431, HEADERS_TOO_LARGE),
}


@pytest.mark.parametrize("name", NGINX_REFUSES)
def test_what_nginx_refuses_is_json(stack: Stack, name: str) -> None:
    request, status, document = NGINX_REFUSES[name]
    answer = send_raw(port_of(stack.url), request)
    assert_json_error(answer, status, document)
    assert REQUEST_ID.fullmatch(answer[1]["x-request-id"])
    assert answer[1]["server"] == "nginx"  # server_tokens off: no version


def test_a_body_over_the_limit_is_refused_by_nginx_before_django_sees_it(stack: Stack) -> None:
    head = (
        "POST /api/v1/newsletter/subscriptions/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {256 * 1024 + 1}\r\n\r\n"
    )
    started = time.monotonic()
    answer = send_raw(port_of(stack.url), head.encode() + b"x" * 65536)
    assert time.monotonic() - started < 2  # at once, from the headers
    assert_json_error(answer, 413, TOO_LARGE)
    assert "x-frame-options" not in answer[1]  # Django sets it on everything it answers


def test_django_errors_pass_through_untouched(stack: Stack) -> None:
    status, headers, body = get(port_of(stack.url), "/api/v1/no-such-thing/")
    assert (status, headers["content-type"]) == (404, "application/json")
    assert json.loads(body) == NOT_FOUND
    assert headers["x-frame-options"] == "DENY"  # Django's answer, not an nginx error page
    status, _, body = get(port_of(stack.url), "/api/v1/comparisons/code-llama-4-vs-code-llama-4/")
    assert status == 400
    assert json.loads(body)["errors"][0]["attr"] == "pair"


def test_static_files_are_served_by_nginx_and_a_missing_one_is_json(stack: Stack) -> None:
    status, headers, body = get(port_of(stack.url), "/static/probe.css")
    assert (status, headers["content-type"], body) == (200, "text/css", b"body { color: black; }\n")
    assert "x-frame-options" not in headers
    assert headers["cache-control"] == "max-age=3600"
    assert_json_error(get(port_of(stack.url), "/static/missing.css"), 404, NOT_FOUND)


def test_strong_etag_survives_nginx_and_if_none_match_is_a_304(stack: Stack) -> None:
    port = port_of(stack.url)
    status, headers, body = get(port, COMPARISON, "Accept-Encoding: gzip")
    assert status == 200
    assert "content-encoding" not in headers
    etag = headers["etag"]
    assert re.fullmatch(r'"[^"]+"', etag), etag  # strong: no W/ prefix
    assert json.loads(body)["slug"] == "code-llama-4-vs-mistral-large-3"
    status, headers, body = get(port, COMPARISON, "Accept-Encoding: gzip", f"If-None-Match: {etag}")
    assert (status, headers["etag"], body) == (304, etag, b"")


def test_every_response_carries_a_request_id_and_the_access_log_line_has_it(stack: Stack) -> None:
    port = port_of(stack.url)
    generated = get(port, CATEGORIES)[1]["x-request-id"]
    assert REQUEST_ID.fullmatch(generated)
    assert get(port, CATEGORIES, "X-Request-ID: client-chosen.42")[1]["x-request-id"] == "client-chosen.42"
    replaced = get(port, CATEGORIES, "X-Request-ID: has spaces <and> brackets")[1]["x-request-id"]
    assert REQUEST_ID.fullmatch(replaced)
    refused = send_raw(port, b"GARBAGE\r\n\r\n")[1]["x-request-id"]

    deadline = time.monotonic() + 5
    while True:  # nginx writes the line once the connection is done with, a moment after the answer
        lines = {entry["request_id"]: entry for entry in map(json.loads, stack.log("nginx-access.log").splitlines())}
        if refused in lines or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    for request_id in (generated, "client-chosen.42", replaced):
        assert lines[request_id]["request"] == f"GET {CATEGORIES} HTTP/1.1"
        assert lines[request_id]["status"] == 200
    assert (lines[refused]["request"], lines[refused]["status"]) == ("GARBAGE", 400)


def test_too_many_open_requests_from_one_address_get_a_json_429(stack: Stack) -> None:
    """Requests whose bodies never arrive hold their connection slot (counted once the headers are in)."""
    port = port_of(stack.url)
    holding = "POST /api/v1/newsletter/subscriptions/ HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n"
    holders = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(32)]
    try:
        for sock in holders:
            sock.sendall(holding.encode())
        time.sleep(0.3)
        assert_json_error(get(port, CATEGORIES), 429, THROTTLED_CONNECTIONS)
        assert get(port, CATEGORIES, source="127.0.0.3")[0] == 200  # another address is not held up
    finally:
        for sock in holders:
            sock.close()


def test_slowloris_sockets_do_not_delay_normal_requests(stack: Stack) -> None:
    """200 sockets dribbling request headers, one byte every 3 s, while a client makes 200 requests."""
    port = port_of(stack.url)
    dribbled = f"GET {CATEGORIES} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\n\r\n".encode()
    slow: dict[socket.socket, tuple[int, float]] = {}  # socket -> (bytes sent, opened at)
    lifetimes: list[float] = []  # of the sockets nginx cut off

    def open_slow() -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=("127.0.0.2", 0))
        sock.setblocking(False)
        sock.send(dribbled[:1])
        slow[sock] = (1, time.monotonic())

    def cut_off(sock: socket.socket) -> bool:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        with contextlib.suppress(OSError):
            if sock.recv(1024):
                return False
        return True

    stop = threading.Event()

    def dribble() -> None:
        while not stop.wait(3.0):
            for sock, (sent, opened) in list(slow.items()):
                try:
                    if cut_off(sock):
                        raise ConnectionResetError
                    sock.send(dribbled[sent : sent + 1])
                    slow[sock] = (sent + 1, opened)
                except OSError:  # nginx closed it: a new one takes its place, so 200 stay open
                    lifetimes.append(time.monotonic() - opened)
                    del slow[sock]
                    sock.close()
                    open_slow()

    for _ in range(200):
        open_slow()
    dribbler = threading.Thread(target=dribble)
    dribbler.start()
    latencies, statuses = [], []
    try:
        for i in range(200):
            started = time.perf_counter()
            statuses.append(get(port, COMPARISON if i % 2 else CATEGORIES)[0])
            latencies.append(time.perf_counter() - started)
            time.sleep(0.03)  # spread over ~8 s: nginx cuts the first slow sockets meanwhile
        open_at_end = len(slow)
    finally:
        stop.set()
        dribbler.join()
        for sock in slow:
            sock.close()
    p50, p99 = statistics.median(latencies), statistics.quantiles(latencies, n=100)[98]
    cut = f"{min(lifetimes, default=0):.1f}-{max(lifetimes, default=0):.1f} s"
    print(
        f"\nslowloris drill: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms; "
        f"{len(lifetimes)} slow sockets cut after {cut}"
    )
    assert statuses == [200] * 200
    assert p99 < 0.25, f"p99 {p99 * 1000:.0f} ms"
    assert open_at_end == 200
    # Cut by client_header_timeout (5 s), seen at the next 3 s tick.
    assert lifetimes and max(lifetimes) < 10
    assert "WORKER TIMEOUT" not in stack.log("gunicorn.log")


def test_the_rate_limit_counts_the_real_client_not_a_spoofed_forwarded_for(stack: Stack) -> None:
    """NUM_PROXIES=1 behind nginx: the limiter sees the address nginx saw, whatever X-Forwarded-For says.

    The newsletter sign-up's per-address limit (3 a day in this stack) stands in for every IP limit.
    """
    port = port_of(stack.url)

    def sign_up(number: int, source: str) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps({"email": f"reader{number}@example.com"})
        request = (
            "POST /api/v1/newsletter/subscriptions/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Forwarded-For: 203.0.113.{number}\r\n\r\n{body}"
        )
        return send_raw(port, request.encode(), source=source)

    spoofing = [sign_up(number, "127.0.0.4") for number in range(5)]
    assert [status for status, _, _ in spoofing] == [202, 202, 202, 429, 429]
    assert json.loads(spoofing[3][2])["errors"][0]["code"] == "throttled"
    assert sign_up(9, "127.0.0.5")[0] == 202  # another real address has its own count


def test_upstream_down_is_a_json_502(tmp_path: Path) -> None:
    port = free_port()
    # Not under pytest's private tmp dir: nginx's workers (`nobody` under root) keep the edge cache in it.
    run_dir = Path(tempfile.mkdtemp(prefix="stack-run-"))
    nginx = start_nginx(
        run_dir=run_dir, listen=f"127.0.0.1:{port}", upstream=f"unix:{tmp_path}/nobody.sock", log_dir=tmp_path
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                answer = get(port, CATEGORIES)
                break
            except OSError:
                assert time.monotonic() < deadline and nginx.poll() is None, (tmp_path / "nginx-error.log").read_text()
                time.sleep(0.05)
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        shutil.rmtree(run_dir, ignore_errors=True)
    assert_json_error(answer, 502, BAD_GATEWAY)
    assert REQUEST_ID.fullmatch(answer[1]["x-request-id"])


def test_gunicorn_answers_what_it_refuses_in_json(server_env, tmp_path: Path) -> None:
    """Direct to gunicorn (gunicorn.conf.py): malformed and oversized requests, and a worker timeout."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {**server_env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1", "GUNICORN_TIMEOUT": "2"}
    with log.open("ab") as output:
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "compare_api.wsgi", "--config", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/admin/login/")
        for request, status, document in OVERSIZE.values():
            assert_json_error(send_raw(port, request), status, document)
        # A client that never finishes its headers holds the sync worker until the arbiter kills it.
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            sock.sendall(f"GET {CATEGORIES} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode())
            assert_json_error(read_response(sock), 500, SERVER_ERROR)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=20)
    assert "WORKER TIMEOUT" in log.read_text()


def test_runserver_under_debug_answers_json(server_env, tmp_path: Path) -> None:
    """`make run`: an unknown URL, a malformed request line and one over 64 kB, all JSON, with DEBUG=1."""
    port = free_port()
    with (tmp_path / "runserver.log").open("ab") as output:
        runserver = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
            cwd=ROOT,
            env={**server_env, "DEBUG": "1"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/admin/login/")
        for path in ("/api/v1/no-such-thing/", "/api/v1/tools/nope/reviews/extra/", "/not-the-api/"):
            assert_json_error(get(port, path), 404, NOT_FOUND)
        # Nothing more than the server reads: bytes left unread would turn its close into a reset.
        assert_json_error(send_raw(port, b"GARBAGE\r\n"), 400, BAD_REQUEST)
        assert_json_error(send_raw(port, b"GET /" + b"a" * 65_532), 414, URI_TOO_LONG)  # 65,537 bytes, no end
        assert get(port, COMPARISON)[0] == 200
    finally:
        runserver.terminate()
        runserver.wait(timeout=20)


def test_unknown_urls_are_json_under_debug_but_the_admin_keeps_its_page(settings, client) -> None:
    settings.DEBUG = True
    settings.MIDDLEWARE = ["compare_api.middleware.DebugJsonNotFoundMiddleware", *settings.MIDDLEWARE]
    response = client.get("/api/v1/no-such-thing/")
    assert (response.status_code, response["Content-Type"], response.json()) == (404, "application/json", NOT_FOUND)
    assert client.get("/favicon.ico").json() == NOT_FOUND
    assert client.get("/admin/no-such-page/").status_code in (302, 404)  # the admin's own answer, untouched


def test_serve_starts_the_stack_and_ctrl_c_stops_every_process(server_env, tmp_path: Path) -> None:
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "deploy.stack", "serve", "--port", str(port), "--log-dir", str(tmp_path)],
        cwd=ROOT,
        env={**server_env, "WEB_CONCURRENCY": "1"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        said = ""
        deadline = time.monotonic() + 60
        while "serving on" not in said:
            assert serve.poll() is None and time.monotonic() < deadline, said
            if select.select([serve.stdout], [], [], 1)[0]:
                said += serve.stdout.readline()
        pids = {name: int(pid) for name, pid in re.findall(r"(\w+) \(pid (\d+)\)", said)}
        assert set(pids) in ({"gunicorn", "nginx"}, {"gunicorn", "nginx", "worker", "webhooks"})
        if "worker" not in pids:
            assert "running without a worker" in said
        assert get(port, COMPARISON)[0] == 200
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=30) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    with pytest.raises(ProcessLookupError):  # the whole group: gunicorn's and nginx's workers too
        os.killpg(pids["gunicorn"], 0)


def test_the_rendered_configuration(tmp_path: Path) -> None:
    config = render_nginx_config(
        run_dir=tmp_path,
        listen="127.0.0.1:8000",
        upstream="unix:/run/gunicorn.sock",
        static_root=tmp_path / "static",
        max_body_size=1234,
        access_log="/dev/stdout",
        error_log="stderr",
    )
    assert "@@" not in config
    assert not re.search(r"^\s*proxy_intercept_errors", config, re.MULTILINE)  # Django's errors pass untouched
    for directive in (
        "proxy_request_buffering on;",
        "proxy_buffering on;",
        "client_max_body_size 1234;",
        "server unix:/run/gunicorn.sock;",
        "server_tokens off;",
        "gzip off;",
        "error_page 494 =431 /_nginx_errors/431;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    ):
        assert directive in config


def test_the_admin_login_form_passes_the_csrf_origin_check_through_nginx(stack: Stack) -> None:
    """nginx forwards the Host with its port, which Django compares with the browser's Origin."""
    port = port_of(stack.url)
    host = f"127.0.0.1:{port}"
    status, headers, page = get(port, "/admin/login/", f"Host: {host}")
    assert status == 200
    cookie = re.search(r"csrftoken=([^;]+)", headers["set-cookie"]).group(1)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    form = f"csrfmiddlewaretoken={token}&username=nobody&password=wrong&next=/admin/"
    request = (
        f"POST /admin/login/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nOrigin: http://{host}\r\n"
        f"Cookie: csrftoken={cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(form)}\r\n\r\n{form}"
    )
    status, _, page = send_raw(port, request.encode())
    assert status == 200  # the form again, with its error: not a 403 from the CSRF check
    assert b"Please enter the correct username and password" in page
