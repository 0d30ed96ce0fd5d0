"""The task queue's machinery (compare_api/tasks.py) and its worker, `manage.py db_worker`, run for real."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks.signals import task_finished
from django_tasks_db.models import DBTaskResult
from rest_framework.test import APIClient

from compare_api import tasks
from compare_api.periodic import periodic_jobs
from compare_api.tasks import RetryPolicy, retrying
from tests.helpers import database_url, requires_postgres

SUBSCRIBE = "/api/v1/newsletter/subscriptions/"
# What the test tasks below do when run, by key: a list of outcomes, one per call.
SCRIPT: dict[str, list[BaseException | None]] = {}
CALLS: list[tuple] = []


@task()
@retrying(RetryPolicy(attempts=3, base=10), retry_on=(ConnectionError,))
def flaky(key: str, *, note: str) -> str:
    CALLS.append((key, note))
    outcome = SCRIPT[key].pop(0)
    if outcome is not None:
        raise outcome
    return "done"


@pytest.fixture(autouse=True)
def fresh_script() -> Iterator[None]:
    SCRIPT.clear()
    CALLS.clear()
    yield
    SCRIPT.clear()


def _rows() -> list[DBTaskResult]:
    """The task rows but the periodic jobs' (a real db_worker enqueues those as it starts)."""
    return list(DBTaskResult.objects.exclude(task_path__in=periodic_jobs()).order_by("enqueued_at"))


@pytest.mark.django_db
class TestRetrying:
    def test_positional_and_keyword_arguments_survive_each_retry(self, run_tasks, monkeypatch) -> None:
        monkeypatch.setattr(tasks, "_jitter", lambda: 0.5)
        SCRIPT["a"] = [ConnectionError("down"), None]
        flaky.enqueue("a", note="n")
        assert run_tasks() == 1
        DBTaskResult.objects.filter(status=TaskResultStatus.READY).update(run_after=timezone.now())
        assert run_tasks() == 1
        assert CALLS == [("a", "n"), ("a", "n")]
        first, second = _rows()
        assert second.args_kwargs == {"args": ["a"], "kwargs": {"note": "n", "_attempt": 2}}
        assert (second.status, second.return_value) == (TaskResultStatus.SUCCESSFUL, "done")

    def test_an_error_it_does_not_retry_on_fails_at_once(self, run_tasks) -> None:
        SCRIPT["b"] = [ValueError("a bug")]
        flaky.enqueue("b", note="n")
        assert run_tasks() == 1
        [row] = _rows()
        assert (row.status, row.exception_class_path) == (TaskResultStatus.FAILED, "builtins.ValueError")

    def test_the_last_attempt_fails_with_its_own_exception(self, run_tasks) -> None:
        SCRIPT["c"] = [ConnectionError("1"), ConnectionError("2"), ConnectionError("3")]
        flaky.enqueue("c", note="n")
        for _ in range(3):
            assert run_tasks() == 1
            DBTaskResult.objects.filter(status=TaskResultStatus.READY).update(run_after=timezone.now())
        assert run_tasks() == 0
        assert [row.status for row in _rows()] == [TaskResultStatus.SUCCESSFUL] * 2 + [TaskResultStatus.FAILED]
        assert _rows()[-1].exception_class_path == "builtins.ConnectionError"

    def test_a_forced_stop_mid_task_requeues_the_same_attempt(self, run_tasks) -> None:
        SCRIPT["d"] = [SystemExit(1), None]
        flaky.enqueue("d", note="n")
        assert run_tasks() == 2  # the interrupted attempt, and the same attempt again (due at once)
        interrupted, again = _rows()
        assert (interrupted.status, interrupted.exception_class_path) == (
            TaskResultStatus.FAILED,
            "builtins.SystemExit",
        )
        assert (again.status, again.args_kwargs["kwargs"]) == (
            TaskResultStatus.SUCCESSFUL,
            {"note": "n", "_attempt": 1},
        )


@pytest.mark.django_db
class TestStaleTasks:
    def _running(self, *, started_minutes_ago: int, claims: int) -> DBTaskResult:
        SCRIPT.setdefault("s", []).append(None)
        row = flaky.enqueue("s", note="n").db_result
        row.status = TaskResultStatus.RUNNING
        row.started_at = timezone.now() - timedelta(minutes=started_minutes_ago)
        row.worker_ids = [f"w{n}" for n in range(claims)]
        row.save()
        return row

    def test_a_task_left_running_by_a_dead_worker_is_requeued_and_then_runs(self, run_tasks) -> None:
        stale = self._running(started_minutes_ago=20, claims=1)
        young = self._running(started_minutes_ago=5, claims=1)
        lost = self._running(started_minutes_ago=20, claims=3)
        assert tasks.tasks_requeue_stale(older_than=timedelta(minutes=15)) == 1
        statuses = {row.pk: row.status for row in DBTaskResult.objects.all()}
        assert statuses == {
            stale.pk: TaskResultStatus.READY,
            young.pk: TaskResultStatus.RUNNING,  # its worker may well be alive
            lost.pk: TaskResultStatus.FAILED,  # it may be what kills the worker
        }
        lost.refresh_from_db()
        assert lost.exception_class_path == "compare_api.tasks.WorkerLost"
        assert run_tasks() == 1
        stale.refresh_from_db()
        assert (stale.status, stale.worker_ids) == (TaskResultStatus.SUCCESSFUL, ["w0", "test-worker"])


@pytest.mark.django_db
class TestQueueStats:
    def test_it_counts_each_state_in_one_query(self, django_assert_num_queries) -> None:
        now = timezone.now()
        for key in "abcdef":
            SCRIPT[key] = [None]
        flaky.enqueue("a", note="due")
        flaky.using(run_after=now - timedelta(seconds=1)).enqueue("b", note="due, deferred")
        flaky.using(run_after=now + timedelta(minutes=2)).enqueue("c", note="a retry")
        DBTaskResult.objects.filter(pk=flaky.enqueue("d", note="").id).update(status=TaskResultStatus.RUNNING)
        DBTaskResult.objects.filter(pk=flaky.enqueue("e", note="").id).update(status=TaskResultStatus.FAILED)
        DBTaskResult.objects.filter(pk=flaky.enqueue("f", note="").id).update(status=TaskResultStatus.SUCCESSFUL)
        with django_assert_num_queries(1):
            assert tasks.queue_stats() == {"due": 2, "scheduled": 1, "running": 1, "failed": 1}

    def test_an_empty_queue_is_all_zeros(self) -> None:
        assert tasks.queue_stats() == {"due": 0, "scheduled": 0, "running": 0, "failed": 0}


@pytest.mark.django_db(transaction=True)
class TestInProcessWorker:
    """`make run`: the development server's own thread sends the mail of a committed sign-up, and runs
    the periodic jobs."""

    def test_it_sends_a_committed_sign_ups_email_without_a_second_process(self, settings, mailoutbox) -> None:
        settings.TALLY_EVENT_SECONDS = 600  # each job runs once here
        finished: list[str] = []
        task_finished.connect(
            lambda sender, task_result, **kwargs: finished.append(task_result.task.module_path),
            weak=False,
            dispatch_uid="test-finished",
        )
        worker = tasks.InProcessWorker(interval=0.05).start()
        try:
            # The periodic jobs first, watched without the database: SQLite's shared in-memory test
            # database refuses a second connection while one writes, where a file database waits.
            deadline = time.monotonic() + 10
            while len(finished) < len(periodic_jobs()) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert APIClient().post(SUBSCRIBE, {"email": "reader@example.com"}, format="json").status_code == 202
            deadline = time.monotonic() + 10
            while not mail.outbox and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            worker.stop()
            task_finished.disconnect(dispatch_uid="test-finished")
        assert [message.to for message in mail.outbox] == [["reader@example.com"]]
        sent = DBTaskResult.objects.get(task_path="votes.tasks.newsletter_confirmation_send")
        assert sent.status == TaskResultStatus.SUCCESSFUL
        periodic = DBTaskResult.objects.exclude(pk=sent.pk)
        assert sorted(periodic.values_list("task_path", flat=True)) == sorted(periodic_jobs())


# ---- the real `manage.py db_worker`, as `make serve` and compose run it, on the test database ----


@contextlib.contextmanager
def silent_smtp_server() -> Iterator[int]:
    """An SMTP address that accepts connections and never says a word: a send hangs until EMAIL_TIMEOUT."""
    held: list[socket.socket] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    held.append(server.accept()[0])

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield server.getsockname()[1]
        finally:
            stop.set()
            thread.join()
            for connection in held:
                connection.close()


def db_worker(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen:
    log_path = tmp_path / f"worker-{time.monotonic_ns()}.log"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--no-startup-delay", "--interval", "0.1", *args],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "SECRET_KEY": "test-only-not-secret",
            "DEBUG": "0",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(tmp_path / "mail"),
            **env,
        },
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    process.log_path = log_path  # type: ignore[attr-defined]
    return process


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def sent(tmp_path: Path) -> list[str]:
    folder = tmp_path / "mail"
    return [path.read_text() for path in sorted(folder.iterdir())] if folder.exists() else []


@pytest.fixture
def signed_up(settings) -> str:
    """A committed sign-up (this test's transactions are real), whose web process may now die."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "newsletter": "100/min"},
    }
    assert APIClient().post(SUBSCRIBE, {"email": "reader@example.com"}, format="json").status_code == 202
    return DBTaskResult.objects.get().pk


@requires_postgres
@pytest.mark.django_db(transaction=True)
class TestDbWorkerProcess:
    def test_a_worker_killed_mid_send_leaves_the_job_to_the_next_worker(self, tmp_path: Path, signed_up) -> None:
        with silent_smtp_server() as port:
            smtp = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1"}
            first = db_worker(tmp_path, **smtp, EMAIL_PORT=str(port), EMAIL_TIMEOUT="60")
            try:
                wait_for(lambda: DBTaskResult.objects.get(pk=signed_up).status == TaskResultStatus.RUNNING)
            finally:
                first.kill()  # SIGKILL in the middle of the send: no handler runs
                first.wait()
        assert DBTaskResult.objects.get(pk=signed_up).status == TaskResultStatus.RUNNING
        assert sent(tmp_path) == []

        second = db_worker(tmp_path, "--batch", TASKS_STALE_AFTER_SECONDS="0")
        assert second.wait(timeout=60) == 0
        row = DBTaskResult.objects.get(pk=signed_up)
        assert (row.status, row.return_value, len(row.worker_ids)) == (TaskResultStatus.SUCCESSFUL, "sent", 2)
        [message] = sent(tmp_path)
        assert "To: reader@example.com" in message
        assert row.args_kwargs["kwargs"]["confirm"] in message

    def test_sigterm_lets_the_running_task_finish_then_exits(self, tmp_path: Path, signed_up) -> None:
        with silent_smtp_server() as port:
            smtp = {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "127.0.0.1"}
            worker = db_worker(tmp_path, **smtp, EMAIL_PORT=str(port), EMAIL_TIMEOUT="3")
            try:
                # Its start logged, not only its row claimed: a SIGTERM between the claim and the start
                # finds the worker idle (the library's view), and it exits leaving the row RUNNING.
                wait_for(lambda: f"Task id={signed_up}" in worker.log_path.read_text())
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(timeout=15) == 0
            finally:
                worker.kill()
                worker.wait()
        attempt, retry = _rows()
        assert attempt.status == TaskResultStatus.SUCCESSFUL  # finished: the send timed out, a retry was queued
        assert attempt.return_value["failed_attempt"] == 1
        assert (retry.status, retry.args_kwargs["kwargs"]["_attempt"]) == (TaskResultStatus.READY, 2)

    def test_an_idle_worker_stops_at_once_on_sigterm(self, tmp_path: Path) -> None:
        worker = db_worker(tmp_path)
        try:
            wait_for(lambda: "Starting worker" in worker.log_path.read_text())
            time.sleep(0.3)  # polling, between two looks at the queue
            started = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=10) == 0
            # Immediately, not after a poll interval or a timeout (the bound is loose for a shared, loaded CI machine).
            assert time.monotonic() - started < 5
        finally:
            worker.kill()
            worker.wait()
