"""Django's PostgreSQL backend with a health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django checks a reused connection before each
request's first query by sending `SELECT 1`: a whole round trip on every
request that touches the database. Between requests a healthy connection is
idle and the server has nothing to say, so anything waiting on its socket
(the server's goodbye when it restarts or the backend is terminated, or the
end of the stream) means the connection is gone. Looking costs one poll().
"""

import select

from django.db.backends.postgresql import base


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
