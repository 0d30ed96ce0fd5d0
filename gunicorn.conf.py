"""Production server settings; every value can be overridden from the environment."""

import logging
import os
import shutil
import tempfile
from pathlib import Path

from gunicorn import util

from compare_api.http_errors import server_error_document

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # empty: no access log
# The combined format, plus the time taken (microseconds) and the request id the app answered with.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s %({x-request-id}o)s'


class AccessLogRequestId(logging.Filter):
    """The request id of an access line as its own field (gunicorn passes the line's atoms as its args)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = record.args.get("{x-request-id}o", "-") if isinstance(record.args, dict) else "-"
        return True


if os.environ.get("LOG_FORMAT") == "json":
    # gunicorn's own lines (start-up, worker timeouts) and its access lines as JSON objects,
    # with the keys of the application's lines (compare_api/logs.py).
    _json = {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s",
        "rename_fields": {"levelname": "level", "name": "logger"},
        "timestamp": True,
    }
    _request_id = {"()": AccessLogRequestId}
    logconfig_dict = {
        "filters": {"request_id": _request_id},
        "formatters": {"json": _json},
        "handlers": {
            "error_console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "json",
                "filters": ["request_id"],
            },
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "json",
                "filters": ["request_id"],
            },
        },
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"] if accesslog else [], "propagate": False},
        },
    }
# Let X-Forwarded-Proto through only from the proxies named here (comma-separated).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27's control socket is one per host by default: a second server
# would take it over from the first. This service does not use it.
control_socket_disable = True

# Metrics (compare_api/metrics.py): each worker writes its counters to files in this
# directory and a scrape sums them all. Set here, in the master, so every worker
# inherits it; a private directory unless PROMETHEUS_MULTIPROC_DIR names one.
# (Marked in the environment, so a configuration reload on SIGHUP keeps the same one.)
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ["VERDICTS_OWN_METRICS_DIR"] = tempfile.mkdtemp(
        prefix="verdicts-metrics-"
    )


def on_starting(server) -> None:
    # Counters start at zero with the server: files left by an earlier run would be added in.
    for leftover in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        leftover.unlink()


def child_exit(server, worker) -> None:
    # A replaced worker's counters stay in the sum; its live gauges must not.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    own = os.environ.get("VERDICTS_OWN_METRICS_DIR")
    if own and own == os.environ["PROMETHEUS_MULTIPROC_DIR"]:
        shutil.rmtree(own, ignore_errors=True)


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
