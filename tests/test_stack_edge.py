"""The edge cache of the production stack (deploy/nginx.conf.template; README, "Edge cache").

Real nginx and gunicorn through deploy/stack.py, the seeded test database and a
private Redis, as in tests/test_stack.py (whose server environment this module
shares): anonymous reads answered from nginx's own copy, everything else never.
Each test reads from its own client address (127.0.0.x) and, where it matters,
its own document, so the per-address limit (30 a minute here) and the copies of
one test never meet another's.
"""

import contextlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core import signing
from django.db import connection
from knox.models import AuthToken

from deploy.stack import Stack, nginx_binary, render_nginx_config, start_nginx, start_stack, wait_until_answering
from tests import test_stack
from tests.helpers import free_port, redis_server
from tests.test_stack import COMPARISON, port_of, send_raw
from tools.models import Tool, Verdict
from votes.models import Voter
from votes.services import verification_token

pytestmark = [
    pytest.mark.stack,
    pytest.mark.django_db,
    pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed (apt-get install nginx; .ci/run does)"),
]

# The seeded database, committed for the servers, and their environment: tests/test_stack.py's fixture.
server_env = test_stack.server_env

EDGE_SECONDS = 1
ANON_LIMIT = 30
TOOL = "code-llama-4"
REVERSED = "/api/v1/comparisons/mistral-large-3-vs-code-llama-4/"
Answer = tuple[int, dict[str, str], bytes]


def request(port: int, method: str, path: str, *headers: str, body: bytes = b"", source: str = "127.0.0.1") -> Answer:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    if body or method in ("POST", "PUT"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    status, headers, content = send_raw(port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body, source=source)
    if method == "HEAD":  # read_response reads a body by its Content-Length; a HEAD has none
        return status, headers, b""
    if headers.get("transfer-encoding") == "chunked":  # as nginx streams an answer it is storing
        content = dechunk(content)
    return status, headers, content


def dechunk(data: bytes) -> bytes:
    body = b""
    while True:
        size, _, data = data.partition(b"\r\n")
        length = int(size.split(b";")[0], 16)
        if length == 0:
            return body
        body, data = body + data[:length], data[length + 2 :]


def read(port: int, path: str, *headers: str, source: str = "127.0.0.1") -> Answer:
    return request(port, "GET", path, *headers, source=source)


def early_in_a_second() -> None:
    """Wait for the next second boundary: a copy lives to a boundary (X-Accel-Expires), so with
    EDGE_CACHE_SECONDS=1 a copy made late in a second is gone within milliseconds. A test that
    expects a HIT makes its copy here and has the best part of a second to read it."""
    time.sleep(1.02 - time.time() % 1)


def cache_status(answer: Answer) -> str | None:
    return answer[1].get("x-cache-status")


def rate_headers(answer: Answer) -> dict[str, str]:
    return {name: value for name, value in answer[1].items() if name.startswith(("ratelimit", "x-ratelimit"))}


def community(body: bytes, slug: str = TOOL) -> dict:
    return next(tool["community"] for tool in json.loads(body)["tools"] if tool["slug"] == slug)


@pytest.fixture(scope="module")
def voter(server_env, django_db_blocker) -> Iterator[dict]:
    """A verified voter (its votes count) and its bearer token, committed for the servers to see."""
    from tests.factories import UserFactory

    with django_db_blocker.unblock():
        user = UserFactory()
        _, token = AuthToken.objects.create(user=user)
        if connection.vendor == "sqlite":  # the servers' database is a file copy (server_env): copy again
            connection.ensure_connection()
            with contextlib.closing(sqlite3.connect(server_env["DATABASE_URL"].removeprefix("sqlite:///"))) as copy:
                connection.connection.backup(copy)
        yield {
            "authorization": f"Authorization: Bearer {token}",
            "verify": verification_token(voter=Voter.objects.get(user=user)),
            "tool_id": Tool.objects.get(slug=TOOL).pk,
        }


@pytest.fixture(scope="module")
def edge(server_env, voter, tmp_path_factory) -> Iterator[Stack]:
    """The stack with its edge cache on (EDGE_CACHE_SECONDS=1), a shared Redis, a low anonymous limit."""
    logs = tmp_path_factory.mktemp("edge-logs")
    with redis_server() as redis:
        env = {
            **server_env,
            "REDIS_URL": redis.url,
            "EDGE_CACHE_SECONDS": str(EDGE_SECONDS),
            "THROTTLE_ANON": f"{ANON_LIMIT}/min",
            # The signed links this process makes (the verification link, a preview) are the servers' too.
            "SECRET_KEY": settings.SECRET_KEY,
        }
        with start_stack(port=free_port(), env=env, worker=False, log_dir=logs) as running:
            yield running


@contextlib.contextmanager
def extra_nginx(edge: Stack, *, seconds: int) -> Iterator[tuple[int, Path]]:
    """Another nginx from the same template, EDGE_CACHE_SECONDS=seconds, in front of the stack's gunicorn
    through a symlink to its socket (remove the link and gunicorn is gone, for this nginx)."""
    run_dir = Path(tempfile.mkdtemp(prefix="second-nginx-"))
    link = run_dir / "upstream.sock"
    link.symlink_to(edge.run_dir / "gunicorn.sock")
    port = free_port()
    nginx = start_nginx(
        run_dir=run_dir,
        listen=f"127.0.0.1:{port}",
        upstream=f"unix:{link}",
        env={**os.environ, "EDGE_CACHE_SECONDS": str(seconds)},
        log_dir=run_dir,
    )
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/healthz")
        yield port, run_dir
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        shutil.rmtree(run_dir, ignore_errors=True)


def test_an_anonymous_read_is_answered_from_the_edge_copy(edge: Stack) -> None:
    port = port_of(edge.url)
    early_in_a_second()
    first = read(port, REVERSED, source="127.0.0.11")
    assert (first[0], cache_status(first)) == (200, "MISS")
    second = read(port, REVERSED, source="127.0.0.12")
    assert (second[0], cache_status(second), second[2]) == (200, "HIT", first[2])
    # The API's own validator and Cache-Control, as Django sent them.
    assert second[1]["etag"] == first[1]["etag"] and re.fullmatch(r'"[^"]+"', first[1]["etag"])
    assert second[1]["cache-control"] == first[1]["cache-control"] == "public, no-cache"
    # A HEAD shares the GET's copy; each answer has its own request id.
    head = request(port, "HEAD", REVERSED, source="127.0.0.12")
    assert (head[0], cache_status(head), head[1]["etag"]) == (200, "HIT", first[1]["etag"])
    assert len({first[1]["x-request-id"], second[1]["x-request-id"], head[1]["x-request-id"]}) == 3
    # Another Accept (an image request for a JSON document: DRF's 406) is its own key.
    refused = read(port, REVERSED, "Accept: image/png", source="127.0.0.12")
    assert (refused[0], cache_status(refused)) == (406, "MISS")


def test_a_304_for_the_copy_is_answered_at_the_edge(edge: Stack) -> None:
    port = port_of(edge.url)
    path = "/api/v1/tools/mistral-large-3/"
    early_in_a_second()
    status, headers, _ = read(port, path, source="127.0.0.13")
    assert status == 200
    etag = headers["etag"]
    revalidated = read(port, path, f"If-None-Match: {etag}", source="127.0.0.13")
    assert (revalidated[0], cache_status(revalidated), revalidated[1]["etag"], revalidated[2]) == (
        304,
        "HIT",
        etag,
        b"",
    )
    assert revalidated[1]["cache-control"] == "public, no-cache"
    other = read(port, path, 'If-None-Match: "not-the-current-one"', source="127.0.0.13")
    assert (other[0], cache_status(other), other[1]["etag"]) == (200, "HIT", etag)


def test_a_credentialed_read_never_uses_the_edge(edge: Stack, voter: dict) -> None:
    port = port_of(edge.url)
    path = "/api/v1/tools/?page_size=3"
    # A voter's read first: nothing is stored, so the anonymous read after it is the first copy.
    own = read(port, path, voter["authorization"], source="127.0.0.14")
    assert (own[0], cache_status(own)) == (200, None)
    assert own[1]["ratelimit-limit"] == "300"  # the voter's own limit (THROTTLE_VOTER), counted by Django
    early_in_a_second()
    anonymous = read(port, path, source="127.0.0.14")
    assert (anonymous[0], cache_status(anonymous)) == (200, "MISS")
    assert read(port, path, source="127.0.0.14")[1]["x-cache-status"] == "HIT"
    # With the anonymous copy there, credentialed reads still go to Django: a voter gets its own
    # limits, a 304 from Django for its own ETag, and a bad credential its 401, never the copy.
    again = read(port, path, voter["authorization"], source="127.0.0.14")
    assert (again[0], cache_status(again), again[1]["ratelimit-limit"]) == (200, None, "300")
    assert again[2] == anonymous[2]  # the same document: nothing in a tools page is per caller
    conditional = read(port, path, voter["authorization"], f"If-None-Match: {again[1]['etag']}", source="127.0.0.14")
    assert (conditional[0], cache_status(conditional)) == (304, None)
    for credential in ("Authorization: Bearer not-a-token", "X-API-Key: not-a-key"):
        refused = read(port, path, credential, source="127.0.0.14")
        assert (refused[0], cache_status(refused)) == (401, None), refused[2]


def test_a_vote_shows_to_anonymous_readers_once_the_copy_expires(edge: Stack, voter: dict) -> None:
    """The copy outlives a vote by at most EDGE_CACHE_SECONDS (Django's X-Accel-Expires ends it at a
    second boundary); the voter's own reads carry the new tally at once."""
    port = port_of(edge.url)
    before = read(port, COMPARISON, source="127.0.0.15")
    assert before[0] == 200
    old = community(before[2])
    body = json.dumps({"verdict": Verdict.SHIP}).encode()
    voted = request(port, "PUT", f"/api/v1/tools/{TOOL}/vote/", voter["authorization"], body=body)
    committed = time.monotonic()
    assert voted[0] in (200, 201), voted[2]
    assert cache_status(voted) is None
    own = read(port, COMPARISON, voter["authorization"], source="127.0.0.15")
    assert community(own[2]) != old and cache_status(own) is None

    seen: list[tuple[float, str | None, dict]] = []
    while time.monotonic() - committed < EDGE_SECONDS + 3:
        answer = read(port, COMPARISON, source="127.0.0.16")
        seen.append((time.monotonic() - committed, cache_status(answer), community(answer[2])))
        if community(answer[2]) != old:
            break
        time.sleep(0.05)
    lag, status, tally = seen[-1]
    print(f"\nedge: the vote showed to anonymous readers {lag:.2f} s after it committed ({len(seen)} reads)")
    assert tally == community(own[2])
    assert status in ("MISS", "EXPIRED")  # the fresh copy
    assert lag < EDGE_SECONDS + 0.5


def test_rate_limit_headers_go_only_to_the_client_counted(edge: Stack) -> None:
    """The copy's RateLimit-* were the first reader's; a reader served the copy was counted against
    nothing (an edge hit costs nothing upstream) and gets none."""
    port = port_of(edge.url)
    path = "/api/v1/tools/code-llama-4/"
    early_in_a_second()
    first = read(port, path, source="127.0.0.21")
    assert cache_status(first) == "MISS"
    assert rate_headers(first) == {
        "ratelimit-limit": str(ANON_LIMIT),
        "ratelimit-remaining": str(ANON_LIMIT - 1),
        "ratelimit-reset": first[1]["ratelimit-reset"],
    }
    for _ in range(3):
        copy = read(port, path, source="127.0.0.22")
        assert (cache_status(copy), rate_headers(copy)) == ("HIT", {})
    # Those three cost the second reader nothing: its first request Django sees is its first counted.
    own = read(port, "/api/v1/tools/?page_size=4", source="127.0.0.22")
    assert (cache_status(own), own[1]["ratelimit-remaining"]) == ("MISS", str(ANON_LIMIT - 1))


def test_a_429_is_never_stored_and_a_limited_client_still_gets_copies(edge: Stack) -> None:
    port = port_of(edge.url)
    path = "/api/v1/categories/"
    assert read(port, path, source="127.0.0.31")[0] == 200  # a copy, made by another client
    # Every request with its own Origin is its own copy, so each reaches Django and is counted.
    answers = []
    for number in range(3 * ANON_LIMIT):
        answers.append(read(port, path, f"Origin: https://site{number}.example", source="127.0.0.32"))
        if answers[-1][0] == 429:
            break
    assert answers[-1][0] == 429 and len(answers) > ANON_LIMIT - 5, [a[0] for a in answers]
    throttled = f"Origin: https://site{len(answers) - 1}.example"
    for _ in range(2):
        again = read(port, path, throttled, source="127.0.0.32")
        assert (again[0], cache_status(again)) == (429, "MISS")
        assert json.loads(again[2])["errors"][0]["code"] == "throttled"
        assert "retry-after" in again[1] and again[1]["ratelimit-remaining"] == "0"
    # The client over its limit is still answered from the copies: edge hits are not counted.
    early_in_a_second()
    assert read(port, path, source="127.0.0.31")[0] == 200  # a fresh copy (the first may be gone)
    copy = read(port, path, source="127.0.0.32")
    assert (copy[0], cache_status(copy)) == (200, "HIT")


def test_writes_previews_and_private_answers_are_never_stored(edge: Stack, voter: dict) -> None:
    port = port_of(edge.url)
    # A write to a path that has a copy reaches Django (405 here), and so does every write.
    assert cache_status(read(port, REVERSED, source="127.0.0.41")) in ("HIT", "MISS", "EXPIRED")
    for method in ("POST", "PUT", "DELETE"):
        answer = request(port, method, REVERSED, source="127.0.0.41")
        assert (answer[0], cache_status(answer)) == (405, None), (method, answer[2])
    for _ in range(2):
        signup = request(
            port,
            "POST",
            "/api/v1/newsletter/subscriptions/",
            body=b'{"email": "edge@example.com"}',
            source="127.0.0.41",
        )
        assert (signup[0], cache_status(signup)) == (202, None)
    # A draft's preview (a valid link: `private, no-store`) is outside the edge cache altogether.
    token = signing.dumps(["tool", voter["tool_id"]], salt="compare_api.previews")
    for _ in range(2):
        preview = read(port, f"/api/v1/previews/{token}/", source="127.0.0.41")
        assert (preview[0], preview[1]["cache-control"], cache_status(preview)) == (200, "private, no-store", None)
    # A 200 without `public` (an email link: it changes state, and says nothing of caching) is
    # fetched under the edge cache but never stored: every click reaches Django.
    for _ in range(2):
        link = read(port, f"/api/v1/auth/verify/?token={voter['verify']}", source="127.0.0.41")
        assert (link[0], cache_status(link)) == (200, "MISS"), link[2]
        assert "cache-control" not in link[1] or "public" not in link[1]["cache-control"]


def test_stale_copies_while_gunicorn_is_gone_and_errors_never_stored(edge: Stack) -> None:
    """A second nginx on the same template, reaching gunicorn through a symlink the test removes."""
    with extra_nginx(edge, seconds=EDGE_SECONDS) as (port, run_dir):
        path = "/api/v1/tools/?page_size=5"
        fresh = read(port, path, source="127.0.0.51")
        assert (fresh[0], cache_status(fresh)) == (200, "MISS")
        (run_dir / "upstream.sock").unlink()
        time.sleep(EDGE_SECONDS + 1.05)  # the copy has expired (whole seconds: see the vote test)
        for _ in range(2):
            stale = read(port, path, source="127.0.0.51")
            assert (stale[0], cache_status(stale), stale[2]) == (200, "STALE", fresh[2])
        for _ in range(2):  # a document with no copy: nginx's own JSON 502, never stored
            down = read(port, "/api/v1/tools/?page_size=6", source="127.0.0.51")
            assert (down[0], down[1]["content-type"], json.loads(down[2])["type"]) == (
                502,
                "application/json",
                "server_error",
            )
        (run_dir / "upstream.sock").symlink_to(edge.run_dir / "gunicorn.sock")
        back = read(port, path, source="127.0.0.51")
        assert (back[0], cache_status(back)) == (200, "EXPIRED")


def test_a_django_5xx_is_never_stored(server_env, tmp_path: Path) -> None:
    """Django's 503 for an unreachable database (reads under the edge cache, twice: both reach Django)."""
    env = {
        **server_env,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/nowhere",
        "EDGE_CACHE_SECONDS": str(EDGE_SECONDS),
        "WEB_CONCURRENCY": "1",
    }
    with start_stack(port=free_port(), env=env, worker=False, log_dir=tmp_path) as broken:
        for _ in range(2):
            answer = read(port_of(broken.url), "/api/v1/categories/")
            assert (answer[0], cache_status(answer)) == (503, "MISS"), answer[2]
            assert json.loads(answer[2])["type"] == "server_error"


def test_edge_cache_seconds_0_is_no_edge_cache_at_all(edge: Stack) -> None:
    with extra_nginx(edge, seconds=0) as (port, run_dir):
        config = (run_dir / "nginx.conf").read_text()
        assert not re.search(r"^\s*(proxy_cache|proxy_no_cache|proxy_ignore_headers)", config, re.MULTILINE)
        assert "$edge_" not in config and "X-Cache-Status" not in config
        for _ in range(2):
            answer = read(port, REVERSED, source="127.0.0.61")
            assert (answer[0], cache_status(answer)) == (200, None)
            assert answer[1]["ratelimit-limit"] == str(ANON_LIMIT)  # every read is Django's, and counted
        remaining = int(read(port, REVERSED, source="127.0.0.61")[1]["ratelimit-remaining"])
        assert remaining == ANON_LIMIT - 3


def test_the_rendered_edge_configuration(tmp_path: Path) -> None:
    def render(seconds: int) -> str:
        return render_nginx_config(
            run_dir=tmp_path,
            listen="127.0.0.1:8000",
            upstream="unix:/run/gunicorn.sock",
            static_root=tmp_path / "static",
            max_body_size=1234,
            access_log="/dev/stdout",
            error_log="stderr",
            edge_cache_seconds=seconds,
        )

    on = render(7)
    assert "@@" not in on
    for directive in (
        f"proxy_cache_path {tmp_path}/edge-cache ",
        "proxy_cache $edge_zone;",
        "proxy_cache_valid 200 7s;",
        "proxy_cache_lock on;",
        "proxy_ignore_headers Cache-Control Expires;",
        "proxy_set_header X-Edge-Cache-Seconds 7;",
        "add_header X-Cache-Status $upstream_cache_status always;",
    ):
        assert directive in on
    assert not re.search(r"^\s*proxy_cache_valid\s+(any|[^2])", on, re.MULTILINE)  # 200s only
    off = render(0)
    assert "@@" not in off and "$edge_" not in off and "X-Cache-Status" not in off and "X-Edge-Cache" not in off
    assert not re.search(r"^\s*(proxy_cache|proxy_no_cache|proxy_ignore_headers)", off, re.MULTILINE)
    with pytest.raises(ValueError):
        render(-1)


def test_no_copy_outlives_edge_cache_seconds(edge: Stack) -> None:
    """A copy ends at a second boundary at most EDGE_CACHE_SECONDS after it was made (X-Accel-Expires),
    not up to a second later as nginx's whole-second clock alone would have it."""
    port = port_of(edge.url)
    path = "/api/v1/categories/"
    lives = []
    for _ in range(3):
        while cache_status(first := read(port, path, source="127.0.0.17")) not in ("MISS", "EXPIRED"):
            time.sleep(0.05)
        made = time.monotonic()
        assert first[0] == 200
        last_hit = made
        while cache_status(read(port, path, source="127.0.0.17")) in ("HIT", "UPDATING"):
            last_hit = time.monotonic()
            time.sleep(0.02)
        lives.append(last_hit - made)
    assert max(lives) < EDGE_SECONDS + 0.1, lives
