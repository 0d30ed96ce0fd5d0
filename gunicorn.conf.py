"""Production server settings; every value can be overridden from the environment."""

import os

from gunicorn import util

from compare_api.http_errors import server_error_document

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # empty: no access log
# Let X-Forwarded-Proto through only from the proxies named here (comma-separated).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27's control socket is one per host by default: a second server
# would take it over from the first. This service does not use it.
control_socket_disable = True


def _json_error(sock: object, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's answer to what never reaches Django (a malformed request line, a 414, a 431, a
    worker timeout's 500) in the API's JSON error shape instead of its HTML page. The message
    itself (it may quote the client's bytes) goes to gunicorn's log, not the client."""
    body = server_error_document(status_int)
    head = f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
    util.write_nonblock(sock, f"{head}Content-Length: {len(body)}\r\n\r\n".encode("latin-1") + body)


# Every worker class answers those errors through gunicorn.util.write_error (Worker.handle_error
# in gunicorn 27); the workers are forked from this master, so they inherit the replacement.
util.write_error = _json_error
