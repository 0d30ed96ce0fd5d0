"""The production stack on one machine: nginx in front of gunicorn on a UNIX socket, plus the task worker
and the webhook delivery worker.

    python -m deploy.stack serve     what `make serve` runs, after migrate, seed and collectstatic
    python -m deploy.stack nginx     nginx alone, in front of --upstream (compose's `nginx` service)
    python -m deploy.stack render    print the nginx configuration `serve` would run

nginx's configuration is deploy/nginx.conf.template, rendered into a run
directory that nginx uses as its prefix (pid, temp files and, with
--log-dir, logs all inside it), so nginx needs no system configuration and no
privileges. Every process of the stack is in one process group: Ctrl-C or
SIGTERM to the launcher, or any one of them dying, stops them all together.
The tests and benchmarks start the same stack through start_stack() and
start_nginx(). Standard library only (run before Django is set up).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compare_api.http_errors import SERVER_ERRORS, server_error_document  # noqa: E402

TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
# settings.STATIC_ROOT's default; both read STATIC_ROOT from the environment.
DEFAULT_STATIC_ROOT = ROOT / "staticfiles"
# Answered by Django through the whole stack without touching a rate limit.
READY_PATH = "/healthz"
# Never the autoreloader in the stack (db_worker reloads under DEBUG by default).
WORKER_COMMAND = ["manage.py", "db_worker", "--no-reload"]
# The webhook deliveries have their own loop (webhooks/worker.py; README: "Webhooks").
WEBHOOKS_COMMAND = ["manage.py", "webhooks_deliver"]
WORKER_PACKAGE = "django_tasks_db"
STOP_TIMEOUT = 15.0
# How long nginx may answer anonymous reads from its own copy (README, "Edge cache"); 0: no edge cache.
DEFAULT_EDGE_CACHE_SECONDS = 1


def nginx_binary() -> str | None:
    # Debian installs it in /usr/sbin, which is not on every user's PATH.
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def _error_pages() -> tuple[str, str]:
    """The error_page lines, and the locations that answer them (inside /_nginx_errors/)."""
    # URI targets, not named locations: nginx cannot redirect a request it failed to
    # parse (a bad request line, a 414) to a named location, and answers 500 instead.
    pages, locations = [], []
    for status in SERVER_ERRORS:
        # nginx's own code for "headers too large" is 494 (it sends 400): answer 431.
        source = "494 =431" if status == 431 else str(status)
        pages.append(f"        error_page {source} /_nginx_errors/{status};")
        body = server_error_document(status).decode()
        assert "'" not in body and "$" not in body, "the body goes into a quoted nginx string"
        locations.append(f"            location = /_nginx_errors/{status} {{ return {status} '{body}'; }}")
    return "\n".join(pages), "\n".join(locations)


def render_nginx_config(
    *,
    run_dir: Path,
    listen: str,
    upstream: str,
    static_root: Path,
    max_body_size: int,
    access_log: str,
    error_log: str,
    edge_cache_seconds: int = DEFAULT_EDGE_CACHE_SECONDS,
) -> str:
    """The template with every @@NAME@@ filled in; an unknown name is an error, not a silent blank.

    The lines between @@IF_EDGE_CACHE@@ and @@END_EDGE_CACHE@@ are kept only
    when edge_cache_seconds is above 0 (the markers themselves never are).
    """
    if edge_cache_seconds < 0:
        raise ValueError("EDGE_CACHE_SECONDS must be 0 (off) or more")
    pages, locations = _error_pages()
    values = {
        "RUN_DIR": str(run_dir),
        "LISTEN": listen,
        "UPSTREAM": upstream,
        "STATIC_ROOT": str(static_root).rstrip("/"),
        "MAX_BODY_SIZE": str(max_body_size),
        "ACCESS_LOG": access_log,
        "ERROR_LOG": error_log,
        "ERROR_PAGES": pages,
        "ERROR_LOCATIONS": locations,
        "EDGE_CACHE_SECONDS": str(edge_cache_seconds),
    }
    sections = {"EDGE_CACHE": edge_cache_seconds > 0}
    template = re.sub(
        r"^[ \t]*@@IF_([A-Z_]+)@@\n(.*?)^[ \t]*@@END_\1@@\n",
        lambda match: match.group(2) if sections[match.group(1)] else "",
        TEMPLATE.read_text(encoding="utf-8"),
        flags=re.MULTILINE | re.DOTALL,
    )
    return re.sub(r"@@([A-Z_]+)@@", lambda match: values[match.group(1)], template)


def read_edge_cache_seconds(env: Mapping[str, str]) -> int:
    """EDGE_CACHE_SECONDS: whole seconds (nginx's cache clock counts no finer), 0 for no edge cache."""
    value = env.get("EDGE_CACHE_SECONDS") or str(DEFAULT_EDGE_CACHE_SECONDS)
    if not value.isdigit():
        raise ValueError(f"EDGE_CACHE_SECONDS must be a whole number of seconds, 0 or more (got {value!r})")
    return int(value)


def _max_body_size(env: Mapping[str, str]) -> int:
    # Django's limit (settings.DATA_UPLOAD_MAX_MEMORY_SIZE, same default): nginx refuses
    # what Django would refuse, before any of it reaches a worker.
    return int(env.get("DATA_UPLOAD_MAX_MEMORY_SIZE") or 256 * 1024)


def nginx_command(
    *,
    run_dir: Path,
    listen: str,
    upstream: str,
    env: Mapping[str, str] | None = None,
    static_root: Path | None = None,
    log_dir: Path | None = None,
) -> list[str]:
    """Write run_dir/nginx.conf; return the command that runs nginx on it in the foreground.

    Logs go to log_dir, or to stdout (access) and stderr (errors) without one.
    """
    env = os.environ if env is None else env
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is missing: apt-get install nginx (make serve installs it)")
    run_dir.mkdir(parents=True, exist_ok=True)
    # nginx's workers run as `nobody` when the master is root: they must reach the socket and temp dirs.
    run_dir.chmod(0o755)
    seconds = read_edge_cache_seconds(env)
    if seconds and os.geteuid() == 0:
        # The edge cache's files are written by the workers: a directory above run_dir they cannot
        # enter would turn every cacheable read into a 500.
        closed = next((p for p in run_dir.resolve().parents if not p.stat().st_mode & stat.S_IXOTH), None)
        if closed is not None:
            raise RuntimeError(f"nginx's workers (nobody) cannot reach {run_dir}: {closed} is closed to them")
    config = render_nginx_config(
        run_dir=run_dir,
        listen=listen,
        upstream=upstream,
        static_root=static_root or Path(env.get("STATIC_ROOT") or DEFAULT_STATIC_ROOT),
        max_body_size=_max_body_size(env),
        access_log=str(log_dir / "nginx-access.log") if log_dir else "/dev/stdout",
        error_log=str(log_dir / "nginx-error.log") if log_dir else "stderr",
        edge_cache_seconds=seconds,
    )
    (run_dir / "nginx.conf").write_text(config, encoding="utf-8")
    return [binary, "-p", str(run_dir), "-c", "nginx.conf", "-e", "stderr", "-g", "daemon off;"]


def start_nginx(*, log_dir: Path | None = None, process_group: int = 0, **options: object) -> subprocess.Popen:
    """nginx_command(), started (in its own process group unless told which to join)."""
    command = nginx_command(log_dir=log_dir, **options)
    with _log_file(log_dir, "nginx-error.log") as log:
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=log, process_group=process_group)


@contextlib.contextmanager
def _log_file(log_dir: Path | None, name: str) -> Iterator[IO[bytes] | None]:
    """A log file for a child to inherit (closed here once it has), or None: the terminal."""
    if log_dir is None:
        yield None
        return
    with (log_dir / name).open("ab") as log:
        yield log


def django_environment(env: Mapping[str, str]) -> dict[str, str]:
    """What gunicorn and the worker run with behind this nginx."""
    return {
        **env,
        # nginx appends the client's address to X-Forwarded-For: trust exactly that entry
        # (more only when another proxy stands in front of nginx).
        "NUM_PROXIES": env.get("NUM_PROXIES") or "1",
        # nginx logs every request with its id; gunicorn's line would say it twice.
        "GUNICORN_ACCESSLOG": env.get("GUNICORN_ACCESSLOG", ""),
    }


def worker_available() -> bool:
    """Whether this build has the task worker's command (django-tasks-db's db_worker).

    Looked up on disk rather than by asking manage.py, which would cost a Django start-up.
    """
    spec = importlib.util.find_spec(WORKER_PACKAGE)
    return spec is not None and any(
        (Path(location) / "management" / "commands" / f"{WORKER_COMMAND[1]}.py").exists()
        for location in spec.submodule_search_locations or []
    )


@dataclass
class Stack:
    url: str
    run_dir: Path
    log_dir: Path | None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _own_run_dir: bool = False

    @property
    def process_group(self) -> int:
        return next(iter(self.processes.values())).pid

    def failed(self) -> str | None:
        """The name of a process that has exited, if any has."""
        return next((name for name, process in self.processes.items() if process.poll() is not None), None)

    def log(self, name: str) -> str:
        """A log file's text (gunicorn.log, worker.log, nginx-access.log, nginx-error.log)."""
        if self.log_dir is None:
            raise ValueError("this stack logs to the terminal")
        path = self.log_dir / name
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM to the process group (gunicorn finishes its requests, nginx stops); SIGKILL after STOP_TIMEOUT."""
        if self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process_group, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT
            for process in self.processes.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process_group, signal.SIGKILL)
            for process in self.processes.values():
                process.wait()
        if self._own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def wait_until_answering(url: str, stack: Stack | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # workers may still be booting
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        failed = stack.failed() if stack else None
        if failed or time.monotonic() > deadline:
            logs = ""
            if stack and stack.log_dir:
                logs = "".join(f"\n--- {n}\n{stack.log(n)[-1500:]}" for n in ("gunicorn.log", "nginx-error.log"))
            raise RuntimeError(f"the stack did not come up ({failed or 'timeout'}) at {url}{logs}")
        time.sleep(0.1)


def start_stack(
    *,
    port: int,
    host: str = "127.0.0.1",
    env: Mapping[str, str] | None = None,
    worker: bool = True,
    log_dir: Path | None = None,
    run_dir: Path | None = None,
    static_root: Path | None = None,
) -> Stack:
    """gunicorn (gunicorn.conf.py) on a UNIX socket, nginx on host:port in front of it, and the task worker.

    `env` is the environment of gunicorn and the worker (os.environ by default);
    NUM_PROXIES defaults to 1. Returns once a request through nginx is answered.
    """
    env = django_environment(os.environ if env is None else env)
    own_run_dir = run_dir is None
    run_dir = run_dir or Path(tempfile.mkdtemp(prefix="compare-api-stack-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    if log_dir:
        log_dir.mkdir(parents=True, exist_ok=True)
    socket_path = run_dir / "gunicorn.sock"
    stack = Stack(url=f"http://127.0.0.1:{port}", run_dir=run_dir, log_dir=log_dir, _own_run_dir=own_run_dir)

    try:
        # The first process leads the group the others join, so one killpg stops them all.
        with _log_file(log_dir, "gunicorn.log") as log:
            stack.processes["gunicorn"] = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "compare_api.wsgi", "--config", "gunicorn.conf.py"],
                cwd=ROOT,
                env={**env, "BIND": f"unix:{socket_path}"},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT if log else None,
                process_group=0,
            )
        stack.processes["nginx"] = start_nginx(
            run_dir=run_dir,
            listen=f"{host}:{port}",
            upstream=f"unix:{socket_path}",
            env=env,
            static_root=static_root,
            log_dir=log_dir,
            process_group=stack.process_group,
        )
        for name, command in (("worker", WORKER_COMMAND), ("webhooks", WEBHOOKS_COMMAND)) if worker else ():
            with _log_file(log_dir, f"{name}.log") as log:
                stack.processes[name] = subprocess.Popen(
                    [sys.executable, *command],
                    cwd=ROOT,
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT if log else None,
                    process_group=stack.process_group,
                )
        deadline = time.monotonic() + 30
        while not socket_path.exists() and stack.failed() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # gunicorn creates it before its workers boot; nginx would only log refusals
        wait_until_answering(stack.url + READY_PATH, stack)
    except BaseException:
        stack.stop()
        raise
    return stack


def serve(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    worker = worker_available()
    if not worker:
        print("stack: no `manage.py db_worker` in this build (no task queue installed): running without a worker")
    stack = start_stack(
        port=args.port, host=args.host, env=env, worker=worker, log_dir=args.log_dir, run_dir=args.run_dir
    )
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    names = ", ".join(f"{name} (pid {process.pid})" for name, process in stack.processes.items())
    print(f"stack: {names}; serving on http://{args.host}:{args.port}/ (Ctrl-C stops everything)", flush=True)
    failed = None
    while not stopping and not (failed := stack.failed()):
        time.sleep(0.2)
    if failed:
        print(f"stack: {failed} exited ({stack.processes[failed].returncode}); stopping the rest", file=sys.stderr)
    stack.stop()
    return 1 if failed else 0


def nginx_only(args: argparse.Namespace) -> int:
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="compare-api-nginx-"))
    command = nginx_command(run_dir=run_dir, listen=f"{args.host}:{args.port}", upstream=args.upstream)
    os.execv(command[0], command)  # nginx takes the launcher's place (PID 1 in a container)


def render(args: argparse.Namespace) -> int:
    run_dir = args.run_dir or Path(tempfile.gettempdir()) / "compare-api-stack"
    print(
        render_nginx_config(
            run_dir=run_dir,
            listen=f"{args.host}:{args.port}",
            upstream=args.upstream or f"unix:{run_dir / 'gunicorn.sock'}",
            static_root=Path(os.environ.get("STATIC_ROOT") or DEFAULT_STATIC_ROOT),
            max_body_size=_max_body_size(os.environ),
            access_log="/dev/stdout",
            error_log="stderr",
            edge_cache_seconds=read_edge_cache_seconds(os.environ),
        )
    )
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, function in (("serve", serve), ("nginx", nginx_only), ("render", render)):
        command = commands.add_parser(name)
        command.set_defaults(function=function)
        command.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))
        command.add_argument("--host", default=os.environ.get("LISTEN_HOST") or "127.0.0.1")
        command.add_argument("--run-dir", type=Path, help="nginx's prefix directory (default: a new temp dir)")
        if name == "serve":
            command.add_argument("--log-dir", type=Path, help="write the logs here instead of the terminal")
        else:
            command.add_argument("--upstream", required=name == "nginx", help="gunicorn's address, e.g. web:8000")
    args = parser.parse_args()
    sys.exit(args.function(args))


if __name__ == "__main__":
    main()
