"""Webhook delivery: a benchmark, and a drill that kills the worker and restarts the database.

    .venv/bin/python benchmarks/webhook_delivery.py [--rate 20] [--seconds 30] [--endpoints 10]
    .venv/bin/python benchmarks/webhook_delivery.py --drill        (in `make faults`)

Both run on loopback against a PRIVATE PostgreSQL (benchmarks/faults.py's, on a free
port, torn down at the end) with one partner's --endpoints endpoints, all on one
receiver process (http.server, threads) that checks every signature with the
`standardwebhooks` verifier, records each message's `webhook-id`, event and arrival
time, and answers 204. The delivery worker is `manage.py webhooks_deliver` (production
settings, loopback allowed), a process of its own. This process records events: each
`event_record("tool.updated", ...)` in a transaction of its own, --rate a second, paced
on the clock, the commit time of each kept.

Benchmark: --seconds of that stream (rate x endpoints deliveries a second); then it waits
for the last delivery. Prints deliveries per second over the stream and p50/p99/max from
each event's commit to its arrival at the receiver (which answers at once). Target: p99
under 2 s at 200 deliveries a second.

Drill: the same stream for --seconds (default 40); a quarter in, the worker is killed with
SIGKILL and started again 2 s later; halfway, PostgreSQL is restarted (`pg_ctl restart -m
fast`; events whose transaction fails meanwhile are retried until one commits, and only
committed ones count). Then it waits for every delivery. Promises: every committed event
reached every endpoint (distinct `webhook-id`s == events x endpoints, each (event,
endpoint) pair present), every signature verified, no delivery failed or still pending;
raw duplicates (at-least-once resends of a message whose success was not recorded) are
counted and reported. Exits 1 if a promise is broken.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.faults import PrivatePostgres, free_port, port_open, wait_for, workspace  # noqa: E402

RECEIVER = r"""
import json, signal, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from standardwebhooks.webhooks import Webhook

port, secrets_file, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
verifiers = {path: Webhook(secret) for path, secret in json.load(open(secrets_file)).items()}
records, lock = [], threading.Lock()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            message = verifiers[self.path].verify(body, dict(self.headers))
            verified = True
        except Exception:
            message, verified = json.loads(body), False
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with lock:
            records.append([self.path, self.headers["webhook-id"], message["event_id"], time.time(), verified])

    def log_message(self, *args):
        pass

class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a killed worker's connections reset: expected in the drill, not worth a traceback


server = Server(("127.0.0.1", port), Handler)

def dump(*_):
    with lock:
        json.dump(records, open(out, "w"))
    sys.exit(0)

signal.signal(signal.SIGTERM, dump)
server.serve_forever()
"""


class Receiver:
    def __init__(self, workdir: Path, secrets: dict[str, str]) -> None:
        self.port = free_port()
        self.out = workdir / "received.json"
        (workdir / "secrets.json").write_text(json.dumps(secrets))
        (workdir / "receiver.py").write_text(RECEIVER)
        self.process = subprocess.Popen(
            [sys.executable, str(workdir / "receiver.py"), str(self.port), str(workdir / "secrets.json"), str(self.out)]
        )
        wait_for(lambda: port_open(self.port), timeout=10, what="the receiver")

    def records(self) -> list[list]:
        """Stop the receiver and read what it got: [path, webhook-id, event id, arrival, verified]."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)
        return json.loads(self.out.read_text())


class Worker:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.env, self.log = env, workdir / "worker.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the worker and wait for its first poll (its Django start-up is seconds on a busy machine)."""
        started = self.log.read_text().count("webhook delivery worker") if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "webhooks_deliver"], cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        wait_for(lambda: self.log.read_text().count("webhook delivery worker") > started, timeout=60, what="the worker")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGUSR1)  # its threads' stacks, into the log
                time.sleep(1)
                self.process.kill()
                print(f"the worker did not stop on SIGTERM within 30 s: {self.log.read_text()[-3000:]}")
                raise


def settings_env(database_url: str, *, drill: bool) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "compare_api.settings",
        "SECRET_KEY": "webhooks-bench-only-not-secret",
        "DEBUG": "0",
        "PUBLIC_BASE_URL": "http://127.0.0.1",
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "1",
    }
    if drill:
        # Short leases, so the killed worker's endpoints come back in seconds, not the default 30.
        env.update(WEBHOOK_TIMEOUT_SECONDS="2", WEBHOOK_LEASE_SECONDS="6")
    return env


def prepare(endpoints: int, receiver_port_for) -> dict[str, str]:
    """Migrate; one partner key with `endpoints` endpoints; returns {receiver path: secret}."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from partners.models import PartnerKey
    from webhooks.models import Endpoint

    call_command("migrate", verbosity=0)
    key, _ = PartnerKey.objects.create_key(name="Bench", owner=get_user_model().objects.create_user("bench"))
    secrets = {}
    for n in range(endpoints):
        endpoint = Endpoint.objects.create(key=key, url=receiver_port_for(f"/e{n}"))
        secrets[f"/e{n}"] = endpoint.secret
    return secrets


def produce(*, rate: float, seconds: float, faults: dict[float, object] | None = None) -> dict[int, float]:
    """Record `rate` events a second for `seconds`; returns {event id: commit time}. Each fault runs on a
    thread of its own at its offset, so the stream goes on meanwhile."""
    from django.db import DatabaseError, connection, transaction

    from events.services import event_record

    committed: dict[int, float] = {}
    timers = [threading.Timer(offset, fault) for offset, fault in (faults or {}).items()]
    for timer in timers:
        timer.start()
    start = time.time()
    n = 0
    while (due := start + n / rate) < start + seconds:
        time.sleep(max(0.0, due - time.time()))
        while True:
            try:
                with transaction.atomic():
                    event = event_record("tool.updated", {"slug": f"tool-{n}", "changed": ["tagline"]})
                committed[event.pk] = time.time()
                break
            except DatabaseError:
                connection.close()  # the database is restarting: this event did not happen; try it again
                time.sleep(0.2)
        n += 1
    for timer in timers:
        timer.join()
    return committed


def wait_delivered(expected: int, timeout: float) -> float:
    """Wait until the database records `expected` successful deliveries; returns when that was seen."""
    from django.db import DatabaseError, connection

    from webhooks.models import Delivery

    def done() -> bool:
        try:
            return Delivery.objects.filter(status="succeeded").count() >= expected
        except DatabaseError:
            connection.close()
            return False

    wait_for(done, timeout=timeout, what=f"{expected} deliveries", interval=0.05)
    return time.time()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(args: argparse.Namespace) -> int:
    with workspace() as workdir:
        postgres = PrivatePostgres(workdir)
        worker = receiver = None
        try:
            postgres.init()
            postgres.start()
            postgres.createdb("webhooks")
            env = settings_env(postgres.url("webhooks"), drill=args.drill)
            os.environ.update({k: v for k, v in env.items() if k not in os.environ or os.environ[k] != v})
            port = free_port()
            secrets = prepare(args.endpoints, lambda path: f"http://127.0.0.1:{port}{path}")
            receiver = Receiver(workdir, secrets)
            assert receiver.port != port
            # The receiver took its own port; point the endpoints at it.
            from webhooks.models import Endpoint

            for endpoint in Endpoint.objects.all():
                endpoint.url = endpoint.url.replace(f":{port}/", f":{receiver.port}/")
                endpoint.save(update_fields=["url"])
            worker = Worker(workdir, env)
            worker.start()
            faults = {}
            if args.drill:

                def kill_worker() -> None:
                    worker.kill()
                    print(f"  {time.time() - began:5.1f} s: worker killed (SIGKILL)")
                    time.sleep(2)
                    worker.start()
                    print(f"  {time.time() - began:5.1f} s: worker started again")

                def restart_postgres() -> None:
                    print(f"  {time.time() - began:5.1f} s: PostgreSQL restarting")
                    postgres.restart()
                    print(f"  {time.time() - began:5.1f} s: PostgreSQL restarted")

                faults = {args.seconds / 4: kill_worker, args.seconds / 2: restart_postgres}
            print(
                f"{args.rate:g} events/s x {args.endpoints} endpoints = {args.rate * args.endpoints:g} deliveries/s "
                f"for {args.seconds:g} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            )
            began = time.time()
            committed = produce(rate=args.rate, seconds=args.seconds, faults=faults)
            produced = time.time()
            expected = len(committed) * args.endpoints
            wait_delivered(expected, timeout=120)
            statuses = delivery_statuses()
            records = receiver.records()
            receiver = None
        finally:
            if worker:
                worker.stop()
            if receiver:
                receiver.records()
            postgres.stop()
        return report(args, committed, records, statuses, began, produced)


def delivery_statuses() -> dict[str, int]:
    from django.db.models import Count

    from webhooks.models import Delivery

    return dict(Delivery.objects.values_list("status").annotate(n=Count("id")).order_by())


def report(
    args: argparse.Namespace,
    committed: dict[int, float],
    records: list[list],
    statuses: dict[str, int],
    began: float,
    produced: float,
) -> int:
    expected = {(event_id, f"/e{n}") for event_id in committed for n in range(args.endpoints)}
    first_arrival: dict[str, float] = {}
    got: set[tuple[int, str]] = set()
    for path, webhook_id, event_id, arrived, _ in records:
        first_arrival.setdefault(webhook_id, arrived)
        got.add((event_id, path))
    latencies = [
        first_arrival[webhook_id] - committed[event_id]
        for webhook_id, event_id in {(r[1], r[2]) for r in records}
        if event_id in committed
    ]
    last = max(first_arrival.values())
    unverified = sum(1 for record in records if not record[4])
    print(
        f"events committed {len(committed)}, deliveries expected {len(expected)}, received {len(records)} "
        f"({len(records) - len(first_arrival)} raw duplicates), distinct webhook-ids {len(first_arrival)}"
    )
    print(
        f"delivered {len(first_arrival) / (last - began):.1f}/s over {last - began:.1f} s "
        f"(the stream lasted {produced - began:.1f} s); commit -> receiver: p50 {statistics.median(latencies):.3f} s, "
        f"p99 {percentile(latencies, 0.99):.3f} s, max {max(latencies):.3f} s; unverified signatures {unverified}"
    )
    print(f"deliveries in the database: {statuses}")
    broken = []
    if set(statuses) != {"succeeded"}:
        broken.append("deliveries not all succeeded")
    if got != expected or len(first_arrival) != len(expected):
        broken.append(f"missing {len(expected - got)} (event, endpoint) pairs")
    if unverified:
        broken.append(f"{unverified} signatures did not verify")
    if not args.drill and percentile(latencies, 0.99) >= 2.0:
        broken.append("p99 is not under 2 s")
    print("BROKEN: " + "; ".join(broken) if broken else "all promises kept")
    return 1 if broken else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drill", action="store_true", help="kill -9 the worker and restart PostgreSQL mid-run")
    parser.add_argument("--rate", type=float, default=20.0, help="events a second")
    parser.add_argument("--seconds", type=float, default=None, help="length of the stream (30; the drill 40)")
    parser.add_argument("--endpoints", type=int, default=10)
    args = parser.parse_args()
    args.seconds = args.seconds or (40.0 if args.drill else 30.0)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
