"""Every wait on the database has a bound, and hitting it is a JSON 503 with Retry-After.

The locks are real: another connection holds them, as a long transaction,
a migration or a psql session would. (The settings side is in test_settings.py,
the Redis breaker in test_caching.py, the drills under load in benchmarks/faults.py.)
"""

import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import Client
from rest_framework.test import APIClient

from compare_api import failures
from compare_api.exceptions import QUERY_CANCELED, sqlstate
from tests.factories import ToolFactory, UserFactory
from tests.helpers import bearer, database_url

postgres = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real locks need PostgreSQL (set DATABASE_URL)"),
    pytest.mark.django_db(transaction=True),
]


@contextlib.contextmanager
def held(*statements: str) -> Iterator[None]:
    """Run `statements` in a transaction on a connection of its own, and keep it open (its locks held)."""
    with psycopg.connect(database_url()) as other:
        for statement in statements:
            other.execute(statement)
        try:
            yield
        finally:
            other.rollback()


@contextlib.contextmanager
def request_timeouts(options: str) -> Iterator[None]:
    """This process's connection reopened with other libpq `options` (the request timeouts are set at connect)."""
    saved = connection.settings_dict["OPTIONS"].get("options")
    connection.close()
    connection.settings_dict["OPTIONS"]["options"] = options
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["OPTIONS"]["options"] = saved


@pytest.fixture
def api() -> APIClient:
    # A 503 is sent with Django's got_request_exception signal, which the test client would re-raise.
    return APIClient(raise_request_exception=False)


def error_of(response) -> dict:
    assert response["Content-Type"] == "application/json"
    return response.json()["errors"][0]


class TestOnPostgreSQL:
    pytestmark = postgres

    def test_a_vote_on_a_locked_tool_gives_up_fast_and_the_next_ones_at_once(self, api, settings) -> None:
        # A wait long enough to tell from a loaded machine's slowness.
        settings.VOTE_LOCK_TIMEOUT, settings.VOTE_BUSY_SECONDS = "1500ms", 5
        ToolFactory(slug="alpha"), ToolFactory(slug="beta")
        voter = bearer(UserFactory())
        with held("SELECT 1 FROM tools_tool WHERE slug = 'alpha' FOR UPDATE"):
            started = time.monotonic()
            first = api.put("/api/v1/tools/alpha/vote/", {"verdict": "ship"}, format="json", **voter)
            waited = time.monotonic() - started
            started = time.monotonic()
            second = api.put("/api/v1/tools/alpha/vote/", {"verdict": "skip"}, format="json", **voter)
            refused_in = time.monotonic() - started
            elsewhere = api.put("/api/v1/tools/beta/vote/", {"verdict": "ship"}, format="json", **voter)
        for response in (first, second):
            assert response.status_code == 503
            assert error_of(response) == {
                "code": "lock_timeout",
                "detail": "Votes on this tool are waiting on another write; try again in a few seconds.",
                "attr": None,
            }
        assert 1.5 <= waited < 4
        assert refused_in < 1.0  # no wait on the lock: answered from this process's cooldown
        assert first["Retry-After"] == "5"
        assert 1 <= int(second["Retry-After"]) <= 5
        assert elsewhere.status_code == 201  # only that tool's votes are held up
        with connection.cursor() as cursor:  # the vote's own lock_timeout ended with its statement
            cursor.execute("SELECT current_setting('lock_timeout')")
            assert cursor.fetchone() == ("2s",)

    def test_a_write_that_waits_on_a_row_lock_is_a_503_after_the_lock_timeout(self, api) -> None:
        """Registering a name whose insert another transaction has not committed waits on the unique index."""
        with request_timeouts("-c lock_timeout=300ms"):
            insert = (
                "INSERT INTO auth_user (username, password, is_superuser, first_name, last_name, email, is_staff,"
                " is_active, date_joined) VALUES ('taken', '', false, '', '', '', false, true, now())"
            )
            with held(insert):
                started = time.monotonic()
                response = api.post(
                    "/api/v1/auth/register/",
                    {"username": "taken", "email": "taken@example.com", "password": "correct horse battery"},
                    format="json",
                )
                waited = time.monotonic() - started
        assert response.status_code == 503
        assert response["Retry-After"] == "1"
        assert error_of(response) == {
            "code": "lock_timeout",
            "detail": "Another write holds a row this request needs; try again in a moment.",
            "attr": None,
        }
        assert waited < 3

    def test_a_statement_over_the_statement_timeout_is_a_503(self, api) -> None:
        ToolFactory(slug="alpha")
        # The read waits on the table lock until the statement timeout cancels it.
        with (
            request_timeouts("-c lock_timeout=0 -c statement_timeout=300ms"),
            held("LOCK TABLE tools_tool IN ACCESS EXCLUSIVE MODE"),
        ):
            started = time.monotonic()
            response = api.get("/api/v1/tools/alpha/")
            waited = time.monotonic() - started
        assert response.status_code == 503
        assert response["Retry-After"] == "2"
        assert error_of(response) == {
            "code": "statement_timeout",
            "detail": "The database took too long to answer; try again in a moment.",
            "attr": None,
        }
        assert waited < 3

    def test_outside_the_api_too_a_timeout_is_the_json_503_not_an_html_page(self) -> None:
        client = Client(raise_request_exception=False)
        client.force_login(UserFactory(is_staff=True, is_superuser=True))
        with (
            request_timeouts("-c statement_timeout=300ms"),
            held("LOCK TABLE django_session IN ACCESS EXCLUSIVE MODE"),
        ):
            response = client.get("/admin/")
        assert response.status_code == 503
        assert response["Retry-After"] == "2"
        assert error_of(response)["code"] == "statement_timeout"

    def test_an_address_that_never_answers_costs_one_connect_timeout_then_none(self) -> None:
        from compare_api.postgresql.base import CircuitOpen, connect_breaker

        with black_hole() as port:
            params = {**connection.get_connection_params(), "port": port, "connect_timeout": 1}
            attempts = []
            for _ in range(3):
                started = time.monotonic()
                with pytest.raises(psycopg.OperationalError) as raised:
                    connection.get_new_connection(params)
                attempts.append((time.monotonic() - started, type(raised.value)))
        connect_breaker.reset()
        assert 0.9 < attempts[0][0] < 2.5 and attempts[0][1] is not CircuitOpen
        assert [kind for _, kind in attempts[1:]] == [CircuitOpen, CircuitOpen]
        assert all(seconds < 0.05 for seconds, _ in attempts[1:])

    def test_the_timeouts_reach_the_server(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
            assert cursor.fetchone() == ("2s", "5s")


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for sock in accepted:
            sock.close()
        server.close()


def test_a_query_canceled_error_is_told_from_other_database_errors() -> None:
    wrapped = OperationalError("canceling statement due to statement timeout")
    wrapped.__cause__ = psycopg.errors.QueryCanceled("canceling statement due to statement timeout")
    assert sqlstate(wrapped) == QUERY_CANCELED
    assert sqlstate(OperationalError("database is locked")) is None  # SQLite's


def test_an_outage_logs_one_line_per_failure_class_per_interval(caplog, monkeypatch) -> None:
    log = failures.RateLimitedLog(interval=10.0)
    monkeypatch.setattr(failures, "_log", log)
    clock = iter([0.0, 1.0, 2.0, 3.0, 11.0, 11.5])
    monkeypatch.setattr(failures.time, "monotonic", lambda: next(clock))
    refused = OperationalError("connection refused")
    refused.__cause__ = psycopg.OperationalError("connection failed: Connection refused\n\tIs the server running?")
    timeout = OperationalError("connect timeout")
    timeout.__cause__ = psycopg.errors.ConnectionTimeout("connection timeout expired")
    with caplog.at_level(logging.WARNING, logger="compare_api.failures"):
        for exc in (refused, refused, timeout, refused, refused, refused):  # at 0, 1, 2, 3, 11, 11.5 s
            failures.report("database", exc, "answered 503")
    assert [record.getMessage() for record in caplog.records] == [
        "database:OperationalError failed, answered 503: connection failed: Connection refused Is the server running?",
        "database:ConnectionTimeout failed, answered 503: connection timeout expired",
        "database:OperationalError failed, answered 503: connection failed: Connection refused Is the server running?"
        " (2 more since the last line)",
    ]
    assert all(record.exc_info is None for record in caplog.records)  # one line each, no traceback


def test_django_request_503_lines_are_limited_and_lose_their_traceback(monkeypatch) -> None:
    monkeypatch.setattr(failures, "_log", failures.RateLimitedLog(interval=10.0))
    log_filter = failures.ServiceUnavailableLogFilter()
    try:
        raise OperationalError("too many clients")
    except OperationalError:
        exc_info = sys.exc_info()

    def record(status: int) -> logging.LogRecord:
        made = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Unavailable: %s", ("/x",), exc_info)
        made.status_code = status
        return made

    first, second, server_error = record(503), record(503), record(500)
    assert log_filter.filter(first) and first.exc_info is None
    assert not log_filter.filter(second)
    assert log_filter.filter(server_error) and server_error.exc_info is not None  # a 500 is a bug: kept whole
