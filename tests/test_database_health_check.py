"""The PostgreSQL backend's health check (compare_api/postgresql/base.py): no round trip
for a healthy connection, and a connection the server has dropped is replaced."""

import select

import psycopg
import pytest
from django.db import connection

from tests.helpers import database_url

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend (set DATABASE_URL)"),
    pytest.mark.django_db(transaction=True),
]


def _fail_on_query(*args, **kwargs):
    pytest.fail("the health check sent a query")


def test_a_healthy_connection_passes_without_a_query(monkeypatch) -> None:
    connection.ensure_connection()
    monkeypatch.setattr(connection.connection, "cursor", _fail_on_query)
    monkeypatch.setattr(connection.connection, "execute", _fail_on_query)
    assert connection.is_usable()


def test_a_connection_the_server_dropped_fails_and_is_replaced() -> None:
    assert connection.settings_dict["CONN_HEALTH_CHECKS"]
    connection.ensure_connection()
    old = connection.connection
    with psycopg.connect(database_url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [old.info.backend_pid])
    poller = select.poll()
    poller.register(old.pgconn.socket, select.POLLIN)
    assert poller.poll(5000), "the server did not close the connection"

    assert not connection.is_usable()
    connection.health_check_done = False  # as at the start of a request
    with connection.cursor() as cursor:  # checks, reconnects, then runs
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert connection.connection is not old
