"""Django's PostgreSQL backend with a health check that costs no round trip, and a
circuit breaker on connecting.

With CONN_HEALTH_CHECKS, Django checks a reused connection before each
request's first query by sending `SELECT 1`: a whole round trip on every
request that touches the database. Between requests a healthy connection is
idle and the server has nothing to say, so anything waiting on its socket
(the server's goodbye when it restarts or the backend is terminated, or the
end of the stream) means the connection is gone. Looking costs one poll().

When connecting fails (refused, the connect timeout, no free connection slot),
every request of this process would otherwise try again and wait again. The
first failure opens the breaker (compare_api/breakers.py): until a background
probe connects, requests that need a new connection fail at once, as a 503.
Requests served from the cache, and connections already open, are unaffected.
"""

import select

from django.conf import settings
from django.db.backends.postgresql import base

from compare_api.breakers import CircuitBreaker

connect_breaker = CircuitBreaker("database", interval=settings.DB_BREAKER_SECONDS)


class CircuitOpen(base.Database.OperationalError):
    """Not connecting: the last attempt failed and no probe has connected since.
    (Django wraps it as django.db.OperationalError, answered as a 503 like any connect failure.)"""


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        try:
            poller = select.poll()
            poller.register(connection.pgconn.socket, select.POLLIN)
            return not poller.poll(0)
        except Exception:  # no socket any more
            return False

    def get_new_connection(self, conn_params: dict):
        if not connect_breaker.available():
            raise CircuitOpen("the database was unreachable; not retried until a background probe connects")
        try:
            return super().get_new_connection(conn_params)
        except self.Database.OperationalError:

            def probe() -> None:
                self.Database.connect(**conn_params).close()

            connect_breaker.failed(probe)
            raise
